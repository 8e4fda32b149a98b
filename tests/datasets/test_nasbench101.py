"""NASBench101 dataset: small synthetic raw directories, and the real tables when mirrored."""
import gzip
import json
import os
import os.path as osp
import urllib.error

import numpy as np
import pandas as pd
import pytest
import torch
from torch_geometric.data import InMemoryDataset

import hypernas_pyg.datasets.nasbench101 as nb101_mod
import hypernas_pyg.datasets.raw_files as raw_files
from hypernas_pyg.data import ArchData, arch_to_data
from hypernas_pyg.datasets.nasbench101 import NASLIB_OPS, NASBench101
from hypernas_pyg.datasets.nasbench101_records import NB101Record, write_records
from hypernas_pyg.spaces.nasbench101 import NB101Catalogue, NB101Cell, enumerate_cells

MIRROR = os.environ.get(raw_files.MIRROR_ENV)
REAL = MIRROR and osp.isfile(osp.join(MIRROR, "nasbench101", "obfunas_test.npy")) and \
    osp.isfile(osp.join(MIRROR, "nasbench101", "nb101_specs.csv.gz"))
KEYS = ("x", "op", "edge_index", "rev_edge_index", "cell_pos", "arch_id", "y")

#: Larger cells added to the enumerated <= 5-vertex ones (6 and 7 vertices).
_EXTRA = [
    ([[0, 1, 1, 1, 0, 1, 0], [0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 1, 0, 0],
      [0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0, 0]],
     ["input", "conv1x1-bn-relu", "conv3x3-bn-relu", "conv3x3-bn-relu", "conv3x3-bn-relu",
      "maxpool3x3", "output"]),
    ([[0, 1, 0, 0, 0, 0], [0, 0, 1, 1, 0, 0], [0, 0, 0, 0, 1, 0], [0, 0, 0, 0, 1, 1],
      [0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0]],
     ["input", "maxpool3x3", "conv3x3-bn-relu", "conv1x1-bn-relu", "conv1x1-bn-relu", "output"]),
    ([[0, 1, 0, 0, 0, 0, 1], [0, 0, 1, 0, 0, 0, 0], [0, 0, 0, 1, 0, 0, 0], [0, 0, 0, 0, 1, 0, 0],
      [0, 0, 0, 0, 0, 1, 0], [0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0, 0]],
     ["input", "conv3x3-bn-relu", "maxpool3x3", "conv1x1-bn-relu", "conv3x3-bn-relu",
      "maxpool3x3", "output"]),
]
COLAB_HASH = "28cfc7874f6d200472e1a9dcd8650aa0"


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    """No network: a download attempt fails at once, as it would offline."""
    def fail(url, dst, timeout=30.0):
        raise urllib.error.URLError("offline test")
    monkeypatch.setattr(raw_files, "_atomic_download", fail)


@pytest.fixture(scope="module")
def catalogue():
    base = enumerate_cells(5, 9, progress=False)
    cells = [NB101Cell.from_spec(m, o) for m, o in _EXTRA]
    hashes = [base.hash(k) for k in range(len(base))] + [c.module_hash() for c in cells]
    cells = [base.cell(k) for k in range(len(base))] + cells
    return NB101Catalogue.from_cells(hashes, cells)


def _write_all(raw, catalogue, values=None, seed=0):
    os.makedirs(raw, exist_ok=True)
    if values is None:
        values = np.random.default_rng(seed).uniform(0.1, 0.95, len(catalogue))
    np.save(osp.join(raw, "obfunas_test.npy"), values)
    catalogue.to_csv(osp.join(raw, "nb101_specs.csv.gz"))
    return values


def _edit_csv(raw, edit):
    path = osp.join(raw, "nb101_specs.csv.gz")
    frame = pd.read_csv(path, dtype={"hash": str, "ops": str}, keep_default_na=False)
    frame = edit(frame)
    with gzip.open(path, "wt", newline="") as f:
        frame.to_csv(f, index=False)


