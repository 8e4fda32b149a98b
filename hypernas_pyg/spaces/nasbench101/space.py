"""The NAS-Bench-101 search space."""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Iterator, Mapping, Optional

import numpy as np

from hypernas_pyg.spaces.nasbench101.enumeration import (MAX_VERTICES, NB101Catalogue,
                                                          enumerate_cells)
from hypernas_pyg.spaces.nasbench101.hashing import INPUT, NB101_OPS, OUTPUT, NB101Cell
from hypernas_pyg.spaces.nasbench101.network_side import NASBench101NetworkSide
from hypernas_pyg.spaces.search_space import Cell, SearchSpace, check_positive_int

#: The short code of every op in the canonical string.
OP_CODES: dict[str, str] = {INPUT: "in", OUTPUT: "out", "conv3x3-bn-relu": "c3",
                            "conv1x1-bn-relu": "c1", "maxpool3x3": "mp"}
#: The op of the fixed downsampling block between stacks.
DOWNSAMPLE_OP = "maxpool2x2"
#: Upper-triangle entries of the padded 7 x 7 matrix in :meth:`NASBench101Space.features`.
NUM_ADJACENCY_FEATURES = MAX_VERTICES * (MAX_VERTICES - 1) // 2
_CODE_OPS = {code: op for op, code in OP_CODES.items()}
_HASH = re.compile(r"[0-9a-fA-F]{32}")


@lru_cache(maxsize=1 << 16)
def _module_hash(cell: NB101Cell) -> str:
    return cell.module_hash()


