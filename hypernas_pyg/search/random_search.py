"""Random search: uniform samples of the space, the baseline every search must beat."""
from __future__ import annotations

from typing import Any

import numpy as np

from hypernas_pyg.search.base import SearchAlgorithm, fill_randomly
from hypernas_pyg.search.evaluator import Evaluator
from hypernas_pyg.validation import check_int


class RandomSearch(SearchAlgorithm):
    """Queries uniformly sampled architectures until the budget is spent.

    Args:
        batch_size: Architectures sent per round (parallel queries); the history does not
            depend on it.
    """

    name = "random"

    def __init__(self, batch_size: int = 10) -> None:
        self.batch_size = batch_size

    def validate_params(self) -> None:
        check_int("batch_size", self.batch_size, minimum=1)

    def _run(self, evaluator: Evaluator, rng: np.random.Generator,
             extra: dict[str, Any]) -> None:
        while not evaluator.exhausted:
            before = len(evaluator.history)
            fill_randomly(evaluator, self.batch_size, rng)
            if len(evaluator.history) == before:  # the space has no new architecture left
                break
