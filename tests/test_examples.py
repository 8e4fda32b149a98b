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


def test_darts_search_example_writes_a_genotype_train_darts_reads(tmp_path):
    """examples/darts.py on the real 214 (a short fit and search): the JSON holds a valid
    genotype in DARTS's form, its predicted accuracy and parameter count, and
    train_darts reads it back as the same genotype."""
    import os
    import pytest
    if not osp.exists(osp.join(os.environ.get("HYPERNAS_MIRROR", ""), "darts_random214",
                               "214genotypes.pkl")):
        pytest.skip("HYPERNAS_MIRROR does not hold darts_random214/")
    from hypernas_pyg.spaces import DARTSSpace
    out = tmp_path / "best.json"
    _example("darts").main(["--root", str(tmp_path / "d214"), "--variant", "np", "--epochs",
                            "3", "--budget", "30", "--out", str(out)])
    found = json.loads(out.read_text())
    space = DARTSSpace()
    assert space.canonical_key(found["genotype"]) == space.canonical_key(found["best_val_arch"])
    assert 1e6 < found["params"] < 1e7 and 80.0 < found["predicted_accuracy"] < 100.0
    read = _example("train_darts").read_genotype(str(out))
    assert space.canonical_key(read) == space.canonical_key(found["best_val_arch"])
