"""CIFAR-10 images as the auxiliary data set of the hypernetwork task."""
from __future__ import annotations

import codecs
import io
import logging
import math
import os
import os.path as osp
import pickle
import sys
import tarfile
import zipfile
from typing import Iterator, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import Dataset

from hypernas_pyg.atomic_file import atomic_file
from hypernas_pyg.datasets.raw_files import MIRROR_ENV, RawFile, fetch_raw_files
from hypernas_pyg.datasets.safe_process import check_root

logger = logging.getLogger(__name__)

#: Class names; the position of a name is its label id (alphabetical order).
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck")
#: Per-channel mean of the CIFAR-10 training images (pixel values in [0, 1]).
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
#: Per-channel standard deviation of the CIFAR-10 training images.
CIFAR10_STD = (0.2470, 0.2435, 0.2616)

_SIZE = 32
_IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")
_TAR_MEMBERS = {"train": tuple(f"data_batch_{i}" for i in range(1, 6)),
                "test": ("test_batch",)}


# ----------------------------------------------------------------------------
# Batched image operations (no per-image Python code)
# ----------------------------------------------------------------------------
def normalize_images(images: Tensor, mean: Sequence[float] = CIFAR10_MEAN,
                     std: Sequence[float] = CIFAR10_STD) -> Tensor:
    r"""Scales ``uint8`` images to ``[0, 1]`` and standardises every channel.

    .. math::
        \hat{x}_{bchw} = \frac{x_{bchw} / 255 - \mu_c}{\sigma_c}

    Args:
        images: Pixel values in ``0..255`` (any dtype).
        mean: Per-channel mean :math:`\mu` on the ``[0, 1]`` scale.
        std: Per-channel standard deviation :math:`\sigma` on the ``[0, 1]`` scale.

    Shapes:
        - **input:** ``[B, C, H, W]``
        - **output:** ``[B, C, H, W]``, ``float32``
    """
    if images.dim() != 4:
        raise ValueError(f"Expected images of shape [B, C, H, W], got {tuple(images.shape)}")
    x = images.to(torch.float32).div_(255.0)
    m = torch.as_tensor(mean, dtype=torch.float32, device=x.device).view(1, -1, 1, 1)
    s = torch.as_tensor(std, dtype=torch.float32, device=x.device).view(1, -1, 1, 1)
    return x.sub_(m).div_(s)


def augment_images(images: Tensor, generator: Optional[torch.Generator] = None,
                   padding: int = 4, flip: bool = True) -> Tensor:
    r"""Random crop with zero padding and random horizontal flip, per image.

    Every image is padded by ``padding`` zero pixels on each side, a window of
    the original size is cut at an offset drawn uniformly from
    ``0..2 * padding`` in each direction, and the window is mirrored
    left-right with probability 1/2 (``RandomCrop(32, padding=4)`` followed by
    ``RandomHorizontalFlip()`` in torchvision terms). The whole batch is done
    with one gather.

    Args:
        images: Images of any dtype (``uint8`` is cheapest).
        generator: Random number generator (the global one when ``None``).
        padding: Zero padding on every side before cropping.
        flip: Whether to apply the random horizontal flip.

    Shapes:
        - **input:** ``[B, C, H, W]``
        - **output:** ``[B, C, H, W]``, same dtype and device as the input
    """
    if images.dim() != 4:
        raise ValueError(f"Expected images of shape [B, C, H, W], got {tuple(images.shape)}")
    if padding < 0:
        raise ValueError(f"padding must be >= 0, got {padding}")
    B, C, H, W = images.shape
    device = images.device
    draw_device = generator.device if generator is not None else device
    oy = torch.randint(0, 2 * padding + 1, (B, 1), generator=generator, device=draw_device)
    ox = torch.randint(0, 2 * padding + 1, (B, 1), generator=generator, device=draw_device)
    mirror = torch.zeros(B, 1, dtype=torch.bool, device=draw_device)
    if flip:
        mirror = torch.rand(B, 1, generator=generator, device=draw_device) < 0.5
    oy, ox, mirror = oy.to(device), ox.to(device), mirror.to(device)
    Hp, Wp = H + 2 * padding, W + 2 * padding
    padded = images.new_zeros(B, C, Hp, Wp)
    padded[:, :, padding:padding + H, padding:padding + W] = images
    ar_w = torch.arange(W, device=device)
    rows = oy + torch.arange(H, device=device)                  # [B, H]
    cols = ox + torch.where(mirror, ar_w.flip(0), ar_w)         # [B, W]
    flat = (rows.unsqueeze(2) * Wp + cols.unsqueeze(1)).view(B, 1, H * W)
    out = padded.view(B, C, Hp * Wp).gather(2, flat.expand(B, C, H * W))
    return out.view(B, C, H, W)