def _check_items(ds, rows):
    for i in rows:
        item = ds[i]
        ref = arch_to_data(ds.archs[i], ds.space, y=item.y[0].tolist(), arch_id=int(item.arch_id))
        assert isinstance(item, ArchData) and item.arch == ref.arch
        for key in KEYS:
            assert item[key].dtype == ref[key].dtype, key
            assert torch.equal(item[key], ref[key]), (i, key)


# ------------------------------------------------------------------ subset "all"
@pytest.fixture(scope="module")
def small_all(tmp_path_factory, catalogue):
    root = tmp_path_factory.mktemp("nb101_all")
    values = _write_all(root / "raw", catalogue)
    ds = NASBench101(str(root), expected_rows=len(catalogue), verify_hashes="all", log=False)
    return ds, values


def test_items_equal_arch_to_data(small_all, catalogue):
    ds, values = small_all
    assert len(ds) == len(catalogue) and ds.target_names == ("train_target", "eval_target")
    _check_items(ds, range(len(ds)))
    # Row i is the i-th smallest hash, its targets the file's fraction in %, twice.
    assert ds.hashes == [catalogue.hash(k) for k in range(len(catalogue))]
    np.testing.assert_array_equal(ds.y.numpy(), np.repeat(
        (values * 100).astype(np.float32)[:, None], 2, axis=1))
    assert [ds.space.canonical_key(a) for a in ds.archs[:50]] == ds.hashes[:50]
    assert ds[5].num_cells == 11 and "test accuracy" in ds.target_kind[0]
    # The storage is what PyG's own collate gives for the same items.
    ref_data, ref_slices = InMemoryDataset.collate(
        [arch_to_data(a, ds.space, y=ds[i].y[0].tolist(), arch_id=i)
         for i, a in enumerate(ds.archs)])
    for key in KEYS:
        assert torch.equal(ds._data[key], ref_data[key]), key
        assert torch.equal(ds.slices[key], ref_slices[key]), key
    assert ds._data.arch == ref_data.arch


def test_space_gets_the_catalogue(small_all):
    ds, _ = small_all
    colab = NB101Cell.from_spec(*_EXTRA[0])
    assert ds.space.parse(COLAB_HASH) == colab
    row = ds.hashes.index(COLAB_HASH)
    assert ds.archs[row] == ds.space.to_string(colab)
    sampled = ds.space.sample(20, np.random.default_rng(0))
    assert set(sampled) <= set(ds.archs)


def test_subset_views_and_reload(small_all, monkeypatch):
    ds, _ = small_all
    sub = ds[torch.tensor([7, 3, 100])]
    assert sub.archs == [ds.archs[i] for i in (7, 3, 100)]
    assert sub.hashes == [ds.hashes[i] for i in (7, 3, 100)]
    assert torch.equal(sub[1].edge_index, ds[3].edge_index)

    calls = []
    monkeypatch.setattr(NASBench101, "process", lambda self: calls.append(1))
    again = NASBench101(ds.root, expected_rows=len(ds), log=False)
    assert calls == [] and again.archs == ds.archs


def test_processed_file_is_compact_and_plain(small_all):
    ds, _ = small_all
    assert osp.basename(ds.processed_paths[0]) == \
        f"nb101_all_rows{len(ds)}_v{NASBench101.VERSION}.pt"
    arrays = torch.load(ds.processed_paths[0], weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in arrays.values())
    assert arrays["op_labels"].dtype == torch.int8 and arrays["num_vertices"].dtype == torch.uint8
    assert "x" not in arrays and "edge_index" not in arrays
    with open(ds.processed_paths[0] + ".json") as f:
        meta = json.load(f)
    assert meta["version"] == NASBench101.VERSION and len(meta["obfunas_test.npy"]) == 64


def test_corrupt_processed_file_is_rebuilt(tmp_path, catalogue):
    _write_all(tmp_path / "raw", catalogue)
    ds = NASBench101(str(tmp_path), expected_rows=len(catalogue), log=False)
    with open(ds.processed_paths[0], "wb") as f:
        f.write(b"garbage")
    again = NASBench101(str(tmp_path), expected_rows=len(catalogue), log=False)
    assert torch.equal(again.y, ds.y) and again.archs == ds.archs
    # A changed raw file changes the fingerprint: the table is rebuilt from it.
    np.save(tmp_path / "raw" / "obfunas_test.npy", np.full(len(catalogue), 0.5))
    third = NASBench101(str(tmp_path), expected_rows=len(catalogue), log=False)
    assert torch.all(third.y == 50.0)


