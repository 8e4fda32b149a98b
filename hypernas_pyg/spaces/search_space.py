"""The :class:`SearchSpace` interface every NAS search space implements."""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Sequence

import numpy as np


@dataclass(frozen=True)
class Cell:
    """One cell of an architecture's cell sequence, ops on nodes.

    Args:
        ops: The op name of every node, in topological order (the first node is
            the cell input, the last the cell output).
        edges: Directed edges ``(src, dst)`` between node positions, ``src < dst``.
        kind: ``"normal"`` for a searched cell, ``"reduction"`` for a fixed block.
        source: For a cell derived from a larger one (e.g. a pruned cell), the
            position of every node in that larger cell; empty when the nodes are
            the cell's own (node ``k`` is node ``k``).
    """

    ops: tuple[str, ...]
    edges: tuple[tuple[int, int], ...]
    kind: str = "normal"
    source: tuple[int, ...] = ()

    def source_index(self, node: int) -> int:
        """Position in this cell of node ``node`` of the larger cell (see ``source``).

        Raises:
            KeyError: when that node was removed from this cell.
        """
        if not self.source:
            return node
        try:
            return self.source.index(node)
        except ValueError:
            raise KeyError(node) from None


class SearchSpace(ABC):
    """A NAS search space: it alone knows its op names and macro skeleton.

    Subclasses define how an architecture is written (:meth:`parse` /
    :meth:`to_string`), its canonical form, sampling and mutation, and the
    *cell sequence* the encoder reads: every cell of the macro skeleton in
    order, with the fixed reduction blocks represented as cells of their own.
    """

    #: Short registry name, e.g. ``"nasbench201"``.
    name: str = ""
    #: Node-type vocabulary; node features are one-hot over it.
    node_types: tuple[str, ...] = ()
    #: The ops a searched choice can take (the vocabulary of :meth:`one_hot`).
    ops: tuple[str, ...] = ()
    #: Whether :meth:`cell_sequence` returns pruned cells (spaces that support pruning
    #: take it as a constructor argument).
    prune: bool = False

    @property
    def num_node_types(self) -> int:
        return len(self.node_types)

    def node_type_index(self, op: str) -> int:
        try:
            return self.node_types.index(op)
        except ValueError:
            raise ValueError(
                f"Unknown node type {op!r} for search space {self.name!r}; "
                f"allowed: {', '.join(self.node_types)}") from None

    @abstractmethod
    def parse(self, arch: str) -> tuple[str, ...]:
        """Validates ``arch`` and returns its tuple of searched ops.

        Raises:
            ValueError: naming the bad token and the allowed values.
        """

    @abstractmethod
    def to_string(self, ops: Sequence[str]) -> str:
        """The inverse of :meth:`parse`."""

    def validate(self, arch: str) -> str:
        """Returns the normalised string of ``arch`` or raises ``ValueError``."""
        return self.to_string(self.parse(arch))

    def one_hot(self, arch: str) -> np.ndarray:
        """A flat one-hot encoding of ``arch``'s searched choices.

        Choice ``k`` taking op ``ops[j]`` sets entry ``k * len(ops) + j``; the
        feature vector of tabular baselines such as gradient-boosted trees.

        Returns:
            A float32 array of length ``num_choices * len(self.ops)``.
        """
        choices = self.parse(arch)
        index = {op: j for j, op in enumerate(self.ops)}
        out = np.zeros(len(choices) * len(self.ops), dtype=np.float32)
        out[[k * len(self.ops) + index[op] for k, op in enumerate(choices)]] = 1.0
        return out

    @abstractmethod
    def canonical_key(self, arch: str) -> str:
        """A key equal for exactly the architectures that compute the same function."""

    @abstractmethod
    def cell_sequence(self, arch: str) -> list[Cell]:
        """All cells of the macro skeleton, in the order data flows through them (pruned
        cells when the space was built with ``prune=True``)."""

    @abstractmethod
    def sample(self, num: int, rng: np.random.Generator) -> list[str]:
        """``num`` architectures drawn uniformly at random (with replacement)."""

    @abstractmethod
    def mutate(self, arch: str, rng: np.random.Generator) -> str:
        """A neighbour of ``arch`` that differs in exactly one searched choice."""
