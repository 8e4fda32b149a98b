"""Oracles: what a search may learn about an architecture, and what it costs.

A query returns the validation accuracy the search is allowed to see, the test accuracy it
is not (benchmarks only; reported beside the results) and a cost. Two oracles cover the
common cases: :class:`TableOracle` looks an architecture up in a benchmark dataset, and
:class:`FunctionOracle` calls a user's function (which may train the network).
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from numbers import Real
from typing import Any, Callable, Optional

import numpy as np


@dataclass(frozen=True)
class Evaluation:
    """The outcome of one query.

    Attributes:
        validation: Accuracy the search sees and selects by.
        test: Accuracy the search never sees (``None`` when unknown).
        cost: What the query cost (seconds of training for a benchmark table that records
            it, else 1 per architecture).
    """

    validation: float
    test: Optional[float] = None
    cost: float = 1.0


class Oracle(ABC):
    """Answers queries about architectures of :attr:`space`.

    ``query`` must be a pure function of the architecture (same answer every time) and
    picklable with its oracle, so that queries can run in other processes or on a cluster.
    """

    #: The search space whose architectures are queried.
    space: Any
    #: What the validation and test numbers are, for result files.
    description: str = ""
    #: True when the oracle's validation and test numbers are the same measurement (a
    #: table with a single accuracy); every result then says so.
    validation_is_test: bool = False

    @abstractmethod
    def query(self, arch: str) -> Evaluation:
        """The evaluation of ``arch`` (a string of :attr:`space`)."""

    def best_possible(self) -> Optional[dict[str, float]]:
        """The best validation and test accuracy in the space, where known (tables)."""
        return None


class TableOracle(Oracle):
    """Looks architectures up in a benchmark dataset.

    The dataset's training target ``y[:, 0]`` is the validation accuracy and its evaluation
    target ``y[:, 1]`` the test accuracy (see each dataset's card for which split and epoch
    they are). Architectures are matched by the space's canonical key, so an isomorphic
    relabelling of a table row finds that row. Where several rows share a key (NAS-Bench-201
    lists isomorphic cells separately), the first row is the answer.

    Args:
        dataset: A benchmark dataset with ``space``, ``archs`` and ``y`` (two columns).
        cost: ``None`` (each query costs 1) or an array with one cost per row.
        description: What the numbers are; defaults to the dataset's ``repr``.
    """

    def __init__(self, dataset: Any, cost: Optional[np.ndarray] = None,
                 description: Optional[str] = None) -> None:
        for attr in ("space", "archs", "y"):
            if not hasattr(dataset, attr):
                raise ValueError(f"a TableOracle needs a benchmark dataset with space, archs "
                                 f"and y; {type(dataset).__name__} has no {attr!r}")
        y = np.asarray(dataset.y, dtype=np.float64)
        if y.ndim != 2 or y.shape[1] < 2:
            raise ValueError(f"dataset.y must have two columns (validation, test), got shape "
                             f"{tuple(y.shape)}")
        self.space = dataset.space
        self.description = description or repr(dataset)
        self.validation_is_test = bool(np.array_equal(y[:, 0], y[:, 1]))
        keys = getattr(dataset, "canonical_keys", None)
        if keys is None:
            keys = [self.space.canonical_key(a) for a in dataset.archs]
        self._row: dict[str, int] = {}
        for i, k in enumerate(keys):
            self._row.setdefault(str(k), i)
        rows = np.fromiter(self._row.values(), dtype=np.int64)
        self._validation, self._test = y[:, 0].copy(), y[:, 1].copy()
        if cost is not None:
            cost = np.asarray(cost, dtype=np.float64)
            if cost.shape != (len(y),) or not np.isfinite(cost).all() or (cost < 0).any():
                raise ValueError(f"cost must hold one finite, non-negative number per row "
                                 f"({len(y)}), got shape {cost.shape}")
        self._cost = cost
        best_val = rows[np.argmax(self._validation[rows])]
        self._best = {"validation": float(self._validation[rows].max()),
                      "test": float(self._test[rows].max()),
                      "test_of_best_validation": float(self._test[best_val])}

    def __len__(self) -> int:
        """The number of distinct architectures (canonical keys) in the table."""
        return len(self._row)

    def row(self, arch: str) -> int:
        """The table row of ``arch``.

        Raises:
            ValueError: for an architecture the space rejects or the table lacks.
        """
        key = self.space.canonical_key(arch)
        try:
            return self._row[key]
        except KeyError:
            raise ValueError(f"architecture {arch!r} is not in the table "
                             f"({self.description})") from None

    def query(self, arch: str) -> Evaluation:
        i = self.row(arch)
        cost = 1.0 if self._cost is None else float(self._cost[i])
        return Evaluation(float(self._validation[i]), float(self._test[i]), cost)

    def best_possible(self) -> dict[str, float]:
        return dict(self._best)


class FunctionOracle(Oracle):
    """Calls ``fn(arch)``: the user's evaluation (e.g. a training run).

    ``fn`` returns the validation accuracy, a ``(validation, test)`` pair or an
    :class:`Evaluation`. For parallel queries in other processes it must be picklable (a
    module-level function, not a lambda).

    Args:
        space: The search space.
        fn: The evaluation.
        description: What ``fn`` measures, for result files.
    """

    def __init__(self, space: Any, fn: Callable[[str], Any], description: str = "") -> None:
        if not callable(fn):
            raise ValueError(f"fn must be callable, got {type(fn).__name__}")
        self.space, self.fn = space, fn
        self.description = description or getattr(fn, "__qualname__", repr(fn))

    def query(self, arch: str) -> Evaluation:
        out = self.fn(arch)
        if isinstance(out, Evaluation):
            result = out
        elif isinstance(out, tuple) and len(out) == 2:
            result = Evaluation(_number(out[0], arch), _number(out[1], arch, allow_none=True))
        else:
            result = Evaluation(_number(out, arch))
        return result


class PredictorOracle(Oracle):
    """Answers with a fitted predictor's estimate: a search with no further labels.

    The validation accuracy a search sees is ``predictor.predict([arch])``; there is no test
    accuracy and a query costs nothing measured (1 per architecture, for the budget). Use
    it to search a whole space (e.g. DARTS) after fitting on the labelled architectures.

    Args:
        space: The search space.
        predictor: A fitted :class:`~hypernas_pyg.estimator.Predictor`.
        description: What the predictor was fitted on, for result files.
    """

    def __init__(self, space: Any, predictor: Any, description: str = "") -> None:
        if not callable(getattr(predictor, "predict", None)):
            raise ValueError(f"predictor must have predict(archs); "
                             f"{type(predictor).__name__} has none")
        self.space, self.predictor = space, predictor
        self.description = description or f"predictions of {type(predictor).__name__}"

    def query(self, arch: str) -> Evaluation:
        value = np.asarray(self.predictor.predict([arch]), dtype=np.float64).reshape(-1)
        if value.shape != (1,):
            raise ValueError(f"the predictor returned {value.shape[0]} values for one "
                             f"architecture ({arch!r})")
        return Evaluation(_number(value[0], arch), None, 1.0)


def _number(value: Any, arch: str, allow_none: bool = False) -> Optional[float]:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (Real, np.number)) or \
            not np.isfinite(float(value)):
        raise ValueError(f"the oracle function returned {value!r} for {arch!r}; expected a "
                         "finite accuracy, a (validation, test) pair or an Evaluation")
    return float(value)
