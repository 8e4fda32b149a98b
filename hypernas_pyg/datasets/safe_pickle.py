"""Reading a benchmark's pickle without running anything in it.

Only the globals a file's format needs are admitted (e.g. numpy scalars and dtypes);
everything else raises ``pickle.UnpicklingError`` naming the global.
"""
from __future__ import annotations

import pickle
from typing import Any, Callable, Mapping

import numpy as np


def _numpy_scalar(dtype: np.dtype, data: bytes = b"") -> Any:
    """What ``numpy.core.multiarray.scalar`` rebuilds: one value of ``dtype``."""
    if not isinstance(dtype, np.dtype) or dtype.hasobject:
        raise pickle.UnpicklingError(f"numpy scalar of dtype {dtype!r} is not allowed")
    return np.frombuffer(data, dtype=dtype, count=1)[0]


#: numpy scalars and dtypes (no object arrays): what tables of numbers need.
NUMPY_SCALARS: Mapping[tuple[str, str], Callable] = {
    ("numpy.core.multiarray", "scalar"): _numpy_scalar,
    ("numpy._core.multiarray", "scalar"): _numpy_scalar,
    ("numpy", "dtype"): np.dtype,
}


class _Restricted(pickle.Unpickler):
    def __init__(self, file, allowed: Mapping[tuple[str, str], Callable], what: str) -> None:
        super().__init__(file)
        self.allowed, self.what = allowed, what

    def find_class(self, module: str, name: str):
        try:
            return self.allowed[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"global '{module}.{name}' is not allowed in "
                                         f"{self.what}") from None


def load_restricted(path: str, allowed: Mapping[tuple[str, str], Callable] = NUMPY_SCALARS
                    ) -> Any:
    """Unpickles ``path`` admitting only the globals in ``allowed``.

    Raises:
        ValueError: naming the file, when it is not such a pickle (a refused global, a
            truncated or garbage file).
    """
    try:
        with open(path, "rb") as f:
            return _Restricted(f, allowed, path).load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
            IndexError) as exc:
        raise ValueError(f"{path} is not a readable benchmark pickle ({exc}); delete it so "
                         "that it is fetched again") from None
