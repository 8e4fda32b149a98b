"""Opening a dataset root without unpickling anything: PyG's ``_process`` replaced.

PyG's :meth:`torch_geometric.data.Dataset._process` reads
``processed/pre_transform.pt`` and ``processed/pre_filter.pt`` with
``torch.load`` with full unpickling (a crafted file there runs code), and
``InMemoryDataset.load`` goes through ``torch_geometric.io.fs.torch_load``, which
falls back to full unpickling. Our datasets use :func:`checked_process`
instead: the ``pre_transform`` / ``pre_filter`` check reads the JSON fingerprint
each dataset writes beside its processed file, the ``*.pt`` files PyG would read
are neither read nor written, and processed files load only through
:func:`load_tensors` (``weights_only=True``).
"""
from __future__ import annotations

import json
import os
import os.path as osp
import re
import sys
import warnings
from typing import Any, Callable

import torch

from hypernas_pyg.atomic_file import atomic_file

#: The files PyG's ``_process`` reads with full unpickling; we never read them.
PYG_PICKLES = ("pre_transform.pt", "pre_filter.pt")

_WARNINGS = {
    "pre_transform": (
        "The `pre_transform` argument differs from the one used in the pre-processed "
        "version of this dataset. If you want to make use of another pre-processing "
        "technique, pass `force_reload=True` explicitly to reload the dataset."),
    "pre_filter": (
        "The `pre_filter` argument differs from the one used in the pre-processed "
        "version of this dataset. If you want to make use of another pre-fitering "
        "technique, pass `force_reload=True` explicitly to reload the dataset."),
}


def _normalised_repr(value: Any) -> str:
    """``repr`` without memory addresses, like PyG's ``_repr`` (``<function f at 0x..>``
    becomes ``<function>``)."""
    text = value if isinstance(value, str) else repr(value)
    return re.sub(r"(<.*?)\s.*(>)", r"\1\2", text)


def read_fingerprint(path: str) -> Any:
    """The JSON fingerprint at ``path``, or ``None`` when it is missing or unreadable."""
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def checked_process(dataset: Any, meta_path: str) -> None:
    """What PyG's ``Dataset._process`` does, reading no pickle.

    Warns, with PyG's words, when the ``pre_transform`` / ``pre_filter`` recorded in
    the fingerprint ``meta_path`` differ from the dataset's own (addresses ignored),
    and calls ``dataset.process()`` when a processed file is missing or
    ``force_reload`` is set. The dataset's own loading then checks the fingerprint
    in full (and rebuilds on a mismatch).
    """
    meta = None if dataset.force_reload else read_fingerprint(meta_path)
    if isinstance(meta, dict):
        for key, message in _WARNINGS.items():
            if key in meta and _normalised_repr(meta[key]) != _normalised_repr(
                    getattr(dataset, key)):
                warnings.warn(message, stacklevel=4)
    if not dataset.force_reload and all(osp.exists(p) for p in dataset.processed_paths):
        return
    if dataset.log and "PYTEST_CURRENT_TEST" not in os.environ:
        print("Processing...", file=sys.stderr)
    os.makedirs(dataset.processed_dir, exist_ok=True)
    dataset.process()
    if dataset.log and "PYTEST_CURRENT_TEST" not in os.environ:
        print("Done!", file=sys.stderr)


def load_tensors(path: str) -> Any:
    """``torch.load(path, weights_only=True)`` on the CPU: tensors, plain containers and
    the classes registered with ``torch.serialization.add_safe_globals`` only."""
    return torch.load(path, map_location="cpu", weights_only=True)


def check_root(root: Any) -> str:
    """``root`` as a directory path (``~`` expanded).

    Raises:
        ValueError: when ``root`` is not a non-empty path (PyG would otherwise write
            into a folder literally named ``???``).
    """
    if isinstance(root, os.PathLike):
        root = os.fspath(root)
    if not isinstance(root, str) or not root.strip():
        raise ValueError(f"root must be a directory path (str or os.PathLike), got {root!r}; "
                         "pass e.g. root='~/.cache/hypernas_pyg/<benchmark>'")
    return osp.expanduser(root)


def write_processed(path: str, meta_path: str, write: Callable[[str], None],
                    fingerprint: Callable[[], dict]) -> None:
    """Writes a processed file (``write(tmp_path)``) and then its JSON fingerprint, each
    atomically, after removing the old pair: a crash leaves either both or neither
    readable as current (a processed file without its fingerprint is rebuilt)."""
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    for old in (path, meta_path):
        if osp.exists(old):
            os.remove(old)
    with atomic_file(path) as tmp:
        write(tmp)
    with atomic_file(meta_path) as tmp, open(tmp, "w") as f:
        json.dump(fingerprint(), f)
