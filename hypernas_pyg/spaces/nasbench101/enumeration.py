"""Every unique NAS-Bench-101 cell: the enumeration and the catalogue that holds it.

:func:`enumerate_cells` lists every isomorphism class of pruned cells with at
most ``max_vertices`` vertices and ``max_edges`` edges once, with its module
hash; :class:`NB101Catalogue` holds such a list compactly (a few bytes per cell;
cells are built on demand), sorted by hash like the benchmark's own rows, and
reads / writes the ``hash,num_vertices,edge_bits,ops`` CSV of
``nb101_specs.csv.gz``.

How the enumeration avoids hashing every labelled graph (1,293,208 for the full
space, 423,624 classes):

1. per vertex count ``V``, all ``2^(V(V-1)/2)`` upper-triangular edge masks are
   filtered at once with numpy: at most ``max_edges`` edges, and every vertex on
   an input -> output path (no row of zeros but the output's, no column of zeros
   but the input's, nasbench's ``is_full_dag``);
2. the surviving matrices are grouped into unlabelled isomorphism classes: the
   class key is the minimum, over the ``(V-2)!`` permutations of the interior
   vertices, of the permuted matrix written as a ``V*V``-bit integer (input and
   output are the only source and sink, so every isomorphism fixes them); each
   class keeps its smallest edge mask;
3. for that matrix the automorphisms are the permutations leaving its code
   unchanged, and the labelled classes are the orbits of the ``3^(V-2)``
   interior labellings under them; each orbit keeps its smallest labelling (in
   ``itertools.product`` order of the labels 0, 1, 2);
4. only those representatives are hashed (:func:`~.hashing.hash_labelled`).

The representative of a class is thus the first labelled graph nasbench's
``generate_graphs.py`` loop order (edge masks ascending, then labellings in
product order) meets, the convention of ``nb101_specs.csv.gz``.
"""
from __future__ import annotations

import gzip
import itertools
import math
import os
import sys
from typing import Iterator, Optional, Sequence, Union

import numpy as np

from hypernas_pyg.spaces.nasbench101.hashing import (INPUT, NB101_OPS, OUTPUT, NB101Cell,
                                                      OP_LABELS, hash_labelled)

#: The most vertices a cell of the NAS-Bench-101 encodings may have.
MAX_VERTICES = 7
#: The CSV header of a catalogue file (``nb101_specs.csv.gz``).
CSV_HEADER = "hash,num_vertices,edge_bits,ops"

PathLike = Union[str, "os.PathLike[str]"]


def _edge_pairs(num_vertices: int) -> list[tuple[int, int]]:
    """The edge ``(i, j)`` of every bit of a ``gen_is_edge_fn`` mask, bit order."""
    return [(i, j) for j in range(1, num_vertices) for i in range(j)]


def _popcount(values: np.ndarray) -> np.ndarray:
    if hasattr(np, "bitwise_count"):  # numpy >= 2.0
        return np.bitwise_count(values).astype(np.int64)
    table = np.array([bin(b).count("1") for b in range(256)], dtype=np.int64)
    counts = np.zeros(values.shape, dtype=np.int64)
    work = values.copy()
    while work.any():
        counts += table[work & 0xFF]
        work >>= 8
    return counts


