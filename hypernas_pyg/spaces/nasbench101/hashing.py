"""NAS-Bench-101 cells: the pruned cell value, ModelSpec-style pruning, the module hash.

This is the part of NAS-Bench-101 (Ying et al., 2019) that everything else
builds on, written after the public algorithms of nasbench's
``lib/model_spec.py`` (pruning) and ``lib/graph_util.py`` (``hash_module``):

* a cell is an upper-triangular 0/1 adjacency matrix over ``V`` vertices plus
  one op per vertex: ``"input"`` first, ``"output"`` last, and one of
  :data:`NB101_OPS` for every interior vertex;
* :func:`prune_spec` drops every vertex that is not on an input->output path
  (what ``ModelSpec`` does on construction) and rejects a cell whose output the
  input cannot reach;
* :func:`hash_module` is NAS-Bench-101's isomorphism-invariant MD5 module hash,
  the key of every row of the benchmark;
* :class:`NB101Cell` is a pruned cell as a frozen, hashable value.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

#: The interior ops in NAS-Bench-101's canonical order (``config['available_ops']``):
#: the module hash labels them 0, 1, 2.
NB101_OPS: tuple[str, ...] = ("conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3")
#: The op of the first vertex.
INPUT = "input"
#: The op of the last vertex.
OUTPUT = "output"
#: Hash label of every vertex op: -1 input, -2 output, 0/1/2 the interior ops.
OP_LABELS: dict[str, int] = {INPUT: -1, OUTPUT: -2,
                             **{op: k for k, op in enumerate(NB101_OPS)}}


def as_spec(matrix: Any, ops: Sequence[str]) -> tuple[np.ndarray, tuple[str, ...]]:
    """Checks a raw ``(matrix, ops)`` pair (before pruning) and normalises it.

    The checks are those of nasbench's ``ModelSpec`` constructor (square,
    ``len(ops)`` vertices, upper-triangular) plus 0/1 entries and the op names:
    every op is checked, also those of vertices that pruning would drop.

    Args:
        matrix: ``V x V`` adjacency matrix (nested sequences or an array);
            ``matrix[i][j] == 1`` is an edge ``i -> j``.
        ops: The ``V`` vertex ops, ``"input"`` first and ``"output"`` last, the
            others in :data:`NB101_OPS`.

    Returns:
        The matrix as a ``V x V`` ``int8`` array and the ops as a tuple.

    Raises:
        ValueError: if the matrix is not square or has fewer than 2 vertices, has
            an entry other than 0/1, is not upper-triangular (an entry on or below
            the diagonal), if ``len(ops) != V``, if the first op is not ``"input"``
            or the last not ``"output"``, or an interior op is unknown.
    """
    try:
        array = np.asarray(matrix)
    except ValueError:  # ragged nested lists
        raise ValueError(f"matrix must be square (V x V), got ragged rows {matrix!r}") from None
    if array.ndim != 2 or array.shape[0] != array.shape[1]:
        raise ValueError(f"matrix must be square (V x V), got shape {array.shape}")
    num_vertices = array.shape[0]
    if num_vertices < 2:
        raise ValueError(f"a cell needs at least 2 vertices (input and output), got "
                         f"{num_vertices}")
    if array.dtype.kind not in "biuf" or not np.isin(array, (0, 1)).all():
        bad = [v for v in np.asarray(array, dtype=object).ravel().tolist() if v not in (0, 1)]
        raise ValueError(f"matrix entries must be 0 or 1, got {bad[0]!r}" if bad else
                         f"matrix entries must be 0 or 1, got dtype {array.dtype}")
    array = array.astype(np.int8)
    below = np.argwhere(np.tril(array) != 0)
    if len(below):
        i, j = (int(k) for k in below[0])
        raise ValueError(f"matrix must be upper-triangular (edges i -> j with i < j only), "
                         f"got a 1 at row {i}, column {j}")
    if isinstance(ops, np.ndarray):
        ops = ops.tolist()
    if isinstance(ops, str) or not isinstance(ops, Sequence):
        raise ValueError(f"ops must be a sequence of op names, got {ops!r}")
    ops = tuple(ops)
    if len(ops) != num_vertices:
        raise ValueError(f"got {len(ops)} ops for a {num_vertices}-vertex matrix; "
                         f"every vertex needs one op")
    if ops[0] != INPUT:
        raise ValueError(f"the first op must be {INPUT!r}, got {ops[0]!r}")
    if ops[-1] != OUTPUT:
        raise ValueError(f"the last op must be {OUTPUT!r}, got {ops[-1]!r}")
    for vertex, op in enumerate(ops[1:-1], start=1):
        if op not in NB101_OPS:
            raise ValueError(f"unknown op {op!r} at vertex {vertex}; allowed interior ops: "
                             f"{', '.join(NB101_OPS)}")
    return array, ops


def live_vertices(matrix: np.ndarray) -> list[int]:
    """The vertices on some input -> output path (input 0, output ``V - 1``).

    Args:
        matrix: Upper-triangular ``V x V`` 0/1 array.

    Returns:
        Those vertices in increasing order; empty when the output is not
        reachable from the input.
    """
    num_vertices = matrix.shape[0]
    forward = np.zeros(num_vertices, dtype=bool)
    forward[0] = True
    for v in range(1, num_vertices):  # vertices in topological order
        forward[v] = bool((forward[:v] & (matrix[:v, v] != 0)).any())
    backward = np.zeros(num_vertices, dtype=bool)
    backward[-1] = True
    for v in range(num_vertices - 2, -1, -1):
        backward[v] = bool((backward[v + 1:] & (matrix[v, v + 1:] != 0)).any())
    live = forward & backward
    return np.flatnonzero(live).tolist() if live[-1] else []


def prune_spec(matrix: Any, ops: Sequence[str]) -> tuple[np.ndarray, tuple[str, ...]]:
    """Prunes a ``(matrix, ops)`` pair exactly like nasbench's ``ModelSpec``.

    Vertices not reachable from the input or not reaching the output are
    deleted (their rows, columns and ops); the others keep their order.

    Args:
        matrix: ``V x V`` upper-triangular 0/1 adjacency matrix.
        ops: The ``V`` vertex ops (see :func:`as_spec`).

    Returns:
        The pruned ``int8`` matrix and ops.

    Raises:
        ValueError: for a malformed pair (see :func:`as_spec`), or when the output
            is not reachable from the input (``ModelSpec`` marks such a spec
            invalid: "the graph is disconnected").
    """
    array, ops = as_spec(matrix, ops)
    keep = live_vertices(array)
    if not keep:
        raise ValueError("the cell is disconnected: the output vertex is not reachable from "
                         "the input vertex")
    return array[np.ix_(keep, keep)], tuple(ops[v] for v in keep)


def hash_module(matrix: Any, ops: Sequence[str]) -> str:
    """NAS-Bench-101's module hash of a cell (nasbench ``graph_util.hash_module``).

    Every vertex starts as ``md5(str((out_degree, in_degree, label)))`` with
    the labels of :data:`OP_LABELS`; then ``V`` times every vertex becomes
    ``md5(sorted in-neighbour hashes joined + '|' + sorted out-neighbour hashes
    joined + '|' + own hash)``; the module hash is ``md5(str(sorted(hashes)))``.
    Isomorphic cells get the same hash. The benchmark hashes *pruned* cells
    (:func:`prune_spec`); this function hashes the graph it is given.

    Args:
        matrix: ``V x V`` 0/1 adjacency matrix.
        ops: The ``V`` vertex op names (keys of :data:`OP_LABELS`).

    Returns:
        The hash as 32 lower-case hex digits.

    Raises:
        ValueError: if the matrix is not square with 0/1 entries, ``len(ops)``
            differs from its size, or an op is unknown.
    """
    array = np.asarray(matrix)
    if array.ndim != 2 or array.shape[0] != array.shape[1]:
        raise ValueError(f"matrix must be square (V x V), got shape {array.shape}")
    if array.dtype.kind not in "biuf" or not np.isin(array, (0, 1)).all():
        raise ValueError("matrix entries must be 0 or 1")
    if len(ops) != array.shape[0]:
        raise ValueError(f"got {len(ops)} ops for a {array.shape[0]}-vertex matrix")
    labels = []
    for op in ops:
        if op not in OP_LABELS:
            raise ValueError(f"unknown op {op!r}; allowed: {', '.join(OP_LABELS)}")
        labels.append(OP_LABELS[op])
    in_nbrs, out_nbrs = neighbours(array)
    return hash_labelled(in_nbrs, out_nbrs, labels)


def neighbours(matrix: np.ndarray) -> tuple[list[list[int]], list[list[int]]]:
    """In- and out-neighbour lists of every vertex of an adjacency matrix.

    Args:
        matrix: ``V x V`` 0/1 array.

    Returns:
        ``(in_nbrs, out_nbrs)``: ``in_nbrs[v]`` lists every ``w`` with an edge
        ``w -> v``, ``out_nbrs[v]`` every ``w`` with ``v -> w``.
    """
    nz = matrix != 0
    return ([np.flatnonzero(nz[:, v]).tolist() for v in range(nz.shape[0])],
            [np.flatnonzero(nz[v]).tolist() for v in range(nz.shape[0])])


def hash_labelled(in_nbrs: Sequence[Sequence[int]], out_nbrs: Sequence[Sequence[int]],
                  labels: Sequence[int]) -> str:
    """:func:`hash_module` of a graph given as neighbour lists and integer labels.

    The inner loop of the enumeration: callers that hash many labellings of
    one matrix compute :func:`neighbours` once.

    Args:
        in_nbrs: In-neighbours of every vertex.
        out_nbrs: Out-neighbours of every vertex.
        labels: The hash label of every vertex (:data:`OP_LABELS` values).

    Returns:
        The module hash (32 hex digits).
    """
    md5 = hashlib.md5
    num_vertices = len(labels)
    hashes = [md5(str((len(out_nbrs[v]), len(in_nbrs[v]), int(labels[v]))).encode())
              .hexdigest() for v in range(num_vertices)]
    for _ in range(num_vertices):
        hashes = [md5(("".join(sorted([hashes[w] for w in in_nbrs[v]])) + "|"
                       + "".join(sorted([hashes[w] for w in out_nbrs[v]])) + "|"
                       + hashes[v]).encode()).hexdigest()
                  for v in range(num_vertices)]
    return md5(str(sorted(hashes)).encode()).hexdigest()


@dataclass(frozen=True)
class NB101Cell:
    """A pruned NAS-Bench-101 cell: what the network builder and the datasets read.

    ``matrix[i][j] == 1`` is an edge ``i -> j`` (``i < j``); ``ops[v]`` is the op
    of vertex ``v``. The cell is always pruned (every vertex lies on an
    input -> output path), like the ``matrix`` / ``ops`` of a nasbench
    ``ModelSpec`` after construction; build one from a raw pair with
    :meth:`from_spec`. Lists or arrays given to the constructor are stored as
    tuples of ints / strings, so the value is hashable. Search-space limits
    (vertex and edge counts) are the space's business, not the cell's.

    Args:
        matrix: Upper-triangular ``V x V`` 0/1 adjacency matrix.
        ops: The ``V`` ops: ``"input"``, interior ops of :data:`NB101_OPS`, ``"output"``.

    Raises:
        ValueError: for a malformed pair (see :func:`as_spec`) or one that is not
            pruned (naming the vertex off every input -> output path).
    """

    matrix: tuple[tuple[int, ...], ...]
    ops: tuple[str, ...]

    def __post_init__(self) -> None:
        array, ops = as_spec(self.matrix, self.ops)
        live = live_vertices(array)
        if len(live) != len(ops):
            dead = sorted(set(range(len(ops))) - set(live))
            raise ValueError(
                f"the cell is not pruned: vertex {dead[0]} is not on any input -> output path"
                if live else "the cell is disconnected: the output vertex is not reachable "
                             "from the input vertex")
        object.__setattr__(self, "matrix", tuple(tuple(int(x) for x in row) for row in array))
        object.__setattr__(self, "ops", ops)

    @classmethod
    def from_spec(cls, matrix: Any, ops: Sequence[str]) -> "NB101Cell":
        """The pruned cell of a raw ``(matrix, ops)`` pair (see :func:`prune_spec`).

        Raises:
            ValueError: as :func:`prune_spec`.
        """
        array, pruned_ops = prune_spec(matrix, ops)
        return cls._trusted(tuple(tuple(int(x) for x in row) for row in array.tolist()),
                            pruned_ops)

    @classmethod
    def _trusted(cls, matrix: tuple[tuple[int, ...], ...], ops: tuple[str, ...]) -> "NB101Cell":
        """A cell from a pair already known to be a valid pruned cell (no checks)."""
        cell = object.__new__(cls)
        object.__setattr__(cell, "matrix", matrix)
        object.__setattr__(cell, "ops", ops)
        return cell

    @property
    def num_vertices(self) -> int:
        """Vertex count ``V`` (input and output included)."""
        return len(self.ops)

    @property
    def num_edges(self) -> int:
        """Edge count (the sum of the matrix)."""
        return sum(map(sum, self.matrix))

    @property
    def matrix_array(self) -> np.ndarray:
        """The adjacency matrix as a fresh ``V x V`` ``int64`` numpy array."""
        return np.array(self.matrix, dtype=np.int64)

    @property
    def edges(self) -> tuple[tuple[int, int], ...]:
        """Every edge ``(i, j)``, ``i < j``, in row-major order."""
        return tuple((i, j) for i, row in enumerate(self.matrix)
                     for j, x in enumerate(row) if x)

    @property
    def edge_bits(self) -> int:
        """The edges as nasbench's ``gen_is_edge_fn`` bit mask: bit ``i + j (j - 1) / 2``
        is set for an edge ``i -> j``."""
        return sum(1 << (i + j * (j - 1) // 2) for i, j in self.edges)

    @property
    def labels(self) -> tuple[int, ...]:
        """The hash label of every vertex (:data:`OP_LABELS`)."""
        return tuple(OP_LABELS[op] for op in self.ops)

    def module_hash(self) -> str:
        """The NAS-Bench-101 module hash of the cell (:func:`hash_module`)."""
        in_nbrs = [[i for i in range(j) if self.matrix[i][j]] for j in range(len(self.ops))]
        out_nbrs = [[j for j, x in enumerate(row) if x] for row in self.matrix]
        return hash_labelled(in_nbrs, out_nbrs, self.labels)


def cell_from_bits(num_vertices: int, edge_bits: int, labels: Sequence[int]) -> NB101Cell:
    """The cell with ``num_vertices`` vertices, a ``gen_is_edge_fn`` edge mask and
    interior op labels (the row format of ``nb101_specs.csv.gz``).

    Args:
        num_vertices: ``V >= 2``.
        edge_bits: Bit ``i + j (j - 1) / 2`` set for an edge ``i -> j``.
        labels: The ``V - 2`` interior op labels (indices into :data:`NB101_OPS`).

    Raises:
        ValueError: when the result is not a valid pruned cell, or a bit or
            label is out of range.
    """
    if edge_bits < 0 or edge_bits >> (num_vertices * (num_vertices - 1) // 2):
        raise ValueError(f"edge_bits {edge_bits} has bits outside a {num_vertices}-vertex "
                         f"upper triangle")
    if len(labels) != num_vertices - 2 or any(not 0 <= int(x) < len(NB101_OPS) for x in labels):
        raise ValueError(f"need {num_vertices - 2} interior op labels in 0..{len(NB101_OPS) - 1}, "
                         f"got {list(labels)}")
    matrix = [[0] * num_vertices for _ in range(num_vertices)]
    for j in range(1, num_vertices):
        for i in range(j):
            if edge_bits >> (i + j * (j - 1) // 2) & 1:
                matrix[i][j] = 1
    ops = (INPUT,) + tuple(NB101_OPS[int(x)] for x in labels) + (OUTPUT,)
    return NB101Cell(tuple(map(tuple, matrix)), ops)
