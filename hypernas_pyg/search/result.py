"""The outcome of a search: its history, the best architectures, tables, JSON and a plot."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from hypernas_pyg.search.evaluator import Record


@dataclass
class SearchResult:
    """A finished search.

    Two "best" architectures are reported, and they answer different questions:

    * **best by validation** (:attr:`best_val_arch`, :attr:`best_val_test_accuracy`): the
      architecture the search would return, chosen by the accuracy it could see; its test
      accuracy is the honest figure.
    * **best by test** (:attr:`best_test_accuracy`): the best test accuracy among the
      queried architectures, which some papers report; it selects on the test set.

    Attributes:
        algorithm: Name of the algorithm and its arguments.
        seed: The search's seed.
        budget: The distinct architectures it was allowed to query.
        history: Every paid query, in order.
        search_seconds: Wall time of the whole search (predictor refits included).
        oracle: What the numbers are (:attr:`Oracle.description`).
        validation_is_test: The oracle's validation and test numbers are the same
            measurement (e.g. NAS-Bench-101's single-run test accuracy).
        extra: Algorithm-specific figures (e.g. the seconds of each predictor refit).
    """

    algorithm: dict[str, Any]
    seed: int
    budget: int
    history: list[Record]
    search_seconds: float
    oracle: str = ""
    validation_is_test: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def num_queries(self) -> int:
        return len(self.history)

    def _best(self, by: str, upto: Optional[int] = None) -> Optional[Record]:
        records = self.history[:upto]
        scored = [r for r in records if getattr(r, by) is not None]
        if not scored:
            return None
        # The earliest of equals, so that the answer does not change after it is found.
        return max(scored, key=lambda r: (getattr(r, by), -r.order))

    @property
    def best_val_arch(self) -> Optional[str]:
        best = self._best("validation")
        return None if best is None else best.arch

    @property
    def best_val_accuracy(self) -> Optional[float]:
        best = self._best("validation")
        return None if best is None else best.validation

    @property
    def best_val_test_accuracy(self) -> Optional[float]:
        best = self._best("validation")
        return None if best is None else best.test

    @property
    def best_test_arch(self) -> Optional[str]:
        best = self._best("test")
        return None if best is None else best.arch

    @property
    def best_test_accuracy(self) -> Optional[float]:
        best = self._best("test")
        return None if best is None else best.test

    def trajectory(self) -> dict[str, np.ndarray]:
        """After each query: the best validation so far, the test accuracy of that
        architecture, and the best test accuracy so far (NaN where unknown)."""
        val, val_test, test = [], [], []
        best_v, best_vt, best_t = -np.inf, np.nan, -np.inf
        for r in self.history:
            if r.validation > best_v:
                best_v, best_vt = r.validation, np.nan if r.test is None else r.test
            if r.test is not None:
                best_t = max(best_t, r.test)
            val.append(best_v)
            val_test.append(best_vt)
            test.append(best_t if np.isfinite(best_t) else np.nan)
        return {"queries": np.arange(1, len(self.history) + 1), "best_validation": np.array(val),
                "test_of_best_validation": np.array(val_test), "best_test": np.array(test)}

    def at_budget(self, budget: int) -> dict[str, Optional[float]]:
        """The best architectures among the first ``budget`` queries (an anytime search
        stopped there)."""
        if not 1 <= budget <= self.num_queries:
            raise ValueError(f"budget must be in 1..{self.num_queries} (queries made), "
                             f"got {budget}")
        by_val, by_test = self._best("validation", budget), self._best("test", budget)
        return {"best_val_arch": by_val.arch, "best_val_accuracy": by_val.validation,
                "best_val_test_accuracy": by_val.test,
                "best_test_accuracy": None if by_test is None else by_test.test}

    def to_pandas(self):
        """The history as a DataFrame, one row per query."""
        import pandas as pd
        return pd.DataFrame([r.to_dict() for r in self.history],
                            columns=list(Record.__dataclass_fields__))

    def to_dict(self) -> dict[str, Any]:
        return {"algorithm": self.algorithm, "seed": self.seed, "budget": self.budget,
                "num_queries": self.num_queries, "best_val_arch": self.best_val_arch,
                "best_val_accuracy": self.best_val_accuracy,
                "best_val_test_accuracy": self.best_val_test_accuracy,
                "best_test_arch": self.best_test_arch,
                "best_test_accuracy": self.best_test_accuracy,
                "selection_note": "best_val_* is chosen by validation accuracy (what the "
                                  "search returns); best_test_* selects on the test set",
                "search_seconds": self.search_seconds, "oracle": self.oracle,
                "validation_is_test": self.validation_is_test, "extra": self.extra,
                "history": [r.to_dict() for r in self.history]}

    def to_json(self, path: str, **extra: Any) -> None:
        """Writes :meth:`to_dict` (plus ``extra`` keys) to ``path`` atomically."""
        from hypernas_pyg.atomic_file import atomic_file
        with atomic_file(path) as tmp, open(tmp, "w") as f:
            json.dump({**self.to_dict(), **extra}, f, indent=2)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "SearchResult":
        return cls(algorithm=d["algorithm"], seed=d["seed"], budget=d["budget"],
                   history=[Record(**r) for r in d["history"]],
                   search_seconds=d["search_seconds"], oracle=d.get("oracle", ""),
                   validation_is_test=d.get("validation_is_test", False),
                   extra=d.get("extra", {}))

    def plot(self, ax=None, label: Optional[str] = None):
        """Best accuracy against queries: the test accuracy of the best-by-validation
        architecture (solid) and the best test accuracy (dashed). Returns the axes."""
        import matplotlib.pyplot as plt
        ax = ax if ax is not None else plt.subplots(figsize=(5, 3.5))[1]
        t = self.trajectory()
        label = label or self.algorithm.get("name", "search")
        line, = ax.plot(t["queries"], t["test_of_best_validation"], label=f"{label} (by val)")
        ax.plot(t["queries"], t["best_test"], "--", color=line.get_color(), alpha=0.6,
                label=f"{label} (by test)")
        ax.set_xlabel("queries")
        ax.set_ylabel("test accuracy (%)")
        ax.legend(fontsize=8)
        return ax
