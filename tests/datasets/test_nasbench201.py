import json
import os.path as osp

import numpy as np
import pandas as pd
import pytest
import torch

from hypernas_pyg.data import ArchData
from hypernas_pyg.datasets import NASBench201
from hypernas_pyg.spaces import NASBench201Space

BEST = 6111  # CIFAR-10 best architecture's benchmark index


def test_real_table(nb201):
    assert len(nb201) == 15625
    d = nb201[BEST]
    assert isinstance(d, ArchData) and d.num_cells == 17
    assert d.arch == ("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|"
                      "+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|")
    assert int(d.arch_id) == BEST
    # Provenance figures: cifar10-valid validation max 91.607, CIFAR-10 test max 94.3733.
    assert d.y[0, 0].item() == pytest.approx(91.607, abs=1e-3)
    assert d.y[0, 1].item() == pytest.approx(94.3733, abs=1e-3)
    assert int(nb201.y[:, 1].argmax()) == BEST
    assert len(set(nb201.archs)) == 15625
    assert torch.equal(d.x.argmax(-1), d.op)
    # The default graphs hold pruned cells: none ops never appear as nodes.
    none = nb201.space.node_type_index("none")
    assert nb201.space.prune and not bool((nb201._data.op == none).any())


def test_full_cell_graphs_have_their_own_processed_file(nb201):
    full = NASBench201(nb201.root, prune_cells=False, log=False)
    assert full.processed_paths != nb201.processed_paths
    assert len(full) == 15625 and not full.space.prune
    i = 123
    assert full[i].arch == nb201[i].arch and torch.equal(full[i].y, nb201[i].y)
    assert full[i].num_nodes == 15 * 8 + 2 * 5 >= nb201[i].num_nodes
    assert "prune_cells=False" in repr(full)


def _write_fixture_csv(path, seed=0):
    space = NASBench201Space()
    archs = list(space.all_archs())
    rng = np.random.default_rng(seed)
    valid = rng.uniform(10, 75, len(archs))
    table = pd.DataFrame({"file id": range(len(archs)), "arch str": archs, "cfg name": "infer.tiny",
                          "C": 16, "N": 5, "train accuracy": valid + 5,
                          "validation accuracy": valid, "test accuracy": valid - 1})
    table.to_csv(path, index=False)
    return table


@pytest.fixture(scope="module")
def cifar100_mirror(tmp_path_factory):
    mirror = tmp_path_factory.mktemp("mirror")
    (mirror / "nasbench201").mkdir()
    table = _write_fixture_csv(mirror / "nasbench201" / "nasbench201_cifar100.csv")
    return mirror, table


def test_cifar100_path_reads_validation_and_test_columns(cifar100_mirror, tmp_path, monkeypatch):
    mirror, table = cifar100_mirror
    monkeypatch.setenv("HYPERNAS_MIRROR", str(mirror))
    monkeypatch.setattr(NASBench201, "verify_sha256", False)  # a home-made table
    ds = NASBench201(str(tmp_path), dataset="cifar100", log=False)
    assert len(ds) == 15625
    i = 1234
    assert ds[i].arch == table["arch str"][i]
    np.testing.assert_allclose(ds[i].y[0].numpy(),
                               [table["validation accuracy"][i], table["test accuracy"][i]],
                               rtol=1e-6)

    # A corrupted processed file is rebuilt, not trusted.
    with open(ds.processed_paths[0], "wb") as f:
        f.write(b"garbage")
    again = NASBench201(str(tmp_path), dataset="cifar100", log=False)
    assert torch.equal(again[i].y, ds[i].y)

    # A stale one (other version in its fingerprint) is rebuilt too.
    meta = ds.processed_paths[0] + ".json"
    with open(meta) as f:
        fingerprint = json.load(f)
    fingerprint["version"] = -1
    with open(meta, "w") as f:
        json.dump(fingerprint, f)
    rebuilt = NASBench201(str(tmp_path), dataset="cifar100", log=False)
    with open(meta) as f:
        assert json.load(f)["version"] == NASBench201.VERSION
    assert torch.equal(rebuilt[i].y, ds[i].y)


def test_missing_raw_files_raise_clear_error(tmp_path, monkeypatch):
    empty = tmp_path / "empty_mirror"
    empty.mkdir()
    monkeypatch.setenv("HYPERNAS_MIRROR", str(empty))
    monkeypatch.setattr(NASBench201, "url_nasgraph", "")  # no network in tests
    monkeypatch.setattr(NASBench201, "url_nats", "")
    root = tmp_path / "root"
    with pytest.raises(FileNotFoundError) as err:
        NASBench201(str(root), dataset="cifar10", log=False)
    msg = str(err.value)
    assert "nasbench201_cifar10.csv" in msg and "nats_bench.csv" in msg
    assert osp.abspath(str(root / "raw")) in msg
    assert not (root / "processed").exists() or not any((root / "processed").iterdir())


def test_table_with_wrong_row_count_is_rejected(tmp_path, monkeypatch):
    monkeypatch.setattr(NASBench201, "verify_sha256", False)  # a home-made table
    mirror = tmp_path / "mirror" / "nasbench201"
    mirror.mkdir(parents=True)
    _write_fixture_csv(mirror / "nasbench201_ImageNet16-120.csv").head(100).to_csv(
        mirror / "nasbench201_ImageNet16-120.csv", index=False)
    monkeypatch.setenv("HYPERNAS_MIRROR", str(tmp_path / "mirror"))
    with pytest.raises(ValueError, match="has 100 rows"):
        NASBench201(str(tmp_path / "root"), dataset="ImageNet16-120", log=False)


def test_unknown_dataset(tmp_path):
    with pytest.raises(ValueError, match="Unknown NAS-Bench-201 dataset 'cifar11'; choose one of: "
                                         "cifar10, cifar100, ImageNet16-120"):
        NASBench201(str(tmp_path), dataset="cifar11")


def test_search_oracle_reads_the_cifar100_table(cifar100_mirror, tmp_path, monkeypatch):
    """CIFAR-100 (and ImageNet16-120) go through the same oracle as CIFAR-10."""
    from hypernas_pyg.search import RegularizedEvolution, TableOracle
    mirror, table = cifar100_mirror
    monkeypatch.setenv("HYPERNAS_MIRROR", str(mirror))
    monkeypatch.setattr(NASBench201, "verify_sha256", False)
    oracle = TableOracle(NASBench201(str(tmp_path), dataset="cifar100", log=False))
    assert not oracle.validation_is_test
    r = RegularizedEvolution().search(oracle, 40, seed=0)
    rows = {a: i for i, a in enumerate(table["arch str"])}
    for rec in r.history[:5]:
        i = oracle.row(rec.arch)
        assert rec.validation == pytest.approx(table["validation accuracy"][i], rel=1e-6)
        assert rec.test == pytest.approx(table["test accuracy"][i], rel=1e-6)
        assert rows[rec.arch] >= i  # the first row of the cell's isomorphism class
