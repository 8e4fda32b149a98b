"""Regularised (ageing) evolution, Real et al. 2019."""
from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np

from hypernas_pyg.search.base import MAX_STALE_PROPOSALS, SearchAlgorithm, fill_randomly
from hypernas_pyg.search.evaluator import Evaluator
from hypernas_pyg.validation import check_int

#: Repeats in a row after which evolution draws a random child.
RESTART_AFTER = 100


class RegularizedEvolution(SearchAlgorithm):
    """A population of the last ``population_size`` queried architectures.

    It starts from ``population_size`` random architectures. Each cycle draws
    ``sample_size`` members at random, mutates the one with the best validation accuracy
    (:meth:`SearchSpace.mutate`), queries the child, appends it and removes the oldest
    member. A child isomorphic to a queried architecture costs nothing and takes part
    with its stored accuracy. After :data:`RESTART_AFTER` such repeats in a row (a small
    or pooled space whose neighbourhoods are used up) the next child is a random
    architecture instead of a mutant.

    Args:
        population_size: Members kept (and random architectures to start from).
        sample_size: Members of each tournament.
    """

    name = "evolution"

    def __init__(self, population_size: int = 20, sample_size: int = 5) -> None:
        self.population_size = population_size
        self.sample_size = sample_size

    def validate_params(self) -> None:
        check_int("population_size", self.population_size, minimum=2)
        check_int("sample_size", self.sample_size, minimum=1)
        if self.sample_size > self.population_size:
            raise ValueError(f"sample_size must be at most population_size "
                             f"({self.population_size}), got {self.sample_size}")

    def _run(self, evaluator: Evaluator, rng: np.random.Generator,
             extra: dict[str, Any]) -> None:
        fill_randomly(evaluator, self.population_size, rng)
        population = deque(((r.arch, r.validation) for r in evaluator.history),
                           maxlen=self.population_size)
        stale = 0
        while not evaluator.exhausted and stale < MAX_STALE_PROPOSALS and population:
            picks = rng.choice(len(population), min(self.sample_size, len(population)),
                               replace=False)
            parent = max((population[int(i)] for i in picks), key=lambda m: m[1])[0]
            child = (evaluator.space.mutate(parent, rng) if stale < RESTART_AFTER or
                     stale % RESTART_AFTER else evaluator.space.sample(1, rng)[0])
            before = len(evaluator.history)
            evaluation = evaluator.evaluate_one(child)
            stale = 0 if len(evaluator.history) > before else stale + 1
            population.append((child, evaluation.validation))
