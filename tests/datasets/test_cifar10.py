"""Tests of the CIFAR-10 auxiliary image dataset on small hand-made raw files."""
import io
import os
import os.path as osp
import pickle
import tarfile
import urllib.error
import zipfile

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

import hypernas_pyg.datasets.cifar10 as cifar_mod
import hypernas_pyg.datasets.raw_files as raw_files
from hypernas_pyg.datasets.cifar10 import (CIFAR10_CLASSES, CIFAR10_MEAN, CIFAR10_STD,
                                           CIFAR10Images, augment_images, normalize_images,
                                           resize_images)

REAL_MIRROR = os.environ.get(raw_files.MIRROR_ENV)
N_TRAIN_PER_CLASS = 4
N_TEST_PER_CLASS = 2


def _smooth_image(label: int, k: int) -> np.ndarray:
    """A 32x32 RGB image that survives JPEG well and encodes (label, k) in its colour."""
    yy, xx = np.mgrid[0:32, 0:32]
    img = np.empty((32, 32, 3), dtype=np.float64)
    img[..., 0] = 20 + 20 * label + xx
    img[..., 1] = 30 + 40 * k + yy
    img[..., 2] = 128
    return img.clip(0, 255).astype(np.uint8)


def _write_zip(path, n_train=N_TRAIN_PER_CLASS, n_test=N_TEST_PER_CLASS, corrupt_entry=None):
    """Zip in the layout of CIFAR-10-images.zip; returns {part: [(hwc image, label)]}."""
    written = {"train": [], "test": []}
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        for part, n in (("train", n_train), ("test", n_test)):
            for label, cls in enumerate(CIFAR10_CLASSES):
                for k in range(n):
                    img = _smooth_image(label, k)
                    buf = io.BytesIO()
                    Image.fromarray(img).save(buf, format="JPEG", quality=95)
                    name = f"{part}/{cls}/{k:04d}.jpg"
                    data = buf.getvalue()
                    if name == corrupt_entry:
                        data = data[:40]
                    zf.writestr(name, data)
                    written[part].append((img, label))
    return written


def _batch_pickle(data: np.ndarray, labels: list) -> bytes:
    batch = {b"batch_label": b"fixture", b"labels": labels, b"data": data,
             b"filenames": [f"img_{i}.png".encode() for i in range(len(labels))]}
    return pickle.dumps(batch, protocol=2)


