"""The DARTS training example runs (its CPU smoke mode), resumes, and reads search results."""
import importlib.util
import json
import os.path as osp

import torch

from test_hypernet_variants import _write_cifar_tarball

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def _example(name):
    spec = importlib.util.spec_from_file_location(name, osp.join(ROOT, "examples", f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_train_darts_smoke_runs_and_resumes(tmp_path, monkeypatch):
    monkeypatch.setenv("HYPERNAS_MIRROR", str(tmp_path / "no_mirror"))
    cifar = tmp_path / "cifar"
    (cifar / "raw").mkdir(parents=True)
    _write_cifar_tarball(cifar / "raw" / "cifar-10-python.tar.gz", per_batch=40, n_test=64)
    train = _example("train_darts")
    search = tmp_path / "search.json"  # what `hypernas search` writes
    search.write_text(json.dumps({"best_val_arch": train.DARTS_V2}))
    out = tmp_path / "run"
    args = ["--smoke", "--root", str(cifar), "--out", str(out), "--genotype", str(search)]
    result = train.main(args)
    assert len(result["history"]) == 2 and result["parameters"] > 0
    assert all(0.0 <= h["test_accuracy"] <= 1.0 for h in result["history"])
    assert json.loads((out / "result.json").read_text())["genotype"].startswith("normal:sep")
    state = torch.load(out / "last.pt", weights_only=True)
    assert state["epoch"] == 2
    again = train.main(args)  # resumes at the last epoch: nothing left to train
    assert again["history"] == []


def test_cutout_zeroes_one_square_per_image():
    train = _example("train_darts")
    x = torch.ones(5, 3, 32, 32)
    out = train.cutout(x, 16, torch.Generator().manual_seed(0))
    zeros = (out[:, 0] == 0).sum((1, 2))
    assert ((zeros > 0) & (zeros <= 256)).all() and torch.equal(out[:, 0] == 0, out[:, 2] == 0)
