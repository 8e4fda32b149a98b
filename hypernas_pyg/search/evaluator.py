"""The query budget: distinct architectures by canonical key, queried through an executor."""
from __future__ import annotations

import time
from concurrent.futures import Executor
from dataclasses import asdict, dataclass
from typing import Any, Optional

from hypernas_pyg.search.oracle import Evaluation, Oracle


@dataclass(frozen=True)
class Record:
    """One paid query of a search's history.

    Attributes:
        order: Position in the history (0 for the first query).
        round: The batch (round of the algorithm) the query was sent in.
        arch: The architecture as the algorithm proposed it.
        key: Its canonical key (isomorphic architectures share it).
        validation, test, cost: The oracle's :class:`Evaluation`.
        seconds: Wall time from sending the round to this query's answer.
    """

    order: int
    round: int
    arch: str
    key: str
    validation: float
    test: Optional[float]
    cost: float
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Evaluator:
    """Spends a budget of distinct architectures on an oracle.

    Asking for an architecture whose canonical key was queried before (an isomorphic
    relabelling, or the same one) returns the stored evaluation and costs nothing. A round
    is sent to ``executor`` at once (``None``: queried here, one after the other), and its
    results are recorded in the order they were asked for, whatever order they finish in,
    so a parallel search has the same history as a serial one.

    Args:
        oracle: What answers the queries.
        budget: How many distinct architectures may be queried.
        executor: A :class:`concurrent.futures.Executor` (a process pool, a Dask client's
            ``get_executor()``), or ``None``.
        progress: A tqdm bar over the budget.
    """

    def __init__(self, oracle: Oracle, budget: int, executor: Optional[Executor] = None,
                 progress: bool = False) -> None:
        self.oracle, self.budget, self.executor = oracle, budget, executor
        self.history: list[Record] = []
        self._seen: dict[str, Evaluation] = {}
        self._round = 0
        self._bar = None
        if progress:
            from tqdm.auto import tqdm
            self._bar = tqdm(total=budget, desc="queries", unit="arch")

    @property
    def space(self) -> Any:
        return self.oracle.space

    @property
    def remaining(self) -> int:
        return self.budget - len(self.history)

    @property
    def exhausted(self) -> bool:
        return self.remaining <= 0

    def key(self, arch: str) -> str:
        return self.space.canonical_key(arch)

    def seen(self, arch: str) -> bool:
        """Whether ``arch`` (or an isomorphic one) was queried already."""
        return self.key(arch) in self._seen

    def evaluate(self, archs: list[str]) -> list[Optional[Evaluation]]:
        """Evaluations of ``archs``, querying the new ones as one round.

        New architectures beyond the remaining budget are not queried; their entry is
        ``None``. Duplicates within ``archs`` are queried once.
        """
        keys = [self.key(a) for a in archs]
        new: dict[str, str] = {}
        for arch, key in zip(archs, keys):
            if key not in self._seen and key not in new and len(new) < self.remaining:
                new[key] = arch
        if new:
            self._query_round(new)
        return [self._seen.get(k) for k in keys]

    def evaluate_one(self, arch: str) -> Optional[Evaluation]:
        return self.evaluate([arch])[0]

    def _query_round(self, new: dict[str, str]) -> None:
        start = time.perf_counter()
        items = list(new.items())
        if self.executor is None:
            answers = []
            for _, arch in items:
                answers.append((self.oracle.query(arch), time.perf_counter() - start))
        else:
            futures = [self.executor.submit(self.oracle.query, arch) for _, arch in items]
            answers = []
            for f in futures:
                evaluation = f.result()
                answers.append((evaluation, time.perf_counter() - start))
        for (key, arch), (evaluation, seconds) in zip(items, answers):
            if not isinstance(evaluation, Evaluation):
                raise TypeError(f"the oracle returned {type(evaluation).__name__} for {arch!r}; "
                                "Oracle.query must return an Evaluation")
            self._seen[key] = evaluation
            self.history.append(Record(len(self.history), self._round, arch, key,
                                       evaluation.validation, evaluation.test, evaluation.cost,
                                       seconds))
        self._round += 1
        if self._bar is not None:
            self._bar.update(len(items))
            best = max(r.validation for r in self.history)
            self._bar.set_postfix(best_val=f"{best:.2f}")

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
