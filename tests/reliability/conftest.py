"""Fixtures of the reliability tests: no network, a tiny NAS-Bench-201 table."""
import numpy as np
import pandas as pd
import pytest

import hypernas_pyg.datasets.raw_files as raw_files
from hypernas_pyg.datasets import NASBench201
from hypernas_pyg.spaces import NASBench201Space

#: Rows of the synthetic NAS-Bench-201 table (the space's count is patched to match).
NUM = 120


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    """No network and no mirror: a download attempt fails at once, as it would offline."""
    def fail(url, dst, timeout=30.0):
        raise OSError("offline test")
    monkeypatch.setattr(raw_files, "_atomic_download", fail)
    monkeypatch.delenv(raw_files.MIRROR_ENV, raising=False)


@pytest.fixture
def nb201_root(tmp_path, monkeypatch):
    """A dataset root whose raw dir holds a 120-row NAS-Bench-201 ``cifar100`` table."""
    monkeypatch.setattr(NASBench201Space, "num_archs", NUM)
    monkeypatch.setattr(NASBench201, "verify_sha256", False)  # a home-made table
    archs = list(NASBench201Space().all_archs())[:NUM]
    valid = np.linspace(10, 70, NUM)
    raw = tmp_path / "root" / "raw"
    raw.mkdir(parents=True)
    pd.DataFrame({"arch str": archs, "validation accuracy": valid,
                  "test accuracy": valid - 1}).to_csv(raw / "nasbench201_cifar100.csv",
                                                      index=False)
    return str(tmp_path / "root")


@pytest.fixture(scope="session")
def nb201_archs():
    """Twelve NAS-Bench-201 architecture strings and accuracies."""
    archs = list(NASBench201Space().all_archs())[100:112]
    return archs, list(np.linspace(50.0, 90.0, len(archs)))
