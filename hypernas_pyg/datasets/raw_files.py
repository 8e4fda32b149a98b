"""Obtaining raw benchmark files: local mirror, public source, or a clear error."""
from __future__ import annotations

import hashlib
import logging
import os
import os.path as osp
import shutil
import urllib.request
from dataclasses import dataclass
from typing import Optional, Sequence, Union

from hypernas_pyg.atomic_file import atomic_file

logger = logging.getLogger(__name__)

#: Environment variable naming a local mirror of the raw benchmark files.
MIRROR_ENV = "HYPERNAS_MIRROR"
#: Environment variable naming the directory datasets are cached in.
ROOT_ENV = "HYPERNAS_ROOT"


def default_root() -> str:
    """Where datasets are cached: ``$HYPERNAS_ROOT`` or ``~/.cache/hypernas_pyg``."""
    return os.environ.get(ROOT_ENV, osp.join(osp.expanduser("~"), ".cache", "hypernas_pyg"))


def sha256_file(path: str) -> str:
    """The sha256 hex digest of the file at ``path`` (read in 1 MiB chunks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class RawFile:
    """A raw file a dataset needs.

    Args:
        name: File name inside the dataset's raw directory.
        mirror_path: Path relative to the ``HYPERNAS_MIRROR`` directory.
        url: Public download address, or ``None`` when there is none.
        sha256: The file's sha256 hex digest, or a tuple of accepted digests (e.g. the
            upstream file and the mirror's copy of it); ``None`` checks nothing.
    """

    name: str
    mirror_path: str
    url: Optional[str] = None
    sha256: Union[None, str, tuple[str, ...]] = None

    @property
    def digests(self) -> tuple[str, ...]:
        """The accepted sha256 digests (empty: unchecked)."""
        if self.sha256 is None:
            return ()
        return (self.sha256,) if isinstance(self.sha256, str) else tuple(self.sha256)

    def verify(self, path: str, origin: Optional[str] = None) -> None:
        """Checks the file at ``path`` against :attr:`sha256`.

        Raises:
            ValueError: naming the file, the expected and the found digest.
        """
        if not self.digests:
            return
        found = sha256_file(path)
        if found in self.digests:
            return
        expected = " or ".join(self.digests)
        where = origin if origin is not None else path
        advice = (f"it was not kept; check {origin}" if origin is not None else
                  f"delete {path} so that it is fetched again (force_reload=True re-copies it "
                  f"from ${MIRROR_ENV})")
        raise ValueError(f"{where}: sha256 {found} does not match the expected {expected} "
                         f"(a corrupt, truncated or different file); {advice}")


def verify_raw_files(files: Sequence[RawFile], raw_dir: str) -> None:
    """Checks every file of ``files`` present in ``raw_dir`` against its sha256.

    Raises:
        ValueError: for the first file whose digest is not the expected one.
    """
    for f in files:
        path = osp.join(raw_dir, f.name)
        if osp.isfile(path):
            f.verify(path)


def _atomic_copy(src: str, dst: str, spec: Optional[RawFile] = None) -> None:
    with atomic_file(dst) as tmp:
        shutil.copyfile(src, tmp)
        if spec is not None:
            spec.verify(tmp, origin=f"{src} (copying it to {dst})")


def _atomic_download(url: str, dst: str, timeout: float = 30.0) -> None:
    with atomic_file(dst) as tmp, open(tmp, "wb") as out, \
            urllib.request.urlopen(url, timeout=timeout) as resp:
        shutil.copyfileobj(resp, out)


def fetch_raw_files(files: Sequence[RawFile], raw_dir: str,
                    mirror: Optional[str] = None, refresh: bool = False) -> None:
    """Puts every file of ``files`` into ``raw_dir``.

    Each file is copied from the mirror directory (``mirror`` or, if ``None``,
    the ``HYPERNAS_MIRROR`` environment variable) when it is there, else
    downloaded from its public address. Files are written atomically: a failed
    copy or download leaves nothing behind.

    With ``refresh`` a file already in ``raw_dir`` is copied again when the mirror
    has it. Files with a :attr:`RawFile.sha256` are checked: a copy or download
    that does not match is not kept.

    Raises:
        FileNotFoundError: listing every file that could not be obtained, where
            it comes from, and the absolute raw directory to put it in.
        ValueError: when an obtained file's sha256 is not the expected one.
    """
    mirror = mirror if mirror is not None else os.environ.get(MIRROR_ENV)
    missing: list[str] = []
    for f in files:
        dst = osp.join(raw_dir, f.name)
        src = osp.join(mirror, f.mirror_path) if mirror else None
        if osp.exists(dst) and not (refresh and src is not None and osp.isfile(src)):
            continue
        if src is not None and osp.isfile(src):
            logger.info("Copying %s from mirror %s", f.name, mirror)
            _atomic_copy(src, dst, f)
            continue
        if f.url:
            try:
                logger.info("Downloading %s from %s", f.name, f.url)
                _atomic_download(f.url, dst)
                try:
                    f.verify(dst, origin=f"{f.url} (downloaded to {dst})")
                except ValueError:
                    os.remove(dst)
                    raise
                continue
            except OSError as exc:  # URLError is an OSError
                reason = f"download failed: {exc}"
        else:
            reason = "no public download address"
        where = f"mirror {osp.join(mirror, f.mirror_path)!s} (not found); " if mirror else (
            f"no mirror (set {MIRROR_ENV}); ")
        missing.append(f"  - {f.name}: {where}source {f.url or 'n/a'} ({reason})")
    if missing:
        raise FileNotFoundError(
            "Could not obtain raw files:\n" + "\n".join(missing)
            + f"\nPlace them in {osp.abspath(raw_dir)} or set {MIRROR_ENV} to a "
            "directory holding '<benchmark>/<file>'.")