def resize_images(images: Tensor, size: int) -> Tensor:
    r"""Downsamples float images to ``size x size``.

    Average pooling when the side length is a multiple of ``size`` (e.g. 32 to
    16 or 8), else antialiased bilinear interpolation.

    Shapes:
        - **input:** ``[B, C, H, W]``, floating point
        - **output:** ``[B, C, size, size]``
    """
    H, W = images.shape[-2:]
    if (H, W) == (size, size):
        return images
    if H == W and H % size == 0:
        return F.avg_pool2d(images, kernel_size=H // size)
    return F.interpolate(images, size=(size, size), mode="bilinear",
                         align_corners=False, antialias=True)


def _is_int_in(value: object, low: int, high: Optional[int]) -> bool:
    """Whether ``value`` is an ``int`` (not a ``bool``) in ``low..high``."""
    return (isinstance(value, int) and not isinstance(value, bool) and value >= low
            and (high is None or value <= high))


# ----------------------------------------------------------------------------
# Raw file readers
# ----------------------------------------------------------------------------
def _progress(iterable, total: int, desc: str, log: bool):
    from tqdm.auto import tqdm
    return tqdm(iterable, total=total, desc=desc, disable=not log or not sys.stderr.isatty())


def _list_zip_images(zf: zipfile.ZipFile, part: str,
                     path: str) -> list[tuple[zipfile.ZipInfo, int]]:
    """Entries ``[<prefix>/]<part>/<class>/<file>`` of an image zip, sorted by (label, name)."""
    entries = []
    for info in zf.infolist():
        if info.is_dir() or not info.filename.lower().endswith(_IMAGE_EXTENSIONS):
            continue
        parts = info.filename.split("/")
        if len(parts) < 3 or parts[-3] != part:
            continue
        if parts[-2] not in CIFAR10_CLASSES:
            raise RuntimeError(
                f"Entry {info.filename!r} of {path} lies in unknown class folder "
                f"{parts[-2]!r}; expected one of: {', '.join(CIFAR10_CLASSES)}")
        entries.append((info, CIFAR10_CLASSES.index(parts[-2])))
    if not entries:
        raise RuntimeError(f"{path} contains no '{part}/<class>/*.jpg' images")
    entries.sort(key=lambda e: (e[1], e[0].filename))
    return entries


def _decode_zip_images(zf: zipfile.ZipFile, entries: Sequence[tuple[zipfile.ZipInfo, int]],
                       path: str, log: bool = False) -> tuple[Tensor, Tensor]:
    """Decodes zip entries with PIL from memory; returns ``uint8 [N, 3, 32, 32]``, labels."""
    from PIL import Image

    out = np.empty((len(entries), _SIZE, _SIZE, 3), dtype=np.uint8)
    for k, (info, _) in enumerate(_progress(entries, len(entries), "Decoding CIFAR-10", log)):
        try:
            with Image.open(io.BytesIO(zf.read(info))) as im:
                arr = np.asarray(im if im.mode == "RGB" else im.convert("RGB"))
        except Exception as exc:  # truncated data, CRC errors, undecodable images
            raise RuntimeError(f"Cannot decode image {info.filename!r} in {path}: {exc}. "
                               f"The file may be corrupt; delete it to fetch it again.") from exc
        if arr.shape != (_SIZE, _SIZE, 3):
            raise RuntimeError(f"Image {info.filename!r} in {path} has shape {arr.shape}; "
                               f"expected ({_SIZE}, {_SIZE}, 3)")
        out[k] = arr
    images = torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()
    labels = torch.tensor([label for _, label in entries], dtype=torch.long)
    return images, labels


def _read_zip(path: str, part: str, log: bool) -> tuple[Tensor, Tensor]:
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise RuntimeError(f"{path} is not a readable zip archive ({exc}). The file may be "
                           "truncated or corrupt; delete it to fetch it again.") from exc
    with zf:
        return _decode_zip_images(zf, _list_zip_images(zf, part, path), path, log)


class _BatchUnpickler(pickle.Unpickler):
    """Unpickles the official CIFAR-10 batches, refusing every other global."""

    def find_class(self, module: str, name: str):
        if (module, name) in {("numpy.core.multiarray", "_reconstruct"),
                              ("numpy._core.multiarray", "_reconstruct")}:
            try:  # numpy >= 2 moved numpy.core to numpy._core
                from numpy._core.multiarray import _reconstruct
            except ImportError:  # pragma: no cover - numpy 1.x
                from numpy.core.multiarray import _reconstruct
            return _reconstruct
        allowed = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype,
                   ("_codecs", "encode"): codecs.encode}
        if (module, name) in allowed:
            return allowed[(module, name)]
        raise pickle.UnpicklingError(f"global '{module}.{name}' is not allowed in a CIFAR-10 batch")


