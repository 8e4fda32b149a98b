"""Architecture inputs of the estimators (dataset, ArchData list or strings) as strings and targets."""
from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np


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
    if not np.isfinite(t).all():
        raise ValueError("targets contain NaN or infinite values")
    return t
