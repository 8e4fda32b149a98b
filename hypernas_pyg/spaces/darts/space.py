"""The DARTS search space: two searched cells, stacked into the CIFAR-10 evaluation network."""
from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from hypernas_pyg.spaces.darts.genotype import (DARTSGenotype, check_cell, from_compact,
                                                from_mapping, from_text)
from hypernas_pyg.spaces.darts.network_side import DARTSNetworkSide
from hypernas_pyg.spaces.darts.ops import DARTS_OPS, NUM_NODES
from hypernas_pyg.spaces.search_space import Cell, SearchSpace, check_positive_int

#: Node types of a DARTS cell graph besides the ops.
INPUT_PREV, INPUT, ADD, OUTPUT = "input_prev", "input", "add", "output"


class DARTSSpace(DARTSNetworkSide, SearchSpace):
    """DARTS (Liu et al. 2019): a normal and a reduction cell, 4 nodes of two ops each.

    Every input form of a genotype is accepted by :meth:`parse`:

    * DARTS's ``Genotype(normal=[('sep_conv_3x3', 0), ...], normal_concat=range(2, 6),
      reduce=[...], reduce_concat=range(2, 6))``, as a string (read, never evaluated;
      ``GENOTYPE=`` prefixes and per-node nested lists accepted) or as an object with those
      attributes (DARTS's namedtuple);
    * NASLib's compact ``[[normal], [reduce]]`` of ``(input, op_index)`` pairs;
    * the canonical string :meth:`to_string` writes:
      ``normal:op~i,op~j|op~i,op~j|op~i,op~j|op~i,op~j/reduce:...`` (node 2 first).

    The macro skeleton (:meth:`cell_sequence`) is DARTS's CIFAR-10 evaluation network:
    ``layers`` cells, the reduction cell at ``layers // 3`` and ``2 * layers // 3``. Each
    cell is an ops-on-nodes graph in topological order: the two cell inputs
    (``input_prev`` = c_{k-2}, ``input`` = c_{k-1}), then for every intermediate node its
    two op nodes and its ``add`` node, and last the ``output`` (concatenation) node.

    Args:
        layers: Cells of the evaluation network (20 for CIFAR-10, 14 for ImageNet).
    """

    name = "darts"
    ops = DARTS_OPS
    node_types = (INPUT, OUTPUT, INPUT_PREV, ADD) + DARTS_OPS
    prune = False

    def __init__(self, layers: int = 20) -> None:
        check_positive_int("layers", layers, minimum=3)
        self.layers = layers

    def get_config(self) -> dict[str, Any]:
        return {"layers": self.layers}

    # ---------------------------------------------------------------- parsing
    def parse(self, arch: Any) -> DARTSGenotype:
        if isinstance(arch, DARTSGenotype):
            return DARTSGenotype(check_cell(arch.normal, "normal"),
                                 check_cell(arch.reduce, "reduce"))
        if isinstance(arch, str):
            text = arch.strip()
            if text.startswith("normal:"):
                return _from_canonical(text)
            return from_text(text)
        if isinstance(arch, dict) or (hasattr(arch, "normal") and hasattr(arch, "reduce")):
            return from_mapping(arch)
        if isinstance(arch, (list, tuple)) and len(arch) == 2:
            return from_compact(arch)
        raise ValueError(f"a DARTS architecture is a Genotype (object or string), NASLib's "
                         f"compact [[normal], [reduce]] or the canonical string; got "
                         f"{type(arch).__name__}")

    def to_string(self, value: DARTSGenotype) -> str:
        def cell(pairs):
            return "|".join(f"{pairs[2 * k][0]}~{pairs[2 * k][1]},"
                            f"{pairs[2 * k + 1][0]}~{pairs[2 * k + 1][1]}"
                            for k in range(NUM_NODES))
        return f"normal:{cell(value.normal)}/reduce:{cell(value.reduce)}"

    def genotype(self, arch: Any) -> DARTSGenotype:
        """The :class:`DARTSGenotype` of ``arch`` (``.to_darts()`` prints DARTS's form)."""
        return self.parse(arch)

    # ------------------------------------------------------------- identity
    def canonical_key(self, arch: Any) -> str:
        """Equal for genotypes that compute the same function up to a permutation of
        channels: the two pairs of a node in either order, intermediate nodes in any order
        (the output concatenates them all; what reads a node follows it). Each node is
        written as the sorted sum of ``op(input)`` terms, inputs as their own expressions,
        and a cell as the sorted list of its four nodes."""
        g = self.parse(arch)
        return f"normal:{_cell_key(g.normal)}/reduce:{_cell_key(g.reduce)}"

    # ------------------------------------------------------------- features
    def features(self, arch: Any) -> np.ndarray:
        """One-hot op and input of each of the 16 pairs (normal then reduction cell):
        entries ``12 k + j`` for op ``j`` of pair ``k`` (7 ops) and ``12 k + 7 + i`` for
        input ``i`` (0..4): 192 entries."""
        g = self.parse(arch)
        out = np.zeros(2 * 2 * NUM_NODES * 12, dtype=np.float32)
        for k, (op, source) in enumerate(g.normal + g.reduce):
            out[12 * k + DARTS_OPS.index(op)] = 1.0
            out[12 * k + 7 + source] = 1.0
        return out

    # ------------------------------------------------------------ cell graphs
    def cell(self, arch: Any, kind: str = "normal") -> Cell:
        """One searched cell as an ops-on-nodes graph (see the class docstring)."""
        if kind not in ("normal", "reduce"):
            raise ValueError(f"kind must be 'normal' or 'reduce', got {kind!r}")
        g = self.parse(arch)
        return _cell_graph(g.normal if kind == "normal" else g.reduce, kind)

    def reduction_positions(self) -> tuple[int, int]:
        """Positions of the two reduction cells in :meth:`cell_sequence`."""
        return self.layers // 3, 2 * self.layers // 3

    def cell_sequence(self, arch: Any) -> list[Cell]:
        g = self.parse(arch)
        normal, reduce = _cell_graph(g.normal, "normal"), _cell_graph(g.reduce, "reduce")
        red = self.reduction_positions()
        return [reduce if i in red else normal for i in range(self.layers)]

    # ------------------------------------------------------ sampling, mutation
    def sample(self, num: int, rng: np.random.Generator) -> list[str]:
        """DARTS's random architectures: per node two distinct inputs drawn uniformly from
        the earlier ones, and uniform ops (independently for both cells)."""
        check_positive_int("num", num, minimum=0)
        out = []
        for _ in range(num):
            cells = []
            for _cell in range(2):
                pairs = []
                for node in range(NUM_NODES):
                    inputs = rng.choice(node + 2, 2, replace=False)
                    ops = rng.integers(len(DARTS_OPS), size=2)
                    pairs += [(DARTS_OPS[int(o)], int(i)) for o, i in zip(ops, inputs)]
                cells.append(tuple(pairs))
            out.append(self.to_string(DARTSGenotype(*cells)))
        return out

    def mutate(self, arch: Any, rng: np.random.Generator) -> str:
        """One choice changed: the op or the input of one pair of one cell, uniform over
        every valid change (an input stays distinct from its node's other input)."""
        g = self.parse(arch)
        moves = []
        for c, pairs in enumerate((g.normal, g.reduce)):
            for k, (op, source) in enumerate(pairs):
                node, other = k // 2, pairs[k ^ 1][1]
                moves += [(c, k, o, source) for o in DARTS_OPS if o != op]
                moves += [(c, k, op, i) for i in range(node + 2) if i not in (source, other)]
        c, k, op, source = moves[int(rng.integers(len(moves)))]
        cells = [list(g.normal), list(g.reduce)]
        cells[c][k] = (op, source)
        return self.to_string(DARTSGenotype(tuple(cells[0]), tuple(cells[1])))