def test_wrong_row_count_and_arguments(tmp_path, catalogue, monkeypatch):
    monkeypatch.setattr(NASBench101, "verify_sha256", False)  # a home-made full-size table
    _write_all(tmp_path / "raw", catalogue)
    with pytest.raises(ValueError, match=rf"obfunas_test.npy has {len(catalogue)} rows; "
                                         "expected 423624"):
        NASBench101(str(tmp_path), log=False)
    with pytest.raises(ValueError, match="expected 99"):
        NASBench101(str(tmp_path), expected_rows=99, log=False)
    with pytest.raises(ValueError, match="Unknown NAS-Bench-101 subset 'full'.*all, naslib500"):
        NASBench101(str(tmp_path), subset="full")
    with pytest.raises(ValueError, match="expected_rows"):
        NASBench101(str(tmp_path), expected_rows=0)
    with pytest.raises(ValueError, match="verify_hashes"):
        NASBench101(str(tmp_path), verify_hashes="some")


@pytest.mark.parametrize("value, shown", [(np.nan, "nan"), (1.5, "1.5"), (-0.1, "-0.1")])
def test_bad_accuracy_is_named(tmp_path, catalogue, value, shown):
    values = np.random.default_rng(1).uniform(0.1, 0.9, len(catalogue))
    values[17] = value
    _write_all(tmp_path / "raw", catalogue, values)
    with pytest.raises(ValueError, match=rf"obfunas_test.npy: row 17 has value {shown}"):
        NASBench101(str(tmp_path), expected_rows=len(catalogue), log=False)


def test_unsorted_duplicate_and_wrong_hashes(tmp_path, catalogue):
    raw = tmp_path / "raw"
    n = len(catalogue)
    _write_all(raw, catalogue)

    def swap(frame):
        frame.iloc[[4, 5]] = frame.iloc[[5, 4]].to_numpy()
        return frame
    _edit_csv(raw, swap)
    with pytest.raises(ValueError, match=r"nb101_specs.csv.gz: row 5 has hash \w+, which is "
                                         r"smaller than the hash of row 4"):
        NASBench101(str(tmp_path), expected_rows=n, log=False)

    _write_all(raw, catalogue)

    def duplicate(frame):
        frame.loc[9, "hash"] = frame.loc[8, "hash"]
        return frame
    _edit_csv(raw, duplicate)
    with pytest.raises(ValueError, match=r"row 9 has hash \w+, which repeats"):
        NASBench101(str(tmp_path), expected_rows=n, log=False)

    _write_all(raw, catalogue)

    def wrong_ops(frame):  # a valid cell that does not hash to its row's hash
        row = int(np.flatnonzero(frame["num_vertices"].to_numpy() == 5)[0])
        ops = frame.loc[row, "ops"].split("|")
        ops[0] = "maxpool3x3" if ops[0] != "maxpool3x3" else "conv3x3-bn-relu"
        frame.loc[row, "ops"] = "|".join(ops)
        return frame
    _edit_csv(raw, wrong_ops)
    with pytest.raises(ValueError, match=r"nb101_specs.csv.gz: row \d+: the cell .* hashes to"):
        NASBench101(str(tmp_path), expected_rows=n, verify_hashes="all", log=False)


