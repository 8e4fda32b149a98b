"""DARTS genotypes: the value type, and reading DARTS's and NASLib's ways of writing one.

A genotype is two cells (normal, reduction). Each cell has four intermediate nodes; node
``k`` (numbered 2..5 in DARTS) sums two ops, each applied to an input: ``0`` = the output of
the cell before the previous one (c_{k-2}), ``1`` = the previous cell (c_{k-1}), ``2..`` =
an earlier intermediate node. The cell output concatenates all four intermediate nodes.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any, Sequence

from hypernas_pyg.spaces.darts.ops import CONCAT, DARTS_OPS, NUM_NODES

Pair = tuple[str, int]


@dataclass(frozen=True)
class DARTSGenotype:
    """Normal and reduction cell, each eight ``(op, input)`` pairs: two per node, in node order."""

    normal: tuple[Pair, ...]
    reduce: tuple[Pair, ...]

    def cells(self) -> dict[str, tuple[Pair, ...]]:
        return {"normal": self.normal, "reduce": self.reduce}

    def to_darts(self) -> str:
        """DARTS's own ``Genotype(...)`` form (``genotypes.py`` of the DARTS code)."""
        def fmt(pairs):
            return "[" + ", ".join(f"({op!r}, {i})" for op, i in pairs) + "]"
        return (f"Genotype(normal={fmt(self.normal)}, normal_concat=range(2, 6), "
                f"reduce={fmt(self.reduce)}, reduce_concat=range(2, 6))")

    def to_compact(self) -> tuple[tuple[tuple[int, int], ...], tuple[tuple[int, int], ...]]:
        """NASLib's compact encoding: per cell, eight ``(input, op_index)`` pairs."""
        return tuple(tuple((i, DARTS_OPS.index(op)) for op, i in pairs)
                     for pairs in (self.normal, self.reduce))


def check_cell(pairs: Sequence[Any], cell: str) -> tuple[Pair, ...]:
    """Validates one cell's eight (op, input) pairs; ``ValueError`` names the fault."""
    pairs = list(pairs)
    if len(pairs) != 2 * NUM_NODES:
        raise ValueError(f"the {cell} cell needs {2 * NUM_NODES} (op, input) pairs (two per "
                         f"node, {NUM_NODES} nodes), got {len(pairs)}")
    out = []
    for k, pair in enumerate(pairs):
        node = k // 2
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise ValueError(f"{cell} cell, pair {k}: expected (op, input), got {pair!r}")
        op, source = pair
        if op == "none":
            raise ValueError(f"{cell} cell, node {node + 2}: op 'none' is not a choice of a "
                             f"derived DARTS genotype; allowed: {', '.join(DARTS_OPS)}")
        if op not in DARTS_OPS:
            raise ValueError(f"{cell} cell, node {node + 2}: unknown op {op!r}; allowed: "
                             f"{', '.join(DARTS_OPS)}")
        if isinstance(source, bool) or not isinstance(source, int) or \
                not 0 <= source < node + 2:
            raise ValueError(f"{cell} cell, node {node + 2}: input {source!r} is not an earlier "
                             f"node; node {node + 2} reads 0 (c_k-2), 1 (c_k-1)"
                             + (f" or 2..{node + 1}" if node else ""))
        out.append((op, int(source)))
    for node in range(NUM_NODES):
        a, b = out[2 * node][1], out[2 * node + 1][1]
        if a == b:
            raise ValueError(f"{cell} cell, node {node + 2}: both pairs read input {a}; a DARTS "
                             "node takes two distinct inputs")
    return tuple(out)


def _check_concat(concat: Any, cell: str) -> None:
    if isinstance(concat, range):
        concat = list(concat)
    if concat is None:
        return
    if list(concat) != list(CONCAT):
        raise ValueError(f"{cell}_concat must be range(2, 6) (every intermediate node), got "
                         f"{concat!r}")