class NASBench101Space(NASBench101NetworkSide, SearchSpace):
    """NAS-Bench-101: a DAG cell of up to 7 vertices and 9 edges (423,624 unique cells).

    An architecture is a pruned cell (:class:`NB101Cell`): an upper-triangular
    0/1 adjacency matrix and one op per vertex, ``"input"`` first, ``"output"``
    last, every interior vertex one of ``conv3x3-bn-relu``, ``conv1x1-bn-relu``,
    ``maxpool3x3``. :meth:`parse` prunes every input like nasbench's
    ``ModelSpec`` (vertices off every input -> output path are dropped) and then
    applies the limits of nasbench's ``_check_spec``: at most ``max_vertices``
    vertices and ``max_edges`` edges, both counted **after** pruning (a raw
    matrix with more vertices or edges is fine when its pruned cell fits).

    **Canonical string** (:meth:`to_string`): the vertex op codes joined by
    ``-``, a ``:``, then the matrix rows as 0/1 digits joined by ``.``; op codes
    ``in``, ``out``, ``c3`` (conv3x3-bn-relu), ``c1`` (conv1x1-bn-relu), ``mp``
    (maxpool3x3). The Inception-like cell of the nasbench colab is
    ``in-c1-c3-c3-c3-mp-out:0111010.0000001.0000001.0000100.0000001.0000001.0000000``.
    The string keeps the given vertex order (after pruning), so isomorphic
    cells may print differently; :meth:`canonical_key` (the module hash) is
    equal for them.

    **Macro skeleton** (:meth:`cell_sequence`): 3 stacks of 3 identical cells
    with a 2x2 max-pool downsampling block between stacks, 11 positions:
    normal cells at 0, 1, 2, 4, 5, 6, 8, 9, 10 and the downsampling blocks at 3
    and 7.

    **Catalogue**: sampling is uniform over the unique cells (isomorphism
    classes), so it draws from the list of them (:class:`NB101Catalogue`), as
    does parsing a module hash. Hand the space one with ``catalogue=`` or
    :meth:`set_catalogue` (the ``NASBench101`` dataset does, from
    ``nb101_specs.csv.gz``); without one, :meth:`ensure_catalogue` enumerates
    it (:func:`enumerate_cells`; about a minute for the full space) and keeps it
    on the instance. The catalogue is not part of :meth:`get_config`.

    Args:
        max_vertices: Most vertices of a pruned cell (input and output included), 2..7.
        max_edges: Most edges of a pruned cell, 1..21.
        catalogue: The unique cells to sample from and resolve hashes with
            (rows outside the limits are dropped); ``None`` to enumerate on demand.

    Raises:
        ValueError: for limits outside those ranges, or a catalogue that is not
            an :class:`NB101Catalogue`.
    """

    name = "nasbench101"
    node_types = (INPUT, OUTPUT) + NB101_OPS + (DOWNSAMPLE_OP,)
    #: The interior ops a searched vertex may take.
    ops = NB101_OPS
    #: NAS-Bench-101 cells are always pruned.
    prune = True
    #: Stacks of the macro skeleton and cells per stack.
    num_stacks = 3
    cells_per_stack = 3
    #: Length of :meth:`features` (21 adjacency entries + 5 interior vertices x 3 ops).
    num_features = NUM_ADJACENCY_FEATURES + (MAX_VERTICES - 2) * len(NB101_OPS)

    def __init__(self, max_vertices: int = MAX_VERTICES, max_edges: int = 9, *,
                 catalogue: Optional[NB101Catalogue] = None) -> None:
        if isinstance(max_vertices, bool) or not isinstance(max_vertices, int) \
                or not 2 <= max_vertices <= MAX_VERTICES:
            raise ValueError(f"max_vertices must be an int in 2..{MAX_VERTICES}, got "
                             f"{max_vertices!r}")
        if isinstance(max_edges, bool) or not isinstance(max_edges, int) \
                or not 1 <= max_edges <= NUM_ADJACENCY_FEATURES:
            raise ValueError(f"max_edges must be an int in 1..{NUM_ADJACENCY_FEATURES}, got "
                             f"{max_edges!r}")
        self.max_vertices = max_vertices
        self.max_edges = max_edges
        self._catalogue: Optional[NB101Catalogue] = None
        if catalogue is not None:
            self.set_catalogue(catalogue)

    def get_config(self) -> dict[str, Any]:
        return {"max_vertices": self.max_vertices, "max_edges": self.max_edges}

    # -------------------------------------------------------------- catalogue
    def set_catalogue(self, catalogue: Optional[NB101Catalogue]) -> None:
        """Hands the space the list of unique cells (``None`` forgets it).

        Rows beyond this space's limits are dropped, so the full benchmark
        catalogue serves a smaller space too. Build one with
        :meth:`NB101Catalogue.from_csv` (``nb101_specs.csv.gz``),
        :meth:`NB101Catalogue.from_cells` or :func:`enumerate_cells`.

        Raises:
            ValueError: when ``catalogue`` is not an :class:`NB101Catalogue`.
        """
        if catalogue is not None and not isinstance(catalogue, NB101Catalogue):
            raise ValueError(f"a catalogue is an NB101Catalogue (NB101Catalogue.from_csv, "
                             f".from_cells or enumerate_cells), got {type(catalogue).__name__}")
        self._catalogue = None if catalogue is None else \
            catalogue.subset(self.max_vertices, self.max_edges)

    @property
    def catalogue(self) -> Optional[NB101Catalogue]:
        """The catalogue set or enumerated so far (``None`` when there is none yet)."""
        return self._catalogue

    def ensure_catalogue(self, progress: Optional[bool] = None) -> NB101Catalogue:
        """The catalogue, enumerated (and kept on the instance) when none was set.

        Args:
            progress: tqdm progress bar while enumerating (``None``: on a TTY).
        """
        if self._catalogue is None:
            self._catalogue = enumerate_cells(self.max_vertices, self.max_edges, progress)
        return self._catalogue

    @property
    def num_archs(self) -> int:
        """The number of unique cells in the space (423,624 for the defaults; enumerates
        them when no catalogue is set)."""
        return len(self.ensure_catalogue())

    # ------------------------------------------------------------------ parse
    def parse(self, arch: Any) -> NB101Cell:
        """The pruned cell of ``arch``, checked against the space's limits.

        Args:
            arch: One of: an :class:`NB101Cell`; a ``(matrix, ops)`` pair (matrix as
                nested sequences or a numpy array, ops as names); a dict
                ``{"matrix": ..., "ops": ...}``; an object with ``matrix`` and
                ``ops`` attributes (a nasbench ``ModelSpec``); the canonical string
                (:meth:`to_string`); a 32-hex-digit module hash (needs a catalogue).

        Returns:
            The pruned cell.

        Raises:
            ValueError: for an unsupported input form; a matrix that is not square,
                not 0/1 or not upper-triangular; a wrong number of ops; a first op
                other than ``input``, a last other than ``output``, an unknown
                interior op; a cell whose output the input cannot reach; more than
                ``max_vertices`` vertices or ``max_edges`` edges after pruning; a
                malformed string; a hash without a catalogue or not in it.
        """
        if isinstance(arch, NB101Cell):
            cell = arch
        elif isinstance(arch, str):
            text = arch.strip()
            if _HASH.fullmatch(text):
                return self._from_hash(text)
            cell = NB101Cell.from_spec(*_parse_string(arch))
        elif isinstance(arch, Mapping):
            unknown = sorted(map(str, set(arch) - {"matrix", "ops"}))
            missing = [k for k in ("matrix", "ops") if k not in arch]
            if unknown or missing:
                raise ValueError(f"a NAS-Bench-101 dict has exactly the keys 'matrix' and 'ops'; "
                                 f"missing {missing}, unknown {unknown}")
            cell = NB101Cell.from_spec(arch["matrix"], arch["ops"])
        elif isinstance(arch, (tuple, list)) and len(arch) == 2:
            cell = NB101Cell.from_spec(arch[0], arch[1])
        elif hasattr(arch, "matrix") and hasattr(arch, "ops"):
            matrix = getattr(arch, "original_matrix", arch.matrix)
            ops = getattr(arch, "original_ops", arch.ops)
            if matrix is None or ops is None:
                raise ValueError("the cell is disconnected: the output vertex is not reachable "
                                 "from the input vertex")
            cell = NB101Cell.from_spec(matrix, list(ops))
        else:
            raise ValueError(
                f"Cannot read a NAS-Bench-101 architecture from a {type(arch).__name__}; give "
                "a (matrix, ops) pair, a dict {'matrix': ..., 'ops': ...}, an NB101Cell, "
                "the canonical string 'in-c3-out:011.001.000' or a 32-hex module hash")
        self._check_limits(cell)
        return cell

    def _check_limits(self, cell: NB101Cell) -> None:
        if cell.num_vertices > self.max_vertices:
            raise ValueError(f"the pruned cell has {cell.num_vertices} vertices; this space "
                             f"allows at most {self.max_vertices} (max_vertices)")
        if cell.num_edges > self.max_edges:
            raise ValueError(f"the pruned cell has {cell.num_edges} edges; this space allows "
                             f"at most {self.max_edges} (max_edges)")

    def _from_hash(self, module_hash: str) -> NB101Cell:
        if self._catalogue is None:
            raise ValueError(
                f"{module_hash!r} is a module hash, and resolving one needs the table of cells: "
                "the NASBench101 dataset provides it (it sets the space's catalogue from "
                "nb101_specs.csv.gz), or call space.set_catalogue(NB101Catalogue.from_csv(path)) "
                "or space.ensure_catalogue() (enumerates the space)")
        try:
            return self._catalogue.cell(self._catalogue.index(module_hash))
        except KeyError:
            raise ValueError(f"unknown module hash {module_hash!r}: not among the "
                             f"{len(self._catalogue)} cells of this space's catalogue "
                             f"(max_vertices={self.max_vertices}, max_edges={self.max_edges})"
                             ) from None

    def to_string(self, value: NB101Cell) -> str:
        """The canonical string of a cell (format in the class docstring).

        Raises:
            ValueError: when ``value`` is not an :class:`NB101Cell`.
        """
        if not isinstance(value, NB101Cell):
            raise ValueError(f"to_string takes an NB101Cell (see parse), got "
                             f"{type(value).__name__}")
        return ("-".join(OP_CODES[op] for op in value.ops) + ":"
                + ".".join("".join(map(str, row)) for row in value.matrix))

    # ------------------------------------------------------------ encodings
    def canonical_key(self, arch: Any) -> str:
        """The NAS-Bench-101 module hash of the pruned cell (:func:`hash_module`):
        equal for isomorphic cells, the key of the benchmark's rows."""
        return _module_hash(self.parse(arch))

    def features(self, arch: Any) -> np.ndarray:
        """The flat 36-entry encoding of tabular baselines (float32).

        The pruned cell is padded to 7 vertices by inserting empty vertices just
        before the output (vertex ``v < V - 1`` stays ``v``, the output becomes
        6). Entries ``0..20`` are the upper triangle of that 7 x 7 matrix in
        row-major order (``(0,1), (0,2), .., (0,6), (1,2), .., (5,6)``); entry
        ``21 + 3 (p - 1) + k`` is 1 when padded interior vertex ``p`` (1..5) has
        op ``k`` of (conv3x3-bn-relu, conv1x1-bn-relu, maxpool3x3); padding
        vertices have no op.
        """
        cell = self.parse(arch)
        num_vertices = cell.num_vertices
        position = list(range(num_vertices - 1)) + [MAX_VERTICES - 1]
        padded = np.zeros((MAX_VERTICES, MAX_VERTICES), dtype=np.float32)
        for i, j in cell.edges:
            padded[position[i], position[j]] = 1.0
        out = np.zeros(self.num_features, dtype=np.float32)
        out[:NUM_ADJACENCY_FEATURES] = padded[np.triu_indices(MAX_VERTICES, k=1)]
        for vertex in range(1, num_vertices - 1):
            k = NB101_OPS.index(cell.ops[vertex])
            out[NUM_ADJACENCY_FEATURES + 3 * (vertex - 1) + k] = 1.0
        return out

    # ------------------------------------------------------------ cell graphs
    @staticmethod
    def cell(arch: NB101Cell) -> Cell:
        """The cell graph of a pruned cell: its vertices with their ops, its edges."""
        return Cell(ops=arch.ops, edges=arch.edges, kind="normal")

    @staticmethod
    def reduction_cell() -> Cell:
        """The downsampling block between stacks (a 2x2 max-pool) as a fixed cell."""
        return Cell(ops=(INPUT, DOWNSAMPLE_OP, OUTPUT), edges=((0, 1), (1, 2)),
                    kind="reduction")

    def cell_sequence(self, arch: Any) -> list[Cell]:
        """The 11 cells of the macro skeleton: 3 stacks of 3 copies of the pruned
        cell, a downsampling block between stacks (positions 3 and 7)."""
        normal = self.cell(self.parse(arch))
        reduction = self.reduction_cell()
        cells: list[Cell] = []
        for stack in range(self.num_stacks):
            if stack > 0:
                cells.append(reduction)
            cells.extend([normal] * self.cells_per_stack)
        return cells

    def proxy_cell_positions(self, num_stacks: int = 3, cells_per_stack: int = 3
                             ) -> tuple[int, ...]:
        """Maps the 11 cell positions onto a smaller skeleton's.

        The smaller skeleton keeps the first ``num_stacks`` stacks, the first
        ``cells_per_stack`` cells of each, and the downsampling blocks between
        kept stacks: normal cell ``j`` of stack ``s`` (position ``4 s + j``)
        becomes ``s (n + 1) + j`` (``n = cells_per_stack``) when ``s <
        num_stacks`` and ``j < n``; the block after stack ``s`` (position
        ``4 s + 3``) becomes ``s (n + 1) + n`` when ``s + 1 < num_stacks``; every
        other position maps to ``-1``. ``(3, 3)`` is the identity.

        Args:
            num_stacks: Stacks of the smaller skeleton, 1..3.
            cells_per_stack: Cells per stack of the smaller skeleton, 1..3.

        Returns:
            One entry per position of :meth:`cell_sequence`.

        Raises:
            ValueError: for a count outside 1..3.
        """
        for label, value, most in (("num_stacks", num_stacks, self.num_stacks),
                                   ("cells_per_stack", cells_per_stack, self.cells_per_stack)):
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= most:
                raise ValueError(f"{label} must be an int in 1..{most}, got {value!r}")
        big, small = self.cells_per_stack, cells_per_stack
        out = []
        for pos in range(self.num_stacks * (big + 1) - 1):
            stack, j = divmod(pos, big + 1)
            if j == big:  # the block after `stack`
                out.append(stack * (small + 1) + small if stack + 1 < num_stacks else -1)
            else:
                out.append(stack * (small + 1) + j if stack < num_stacks and j < small else -1)
        return tuple(out)

    # ------------------------------------------------------- sampling, mutation
    def all_archs(self) -> Iterator[str]:
        """Every unique cell once, in catalogue (hash) order (see :meth:`ensure_catalogue`)."""
        catalogue = self.ensure_catalogue()
        for k in range(len(catalogue)):
            yield self.to_string(catalogue.cell(k))

    def sample(self, num: int, rng: np.random.Generator) -> list[str]:
        """``num`` cells drawn uniformly (with replacement) from the unique cells.

        Uniform over isomorphism classes, not over labelled matrices (which would
        favour cells with many labellings); draws from :meth:`ensure_catalogue`.

        Raises:
            ValueError: for a negative ``num``.
        """
        check_positive_int("num", num, minimum=0)
        catalogue = self.ensure_catalogue()
        return [self.to_string(catalogue.cell(int(k)))
                for k in rng.integers(0, len(catalogue), size=num)]

    def mutate(self, arch: Any, rng: np.random.Generator) -> str:
        """A random neighbour: one edge flipped, one interior op changed, or one vertex
        added on a new path.

        The moves are every upper-triangle entry of the pruned cell's matrix, every
        other op of every interior vertex, and (while the cell has fewer than
        ``max_vertices`` vertices) a new vertex ``w`` with each op, fed by a vertex
        ``u`` and feeding a later vertex ``v``. A single flip cannot add a vertex (a
        new vertex needs an in- and an out-edge) but can drop some through pruning;
        without the third move evolution would drift towards smaller cells. The
        moves are tried in a random order and the first whose pruned result lies in
        the space and has another module hash is returned, so the neighbour is
        uniform over the moves that give a valid, different cell.

        Raises:
            ValueError: when no move gives a valid different cell.
        """
        cell = self.parse(arch)
        key = _module_hash(cell)
        matrix = cell.matrix_array
        num_vertices = cell.num_vertices
        moves: list[tuple[str, Any, Any]] = [("flip", i, j) for i in range(num_vertices)
                                             for j in range(i + 1, num_vertices)]
        moves += [("op", v, op) for v in range(1, num_vertices - 1) for op in NB101_OPS
                  if op != cell.ops[v]]
        if num_vertices < self.max_vertices:
            moves += [("grow", (u, v), op) for u in range(num_vertices - 1)
                      for v in range(u + 1, num_vertices) for op in NB101_OPS]
        for k in rng.permutation(len(moves)).tolist():
            kind, a, b = moves[k]
            new_matrix, new_ops = matrix.copy(), list(cell.ops)
            if kind == "flip":
                new_matrix[a, b] = 1 - new_matrix[a, b]
            elif kind == "op":
                new_ops[a] = b
            else:  # a vertex inserted at position v, between u and the old v
                u, v = a
                new_matrix = np.insert(np.insert(new_matrix, v, 0, axis=0), v, 0, axis=1)
                new_matrix[u, v] = new_matrix[v, v + 1] = 1
                new_ops.insert(v, b)
            try:
                candidate = self.parse((new_matrix, new_ops))
            except ValueError:
                continue
            if _module_hash(candidate) != key:
                return self.to_string(candidate)
        raise ValueError(f"{self.to_string(cell)} has no valid neighbour in this space "
                         f"(max_vertices={self.max_vertices}, max_edges={self.max_edges}): "
                         "every move gives an invalid or isomorphic cell")


def _parse_string(arch: str) -> tuple[list[list[int]], list[str]]:
    """The raw ``(matrix, ops)`` of a canonical string (checked further by ``as_spec``)."""
    expected = ("expected 'OPS:ROWS', e.g. 'in-c3-mp-out:0110.0001.0001.0000' (op codes "
                f"{', '.join(_CODE_OPS)}; rows of 0/1 digits joined by '.')")
    head, sep, tail = arch.strip().partition(":")
    if not sep or not head or not tail or ":" in tail:
        raise ValueError(f"Malformed NAS-Bench-101 string {arch!r}: {expected}")
    ops = []
    for code in head.split("-"):
        if code not in _CODE_OPS:
            raise ValueError(f"Unknown op code {code!r} in {arch!r}; allowed codes: "
                             + ", ".join(f"{c} ({op})" for c, op in _CODE_OPS.items()))
        ops.append(_CODE_OPS[code])
    matrix = []
    for r, row in enumerate(tail.split(".")):
        if not row or set(row) - {"0", "1"}:
            raise ValueError(f"matrix entries must be 0 or 1: row {r} of {arch!r} is {row!r}")
        matrix.append([int(c) for c in row])
    return matrix, ops
