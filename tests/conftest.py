"""Shared fixtures: one CPU thread (small tensors on 2 shared cores), the real NB201 table."""
import os

import pytest
import torch

from hypernas_pyg.datasets.raw_files import MIRROR_ENV


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def nb201(tmp_path_factory):
    """The real NAS-Bench-201 CIFAR-10 dataset, processed once per test session."""
    if not os.environ.get(MIRROR_ENV):
        pytest.skip(f"{MIRROR_ENV} is not set: the real NAS-Bench-201 tables are unavailable")
    from hypernas_pyg.datasets import NASBench201
    return NASBench201(str(tmp_path_factory.mktemp("nb201")), log=False)