@pytest.mark.parametrize("column, value, message", [
    ("ops", "conv5x5", "unknown op 'conv5x5'"),
    ("edge_bits", "abc", "edge_bits 'abc'; expected an integer"),
    ("num_vertices", 9, "num_vertices must lie in 2..7"),
    ("edge_bits", 1 << 20, "bits outside the upper triangle"),
    ("hash", "xyz", "has hash 'xyz'; module hashes are 32"),
])
def test_malformed_specs_rows(tmp_path, catalogue, column, value, message):
    raw = tmp_path / "raw"
    _write_all(raw, catalogue)

    def edit(frame):
        frame[column] = frame[column].astype(object)
        frame.loc[30, column] = value
        return frame
    _edit_csv(raw, edit)
    with pytest.raises(ValueError, match=message) as info:
        NASBench101(str(tmp_path), expected_rows=len(catalogue), log=False)
    assert "nb101_specs.csv.gz" in str(info.value) and "row 30" in str(info.value)


def test_unpruned_cell_is_rejected(tmp_path, catalogue):
    raw = tmp_path / "raw"
    _write_all(raw, catalogue)

    def edit(frame):  # 3 vertices, edges 0->2 only: vertex 1 is dead
        frame.loc[3, ["num_vertices", "edge_bits", "ops"]] = [3, 2, "maxpool3x3"]
        return frame
    _edit_csv(raw, edit)
    with pytest.raises(ValueError, match="row 3 .*vertex 1 is not on an input -> output path"):
        NASBench101(str(tmp_path), expected_rows=len(catalogue), log=False)


def test_missing_files_name_file_source_and_raw_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(raw_files.MIRROR_ENV, str(tmp_path / "empty_mirror"))
    with pytest.raises(FileNotFoundError) as info:
        NASBench101(str(tmp_path / "root"), log=False)
    msg = str(info.value)
    assert "obfunas_test.npy" in msg and NASBench101.url_obfunas in msg
    assert osp.abspath(tmp_path / "root" / "raw") in msg and "HYPERNAS_MIRROR" in msg
    with pytest.raises(FileNotFoundError) as info:
        NASBench101(str(tmp_path / "root"), subset="naslib500", log=False)
    assert "zc_nasbench101.json" in str(info.value) and "automl/NASLib" in str(info.value)


def test_missing_specs_are_generated_from_the_enumeration(tmp_path, monkeypatch):
    small = enumerate_cells(4, 9, progress=False)
    calls = []

    def fake_enumeration(progress=None):
        calls.append(progress)
        return small
    monkeypatch.setattr(nb101_mod, "_enumerate_cells", fake_enumeration)
    monkeypatch.delenv(raw_files.MIRROR_ENV, raising=False)
    raw = tmp_path / "raw"
    raw.mkdir()
    np.save(raw / "obfunas_test.npy", np.linspace(0.2, 0.9, len(small)))
    ds = NASBench101(str(tmp_path), expected_rows=len(small), log=False)
    assert calls == [False] and len(ds) == len(small)
    assert sorted(os.listdir(raw)) == ["nb101_specs.csv.gz", "obfunas_test.npy"]  # no temp left
    with gzip.open(raw / "nb101_specs.csv.gz", "rt") as f:
        assert f.readline().strip() == "hash,num_vertices,edge_bits,ops"
    assert ds.hashes == [small.hash(k) for k in range(len(small))]
    _check_items(ds, range(len(ds)))


def test_pre_filter_and_pre_transform(tmp_path, catalogue):
    _write_all(tmp_path / "pre" / "raw", catalogue)
    _write_all(tmp_path / "plain" / "raw", catalogue)

    def big(data):
        return data.num_nodes > 9 * 4 + 6

    def double(data):
        data.score = data.y[:, :1] * 2
        return data
    ds = NASBench101(str(tmp_path / "pre"), expected_rows=len(catalogue), pre_filter=big,
                     pre_transform=double, log=False)
    full = NASBench101(str(tmp_path / "plain"), expected_rows=len(catalogue), log=False)
    keep = [i for i in range(len(full)) if big(full[i])]
    assert len(ds) == len(keep) and ds.archs == [full.archs[i] for i in keep]
    assert ds.hashes == [full.hashes[i] for i in keep]
    assert torch.equal(ds[3].score, full[keep[3]].y[:, :1] * 2)
    again = NASBench101(str(tmp_path / "pre"), expected_rows=len(catalogue), pre_filter=big,
                        pre_transform=double, log=False)
    assert again.archs == ds.archs and torch.equal(again[3].score, ds[3].score)