def _write_tarball(path, seed=0, per_batch=8, n_test=20):
    """A cifar-10-python.tar.gz in the official format; returns the expected tensors."""
    rng = np.random.default_rng(seed)
    members = {}
    train_x, train_y = [], []
    for i in range(1, 6):
        x = rng.integers(0, 256, size=(per_batch, 3072), dtype=np.uint8)
        y = [int(v) for v in (np.arange(per_batch) + 2 * i) % 10]
        members[f"cifar-10-batches-py/data_batch_{i}"] = _batch_pickle(x, y)
        train_x.append(x)
        train_y += y
    x = rng.integers(0, 256, size=(n_test, 3072), dtype=np.uint8)
    y = [int(v) for v in np.arange(n_test) % 10]
    members["cifar-10-batches-py/test_batch"] = _batch_pickle(x, y)
    members["cifar-10-batches-py/batches.meta"] = pickle.dumps(
        {b"label_names": [c.encode() for c in CIFAR10_CLASSES]}, protocol=2)
    with tarfile.open(path, "w:gz") as tf:
        for name, payload in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tf.addfile(info, io.BytesIO(payload))
    return {"train": (torch.from_numpy(np.concatenate(train_x)).view(-1, 3, 32, 32),
                      torch.tensor(train_y)),
            "test": (torch.from_numpy(x).view(-1, 3, 32, 32), torch.tensor(y))}


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Downloads fail at once; the real mirror is not used unless a test asks for it."""
    def refuse(url, dst, timeout=30.0):
        raise urllib.error.URLError("network disabled in tests")
    monkeypatch.setattr(raw_files, "_atomic_download", refuse)
    monkeypatch.delenv(raw_files.MIRROR_ENV, raising=False)
    # The zips written here are home-made: their sha256 is not the mirror file's.
    monkeypatch.setattr(CIFAR10Images, "verify_sha256", False)


@pytest.fixture(scope="module")
def mirrors(tmp_path_factory):
    base = tmp_path_factory.mktemp("mirrors")
    both, zip_only, tar_only, empty = (base / n for n in ("both", "zip", "tar", "empty"))
    for d in (both, zip_only, tar_only, empty):
        (d / "cifar10").mkdir(parents=True)
    written = _write_zip(zip_only / "cifar10" / "CIFAR-10-images.zip")
    tar_expected = _write_tarball(tar_only / "cifar10" / "cifar-10-python.tar.gz")
    for name, src in (("CIFAR-10-images.zip", zip_only), ("cifar-10-python.tar.gz", tar_only)):
        (both / "cifar10" / name).write_bytes((src / "cifar10" / name).read_bytes())
    return {"both": str(both), "zip": str(zip_only), "tar": str(tar_only), "empty": str(empty),
            "written": written, "tar_expected": tar_expected}


def _make(root, mirror, **kwargs):
    kwargs.setdefault("log", False)
    return CIFAR10Images(str(root), mirror=mirror, **kwargs)


# ---------------------------------------------------------------- reading raw
def test_zip_images_and_labels_match_what_was_written(tmp_path, mirrors, monkeypatch):
    monkeypatch.setenv(raw_files.MIRROR_ENV, mirrors["zip"])   # found through the env variable
    ds = CIFAR10Images(str(tmp_path), split="test", log=False)
    assert ds.source == "zip" and len(ds) == 10 * N_TEST_PER_CLASS
    assert ds.images.dtype == torch.uint8 and ds.images.shape == (len(ds), 3, 32, 32)
    assert ds.labels.dtype == torch.long
    expected = mirrors["written"]["test"]  # written in (label, k) order = sorted entry order
    ref = torch.stack([torch.from_numpy(img).permute(2, 0, 1) for img, _ in expected])
    assert ds.labels.tolist() == [label for _, label in expected]
    diff = (ds.images.float() - ref.float()).abs()
    assert diff.mean() < 2.0 and diff.max() < 16  # JPEG is lossy
    assert osp.isfile(osp.join(str(tmp_path), "raw", "CIFAR-10-images.zip"))
    assert osp.isfile(ds.processed_path("zip", "test"))


def test_tarball_is_read_exactly(tmp_path, mirrors):
    for split, part in (("test", "test"), ("train", "train")):
        ds = _make(tmp_path, mirrors["tar"], split=split, held_out_fraction=0.0)
        images, labels = mirrors["tar_expected"][part]
        assert ds.source == "tarball"
        assert torch.equal(ds.images, images) and torch.equal(ds.labels, labels)


def test_source_choice(tmp_path, mirrors):
    assert _make(tmp_path / "a", mirrors["both"], split="test").source == "zip"
    tar = _make(tmp_path / "b", mirrors["both"], split="test", source="tarball")
    assert tar.source == "tarball"
    with pytest.raises(FileNotFoundError, match="cifar-10-python.tar.gz"):
        _make(tmp_path / "c", mirrors["zip"], split="test", source="tarball")


def test_nothing_available_raises_file_not_found(tmp_path, mirrors):
    with pytest.raises(FileNotFoundError) as info:
        _make(tmp_path, mirrors["empty"], split="test")
    msg = str(info.value)
    assert "CIFAR-10-images.zip" in msg and "cifar-10-python.tar.gz" in msg
    assert "cs.toronto.edu" in msg and osp.abspath(osp.join(str(tmp_path), "raw")) in msg
    assert not osp.exists(osp.join(str(tmp_path), "processed"))


def test_corrupt_zip_gives_clear_error(tmp_path):
    mirror = tmp_path / "mirror"
    (mirror / "cifar10").mkdir(parents=True)
    (mirror / "cifar10" / "CIFAR-10-images.zip").write_bytes(b"this is not a zip file")
    with pytest.raises(RuntimeError, match=r"CIFAR-10-images\.zip is not a readable zip"):
        _make(tmp_path / "root", str(mirror), split="test")


def test_undecodable_image_names_the_entry(tmp_path):
    mirror = tmp_path / "mirror"
    (mirror / "cifar10").mkdir(parents=True)
    _write_zip(mirror / "cifar10" / "CIFAR-10-images.zip", n_train=1, n_test=1,
               corrupt_entry="test/dog/0000.jpg")
    with pytest.raises(RuntimeError, match=r"test/dog/0000\.jpg"):
        _make(tmp_path / "root", str(mirror), split="test")
    assert not osp.exists(osp.join(str(tmp_path / "root"), "processed", "cifar10_zip_test_v1.pt"))


def test_tarball_refuses_foreign_pickles(tmp_path):
    mirror = tmp_path / "mirror"
    (mirror / "cifar10").mkdir(parents=True)
    payload = pickle.dumps({b"data": os.getcwd, b"labels": []}, protocol=2)  # a function global
    with tarfile.open(mirror / "cifar10" / "cifar-10-python.tar.gz", "w:gz") as tf:
        info = tarfile.TarInfo("cifar-10-batches-py/test_batch")
        info.size = len(payload)
        tf.addfile(info, io.BytesIO(payload))
    with pytest.raises(RuntimeError, match="test_batch.*not allowed"):
        _make(tmp_path / "root", str(mirror), split="test")


# --------------------------------------------------------------------- cache
def test_cache_is_reused_and_rebuilt_when_corrupt_or_stale(tmp_path, mirrors, monkeypatch):
    calls = []
    real = cifar_mod._read_zip

    def counting(*args, **kwargs):
        calls.append(args[1])
        return real(*args, **kwargs)

    monkeypatch.setattr(cifar_mod, "_read_zip", counting)
    first = _make(tmp_path, mirrors["zip"], split="test")
    second = _make(tmp_path, mirrors["zip"], split="test")
    assert calls == ["test"]  # the second construction read the cache
    assert torch.equal(first.images, second.images)

    cache = first.processed_path("zip", "test")
    with open(cache, "r+b") as f:  # truncate: a corrupt cache
        f.truncate(100)
    third = _make(tmp_path, mirrors["zip"], split="test")
    assert calls == ["test", "test"] and torch.equal(third.images, first.images)

    stale = torch.load(cache, weights_only=True)
    stale["format_version"] = 0
    torch.save(stale, cache)
    _make(tmp_path, mirrors["zip"], split="test")
    assert len(calls) == 3

    # A raw file of another size (e.g. a new download) invalidates the cache.
    _write_zip(osp.join(str(tmp_path), "raw", "CIFAR-10-images.zip"), n_train=1, n_test=1)
    assert len(_make(tmp_path, mirrors["zip"], split="test")) == 10 and len(calls) == 4
    assert not [f for f in os.listdir(osp.dirname(cache)) if f.startswith("part-")]


# -------------------------------------------------------------------- splits
def test_splits_are_disjoint_stratified_and_deterministic(tmp_path, mirrors):
    kw = dict(held_out_fraction=0.25)
    train = _make(tmp_path, mirrors["zip"], split="train", **kw)
    held = _make(tmp_path, mirrors["zip"], split="heldout", **kw)
    n = 10 * N_TRAIN_PER_CLASS
    assert len(train) + len(held) == n and len(held) == 10
    assert set(train.indices.tolist()).isdisjoint(held.indices.tolist())
    assert torch.bincount(held.labels, minlength=10).tolist() == [1] * 10
    again = _make(tmp_path, mirrors["zip"], split="heldout", **kw)
    assert torch.equal(again.indices, held.indices) and torch.equal(again.images, held.images)
    other = _make(tmp_path, mirrors["zip"], split="heldout", split_seed=1, **kw)
    assert not torch.equal(other.indices, held.indices)
    assert len(_make(tmp_path, mirrors["zip"], split="test")) == 10 * N_TEST_PER_CLASS
    with pytest.raises(ValueError, match="heldout"):
        _make(tmp_path, mirrors["zip"], split="heldout", held_out_fraction=0.0)


def test_subset_is_deterministic(tmp_path, mirrors):
    a = _make(tmp_path, mirrors["zip"], split="train", subset=7, seed=3)
    b = _make(tmp_path, mirrors["zip"], split="train", subset=7, seed=3)
    c = _make(tmp_path, mirrors["zip"], split="train", subset=7, seed=4)
    full = _make(tmp_path, mirrors["zip"], split="train")
    assert len(a) == 7 and torch.equal(a.indices, b.indices)
    assert not torch.equal(a.indices, c.indices)
    assert set(a.indices.tolist()) <= set(full.indices.tolist())


@pytest.mark.parametrize("kwargs, match", [
    (dict(split="valid"), r"'valid'.*train, heldout, test"),
    (dict(split="train", subset=0), "subset"),
    (dict(split="train", subset=10 ** 6), "subset"),
    (dict(split="test", subset=2.5), "subset"),
    (dict(source="hdf5"), "'hdf5'"),
    (dict(held_out_fraction=1.0), "held_out_fraction"),
    (dict(image_size=64), "image_size"),
])
def test_bad_arguments_raise_value_error(tmp_path, mirrors, kwargs, match):
    with pytest.raises(ValueError, match=match):
        _make(tmp_path, mirrors["zip"], **kwargs)


# --------------------------------------------------------- batch transforms
def test_normalize_images():
    torch.manual_seed(0)
    x = torch.randint(0, 256, (5, 3, 4, 4), dtype=torch.uint8)
    mean = torch.tensor(CIFAR10_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(CIFAR10_STD).view(1, 3, 1, 1)
    assert torch.allclose(normalize_images(x), (x.float() / 255 - mean) / std, atol=1e-6)
    # Pixels at the channel means map to ~0; the result has mean 0 and std 1
    # when the pixels have the CIFAR-10 statistics.
    at_mean = (mean * 255).round().to(torch.uint8).expand(2, 3, 8, 8)
    assert normalize_images(at_mean).abs().max() < 0.5 / 255 / 0.24
    # Half the pixels at mean - std, half at mean + std: standardised mean 0, std 1
    # (up to the rounding to integer pixel values, < 0.5 / 255 / 0.24).
    two_point = torch.cat([mean - std, mean + std]).expand(2, 3, 8, 8)
    out = normalize_images((two_point * 255).round().to(torch.uint8))
    assert torch.allclose(out.mean((0, 2, 3)), torch.zeros(3), atol=0.01)
    assert torch.allclose(out.std((0, 2, 3), correction=0), torch.ones(3), atol=0.01)


def test_augment_is_a_crop_of_the_padded_image_possibly_flipped():
    img = torch.arange(1, 3 * 6 * 6 + 1, dtype=torch.int64).view(1, 3, 6, 6)  # all values distinct
    batch = img.expand(200, 3, 6, 6)
    pad = 2
    padded = F.pad(img, (pad, pad, pad, pad))[0]
    candidates = {}
    for oy in range(2 * pad + 1):
        for ox in range(2 * pad + 1):
            crop = padded[:, oy:oy + 6, ox:ox + 6]
            candidates[(oy, ox, False)] = crop
            candidates[(oy, ox, True)] = crop.flip(-1)
    out = augment_images(batch, torch.Generator().manual_seed(0), padding=pad)
    assert out.shape == batch.shape and out.dtype == batch.dtype
    seen = set()
    for o in out:
        match = [key for key, c in candidates.items() if torch.equal(o, c)]
        assert len(match) == 1
        seen.add(match[0])
    assert len(seen) > 30 and {k[2] for k in seen} == {False, True}
    # Hand-checked case: no padding, so only the flip can happen.
    out = augment_images(batch[:20], torch.Generator().manual_seed(1), padding=0)
    flipped = [torch.equal(o, img[0].flip(-1)) for o in out]
    assert all(f or torch.equal(o, img[0]) for f, o in zip(flipped, out))
    assert 0 < sum(flipped) < 20
    # Without the flip and with zero padding it is the identity.
    assert torch.equal(augment_images(batch, padding=0, flip=False), batch)


def test_augment_crop_example():
    img = torch.zeros(1, 1, 4, 4, dtype=torch.uint8)
    img[0, 0, 0, 0] = 9  # top-left pixel
    gen = torch.Generator().manual_seed(0)
    outs = augment_images(img.expand(256, 1, 4, 4), gen, padding=1)
    # The marked pixel moves by at most one pixel (or leaves the window), and a
    # flip mirrors its column: it can only appear in the rows 0..1 and in the
    # columns 0..1 or 2..3.
    pos = (outs[:, 0] == 9).nonzero()[:, 1:]
    assert (pos[:, 0] <= 1).all()
    assert ((pos[:, 1] <= 1) | (pos[:, 1] >= 2)).all()
    assert set(map(tuple, pos.tolist())) == {(0, 0), (0, 1), (1, 0), (1, 1), (0, 3), (0, 2),
                                             (1, 3), (1, 2)}


def test_sample_batch(tmp_path, mirrors):
    ds = _make(tmp_path, mirrors["tar"], split="train", held_out_fraction=0.0)
    imgs, labels = ds.sample_batch(16, torch.Generator().manual_seed(0))
    assert imgs.shape == (16, 3, 32, 32) and imgs.dtype == torch.float32 and labels.shape == (16,)
    reference = normalize_images(ds.images)
    for x, y in zip(imgs, labels):  # every sample is a dataset item with its label
        hit = [i for i in range(len(ds)) if torch.allclose(reference[i], x)]
        assert len(hit) == 1 and ds.labels[hit[0]] == y
    again, labels_again = ds.sample_batch(16, torch.Generator().manual_seed(0))
    assert torch.equal(again, imgs) and torch.equal(labels_again, labels)
    aug, aug_labels = ds.sample_batch(16, torch.Generator().manual_seed(0), augment=True)
    assert aug.shape == imgs.shape and torch.equal(aug_labels, labels)
    assert not torch.allclose(aug, imgs)
    small = _make(tmp_path, mirrors["tar"], split="train", held_out_fraction=0.0, image_size=16)
    s_imgs, _ = small.sample_batch(16, torch.Generator().manual_seed(0))
    assert s_imgs.shape == (16, 3, 16, 16)
    assert torch.allclose(s_imgs, F.avg_pool2d(imgs, 2), atol=1e-6)
    assert resize_images(imgs, 12).shape == (16, 3, 12, 12)
    with pytest.raises(ValueError, match="batch_size"):
        ds.sample_batch(len(ds) + 1)


def test_iter_batches_and_getitem(tmp_path, mirrors):
    ds = _make(tmp_path, mirrors["tar"], split="test")
    batches = list(ds.iter_batches(8))
    assert [len(y) for _, y in batches] == [8, 8, 4]
    assert torch.equal(torch.cat([y for _, y in batches]), ds.labels)
    assert torch.allclose(torch.cat([x for x, _ in batches]), normalize_images(ds.images))
    assert len(list(ds.iter_batches(8, shuffle=True, drop_last=True))) == 2
    x, y = ds[3]
    assert x.shape == (3, 32, 32) and y == int(ds.labels[3])
    assert torch.allclose(ds[-1][0], normalize_images(ds.images[-1:])[0])
    loader = torch.utils.data.DataLoader(ds, batch_size=5)
    xb, yb = next(iter(loader))
    assert xb.shape == (5, 3, 32, 32) and torch.equal(yb, ds.labels[:5])


# ------------------------------------------------------------- real mirror
@pytest.mark.skipif(not REAL_MIRROR or not osp.isfile(
    osp.join(REAL_MIRROR or "", "cifar10", "CIFAR-10-images.zip")),
    reason="HYPERNAS_MIRROR with cifar10/CIFAR-10-images.zip not set")
def test_real_mirror_zip_handful_of_entries():
    path = osp.join(REAL_MIRROR, "cifar10", "CIFAR-10-images.zip")
    with zipfile.ZipFile(path) as zf:
        entries = cifar_mod._list_zip_images(zf, "test", path)
        assert len(entries) == 10000
        assert torch.bincount(torch.tensor([y for _, y in entries])).tolist() == [1000] * 10
        pick = entries[::1000]
        images, labels = cifar_mod._decode_zip_images(zf, pick, path)
    assert images.shape == (10, 3, 32, 32) and images.dtype == torch.uint8
    assert labels.tolist() == list(range(10))
    assert [e[0].filename for e in pick[:2]] == ["test/airplane/0000.jpg",
                                                 "test/automobile/0000.jpg"]
    assert 0.2 < images.float().mean().item() / 255 < 0.8
