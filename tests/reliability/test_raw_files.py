"""Raw files: checksums, re-copying from the mirror, unreadable or bad tables."""
import hashlib
import os
import os.path as osp

import numpy as np
import pandas as pd
import pytest

from hypernas_pyg.datasets import NASBench201
from hypernas_pyg.datasets.raw_files import RawFile, fetch_raw_files

CSV = "nasbench201_cifar100.csv"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_mismatching_raw_file_names_file_and_digests(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(b"a,b\n1,2\n")
    spec = RawFile("t.csv", "x/t.csv", None, "0" * 64)
    with pytest.raises(ValueError) as exc:
        spec.verify(str(path))
    msg = str(exc.value)
    assert str(path) in msg and "0" * 64 in msg and _sha(b"a,b\n1,2\n") in msg
    assert "delete" in msg and "fetched again" in msg
    RawFile("t.csv", "x/t.csv", None, ("1" * 64, _sha(b"a,b\n1,2\n"))).verify(str(path))


def test_bad_mirror_copy_is_not_kept(tmp_path):
    (tmp_path / "mirror" / "b").mkdir(parents=True)
    (tmp_path / "mirror" / "b" / "f.csv").write_text("x\n")
    raw = tmp_path / "raw"
    with pytest.raises(ValueError, match=r"f\.csv.*sha256 .* does not match the expected 1{64}"):
        fetch_raw_files([RawFile("f.csv", "b/f.csv", None, "1" * 64)], str(raw),
                        mirror=str(tmp_path / "mirror"))
    assert not raw.exists() or os.listdir(raw) == []


def test_dataset_checks_raw_digest_before_writing(nb201_root, monkeypatch):
    monkeypatch.setattr(NASBench201, "verify_sha256", True)  # the real digest is expected
    with pytest.raises(ValueError, match=rf"{CSV}: sha256 [0-9a-f]{{64}} does not match the "
                                         r"expected 87a42005"):
        NASBench201(nb201_root, dataset="cifar100", log=False)
    assert not osp.exists(osp.join(nb201_root, "processed", "cifar100_N5_pruned_v1.pt"))


def test_force_reload_recopies_from_the_mirror(nb201_root, tmp_path, monkeypatch):
    mirror = tmp_path / "mirror" / "nasbench201"
    mirror.mkdir(parents=True)
    good = open(osp.join(nb201_root, "raw", CSV), "rb").read()
    (mirror / CSV).write_bytes(good)
    monkeypatch.setenv("HYPERNAS_MIRROR", str(tmp_path / "mirror"))
    ds = NASBench201(nb201_root, dataset="cifar100", log=False)
    with open(osp.join(nb201_root, "raw", CSV), "a") as f:
        f.write("garbage line\n")
    again = NASBench201(nb201_root, dataset="cifar100", log=False, force_reload=True)
    assert open(osp.join(nb201_root, "raw", CSV), "rb").read() == good
    assert again.archs == ds.archs


@pytest.mark.parametrize("content, message", [
    (b"", "is not a readable CSV table"),
    (b"\x00\xff\xfe garbage \x89PNG\r\n", "lacks column|is not a readable CSV"),
])
def test_empty_or_garbage_csv_names_the_file(nb201_root, content, message):
    with open(osp.join(nb201_root, "raw", CSV), "wb") as f:
        f.write(content)
    with pytest.raises(ValueError, match=rf"{CSV}.*({message})"):
        NASBench201(nb201_root, dataset="cifar100", log=False)


def _edit(root, edit):
    path = osp.join(root, "raw", CSV)
    table = pd.read_csv(path)
    edited = edit(table)  # edits in place, or returns the edited table
    (table if edited is None else edited).to_csv(path, index=False)


@pytest.mark.parametrize("column, value, shown", [
    ("validation accuracy", np.nan, "''"),  # an empty cell
    ("validation accuracy", "nan", "'nan'"),
    ("validation accuracy", "n/a", "'n/a'"),
    ("test accuracy", 100.5, "100.5"),
    ("test accuracy", -3.0, "-3.0"),
])
def test_bad_accuracy_names_file_row_and_value(nb201_root, column, value, shown):
    def edit(table):
        table[column] = table[column].astype(object)
        table.loc[7, column] = value
    _edit(nb201_root, edit)
    with pytest.raises(ValueError, match=rf"{CSV}, row 7 .*'{column}' must be an accuracy in "
                                         rf"\[0, 100\].*got {shown}"):
        NASBench201(nb201_root, dataset="cifar100", log=False)


def test_duplicated_architecture_is_named(nb201_root):
    def edit(table):
        table.loc[9, "arch str"] = table.loc[3, "arch str"]
    _edit(nb201_root, edit)
    with pytest.raises(ValueError, match=rf"{CSV}: architecture .* appears in rows \[3, 9\]"):
        NASBench201(nb201_root, dataset="cifar100", log=False)


def test_invalid_architecture_is_named(nb201_root):
    def edit(table):
        table.loc[4, "arch str"] = "|conv_9x9~0|+|none~0|none~1|+|none~0|none~1|none~2|"
    _edit(nb201_root, edit)
    with pytest.raises(ValueError, match=rf"{CSV}, row 4: architecture .*conv_9x9"):
        NASBench201(nb201_root, dataset="cifar100", log=False)


def test_wrong_row_count_is_named(nb201_root):
    _edit(nb201_root, lambda table: table.drop(index=5))
    with pytest.raises(ValueError, match=rf"{CSV} has 119 rows; NAS-Bench-201 has 120"):
        NASBench201(nb201_root, dataset="cifar100", log=False)
