"""What every search algorithm shares: its arguments, its seed and its :meth:`search`."""
from __future__ import annotations

import time
from abc import ABC, abstractmethod
from concurrent.futures import Executor
from typing import Any, Optional

import numpy as np

from hypernas_pyg.estimator import ParamsMixin
from hypernas_pyg.search.evaluator import Evaluator
from hypernas_pyg.search.oracle import Oracle
from hypernas_pyg.search.result import SearchResult
from hypernas_pyg.validation import check_int

#: Proposals in a row that only repeat queried architectures before a search gives up
#: (a space smaller than the budget, or a population that cannot leave its neighbourhood).
MAX_STALE_PROPOSALS = 10_000


class SearchAlgorithm(ParamsMixin, ABC):
    """A search over an oracle's space, anytime: a longer budget extends a shorter one.

    Subclasses implement :meth:`_run`, which proposes architectures to the evaluator until
    its budget is spent; randomness comes only from the generator it is handed.
    """

    name = "search"

    def search(self, oracle: Oracle, budget: int, seed: int = 0,
               executor: Optional[Executor] = None, progress: bool = False) -> SearchResult:
        """Runs the search.

        Args:
            oracle: What answers queries (:class:`TableOracle`, :class:`FunctionOracle`).
            budget: Distinct architectures to query (isomorphic repeats are free).
            seed: Seed of every random choice of the search.
            executor: Where the queries of a round run (``None``: here, in order).
            progress: A progress bar over the budget.

        Raises:
            ValueError: for a bad budget, seed or algorithm argument.
        """
        check_int("budget", budget, minimum=1)
        check_int("seed", seed, minimum=0)
        self.validate_params()
        evaluator = Evaluator(oracle, budget, executor, progress)
        extra: dict[str, Any] = {}
        t0 = time.perf_counter()
        try:
            self._run(evaluator, np.random.default_rng(seed), extra)
        finally:
            evaluator.close()
        return SearchResult(algorithm={"name": self.name, **self._describe()}, seed=seed,
                            budget=budget, history=evaluator.history,
                            search_seconds=time.perf_counter() - t0, oracle=oracle.description,
                            validation_is_test=oracle.validation_is_test, extra=extra)

    def validate_params(self) -> None:
        """Checks the algorithm's arguments (raises ``ValueError`` naming the bad one)."""

    def _describe(self) -> dict[str, Any]:
        return {k: (v if isinstance(v, (int, float, str, bool, type(None))) else repr(v))
                for k, v in self.get_params().items()}

    @abstractmethod
    def _run(self, evaluator: Evaluator, rng: np.random.Generator,
             extra: dict[str, Any]) -> None:
        """Queries architectures through ``evaluator`` until its budget is spent."""


def fill_randomly(evaluator: Evaluator, count: int, rng: np.random.Generator) -> None:
    """Queries ``count`` new uniformly sampled architectures (fewer if the budget ends or
    the space runs out of new ones)."""
    target = min(evaluator.budget, len(evaluator.history) + count)
    stale = 0
    while len(evaluator.history) < target and stale < MAX_STALE_PROPOSALS:
        before = len(evaluator.history)
        need = target - before
        evaluator.evaluate(evaluator.space.sample(need, rng))
        stale = 0 if len(evaluator.history) > before else stale + need