# ---------------------------------------------------------------- subset "naslib500"
def _naslib_key(matrix, ops):
    """A NASLib 56-tuple key: 7 vertices, the output last; vertices beyond the cell are dead."""
    matrix = np.asarray(matrix)
    v = len(ops)
    place = list(range(v - 1)) + [6]  # cell vertex -> key vertex
    padded = np.zeros((7, 7), dtype=int)
    names = ["conv3x3-bn-relu"] * 7
    for i in range(v):
        names[place[i]] = ops[i]
        for j in range(v):
            padded[place[i], place[j]] = matrix[i, j]
    return str(tuple(padded.reshape(-1).tolist()) + tuple(NASLIB_OPS.index(n) for n in names))


def test_naslib_subset(tmp_path, monkeypatch):
    cells = [NB101Cell.from_spec(m, o) for m, o in _EXTRA]
    entries = {}
    for k, (m, o) in enumerate(_EXTRA):
        entries[_naslib_key(m, o)] = {"val_accuracy": 90.0 + k, "params": 1.5 + k,
                                      "flops": 100.0 * (k + 1), "snip": 1.0}
    # An unpruned 7-vertex key: vertex 5 has no out-edge -> pruned to 6 vertices.
    dead = np.asarray(_EXTRA[0][0]).copy()
    dead[5, 6] = 0
    entries[_naslib_key(dead, _EXTRA[0][1])] = {"val_accuracy": 80.0, "params": 2.0,
                                                 "flops": 50.0}
    mirror = tmp_path / "mirror"
    (mirror / "nasbench101").mkdir(parents=True)
    with open(mirror / "nasbench101" / "zc_nasbench101.json", "w") as f:
        json.dump({"nasbench101": {"cifar10": entries}}, f)
    monkeypatch.setenv(raw_files.MIRROR_ENV, str(mirror))
    ds = NASBench101(str(tmp_path / "root"), subset="naslib500", expected_rows=4, log=False)
    assert len(ds) == 4
    assert ds.archs[:3] == [ds.space.to_string(c) for c in cells]
    np.testing.assert_allclose(ds.y.numpy(), [[90, 90], [91, 91], [92, 92], [80, 80]])
    np.testing.assert_allclose(ds.params.numpy(), [1.5, 2.5, 3.5, 2.0])
    np.testing.assert_allclose(ds.flops.numpy(), [100, 200, 300, 50])
    assert ds[3].num_nodes == 9 * 6 + 2 * 3 and ds[3].params.shape == (1,)
    assert ds.hashes[0] == COLAB_HASH and ds.space.catalogue is None
    _check_items(ds, range(4))
    assert "validation accuracy" in ds.target_kind[0]


def test_naslib_bad_values(tmp_path, monkeypatch):
    monkeypatch.delenv(raw_files.MIRROR_ENV, raising=False)
    raw = tmp_path / "raw"
    raw.mkdir()
    key = _naslib_key(*_EXTRA[0])
    for bad, message in ((float("nan"), "val_accuracy must be a finite number"),
                         (120.0, r"val_accuracy must be a finite number in \[0.0, 100.0\]")):
        with open(raw / "zc_nasbench101.json", "w") as f:
            json.dump({"nasbench101": {"cifar10": {key: {"val_accuracy": bad, "params": 1,
                                                         "flops": 1}}}}, f)
        with pytest.raises(ValueError, match=message):
            NASBench101(str(tmp_path), subset="naslib500", expected_rows=1, log=False)
    disconnected = "(" + ", ".join(["0"] * 49 + ["0", "4", "4", "4", "4", "4", "1"]) + ")"
    with open(raw / "zc_nasbench101.json", "w") as f:
        json.dump({"nasbench101": {"cifar10": {disconnected: {"val_accuracy": 1, "params": 1,
                                                              "flops": 1}}}}, f)
    with pytest.raises(ValueError, match="architecture 0 .*disconnected"):
        NASBench101(str(tmp_path), subset="naslib500", expected_rows=1, log=False)


