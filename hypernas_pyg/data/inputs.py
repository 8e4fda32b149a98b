"""Architecture inputs of the estimators (dataset, ArchData list or strings) as strings and targets."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterator, Optional, Sequence

import numpy as np

if TYPE_CHECKING:
    import torch
    from torch_geometric.data import Batch

    from hypernas_pyg.spaces import SearchSpace


def arch_strings(archs: Any) -> list[str]:
    """Architecture strings of a dataset, a list of ``ArchData`` or a list of strings."""
    if hasattr(archs, "archs") and not isinstance(archs, (list, tuple)):
        out = list(archs.archs)  # the dataset keeps them without building every Data object
    else:
        items = list(archs)
        if all(isinstance(a, str) for a in items):
            out = items
        else:
            try:
                out = [a.arch for a in items]
            except AttributeError:
                kinds = sorted({type(a).__name__ for a in items})
                raise TypeError("architectures must be strings or carry an 'arch' attribute, "
                                f"got {kinds}") from None
    if not out:
        raise ValueError("no architectures given")
    return out


def training_targets(archs: Any, num: int, y: Optional[Sequence[float]]) -> np.ndarray:
    """The training target of every architecture: ``y`` if given, else ``data.y[:, 0]``."""
    if y is not None:
        t = np.asarray(y, dtype=np.float64).ravel()
        if t.size != num:
            raise ValueError(f"got {t.size} targets for {num} architectures")
    elif hasattr(archs, "y") and getattr(archs, "y") is not None and not isinstance(archs, list):
        t = np.asarray(archs.y[:, 0], dtype=np.float64)
    else:
        try:
            t = np.array([float(d.y[0, 0]) for d in archs])
        except (AttributeError, TypeError):
            raise ValueError("y is required when the architectures carry no 'y'") from None
    # Checked after the float32 cast training uses: 1e39 is finite as float64 only.
    with np.errstate(over="ignore", invalid="ignore"):
        bad = np.flatnonzero(~np.isfinite(t.astype(np.float32)))
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"targets must be finite numbers within float32 range (no NaN, "
                         f"no inf, |y| < 3.4e38); target {i} is {float(t[i])!r}"
                         + (f" ({bad.size} bad values)" if bad.size > 1 else ""))
    return t


def resolve_space(space: Any, archs: Any) -> "SearchSpace":
    """The search space an estimator works in: ``space`` (a name, config dict or
    instance) or, when it is ``None``, the ``space`` of the dataset ``archs``.

    Raises:
        ValueError: when neither gives a space, or when both do and they differ.
    """
    from torch_geometric.data import Dataset

    from hypernas_pyg.spaces import space_resolver

    data_space = getattr(archs, "space", None) if isinstance(archs, Dataset) else None
    if space is None:
        if data_space is None:
            raise ValueError("space=None takes the search space from a dataset; pass "
                             "space=... (e.g. space='nasbench201') to fit architecture "
                             "strings or ArchData lists")
        return data_space
    resolved = space_resolver(space)
    if data_space is not None and data_space != resolved:
        raise ValueError(f"the dataset's graphs were built with {data_space!r}, but the "
                         f"estimator's space is {resolved!r}; build both with the same space")
    return resolved


def as_graphs(archs: Any, space: "SearchSpace") -> Any:
    """``archs`` as graphs of ``space``: a dataset (checked to be of ``space``), a list of
    ``ArchData`` (as given) or a list of architecture strings (encoded).

    Raises:
        ValueError: for a single string, ``None``, an empty input or a dataset of
            another space.
        TypeError: for a list that mixes strings and graphs or holds anything else.
    """
    from torch_geometric.data import Dataset

    from hypernas_pyg.data.arch_data import ArchData, arch_to_data

    if isinstance(archs, str):
        raise ValueError(f"archs must be a dataset or a list of architectures, got the "
                         f"single string {archs!r}; wrap it in a list")
    if archs is None:
        raise ValueError("archs must be a dataset or a list of architectures, got None")
    if isinstance(archs, Dataset):
        data_space = getattr(archs, "space", None)
        if data_space is not None and data_space != space:
            raise ValueError(f"the dataset's graphs were built with {data_space!r}, but "
                             f"this predictor encodes {space!r}; load the dataset with "
                             "the same space")
        if len(archs) == 0:
            raise ValueError("no architectures given")
        return archs
    items = list(archs)
    if len(items) == 0:
        raise ValueError("no architectures given")
    if all(isinstance(a, str) for a in items):
        return [arch_to_data(a, space) for a in items]
    if all(isinstance(a, ArchData) for a in items):
        return items
    kinds = sorted({type(a).__name__ for a in items})
    raise TypeError(f"architectures must be all strings or all ArchData, got {kinds}")


def iter_batches(data: Any, batch_size: int, device: Any,
                 positions: Optional["torch.Tensor"] = None) -> Iterator["Batch"]:
    """Batches of the encoder's attributes, in order, on ``device``: gathered straight from
    an ``InMemoryDataset``'s storage when it holds them (no per-graph work), else through
    PyG's ``DataLoader``. ``positions`` (an in-memory dataset only) batches just those
    items, in that order.

    Raises:
        ValueError: for a ``batch_size`` that is not a positive integer.
    """
    from torch_geometric.loader import DataLoader

    from hypernas_pyg.data.collate import collate_storage, storage_positions

    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if _in_storage(data):
        # Map to storage positions once, not once per batch.
        base = storage_positions(data)
        positions = base if positions is None else base[positions]
        for start in range(0, positions.numel(), batch_size):
            yield collate_storage(data._data, data.slices,
                                  positions[start:start + batch_size]).to(device)
    else:
        if positions is not None:
            raise ValueError("positions needs an InMemoryDataset that stores the encoder's "
                             f"attributes, got {type(data).__name__}")
        loader = DataLoader(data, batch_size=batch_size, shuffle=False,
                            exclude_keys=["arch", "arch_id", "y"])
        for batch in loader:
            yield batch.to(device)


def _in_storage(data: Any) -> bool:
    """Whether ``data`` is an ``InMemoryDataset`` whose storage holds the encoder's
    attributes (and no transform changes them)."""
    from torch_geometric.data import InMemoryDataset
    return isinstance(data, InMemoryDataset) and data.transform is None and \
        all(k in data.slices for k in ("x", "edge_index", "rev_edge_index", "cell_pos"))


def distinct_positions(data: Any) -> Optional[tuple["torch.Tensor", "torch.Tensor"]]:
    """For an in-memory dataset with many identical encoder graphs: ``(positions,
    inverse)``, one dataset position per distinct graph and, for every item, the index of
    its graph in ``positions`` (see :func:`~hypernas_pyg.data.distinct.distinct_graphs`);
    ``None`` for other inputs or too few duplicates."""
    from hypernas_pyg.data.collate import storage_positions
    from hypernas_pyg.data.distinct import distinct_graphs

    if not _in_storage(data):
        return None
    return distinct_graphs(data._data, data.slices, storage_positions(data))