def _read_tarball(path: str, part: str, log: bool = False) -> tuple[Tensor, Tensor]:
    wanted = _TAR_MEMBERS[part]
    found: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    try:
        with tarfile.open(path, "r:*") as tf:
            for member in tf:
                name = osp.basename(member.name)
                if not member.isfile() or name not in wanted or name in found:
                    continue
                fobj = tf.extractfile(member)
                try:
                    batch = _BatchUnpickler(fobj, encoding="bytes").load()
                    data = np.asarray(batch[b"data"], dtype=np.uint8)
                    labels = np.asarray(batch[b"labels"], dtype=np.int64)
                except Exception as exc:
                    raise RuntimeError(f"Cannot read batch {member.name!r} in {path}: {exc}. "
                                       "The file may be corrupt; delete it to fetch it again."
                                       ) from exc
                if data.ndim != 2 or data.shape[1] != 3 * _SIZE * _SIZE or len(labels) != len(data):
                    raise RuntimeError(f"Batch {member.name!r} in {path} has data of shape "
                                       f"{data.shape} and {len(labels)} labels; expected "
                                       f"[N, {3 * _SIZE * _SIZE}] and N labels")
                found[name] = (data, labels)
                if log:
                    logger.info("Read %s (%d images) from %s", member.name, len(data), path)
                if len(found) == len(wanted):
                    break
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise RuntimeError(f"{path} is not a readable tar archive ({exc}). The file may be "
                           "truncated or corrupt; delete it to fetch it again.") from exc
    missing = [n for n in wanted if n not in found]
    if missing:
        raise RuntimeError(f"{path} lacks the CIFAR-10 batch(es) {missing}")
    data = np.concatenate([found[n][0] for n in wanted])
    labels = np.concatenate([found[n][1] for n in wanted])
    if labels.min() < 0 or labels.max() >= len(CIFAR10_CLASSES):
        raise RuntimeError(f"{path} holds labels outside 0..{len(CIFAR10_CLASSES) - 1}")
    images = torch.from_numpy(data.reshape(-1, 3, _SIZE, _SIZE).copy())
    return images, torch.from_numpy(labels)


