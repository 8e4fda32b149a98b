"""A search space restricted to a fixed pool of architectures (a labelled benchmark set).

Searching where only some architectures have labels (e.g. the 214 trained DARTS genotypes)
needs every proposal to lie in the pool: :class:`PoolSpace` samples from the pool, and its
mutation mutates in the full space and moves to the pool member nearest to the child
(Hamming distance of the space's flat features), the pool's stand-in for "one choice
changed".
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from hypernas_pyg.spaces.search_space import SearchSpace


class PoolSpace(SearchSpace):
    """``space`` limited to ``archs`` (distinct canonical keys; duplicates are dropped).

    Everything but :meth:`sample` and :meth:`mutate` is ``space``'s own.

    Args:
        space: The full search space.
        archs: The pool, in any form ``space`` parses.

    Raises:
        ValueError: for a pool of fewer than two distinct architectures.
    """

    def __init__(self, space: SearchSpace, archs: Sequence[Any]) -> None:
        self.base = space
        seen: dict[str, str] = {}
        for a in archs:
            seen.setdefault(space.canonical_key(a), space.validate(a))
        if len(seen) < 2:
            raise ValueError(f"a pool needs at least 2 distinct architectures, got {len(seen)}")
        self.pool = list(seen.values())
        self._index = {k: i for i, k in enumerate(seen)}
        self._features = np.stack([space.features(a) for a in self.pool])
        self.name, self.node_types, self.prune = space.name, space.node_types, space.prune

    def get_config(self) -> dict[str, Any]:
        return {"space": self.base.get_config(), "pool": len(self.pool)}

    def __len__(self) -> int:
        return len(self.pool)

    def parse(self, arch: Any) -> Any:
        return self.base.parse(arch)

    def to_string(self, value: Any) -> str:
        return self.base.to_string(value)

    def features(self, arch: Any) -> np.ndarray:
        return self.base.features(arch)

    def canonical_key(self, arch: Any) -> str:
        return self.base.canonical_key(arch)

    def cell_sequence(self, arch: Any):
        return self.base.cell_sequence(arch)

    def sample(self, num: int, rng: np.random.Generator) -> list[str]:
        """``num`` pool members drawn uniformly (with replacement)."""
        return [self.pool[int(i)] for i in rng.integers(len(self.pool), size=num)]

    def mutate(self, arch: Any, rng: np.random.Generator) -> str:
        """The pool member nearest (Hamming distance of the flat features) to a mutation of
        ``arch`` in the full space, ``arch`` itself excluded; uniform among the nearest."""
        own = self._index.get(self.base.canonical_key(arch))
        child = self.base.mutate(arch, rng)
        dist = np.abs(self._features - self.base.features(child)).sum(1)
        if own is not None:
            dist[own] = np.inf
        nearest = np.flatnonzero(dist == dist.min())
        return self.pool[int(nearest[rng.integers(len(nearest))])]
