"""Predictor-guided evolution (NPENAS; the evolutionary search of HyperNAS).

Each round fits the predictor on every architecture queried so far, mutates the best ones
into a large pool of new candidates, ranks the pool with the predictor and queries only its
top few: the predictor spends the expensive evaluations.
"""
from __future__ import annotations

import copy
import time
from typing import Any

import numpy as np

from hypernas_pyg.search.base import MAX_STALE_PROPOSALS, SearchAlgorithm, fill_randomly
from hypernas_pyg.search.evaluator import Evaluator
from hypernas_pyg.validation import check_int


def fresh_predictor(predictor: Any, space: Any) -> Any:
    """An unfitted copy of ``predictor`` working in ``space``: rebuilt from
    ``get_params()`` where it has them (scikit-learn style, the space filled in when it is
    ``None``), else a deep copy."""
    if hasattr(predictor, "get_params"):
        params = predictor.get_params()
        if "space" in params and params["space"] is None:
            params["space"] = space
        return type(predictor)(**params)
    return copy.deepcopy(predictor)


class PredictorGuidedEvolution(SearchAlgorithm):
    """Evolution whose candidates are screened by an accuracy predictor.

    1. Query ``initial_size`` random architectures.
    2. Each round: fit a fresh copy of ``predictor`` on all queried architectures (their
       validation accuracies); take the ``num_parents`` best queried ones; mutate them
       (one or two :meth:`SearchSpace.mutate` steps) into ``pool_size`` candidates not
       queried before; predict the candidates and query the ``per_round`` best.

    Args:
        predictor: Anything with ``fit(archs, y)`` and ``predict(archs)``
            (:class:`~hypernas_pyg.HyperNASPredictor` of any variant, the GBDT baseline,
            the user's own). It is copied for every refit, never modified.
        initial_size: Random architectures before the first fit (at least 2).
        num_parents: Best queried architectures mutated each round.
        pool_size: Candidates ranked by the predictor each round.
        per_round: Candidates queried each round.
    """

    name = "predictor"

    def __init__(self, predictor: Any, initial_size: int = 10, num_parents: int = 10,
                 pool_size: int = 500, per_round: int = 10) -> None:
        self.predictor = predictor
        self.initial_size = initial_size
        self.num_parents = num_parents
        self.pool_size = pool_size
        self.per_round = per_round

    def validate_params(self) -> None:
        for name in ("fit", "predict"):
            if not callable(getattr(self.predictor, name, None)):
                raise ValueError(f"predictor must have fit(archs, y) and predict(archs); "
                                 f"{type(self.predictor).__name__} has no {name}()")
        check_int("initial_size", self.initial_size, minimum=2)
        check_int("num_parents", self.num_parents, minimum=1)
        check_int("pool_size", self.pool_size, minimum=1)
        check_int("per_round", self.per_round, minimum=1)
        if self.per_round > self.pool_size:
            raise ValueError(f"per_round must be at most pool_size ({self.pool_size}), got "
                             f"{self.per_round}")

    def _describe(self) -> dict[str, Any]:
        out = super()._describe()
        p = self.predictor
        out["predictor"] = (f"{type(p).__name__}({p.get_params().get('variant', '')})"
                            if hasattr(p, "get_params") else type(p).__name__)
        return out

    def _candidates(self, evaluator: Evaluator, parents: list[str],
                    rng: np.random.Generator) -> list[str]:
        pool: dict[str, str] = {}
        tries = 0
        while len(pool) < self.pool_size and tries < MAX_STALE_PROPOSALS:
            parent = parents[len(pool) % len(parents)] if tries < 2 * self.pool_size else \
                parents[int(rng.integers(len(parents)))]
            child = evaluator.space.mutate(parent, rng)
            if rng.random() < 0.5:
                child = evaluator.space.mutate(child, rng)
            tries += 1
            key = evaluator.key(child)
            if key not in pool and not evaluator.seen(child):
                pool[key] = child
        return list(pool.values())

    def _run(self, evaluator: Evaluator, rng: np.random.Generator,
             extra: dict[str, Any]) -> None:
        fill_randomly(evaluator, self.initial_size, rng)
        refits = extra.setdefault("refit_seconds", [])
        while not evaluator.exhausted:
            archs = [r.arch for r in evaluator.history]
            y = [r.validation for r in evaluator.history]
            t0 = time.perf_counter()
            model = fresh_predictor(self.predictor, evaluator.space).fit(archs, y)
            order = np.argsort(-np.asarray(y), kind="stable")[:self.num_parents]
            pool = self._candidates(evaluator, [archs[i] for i in order], rng)
            if not pool:
                break
            scores = np.asarray(model.predict(pool), dtype=np.float64).reshape(-1)
            refits.append(time.perf_counter() - t0)
            if scores.shape != (len(pool),) or not np.isfinite(scores).all():
                raise ValueError(f"the predictor returned {scores.shape[0]} scores "
                                 f"(finite: {bool(np.isfinite(scores).all())}) for "
                                 f"{len(pool)} candidates; it must give one finite score each")
            best = np.argsort(-scores, kind="stable")[:min(self.per_round, evaluator.remaining)]
            evaluator.evaluate([pool[i] for i in best])
