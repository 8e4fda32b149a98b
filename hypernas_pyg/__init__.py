"""hypernas_pyg: the HyperNAS architecture-accuracy predictor on PyTorch Geometric."""
from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

#: Public names and the module each lives in; imported on first use, so that
#: ``import hypernas_pyg.spaces`` does not load the training stack.
_EXPORTS = {"ArchData": "hypernas_pyg.data", "arch_to_data": "hypernas_pyg.data",
            "HyperNASPredictor": "hypernas_pyg.predictor", "VARIANTS": "hypernas_pyg.predictor"}


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        import importlib
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'hypernas_pyg' has no attribute {name!r}")


__all__ = ["ArchData", "arch_to_data", "HyperNASPredictor", "VARIANTS", "__version__"]