def _from_canonical(text: str) -> DARTSGenotype:
    normal, sep, reduce = text.partition("/reduce:")
    if not sep:
        raise ValueError(f"malformed DARTS string {text!r}: expected "
                         "'normal:op~i,op~j|...|op~i,op~j/reduce:...'")
    cells = []
    for name, body in (("normal", normal[len("normal:"):]), ("reduce", reduce)):
        nodes = body.split("|")
        if len(nodes) != NUM_NODES:
            raise ValueError(f"malformed DARTS string {text!r}: the {name} cell needs "
                             f"{NUM_NODES} nodes separated by '|', found {len(nodes)}")
        pairs = []
        for node in nodes:
            for token in node.split(","):
                op, tilde, source = token.partition("~")
                if not tilde or not source.isdigit():
                    raise ValueError(f"malformed token {token!r} in {text!r}: expected "
                                     "'<op>~<input>'")
                pairs.append((op, int(source)))
        cells.append(check_cell(pairs, name))
    return DARTSGenotype(*cells)


@lru_cache(maxsize=65536)
def _cell_key(pairs: tuple) -> str:
    exprs = ["a", "b"]  # c_{k-2}, c_{k-1}
    for node in range(NUM_NODES):
        terms = sorted(f"{op}({exprs[source]})" for op, source in pairs[2 * node:2 * node + 2])
        exprs.append("[" + "+".join(terms) + "]")
    return ",".join(sorted(exprs[2:]))


@lru_cache(maxsize=65536)
def _cell_graph(pairs: tuple, kind: str) -> Cell:
    # Topological order: 0 c_{k-2}, 1 c_{k-1}; then per intermediate node n its two ops
    # (2 + 3n, 3 + 3n) and its add (4 + 3n); 14 the output.
    ops, edges = [INPUT_PREV, INPUT], []
    add = [4 + 3 * n for n in range(NUM_NODES)]
    for n in range(NUM_NODES):
        for j in range(2):
            op, source = pairs[2 * n + j]
            pos = 2 + 3 * n + j
            ops.append(op)
            edges += [(source if source < 2 else add[source - 2], pos), (pos, add[n])]
        ops.append(ADD)
    ops.append(OUTPUT)
    edges += [(a, 3 * NUM_NODES + 2) for a in add]
    return Cell(ops=tuple(ops), edges=tuple(sorted(edges)), kind=kind)
