"""The estimator contract shared by :class:`~hypernas_pyg.HyperNASPredictor` and the baselines.

scikit-learn's rules: the constructor only stores its arguments (unchanged);
``fit`` validates them and creates the fitted ``*_`` attributes;
:meth:`ParamsMixin.get_params` / :meth:`ParamsMixin.set_params` round-trip, so
``type(est)(**est.get_params())`` is the same estimator. Anything that can
``fit(archs, y) -> self`` and ``predict(archs) -> ndarray`` is a
:class:`Predictor`: the search, the evaluation protocol and the benchmarks take
any of them.
"""
from __future__ import annotations

import inspect
from typing import Any, Optional, Protocol, Sequence, runtime_checkable

import numpy as np


@runtime_checkable
class Predictor(Protocol):
    """An accuracy predictor: fit on architectures and their accuracies, score new ones."""

    def fit(self, archs: Any, y: Optional[Sequence[float]] = None) -> "Predictor":
        """Trains on ``archs`` (a dataset, ``ArchData`` list or architecture strings)
        with accuracies ``y`` (or the dataset's training target); returns ``self``."""

    def predict(self, archs: Any) -> np.ndarray:
        """One predicted accuracy per architecture."""


class NotFittedError(RuntimeError, AttributeError):
    """Raised when a fitted attribute or method is used before ``fit``."""


class ParamsMixin:
    """``get_params`` / ``set_params`` / ``repr`` from the constructor's signature."""

    @classmethod
    def _param_names(cls) -> list[str]:
        signature = inspect.signature(cls.__init__)
        return [p.name for p in signature.parameters.values()
                if p.name != "self" and p.kind is p.POSITIONAL_OR_KEYWORD]

    def get_params(self, deep: bool = False) -> dict[str, Any]:
        """The constructor arguments, as given (``deep`` is accepted for scikit-learn
        compatibility; no argument is itself an estimator)."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> "ParamsMixin":
        """Sets constructor arguments (validated by the next ``fit``).

        Raises:
            ValueError: for a name that is not a constructor argument, listing them.
        """
        names = self._param_names()
        unknown = sorted(set(params) - set(names))
        if unknown:
            raise ValueError(f"Unknown parameter(s) {unknown} of {type(self).__name__}; "
                             f"valid: {', '.join(names)}")
        for name, value in params.items():
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"