# ----------------------------------------------------------------- subset "tfrecord"
def _tf_records(catalogue, rows, seed=0):
    """Records of ``rows`` (4 epoch budgets x 3 runs), shuffled as the official file is
    not in hash order; and per hash (params, [3, (val, test, time)]) of the 108-epoch runs
    in file order."""
    rng = np.random.default_rng(seed)
    records = []
    for k in rows:
        cell = catalogue.cell(k)
        params = int(rng.integers(100_000, 9_000_000))
        for epochs in (4, 12, 36, 108):
            for _ in range(3):
                val, test, train = (float(v) for v in rng.uniform(0.1, 0.95, 3))
                t = float(rng.uniform(300, 5000))
                records.append(NB101Record(catalogue.hash(k), epochs, cell.matrix_array, cell.ops,
                                           params, val, test, train, t,
                                           halfway=(t / 2, train / 2, val / 2, test / 2)))
    records = [records[i] for i in rng.permutation(len(records))]
    expected = {}
    for r in records:
        if r.epochs == 108:
            expected.setdefault(r.module_hash, (r.trainable_parameters, []))[1].append(
                (r.validation_accuracy, r.test_accuracy, r.training_time))
    return records, {h: (p, np.asarray(runs)) for h, (p, runs) in expected.items()}


def test_tfrecord_subset(tmp_path, catalogue, monkeypatch):
    rows = [0, 5, 40, 88, len(catalogue) - 3, len(catalogue) - 2, len(catalogue) - 1]
    records, expected = _tf_records(catalogue, rows)
    mirror = tmp_path / "mirror"
    write_records(mirror / "nasbench101" / "nasbench_only108.tfrecord", records)
    monkeypatch.setenv(raw_files.MIRROR_ENV, str(mirror))
    ds = NASBench101(str(tmp_path / "root"), subset="tfrecord", expected_rows=len(rows),
                     log=False)
    assert ds.hashes == sorted(expected)
    for i, h in enumerate(ds.hashes):
        params, runs = expected[h]
        mean = runs.mean(0)
        np.testing.assert_array_equal(ds[i].y.numpy(), np.asarray(
            [[mean[0] * 100, mean[1] * 100]], dtype=np.float32))
        assert int(ds[i].params) == params
        assert float(ds[i].training_time) == pytest.approx(mean[2], rel=1e-6)
        np.testing.assert_allclose(ds.runs["validation_accuracy"][i], runs[:, 0] * 100)
        np.testing.assert_allclose(ds.runs["test_accuracy"][i], runs[:, 1] * 100)
        np.testing.assert_allclose(ds.runs["training_time"][i], runs[:, 2])
        assert ds.space.canonical_key(ds.archs[i]) == h
    _check_items(ds, range(len(ds)))
    assert ds.space.parse(ds.hashes[2]) == ds.space.parse(ds.archs[2])
    assert "mean of 3 runs" in ds.target_kind[0] and "validation" in ds.target_kind[0]
    assert "test" in ds.target_kind[1]
    sub = ds[torch.tensor([4, 1])]
    np.testing.assert_array_equal(sub.runs["test_accuracy"], ds.runs["test_accuracy"][[4, 1]])


def test_tfrecord_errors(tmp_path, catalogue, monkeypatch):
    monkeypatch.setenv(raw_files.MIRROR_ENV, str(tmp_path / "mirror"))
    with pytest.raises(FileNotFoundError) as info:
        NASBench101(str(tmp_path / "root"), subset="tfrecord", log=False)
    msg = str(info.value)
    assert "nasbench_only108.tfrecord" in msg and NASBench101.url_tfrecord in msg
    assert osp.abspath(tmp_path / "root" / "raw") in msg

    records, _ = _tf_records(catalogue, [1, 2, 3])
    raw = tmp_path / "root" / "raw"
    write_records(raw / "nasbench_only108.tfrecord", records)
    with pytest.raises(ValueError, match="holds 3 cells at 108 epochs; expected 423624"):
        NASBench101(str(tmp_path / "root"), subset="tfrecord", log=False)
    # A missing run, then a truncated file.
    write_records(raw / "nasbench_only108.tfrecord",
                  [r for r in records if r.epochs == 108][1:])
    with pytest.raises(ValueError, match="has 2 runs at 108 epochs; expected 3"):
        NASBench101(str(tmp_path / "root"), subset="tfrecord", expected_rows=3, log=False)
    write_records(raw / "nasbench_only108.tfrecord", records)
    data = (raw / "nasbench_only108.tfrecord").read_bytes()
    (raw / "nasbench_only108.tfrecord").write_bytes(data[:-10])
    with pytest.raises(ValueError, match=r"nasbench_only108.tfrecord: record \d+ .*truncated"):
        NASBench101(str(tmp_path / "root"), subset="tfrecord", expected_rows=3, log=False)


