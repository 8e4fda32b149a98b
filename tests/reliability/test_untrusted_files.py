"""Opening a dataset root or a checkpoint never runs code from a file in it."""
import json
import os
import os.path as osp
import pickle
import warnings

import numpy as np
import pytest
import torch

from hypernas_pyg.datasets import CIFAR10Images, NASBench101, NASBench201
from hypernas_pyg.datasets.nasbench101 import NASLIB_OPS
from hypernas_pyg.predictor import HyperNASPredictor

NUM = 120  # rows of the nb201_root table (conftest.py)


class _Evil:
    """Unpickling this creates the marker file: what a crafted .pt file could do."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _plant(path, marker):
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        pickle.dump(_Evil(marker), f)


def _open201(root, **kwargs):
    return NASBench201(root, dataset="cifar100", log=False, **kwargs)


@pytest.mark.parametrize("name", ["pre_transform.pt", "pre_filter.pt"])
def test_nb201_pyg_pickles_are_never_read(nb201_root, tmp_path, name):
    marker = tmp_path / "MARKER"
    _plant(osp.join(nb201_root, "processed", name), marker)  # before the first open
    ds = _open201(nb201_root)
    assert len(ds) == NUM and not marker.exists()
    _plant(osp.join(nb201_root, "processed", name), marker)  # and after it
    again = _open201(nb201_root)
    assert not marker.exists() and torch.equal(again.y, ds.y)
    # We neither write these files nor need them.
    assert not osp.exists(osp.join(nb201_root, "processed", "pre_filter.pt" if
                                   name == "pre_transform.pt" else "pre_transform.pt"))


def test_nb201_malicious_processed_file_is_rebuilt(nb201_root, tmp_path):
    marker = tmp_path / "MARKER"
    ds = _open201(nb201_root)
    path = ds.processed_paths[0]
    _plant(path, marker)  # the fingerprint still matches: only the data file is replaced
    again = _open201(nb201_root)
    assert not marker.exists()
    assert torch.equal(again.y, ds.y) and again.archs == ds.archs
    torch.load(path, weights_only=True)  # rebuilt as a plain file


def test_nb201_pre_transform_change_still_warns(nb201_root):
    _open201(nb201_root)
    with pytest.warns(UserWarning, match="`pre_transform` argument differs"):
        ds = _open201(nb201_root, pre_transform=lambda d: d)
    assert len(ds) == NUM
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _open201(nb201_root, pre_transform=lambda d: d)  # same transform (address aside)


def _naslib_key(matrix, ops):
    place = list(range(len(ops) - 1)) + [6]
    padded = np.zeros((7, 7), dtype=int)
    names = ["conv3x3-bn-relu"] * 7
    for i in range(len(ops)):
        names[place[i]] = ops[i]
        for j in range(len(ops)):
            padded[place[i], place[j]] = matrix[i][j]
    return str(tuple(padded.reshape(-1).tolist()) + tuple(NASLIB_OPS.index(n) for n in names))


@pytest.fixture
def nb101_root(tmp_path):
    ops = ["input", "conv3x3-bn-relu", "output"]
    entries = {}
    for k, op in enumerate(["conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3"]):
        key = _naslib_key([[0, 1, 0], [0, 0, 1], [0, 0, 0]], [ops[0], op, ops[2]])
        entries[key] = {"val_accuracy": 80.0 + k, "params": 1.0, "flops": 10.0}
    (tmp_path / "root" / "raw").mkdir(parents=True)
    with open(tmp_path / "root" / "raw" / "zc_nasbench101.json", "w") as f:
        json.dump({"nasbench101": {"cifar10": entries}}, f)
    return str(tmp_path / "root")


def _open101(root):
    return NASBench101(root, subset="naslib500", expected_rows=3, log=False)


@pytest.mark.parametrize("name", ["pre_transform.pt", "pre_filter.pt", "data"])
def test_nb101_files_are_never_unpickled(nb101_root, tmp_path, name):
    marker = tmp_path / "MARKER"
    ds = _open101(nb101_root)
    path = ds.processed_paths[0] if name == "data" else osp.join(nb101_root, "processed", name)
    _plant(path, marker)
    again = _open101(nb101_root)
    assert not marker.exists()
    assert torch.equal(again.y, ds.y)


def test_cifar10_malicious_cache_is_not_unpickled(tmp_path):
    marker = tmp_path / "MARKER"
    root = tmp_path / "root"
    _plant(str(root / "processed" / "cifar10_zip_train_v1.pt"), marker)
    with pytest.raises(FileNotFoundError, match="CIFAR-10-images.zip"):
        CIFAR10Images(str(root), source="zip", log=False)
    assert not marker.exists()


def test_malicious_checkpoint_is_not_unpickled(tmp_path):
    marker = tmp_path / "MARKER"
    path = str(tmp_path / "model.pt")
    _plant(path, marker)
    with pytest.raises(ValueError, match="model.pt is not a readable HyperNASPredictor"):
        HyperNASPredictor.load(path)
    assert not marker.exists()
    torch.save({"x": _Evil(marker)}, path)  # a torch-format file with a foreign global
    with pytest.raises(ValueError, match=r"model.pt is not a readable HyperNASPredictor "
                                         r"checkpoint \(it holds the global (io|builtins).open"):
        HyperNASPredictor.load(path)
    assert not marker.exists()
