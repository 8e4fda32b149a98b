"""DARTS214 (trained genotypes) and NASBench301Surrogate (surrogate labels) from the mirror."""
import os
import pickle
import shutil

import numpy as np
import pytest
import torch

from hypernas_pyg.datasets import DARTS214, NASBench301Surrogate
from hypernas_pyg.datasets.raw_files import MIRROR_ENV

MIRROR = os.environ.get(MIRROR_ENV, "")
needs_mirror = pytest.mark.skipif(
    not os.path.exists(os.path.join(MIRROR, "darts_random214", "214genotypes.pkl")),
    reason=f"{MIRROR_ENV} does not hold darts_random214/ and darts_nb301/")


@pytest.fixture(scope="module")
def d214(tmp_path_factory):
    if not os.path.exists(os.path.join(MIRROR, "darts_random214", "214genotypes.pkl")):
        pytest.skip(f"{MIRROR_ENV} does not hold darts_random214/")
    return DARTS214(str(tmp_path_factory.mktemp("d214")), log=False)


def test_darts214_items_targets_and_curves(d214):
    assert len(d214) == 214 and d214.space.layers == 20
    y = d214.y.numpy()
    assert np.array_equal(y[:, 0], y[:, 1])  # the one measured test accuracy, twice
    assert 96.0 < y.min() and y.max() < 98.0
    curves = d214.curves
    assert curves.shape == (214, 600)
    np.testing.assert_allclose(curves.max(1).values.numpy(), y[:, 0], atol=1e-4)
    sub = d214[torch.tensor([5, 7])]
    assert torch.equal(sub.curves, curves[[5, 7]])
    item = d214[0]
    assert item.x.shape[0] == 20 * 15 and item.arch == d214.archs[0]
    assert len({d214.space.canonical_key(a) for a in d214.archs}) == 214


def test_darts214_reloads_and_refuses_a_malicious_pickle(d214, tmp_path, monkeypatch):
    again = DARTS214(d214.root, log=False)
    assert torch.equal(again.y, d214.y)
    root = tmp_path / "bad"
    (root / "raw").mkdir(parents=True)
    shutil.copy(os.path.join(d214.raw_dir, "214_random_architectures.npy"), root / "raw")

    class Boom:
        def __reduce__(self):
            return (os.system, ("echo owned",))

    with open(root / "raw" / "214genotypes.pkl", "wb") as f:
        pickle.dump([Boom()], f)
    monkeypatch.setattr(DARTS214, "verify_sha256", False)
    monkeypatch.setenv(MIRROR_ENV, str(tmp_path / "no_mirror"))
    with pytest.raises(ValueError, match=r"global '(posix|os)\.system' is not allowed"):
        DARTS214(str(root), log=False)
    assert not os.listdir(root / "processed") if (root / "processed").exists() else True


def test_darts214_genotype_faults_name_the_row(d214, tmp_path, monkeypatch):
    from hypernas_pyg.datasets.safe_pickle import load_restricted
    rows = load_restricted(os.path.join(d214.raw_dir, "214genotypes.pkl"))
    rows[3] = (rows[3][0].replace("sep_conv_3x3", "conv_9x9", 1), rows[3][1])
    root = tmp_path / "edited"
    (root / "raw").mkdir(parents=True)
    shutil.copy(os.path.join(d214.raw_dir, "214_random_architectures.npy"), root / "raw")
    with open(root / "raw" / "214genotypes.pkl", "wb") as f:
        pickle.dump(rows, f)
    monkeypatch.setattr(DARTS214, "verify_sha256", False)
    monkeypatch.setenv(MIRROR_ENV, str(tmp_path / "no_mirror"))
    with pytest.raises(ValueError, match=r"214genotypes\.pkl, row 3: .*unknown op 'conv_9x9'"):
        DARTS214(str(root), log=False)


@needs_mirror
def test_nb301_surrogate_labels_and_params(tmp_path):
    from hypernas_pyg.spaces.darts import DARTSNetwork
    from hypernas_pyg.spaces.darts.network import count_parameters
    ds = NASBench301Surrogate(str(tmp_path), log=False)
    assert len(ds) == 725 and "surrogate" in repr(ds) and "surrogate" in ds.labels
    assert ds.params.shape == (725,)
    net = DARTSNetwork(ds.space.parse(ds.archs[10]), channels=32, layers=8, affine_ops=False)
    assert count_parameters(net) == round(float(ds.params[10]) * 1e6)
    assert 91.0 < float(ds.y[:, 0].min()) and float(ds.y[:, 0].max()) < 95.0


@needs_mirror
def test_evaluate_cli_on_darts214(tmp_path, capsys):
    import json

    from hypernas_pyg.cli import main
    out = tmp_path / "r.json"
    assert main(["evaluate", "--benchmark", "darts214", "--root", str(tmp_path / "d"),
                 "--train-size", "50", "--variant", "np", "--epochs", "3",
                 "--hidden-channels", "8", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["num_archs"] == 214 and result["space"]["name"] == "darts"