# ------------------------------------------------------------------ the real tables
@pytest.fixture(scope="module")
def nb101_real(tmp_path_factory):
    """The real 423,624-architecture table, processed once (about 10-20 s)."""
    if not REAL:
        pytest.skip(f"{raw_files.MIRROR_ENV} does not hold nasbench101/obfunas_test.npy and "
                    "nb101_specs.csv.gz")
    return NASBench101(str(tmp_path_factory.mktemp("nb101_real")), log=False)


def test_real_table(nb101_real):
    ds = nb101_real
    assert len(ds) == NASBench101.NUM_ARCHS and ds._data.x.shape[1] == 6
    # PROVENANCE: row 0 and the colab cell (sorted position 67206).
    assert ds.hashes[0] == "00005c142e6f48ac74fdcf73e3439874"
    assert float(ds[0].y[0, 0]) == pytest.approx(92.117387, abs=1e-4)
    assert ds.hashes[67206] == COLAB_HASH
    assert float(ds[67206].y[0, 1]) == pytest.approx(93.11898946762085, abs=1e-4)
    # The table's representative of the colab cell's class: isomorphic, same hash.
    assert ds.space.canonical_key(ds.space.parse(COLAB_HASH)) == COLAB_HASH
    assert ds.space.canonical_key(_EXTRA[0]) == COLAB_HASH
    y = ds.y.numpy()
    assert np.array_equal(y[:, 0], y[:, 1]) and 9.9 < y.min() and y.max() < 94.7
    rows = np.random.default_rng(0).choice(len(ds), 300, replace=False).tolist()
    _check_items(ds, rows + [len(ds) - 1])
    assert len(ds.space.sample(5, np.random.default_rng(1))) == 5


def test_real_naslib500(nb101_real, tmp_path):
    ds = NASBench101(str(tmp_path), subset="naslib500", log=False)
    assert len(ds) == 500
    y = ds.y.numpy()[:, 0]
    assert y.min() == pytest.approx(73.38, abs=0.01) and y.max() == pytest.approx(94.71, abs=0.01)
    position = {h: i for i, h in enumerate(nb101_real.hashes)}
    rows = [position[h] for h in ds.hashes]  # every NASLib cell is a benchmark row
    test = nb101_real.y.numpy()[rows, 1]
    assert np.corrcoef(y, test)[0, 1] > 0.98
    _check_items(ds, range(0, 500, 25))
    assert 0.2 < float(ds.params.min()) and float(ds.params.max()) < 31


def test_search_oracle_on_the_table_flags_single_run_targets(small_all):
    """A search on the full-table format: keys are the stored hashes, and because the table
    has one accuracy, every result says validation and test are the same measurement."""
    from hypernas_pyg.search import RandomSearch, TableOracle
    ds, values = small_all
    assert ds.canonical_keys[:50] == [ds.space.canonical_key(a) for a in ds.archs[:50]]
    oracle = TableOracle(ds)
    assert oracle.validation_is_test and len(oracle) == len(ds)
    r = RandomSearch().search(oracle, 30, seed=0)
    assert r.validation_is_test and r.to_dict()["validation_is_test"] is True
    best = r.history[[x.validation for x in r.history].index(r.best_val_accuracy)]
    assert best.test == best.validation == pytest.approx(
        100 * values[ds.hashes.index(best.key)], rel=1e-6)