# ----------------------------------------------------------------------------
# Dataset
# ----------------------------------------------------------------------------
class CIFAR10Images(Dataset):
    r"""CIFAR-10 images for the hypernetwork's auxiliary classification task.

    Reads either the JPEG zip ``CIFAR-10-images.zip`` (entries
    ``train/<class>/NNNN.jpg`` and ``test/<class>/NNNN.jpg``, classes in
    alphabetical order = label ids) or the official ``cifar-10-python.tar.gz``
    (pickled ``data_batch_1..5`` and ``test_batch``). Raw files are found in
    ``<root>/raw/``, else copied from ``$HYPERNAS_MIRROR/cifar10/`` (or the
    ``mirror`` argument), else downloaded (only the tarball has a public
    single-file address), else :class:`FileNotFoundError` is raised.

    The images of the needed part (training or test images) are decoded once
    into a ``uint8`` tensor and cached in
    ``<root>/processed/cifar10_<source>_<part>_v<VERSION>.pt``, written
    atomically. The cache records its format version and the raw file's size;
    a cache that is unreadable, of another version, or made from a raw file of
    another size is rebuilt. (When the raw file has been deleted, a cache of
    the current version is used as it is.)

    Splits:

    * ``"train"``: the training images minus the held-out part.
    * ``"heldout"``: a held-out part of the training images, stratified by
      class (``round(held_out_fraction * n_c)`` images of every class ``c``),
      chosen with ``split_seed``; the auxiliary validation set.
    * ``"test"``: the 10,000 test images.

    Items are ``(image, label)`` with the image a normalised ``float32``
    tensor. For training, prefer :meth:`sample_batch` / :meth:`iter_batches`,
    which transform whole batches at once.

    Args:
        root: Root directory (``raw/`` and ``processed/`` are created below it).
        split: ``"train"``, ``"heldout"`` or ``"test"``.
        subset: Keep only this many images of the split, chosen at random with
            ``seed`` (``None`` keeps all).
        seed: Seed of the ``subset`` choice.
        augment: Random crop (4-pixel zero padding) and horizontal flip in
            :meth:`__getitem__`, :meth:`sample_batch` and :meth:`iter_batches`.
        held_out_fraction: Fraction of the training images of every class that
            form the ``"heldout"`` split, in ``[0, 1)``.
        split_seed: Seed of the held-out choice. Keep it fixed across the
            ``"train"`` and ``"heldout"`` datasets so that they are disjoint.
        image_size: Side length of the returned images; values below 32 are
            obtained at batch time by average pooling (or antialiased
            interpolation when 32 is not a multiple), e.g. 16 for a cheap proxy.
        source: ``"auto"`` (the zip when available, else the tarball),
            ``"zip"`` or ``"tarball"``.
        mirror: Mirror directory; defaults to ``$HYPERNAS_MIRROR``.
        force_reload: Decode the raw file again even if a valid cache exists.
        log: Log progress and show a progress bar (only on a terminal).

    Shapes:
        - **images:** ``[N, 3, 32, 32]``, ``uint8`` (the cached pixels)
        - **labels:** ``[N]``, ``int64``
        - **sample_batch:** ``[B, 3, image_size, image_size]`` ``float32``, ``[B]`` ``int64``
    """

    classes = CIFAR10_CLASSES
    num_classes = len(CIFAR10_CLASSES)
    mean = CIFAR10_MEAN
    std = CIFAR10_STD
    SPLITS = ("train", "heldout", "test")
    SOURCES = ("auto", "zip", "tarball")
    #: Bump when the cache format changes.
    VERSION = 1
    zip_file = RawFile("CIFAR-10-images.zip", "cifar10/CIFAR-10-images.zip", None,
                       "1f246f18ee1c4b008b72b11e5d912c2b6a325d41b34a6c0136bab1e640200198")
    #: Check the zip against its sha256 (``datasets/cifar10.md``; the tarball has no
    #: published sha256); set it to ``False`` on the class for a home-made zip.
    verify_sha256 = True
    tarball_file = RawFile("cifar-10-python.tar.gz", "cifar10/cifar-10-python.tar.gz",
                           "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz")

    def __init__(self, root: str, split: str = "train", subset: Optional[int] = None,
                 seed: int = 0, augment: bool = False, held_out_fraction: float = 0.1,
                 split_seed: int = 0, image_size: int = 32, source: str = "auto",
                 mirror: Optional[str] = None, force_reload: bool = False,
                 log: bool = True) -> None:
        super().__init__()
        if split not in self.SPLITS:
            raise ValueError(f"Unknown split {split!r}; choose one of: {', '.join(self.SPLITS)}")
        if source not in self.SOURCES:
            raise ValueError(f"Unknown source {source!r}; choose one of: {', '.join(self.SOURCES)}")
        if not 0.0 <= held_out_fraction < 1.0:
            raise ValueError(f"held_out_fraction must lie in [0, 1), got {held_out_fraction}")
        if subset is not None and not _is_int_in(subset, 1, None):
            raise ValueError(f"subset must be a positive int or None, got {subset!r}")
        if not _is_int_in(image_size, 1, _SIZE):
            raise ValueError(f"image_size must be an int in 1..{_SIZE}, got {image_size!r}")
        self.root = check_root(root)
        self.split = split
        self.augment = bool(augment)
        self.held_out_fraction = float(held_out_fraction)
        self.split_seed = split_seed
        self.seed = seed
        self.image_size = image_size
        self.mirror = mirror
        self.log = log

        part = "test" if split == "test" else "train"
        self.source = self._resolve_source(source, part)
        images, labels = self._load_part(self.source, part, force_reload)

        if split == "test":
            indices = torch.arange(len(labels))
        else:
            held = self._held_out_mask(labels, self.held_out_fraction, split_seed)
            indices = held.nonzero().view(-1) if split == "heldout" else (~held).nonzero().view(-1)
            if len(indices) == 0:
                raise ValueError(f"held_out_fraction={held_out_fraction} leaves the {split!r} "
                                 f"split empty ({len(labels)} training images)")
        if subset is not None:
            if not _is_int_in(subset, 1, len(indices)):
                raise ValueError(f"subset must be an int in 1..{len(indices)} (the size of the "
                                 f"{split!r} split), got {subset!r}")
            g = torch.Generator().manual_seed(seed)
            pick = torch.randperm(len(indices), generator=g)[:subset]
            indices = indices[pick.sort().values]
        #: Positions of the items among the decoded images of their part.
        self.indices: Tensor = indices
        #: Cached pixels of the items.
        self.images: Tensor = images[indices].contiguous()
        #: Class ids of the items.
        self.labels: Tensor = labels[indices].contiguous()

    # ----------------------------------------------------------------- files
    @property
    def raw_dir(self) -> str:
        return osp.join(self.root, "raw")

    @property
    def processed_dir(self) -> str:
        return osp.join(self.root, "processed")

    def _spec(self, source: str) -> RawFile:
        spec = self.zip_file if source == "zip" else self.tarball_file
        return spec if self.verify_sha256 else RawFile(spec.name, spec.mirror_path, spec.url)

    def processed_path(self, source: str, part: str) -> str:
        """Path of the cache of ``part`` (``"train"`` / ``"test"``) decoded from ``source``."""
        return osp.join(self.processed_dir, f"cifar10_{source}_{part}_v{self.VERSION}.pt")

    def _resolve_source(self, source: str, part: str) -> str:
        candidates = ["zip", "tarball"] if source == "auto" else [source]
        mirror = self.mirror if self.mirror is not None else os.environ.get(MIRROR_ENV)
        # First choice: whatever is already here (raw file, cache) or in the mirror.
        for kind in candidates:
            spec = self._spec(kind)
            if (osp.isfile(osp.join(self.raw_dir, spec.name))
                    or osp.isfile(self.processed_path(kind, part))
                    or (mirror and osp.isfile(osp.join(mirror, spec.mirror_path)))):
                return kind
        # Else try to obtain one; report all failures together.
        errors = []
        for kind in candidates:
            try:
                fetch_raw_files([self._spec(kind)], self.raw_dir, mirror=self.mirror)
                return kind
            except FileNotFoundError as exc:
                errors.append(str(exc))
        raise FileNotFoundError("\n".join(errors))

    def _try_load_cache(self, path: str, source: str, part: str) -> Optional[tuple[Tensor, Tensor]]:
        try:
            cache = torch.load(path, map_location="cpu", weights_only=True)
            raw_path = osp.join(self.raw_dir, self._spec(source).name)
            ok = (isinstance(cache, dict) and cache.get("format_version") == self.VERSION
                  and cache.get("source") == source and cache.get("part") == part
                  and (not osp.isfile(raw_path) or cache.get("raw_size") == osp.getsize(raw_path)))
            if not ok:
                return None
            images, labels = cache["images"], cache["labels"]
            n = len(labels)
            if (images.dtype != torch.uint8 or tuple(images.shape) != (n, 3, _SIZE, _SIZE)
                    or labels.dtype != torch.long or labels.dim() != 1 or n == 0
                    or labels.min() < 0 or labels.max() >= self.num_classes):
                return None
            return images, labels
        except Exception as exc:  # an unreadable cache is rebuilt, not trusted
            logger.debug("Cannot use cache %s: %s", path, exc)
            return None

    def _load_part(self, source: str, part: str, force_reload: bool) -> tuple[Tensor, Tensor]:
        path = self.processed_path(source, part)
        if not force_reload and osp.exists(path):
            loaded = self._try_load_cache(path, source, part)
            if loaded is not None:
                return loaded
            logger.warning("Cache %s is stale or unreadable; rebuilding it.", path)
        spec = self._spec(source)
        fetch_raw_files([spec], self.raw_dir, mirror=self.mirror, refresh=force_reload)
        raw_path = osp.join(self.raw_dir, spec.name)
        spec.verify(raw_path)
        if self.log:
            logger.info("Decoding the CIFAR-10 %s images of %s", part, raw_path)
        reader = _read_zip if source == "zip" else _read_tarball
        images, labels = reader(raw_path, part, self.log)
        cache = {"format_version": self.VERSION, "source": source, "part": part,
                 "raw_name": spec.name, "raw_size": osp.getsize(raw_path),
                 "images": images, "labels": labels}
        with atomic_file(path) as tmp, open(tmp, "wb") as f:
            torch.save(cache, f)
        return images, labels

    @staticmethod
    def _held_out_mask(labels: Tensor, fraction: float, seed: int) -> Tensor:
        g = torch.Generator().manual_seed(seed)
        perm = torch.randperm(len(labels), generator=g)
        mask = torch.zeros(len(labels), dtype=torch.bool)
        for c in range(len(CIFAR10_CLASSES)):
            members = perm[labels[perm] == c]
            k = int(math.floor(fraction * len(members) + 0.5))
            mask[members[:k]] = True
        return mask

    # --------------------------------------------------------------- batches
    def transform_batch(self, images: Tensor, generator: Optional[torch.Generator] = None,
                        augment: Optional[bool] = None) -> Tensor:
        """Turns cached ``uint8`` images into model inputs: augment (if enabled),
        normalise, resize to :attr:`image_size`.

        Args:
            images: ``uint8`` images, e.g. a slice of :attr:`images`.
            generator: Random number generator of the augmentation.
            augment: Overrides the dataset's ``augment`` flag when not ``None``.

        Shapes:
            - **input:** ``[B, 3, 32, 32]``
            - **output:** ``[B, 3, image_size, image_size]``, ``float32``
        """
        if self.augment if augment is None else augment:
            images = augment_images(images, generator=generator)
        return resize_images(normalize_images(images, self.mean, self.std), self.image_size)

    def sample_batch(self, batch_size: int, generator: Optional[torch.Generator] = None,
                     device: Optional[Union[str, torch.device]] = None,
                     augment: Optional[bool] = None) -> tuple[Tensor, Tensor]:
        """Draws ``batch_size`` distinct items at random and transforms them at once.

        Args:
            batch_size: Number of images, in ``1..len(self)``.
            generator: Random number generator (draws and augmentation).
            device: Device of the returned tensors (the ``uint8`` images are
                moved before being transformed).
            augment: Overrides the dataset's ``augment`` flag when not ``None``.

        Returns:
            ``(images, labels)`` of shapes ``[B, 3, image_size, image_size]``
            (``float32``) and ``[B]`` (``int64``).
        """
        if not _is_int_in(batch_size, 1, len(self)):
            raise ValueError(f"batch_size must be an int in 1..{len(self)}, got {batch_size!r}")
        idx = torch.randperm(len(self), generator=generator)[:batch_size]
        return self._batch(idx, generator, device, augment)

    def iter_batches(self, batch_size: int, shuffle: bool = False,
                     generator: Optional[torch.Generator] = None,
                     device: Optional[Union[str, torch.device]] = None,
                     drop_last: bool = False,
                     augment: Optional[bool] = None) -> Iterator[tuple[Tensor, Tensor]]:
        """Yields transformed ``(images, labels)`` batches covering the dataset once.

        Args:
            batch_size: Images per batch (the last batch may be smaller).
            shuffle: Visit the items in a random order.
            generator: Random number generator (order and augmentation).
            device: Device of the returned tensors.
            drop_last: Skip a last, incomplete batch.
            augment: Overrides the dataset's ``augment`` flag when not ``None``.
        """
        if not _is_int_in(batch_size, 1, None):
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        order = (torch.randperm(len(self), generator=generator) if shuffle
                 else torch.arange(len(self)))
        stop = len(self) - len(self) % batch_size if drop_last else len(self)
        for start in range(0, stop, batch_size):
            yield self._batch(order[start:start + batch_size], generator, device, augment)

    def _batch(self, idx: Tensor, generator: Optional[torch.Generator],
               device: Optional[Union[str, torch.device]],
               augment: Optional[bool]) -> tuple[Tensor, Tensor]:
        images, labels = self.images[idx], self.labels[idx]
        if device is not None:
            images, labels = images.to(device), labels.to(device)
        return self.transform_batch(images, generator, augment), labels

    # -------------------------------------------------------------- protocol
    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, idx: int) -> tuple[Tensor, int]:
        """Returns ``(image [3, image_size, image_size], label)``; augmentation
        (if enabled) draws from the global random number generator."""
        idx = int(idx)
        if not -len(self) <= idx < len(self):
            raise IndexError(f"index {idx} out of range for {len(self)} images")
        idx %= len(self)
        image = self.transform_batch(self.images[idx:idx + 1])
        return image[0], int(self.labels[idx])

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({len(self)}, split={self.split!r}, "
                f"source={self.source!r}, augment={self.augment}, image_size={self.image_size})")