class NB101Catalogue:
    """Unique NAS-Bench-101 cells with their module hashes, sorted by hash.

    Row ``k`` is the cell with ``num_vertices[k]`` vertices, the edges of the
    ``gen_is_edge_fn`` mask ``edge_bits[k]`` (bit ``i + j (j - 1) / 2`` set for an
    edge ``i -> j``) and interior op labels ``op_labels[k, :V-2]`` (indices into
    :data:`~.hashing.NB101_OPS`; the rest of the row is ``-1``). The rows of the
    full catalogue are in the order of the benchmark's tables (``hash_iterator``
    order, ascending hash). Cells are built on demand (:meth:`cell`), so the full
    catalogue takes about 20 MB.

    Iterating yields ``(hash, cell)`` pairs.

    Args:
        hashes: Module hashes (32 hex digits), unique.
        num_vertices: Vertex count of every cell (2 .. 7).
        edge_bits: Edge mask of every cell.
        op_labels: ``[N, 5]`` interior op labels, ``-1`` padded (or ``[N, k]`` with
            ``k >= max(num_vertices) - 2``).

    Raises:
        ValueError: for arrays of different lengths, a hash that is not 32 hex
            digits, repeated hashes, or a vertex count outside 2..7.
    """

    def __init__(self, hashes: Sequence[str], num_vertices: Sequence[int],
                 edge_bits: Sequence[int], op_labels: Union[Sequence[Sequence[int]], np.ndarray]
                 ) -> None:
        keys = _hash_keys(hashes)
        vertices = np.asarray(num_vertices, dtype=np.int8).reshape(-1)
        bits = np.asarray(edge_bits, dtype=np.int64).reshape(-1)
        labels = np.full((len(keys), MAX_VERTICES - 2), -1, dtype=np.int8)
        if not len(keys) == len(vertices) == len(bits) == len(op_labels):
            raise ValueError(f"catalogue arrays differ in length: {len(keys)} hashes, "
                             f"{len(vertices)} vertex counts, {len(bits)} edge masks, "
                             f"{len(op_labels)} op rows")
        given = np.asarray(op_labels, dtype=np.int8)
        given = given.reshape(len(keys), given.size // max(len(keys), 1))
        labels[:, :min(given.shape[1], MAX_VERTICES - 2)] = given[:, :MAX_VERTICES - 2]
        if len(keys) and (vertices.min() < 2 or vertices.max() > MAX_VERTICES):
            raise ValueError(f"vertex counts must lie in 2..{MAX_VERTICES}, got "
                             f"{int(vertices.min())}..{int(vertices.max())}")
        order = np.argsort(keys, kind="stable")
        keys, vertices, bits, labels = keys[order], vertices[order], bits[order], labels[order]
        if len(keys) > 1:
            repeated = np.flatnonzero(keys[1:] == keys[:-1])
            if len(repeated):
                raise ValueError(f"hash {keys[repeated[0]].decode()} occurs more than once")
        self.hashes = keys
        self.num_vertices = vertices
        self.edge_bits = bits
        self.op_labels = labels

    # ----------------------------------------------------------------- builders
    @classmethod
    def from_cells(cls, hashes: Sequence[str], cells: Sequence[NB101Cell]) -> "NB101Catalogue":
        """A catalogue of ``cells`` keyed by ``hashes`` (any order; it is sorted).

        Args:
            hashes: The module hash of every cell.
            cells: The cells (:class:`~.hashing.NB101Cell`).

        Raises:
            ValueError: for lengths that differ, a cell that is not an
                :class:`NB101Cell`, or the errors of the constructor.
        """
        if len(hashes) != len(cells):
            raise ValueError(f"got {len(hashes)} hashes for {len(cells)} cells")
        labels = np.full((len(cells), MAX_VERTICES - 2), -1, dtype=np.int8)
        for k, cell in enumerate(cells):
            if not isinstance(cell, NB101Cell):
                raise ValueError(f"catalogue cells must be NB101Cell values, got "
                                 f"{type(cell).__name__} at position {k}")
            if cell.num_vertices > MAX_VERTICES:
                raise ValueError(f"cell {k} has {cell.num_vertices} vertices; a catalogue "
                                 f"holds cells of at most {MAX_VERTICES}")
            labels[k, :cell.num_vertices - 2] = cell.labels[1:-1]
        return cls(list(hashes), [c.num_vertices for c in cells], [c.edge_bits for c in cells],
                   labels)

    @classmethod
    def from_csv(cls, path: PathLike) -> "NB101Catalogue":
        """Reads a ``hash,num_vertices,edge_bits,ops`` CSV (gzip when it ends in ``.gz``),
        e.g. ``nb101_specs.csv.gz``; ``ops`` lists the interior op names ``|``-separated.

        Raises:
            ValueError: for a file without that header, or an unknown op.
        """
        import pandas as pd

        frame = pd.read_csv(path, dtype={"hash": str, "ops": str}, keep_default_na=False)
        if list(frame.columns) != CSV_HEADER.split(","):
            raise ValueError(f"{os.fspath(path)} is not a catalogue file: expected the header "
                             f"{CSV_HEADER!r}, got {','.join(map(str, frame.columns))!r}")
        labels = np.full((len(frame), MAX_VERTICES - 2), -1, dtype=np.int8)
        codes = {op: k for k, op in enumerate(NB101_OPS)}
        for k, ops in enumerate(frame["ops"].tolist()):
            if ops:
                try:
                    row = [codes[op] for op in ops.split("|")]
                except KeyError as err:
                    raise ValueError(f"unknown op {err.args[0]!r} in row {k} of "
                                     f"{os.fspath(path)}; allowed: {', '.join(NB101_OPS)}"
                                     ) from None
                labels[k, :len(row)] = row
        return cls(frame["hash"].to_numpy(dtype=str), frame["num_vertices"].to_numpy(),
                   frame["edge_bits"].to_numpy(), labels)

    def to_csv(self, path: PathLike) -> None:
        """Writes the catalogue in the format :meth:`from_csv` reads (gzip for ``.gz``)."""
        opener = gzip.open if os.fspath(path).endswith(".gz") else open
        with opener(path, "wt", newline="") as f:
            f.write(CSV_HEADER + "\n")
            for k in range(len(self)):
                v = int(self.num_vertices[k])
                ops = "|".join(NB101_OPS[x] for x in self.op_labels[k, :v - 2].tolist())
                f.write(f"{self.hashes[k].decode()},{v},{int(self.edge_bits[k])},{ops}\n")

    # ----------------------------------------------------------------- access
    def __len__(self) -> int:
        return len(self.hashes)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self)} cells)"

    def hash(self, k: int) -> str:
        """The module hash of row ``k``."""
        return self.hashes[k].decode()

    def cell(self, k: int) -> NB101Cell:
        """The cell of row ``k`` (built from the compact arrays)."""
        v = int(self.num_vertices[k])
        bits = int(self.edge_bits[k])
        matrix = tuple(tuple(1 if i < j and bits >> (i + j * (j - 1) // 2) & 1 else 0
                             for j in range(v)) for i in range(v))
        ops = (INPUT,) + tuple(NB101_OPS[x] for x in self.op_labels[k, :v - 2].tolist()) \
            + (OUTPUT,)
        return NB101Cell._trusted(matrix, ops)

    def index(self, module_hash: str) -> int:
        """The row of ``module_hash``.

        Raises:
            KeyError: when the hash is not in the catalogue.
        """
        key = module_hash.lower().encode()
        k = int(np.searchsorted(self.hashes, key))
        if k < len(self.hashes) and self.hashes[k] == key:
            return k
        raise KeyError(module_hash)

    def __contains__(self, module_hash: object) -> bool:
        if not isinstance(module_hash, str):
            return False
        try:
            self.index(module_hash)
        except KeyError:
            return False
        return True

    def __iter__(self) -> Iterator[tuple[str, NB101Cell]]:
        for k in range(len(self)):
            yield self.hash(k), self.cell(k)

    def num_edges(self) -> np.ndarray:
        """The edge count of every row."""
        return _popcount(self.edge_bits)

    def subset(self, max_vertices: int, max_edges: int) -> "NB101Catalogue":
        """The rows with at most ``max_vertices`` vertices and ``max_edges`` edges
        (``self`` when that is every row)."""
        keep = (self.num_vertices <= max_vertices) & (self.num_edges() <= max_edges)
        if keep.all():
            return self
        out = object.__new__(type(self))
        out.hashes, out.num_vertices = self.hashes[keep], self.num_vertices[keep]
        out.edge_bits, out.op_labels = self.edge_bits[keep], self.op_labels[keep]
        return out

    def mismatches(self, progress: bool = False) -> list[int]:
        """The rows whose cell does not hash to the row's hash (empty for a sound table).

        Args:
            progress: Show a tqdm progress bar (on a TTY).
        """
        bad = []
        for k in _progress(range(len(self)), len(self), "checking hashes", progress):
            if self.cell(k).module_hash() != self.hash(k):
                bad.append(k)
        return bad


def _hash_keys(hashes: Sequence[str]) -> np.ndarray:
    """``hashes`` as a lower-case ``S32`` array; ``ValueError`` unless each is 32 hex digits."""
    text = np.char.lower(np.asarray(hashes, dtype=str).reshape(-1))
    wrong = np.flatnonzero(np.char.str_len(text) != 32) if len(text) else []
    if not len(wrong):
        try:
            keys = text.astype("S32")
        except UnicodeEncodeError:
            keys = None
        if keys is not None:
            hexdigit = np.zeros(256, dtype=bool)
            hexdigit[list(b"0123456789abcdef")] = True
            wrong = np.flatnonzero(~hexdigit[keys.view(np.uint8).reshape(-1, 32)].all(axis=1))
            if not len(wrong):
                return keys
        else:
            wrong = [next(k for k, h in enumerate(text.tolist()) if not h.isascii())]
    raise ValueError(f"module hashes are 32 hex digits, got {str(text[wrong[0]])!r} "
                     f"at position {int(wrong[0])}")


def _progress(iterable, total: int, desc: str, progress: Optional[bool]):
    from tqdm.auto import tqdm

    show = sys.stderr.isatty() if progress is None else progress
    return tqdm(iterable, total=total, desc=desc, disable=not show, leave=False)


def full_dag_masks(num_vertices: int, max_edges: int) -> np.ndarray:
    """Every ``gen_is_edge_fn`` edge mask of a ``num_vertices``-vertex full DAG.

    A full DAG has every vertex on an input -> output path: every vertex but the
    output has an out-edge and every vertex but the input an in-edge.

    Args:
        num_vertices: ``V >= 2``.
        max_edges: Keep masks with at most this many edges.

    Returns:
        The masks in ascending order (``int64``).
    """
    pairs = _edge_pairs(num_vertices)
    masks = np.arange(1 << len(pairs), dtype=np.int64)
    masks = masks[_popcount(masks) <= max_edges]
    for v in range(num_vertices):
        out_mask = sum(1 << k for k, (i, _) in enumerate(pairs) if i == v)
        in_mask = sum(1 << k for k, (_, j) in enumerate(pairs) if j == v)
        if v < num_vertices - 1:
            masks = masks[(masks & out_mask) != 0]
        if v > 0:
            masks = masks[(masks & in_mask) != 0]
    return masks


def _class_representatives(num_vertices: int, masks: np.ndarray
                           ) -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
    """Unlabelled isomorphism classes of ``masks`` (see the module docstring, step 2).

    Returns:
        The smallest mask of every class, the automorphisms of each (indices into
        the permutation table), and that table (``[P, V]``: ``perm[p, v]`` is the
        new position of vertex ``v``).
    """
    v = num_vertices
    interior = list(range(1, v - 1))
    perms = np.array([[0, *p, v - 1] for p in itertools.permutations(interior)], dtype=np.int64)
    pairs = _edge_pairs(v)
    src = np.array([i for i, _ in pairs], dtype=np.int64)
    dst = np.array([j for _, j in pairs], dtype=np.int64)
    # weights[k, p]: the bit of the V*V code that edge k lands on under permutation p
    weights = np.left_shift(1, perms[:, src] * v + perms[:, dst]).T.astype(np.int64)

    def codes_of(chunk: np.ndarray) -> np.ndarray:  # [len(chunk), P]
        codes = np.zeros((len(chunk), len(perms)), dtype=np.int64)
        for k in range(len(pairs)):
            codes += ((chunk >> k) & 1)[:, None] * weights[k][None, :]
        return codes

    step = max(1, (1 << 22) // len(perms))  # bounded memory for large edge limits
    canon = np.concatenate([codes_of(masks[s:s + step]).min(axis=1)
                            for s in range(0, len(masks), step)])
    _, first = np.unique(canon, return_index=True)  # masks ascending: first = smallest
    reps = masks[np.sort(first)]
    autos = []
    for s in range(0, len(reps), step):
        codes = codes_of(reps[s:s + step])
        autos += [np.flatnonzero(row == row[0]) for row in codes]  # row[0]: identity
    return reps, autos, perms


def _labelling_orbit_minima(num_vertices: int, perms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All interior labellings and, per permutation, the code of each one permuted.

    Returns:
        ``labellings`` ``[L, V-2]`` in ``itertools.product`` order (row ``c`` has
        code ``c``, first interior vertex the most significant base-3 digit) and
        ``permuted`` ``[P, L]``: the code of labelling ``c`` moved by permutation ``p``.
    """
    interior = num_vertices - 2
    num_ops = len(NB101_OPS)
    rows = list(itertools.product(range(num_ops), repeat=interior))
    labellings = np.array(rows, dtype=np.int64).reshape(len(rows), interior)
    place = num_ops ** np.arange(interior - 1, -1, -1, dtype=np.int64)
    permuted = np.empty((len(perms), len(labellings)), dtype=np.int64)
    for p, perm in enumerate(perms):
        # vertex u (interior index u-1) moves to perm[u]: its label takes that digit
        new_place = place[perm[1:-1] - 1]
        permuted[p] = labellings @ new_place
    return labellings, permuted


def enumerate_cells(max_vertices: int = MAX_VERTICES, max_edges: int = 9,
                    progress: Optional[bool] = None) -> NB101Catalogue:
    """Every unique pruned NAS-Bench-101 cell within the limits, once, with its hash.

    With the defaults this is the benchmark's 423,624 cells (``nb101_specs.csv.gz``
    holds the same rows); smaller limits give a smaller space. The classes are
    isomorphism classes of labelled DAGs (see the module docstring); should two
    of them share a module hash the first one met is kept.

    Args:
        max_vertices: Largest vertex count, 2..7.
        max_edges: Largest edge count, ``>= 1``.
        progress: tqdm progress bar over the hashing (``None``: when stderr is a TTY).

    Returns:
        The catalogue, sorted by hash.

    Raises:
        ValueError: for limits outside those ranges.
    """
    if isinstance(max_vertices, bool) or not isinstance(max_vertices, int) \
            or not 2 <= max_vertices <= MAX_VERTICES:
        raise ValueError(f"max_vertices must be an int in 2..{MAX_VERTICES}, got {max_vertices!r}")
    if isinstance(max_edges, bool) or not isinstance(max_edges, int) or max_edges < 1:
        raise ValueError(f"max_edges must be an int >= 1, got {max_edges!r}")
    plan = []  # (V, masks, automorphisms, perms, labellings, permuted codes, #reps per mask)
    total = 0
    for v in range(2, max_vertices + 1):
        masks = full_dag_masks(v, max_edges)
        if not len(masks):
            continue
        reps, autos, perms = _class_representatives(v, masks)
        labellings, permuted = _labelling_orbit_minima(v, perms)
        every = np.arange(len(labellings))
        chosen = [np.flatnonzero(permuted[a].min(axis=0) == every) for a in autos]
        plan.append((v, reps, chosen, labellings))
        total += sum(len(c) for c in chosen)
    hashes: list[str] = []
    vertices: list[int] = []
    bits: list[int] = []
    labels = np.full((total, MAX_VERTICES - 2), -1, dtype=np.int8)
    bar = _progress(None, total, f"NB101 cells (<= {max_vertices} vertices)", progress)
    row = 0
    for v, reps, chosen, labellings in plan:
        pairs = _edge_pairs(v)
        for mask, picks in zip(reps.tolist(), chosen):
            in_nbrs: list[list[int]] = [[] for _ in range(v)]
            out_nbrs: list[list[int]] = [[] for _ in range(v)]
            for k, (i, j) in enumerate(pairs):
                if mask >> k & 1:
                    out_nbrs[i].append(j)
                    in_nbrs[j].append(i)
            for labelling in labellings[picks].tolist():
                hashes.append(hash_labelled(in_nbrs, out_nbrs,
                                            [OP_LABELS[INPUT], *labelling, OP_LABELS[OUTPUT]]))
                labels[row, :v - 2] = labelling
                row += 1
            vertices.extend([v] * len(picks))
            bits.extend([mask] * len(picks))
            bar.update(len(picks))
    bar.close()
    keys = np.asarray(hashes, dtype="S32")
    _, first = np.unique(keys, return_index=True)  # drop hash collisions (none known)
    if len(first) < len(keys):
        first = np.sort(first)
        keys = keys[first]
        vertices = np.asarray(vertices)[first]
        bits = np.asarray(bits)[first]
        labels = labels[first]
    return NB101Catalogue(keys.astype(str), vertices, bits, labels)


def count_labelled_graphs(max_vertices: int = MAX_VERTICES, max_edges: int = 9) -> int:
    """How many labelled full DAGs (edge mask and interior ops) lie within the limits:
    1,293,208 for the full space (every one a member of some class of
    :func:`enumerate_cells`)."""
    return sum(len(full_dag_masks(v, max_edges)) * math.prod([len(NB101_OPS)] * (v - 2))
               for v in range(2, max_vertices + 1))