def _flatten(pairs: Any) -> list:
    """Accepts the flat list of eight pairs or a list of four per-node pairs of pairs."""
    pairs = list(pairs)
    if len(pairs) == NUM_NODES and all(isinstance(p, (list, tuple)) and len(p) == 2 and
                                       all(isinstance(q, (list, tuple)) for q in p)
                                       for p in pairs):
        return [q for p in pairs for q in p]
    return pairs


def from_mapping(value: Any) -> DARTSGenotype:
    """From an object or dict with ``normal`` / ``reduce`` (and optional ``*_concat``)."""
    get = value.get if isinstance(value, dict) else lambda k, d=None: getattr(value, k, d)
    for cell in ("normal", "reduce"):
        if get(cell) is None:
            raise ValueError(f"a DARTS genotype needs a {cell!r} cell; got {value!r}")
        _check_concat(get(f"{cell}_concat"), cell)
    return DARTSGenotype(check_cell(_flatten(get("normal")), "normal"),
                         check_cell(_flatten(get("reduce")), "reduce"))


def from_compact(value: Sequence[Any]) -> DARTSGenotype:
    """From NASLib's compact ``[[normal], [reduce]]`` of ``(input, op_index)`` pairs."""
    cells = []
    for cell, pairs in zip(("normal", "reduce"), value):
        converted = []
        for k, pair in enumerate(pairs):
            if not isinstance(pair, (tuple, list)) or len(pair) != 2 or \
                    not all(isinstance(x, int) and not isinstance(x, bool) for x in pair):
                raise ValueError(f"compact {cell} cell, pair {k}: expected (input, op_index) "
                                 f"integers, got {pair!r}")
            source, op = pair
            if not 0 <= op < len(DARTS_OPS):
                raise ValueError(f"compact {cell} cell, pair {k}: op index {op} is not in "
                                 f"0..{len(DARTS_OPS) - 1} ({', '.join(DARTS_OPS)})")
            converted.append((DARTS_OPS[op], source))
        cells.append(check_cell(converted, cell))
    return DARTSGenotype(*cells)


def _literal(node: ast.AST, text: str) -> Any:
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
            node.func.id == "range" and not node.keywords:
        return range(*[_literal(a, text) for a in node.args])
    try:
        return ast.literal_eval(node)
    except ValueError:
        raise ValueError(f"cannot read {ast.get_source_segment(text, node)!r} in a DARTS "
                         "genotype: only literals and range(...) are allowed") from None


def from_text(text: str) -> DARTSGenotype:
    """From ``Genotype(normal=..., reduce=...)`` (an optional ``NAME=`` prefix is dropped) or
    the repr of NASLib's compact encoding. Parsed, never evaluated."""
    body = text.strip()
    head, sep, rest = body.partition("=")
    if sep and head.strip().isidentifier() and not head.strip().startswith("Genotype") and \
            "(" not in head:
        body = rest.strip()
    try:
        tree = ast.parse(body, mode="eval").body
    except SyntaxError:
        raise ValueError(f"malformed DARTS genotype {text!r}: expected Genotype(normal=[...], "
                         "normal_concat=..., reduce=[...], reduce_concat=...), NASLib's compact "
                         "[[normal], [reduce]] or the canonical string") from None
    if isinstance(tree, ast.Call):
        if not (isinstance(tree.func, ast.Name) and tree.func.id == "Genotype") or tree.args:
            raise ValueError(f"malformed DARTS genotype {text!r}: expected Genotype(...) with "
                             "keyword arguments")
        fields = {k.arg: _literal(k.value, body) for k in tree.keywords}
        unknown = sorted(set(fields) - {"normal", "normal_concat", "reduce", "reduce_concat"})
        if unknown:
            raise ValueError(f"unknown Genotype field(s) {unknown}; DARTS genotypes have normal, "
                             "normal_concat, reduce, reduce_concat")
        return from_mapping(fields)
    value = _literal(tree, body)
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return from_compact(value)
    raise ValueError(f"malformed DARTS genotype {text!r}")
