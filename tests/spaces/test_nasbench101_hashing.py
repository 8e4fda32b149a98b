"""NAS-Bench-101 module hash, pruning and enumeration against the benchmark's own tables.

The tables (``nb101_specs.csv.gz``: every unique cell and its hash; NASLib's
``zc_nasbench101.json``: 500 raw, unpruned cells) are read from
``$HYPERNAS_MIRROR/nasbench101/``; the tests that need them skip without it.
"""
from __future__ import annotations

import ast
import json
import os
import os.path as osp

import numpy as np
import pandas as pd
import pytest

from hypernas_pyg.datasets.raw_files import MIRROR_ENV
from hypernas_pyg.spaces.nasbench101 import (NB101Catalogue, NB101Cell, enumerate_cells,
                                             hash_module, prune_spec)
from hypernas_pyg.spaces.nasbench101.enumeration import count_labelled_graphs, full_dag_masks
from hypernas_pyg.spaces.nasbench101.hashing import cell_from_bits

from nasbench101_cells import INCEPTION_HASH, INCEPTION_MATRIX, INCEPTION_OPS  # noqa: E402
#: NASLib's op index order in the keys of zc_nasbench101.json.
NASLIB_OPS = ["input", "output", "maxpool3x3", "conv1x1-bn-relu", "conv3x3-bn-relu"]


def _mirror_file(name: str) -> str:
    mirror = os.environ.get(MIRROR_ENV)
    path = osp.join(mirror, "nasbench101", name) if mirror else None
    if path is None or not osp.exists(path):
        pytest.skip(f"{name} not found (set {MIRROR_ENV} to the directory holding nasbench101/)")
    return path


@pytest.fixture(scope="module")
def specs() -> pd.DataFrame:
    return pd.read_csv(_mirror_file("nb101_specs.csv.gz"), keep_default_na=False)


def _random_topological_relabelling(cell: NB101Cell, rng: np.random.Generator) -> NB101Cell:
    """``cell`` with its interior vertices renumbered by a random topological order."""
    matrix = cell.matrix_array
    n = cell.num_vertices
    indegree = matrix.sum(axis=0)
    order, ready = [], [0]
    while ready:
        u = ready.pop(int(rng.integers(len(ready))))
        order.append(u)
        for w in np.flatnonzero(matrix[u]).tolist():
            indegree[w] -= 1
            if indegree[w] == 0:
                ready.append(w)
    assert order[0] == 0 and order[-1] == n - 1  # input / output: unique source / sink
    new = matrix[np.ix_(order, order)]
    return NB101Cell(new, [cell.ops[v] for v in order])


# ----------------------------------------------------------------- the hash
def test_inception_cell_has_the_colab_hash():
    assert hash_module(INCEPTION_MATRIX, INCEPTION_OPS) == INCEPTION_HASH
    assert hash_module(np.array(INCEPTION_MATRIX), INCEPTION_OPS) == INCEPTION_HASH
    assert NB101Cell(INCEPTION_MATRIX, INCEPTION_OPS).module_hash() == INCEPTION_HASH


def test_isomorphic_relabellings_hash_alike_and_changes_do_not():
    rng = np.random.default_rng(0)
    masks = full_dag_masks(7, 9)
    cells = [NB101Cell(INCEPTION_MATRIX, INCEPTION_OPS)] + \
        [cell for _, cell in enumerate_cells(5, 9, progress=False)][::101] + \
        [cell_from_bits(7, int(mask), rng.integers(0, 3, size=5).tolist())
         for mask in rng.choice(masks, size=40, replace=False)]
    relabelled_differently = 0
    for cell in cells:
        key = cell.module_hash()
        for _ in range(4):
            other = _random_topological_relabelling(cell, rng)
            relabelled_differently += other != cell
            assert other.module_hash() == key
        if cell.num_vertices > 2:  # change one interior op
            ops = list(cell.ops)
            ops[1] = "maxpool3x3" if ops[1] != "maxpool3x3" else "conv1x1-bn-relu"
            assert hash_module(cell.matrix, ops) != key
        edge_added = cell.matrix_array  # add the input -> output edge, or drop it
        edge_added[0, -1] = 1 - edge_added[0, -1]
        if edge_added.sum():
            assert hash_module(edge_added, cell.ops) != key
    assert relabelled_differently > 10  # the permutations did move vertices


def test_hash_module_rejects_bad_input():
    with pytest.raises(ValueError, match="square"):
        hash_module([[0, 1, 0]], ["input", "output", "output"])
    with pytest.raises(ValueError, match="2 ops for a 3-vertex"):
        hash_module(np.zeros((3, 3), dtype=int), ["input", "output"])
    with pytest.raises(ValueError, match="unknown op 'conv5x5'"):
        hash_module([[0, 1], [0, 0]], ["input", "conv5x5"])


# ------------------------------------------------------------------ pruning
def test_prune_spec_drops_vertices_off_every_path():
    # vertex 2 only reads the input (a dead end), vertex 3 only feeds the output
    matrix = [[0, 1, 1, 0, 0],
              [0, 0, 0, 0, 1],
              [0, 0, 0, 0, 0],
              [0, 0, 0, 0, 1],
              [0, 0, 0, 0, 0]]
    ops = ["input", "conv3x3-bn-relu", "maxpool3x3", "conv1x1-bn-relu", "output"]
    pruned, pruned_ops = prune_spec(matrix, ops)
    assert pruned.tolist() == [[0, 1, 0], [0, 0, 1], [0, 0, 0]]
    assert pruned_ops == ("input", "conv3x3-bn-relu", "output")
    assert NB101Cell.from_spec(matrix, ops) == NB101Cell(pruned, pruned_ops)
    with pytest.raises(ValueError, match="not pruned: vertex 2"):
        NB101Cell(matrix, ops)


def test_prune_spec_rejects_a_disconnected_cell():
    with pytest.raises(ValueError, match="disconnected"):
        prune_spec([[0, 1, 0], [0, 0, 0], [0, 0, 0]],
                   ["input", "conv3x3-bn-relu", "output"])


def test_naslib_cells_hash_onto_benchmark_rows_after_pruning(specs):
    with open(_mirror_file("zc_nasbench101.json")) as f:
        keys = list(json.load(f)["nasbench101"]["cifar10"])
    assert len(keys) == 500
    known = set(specs["hash"])
    unpruned = 0
    for key in keys:
        flat = ast.literal_eval(key)
        matrix = np.array(flat[:49]).reshape(7, 7)
        ops = [NASLIB_OPS[k] for k in flat[49:]]
        cell = NB101Cell.from_spec(matrix, ops)
        unpruned += cell.num_vertices < 7 or cell.num_edges < matrix.sum()
        assert cell.num_edges <= 9
        assert cell.module_hash() in known
    assert unpruned == 499  # the raw NASLib matrices are not pruned (PROVENANCE.md)


# -------------------------------------------------------------- enumeration
def test_full_dag_masks_and_labelled_graph_count():
    assert full_dag_masks(2, 9).tolist() == [1]
    assert full_dag_masks(3, 9).tolist() == [5, 7]  # 0->1->2 (bits 0, 2), plus 0->2
    assert count_labelled_graphs() == 1_293_208  # PROVENANCE.md


@pytest.mark.parametrize("max_edges", [9, 4])
def test_enumeration_matches_the_benchmark_rows(specs, max_edges):
    catalogue = enumerate_cells(5, max_edges, progress=False)
    edges = specs["edge_bits"].map(lambda b: bin(b).count("1"))
    rows = specs[(specs["num_vertices"] <= 5) & (edges <= max_edges)]
    assert len(catalogue) == len(rows) and (max_edges < 9 or len(rows) == 2532)
    assert [h for h, _ in catalogue] == rows["hash"].tolist()  # same hashes, same order
    # ... and the same representative of every class (nasbench's loop order)
    assert catalogue.num_vertices.tolist() == rows["num_vertices"].tolist()
    assert catalogue.edge_bits.tolist() == rows["edge_bits"].tolist()
    assert all(cell.module_hash() == h for h, cell in catalogue)


def test_enumeration_counts_and_validation():
    assert [len(enumerate_cells(v, progress=False)) for v in (2, 3, 4)] == [1, 7, 91]
    assert len(enumerate_cells(4, 2, progress=False)) == 1 + 3  # 0->1 and 0->1->2 only
    with pytest.raises(ValueError, match="max_vertices must be an int in 2..7, got 8"):
        enumerate_cells(8)
    with pytest.raises(ValueError, match="max_edges must be an int >= 1, got 0"):
        enumerate_cells(4, 0)


# ---------------------------------------------------------------- catalogue
def test_catalogue_csv_round_trip_and_lookup(tmp_path, specs):
    catalogue = enumerate_cells(5, progress=False)
    path = tmp_path / "cells.csv.gz"
    catalogue.to_csv(path)
    again = NB101Catalogue.from_csv(path)
    assert again.hashes.tolist() == catalogue.hashes.tolist()
    assert list(again) == list(catalogue)
    assert again.mismatches() == []
    first, cell = next(iter(again))
    assert again.index(first.upper()) == 0 and first in again and "0" * 32 not in again
    with pytest.raises(KeyError):
        again.index("0" * 32)
    hashes, cells = zip(*list(catalogue)[::-1])
    assert list(NB101Catalogue.from_cells(hashes, cells)) == list(catalogue)  # sorted
    assert len(catalogue.subset(4, 9)) == 91
    full = NB101Catalogue.from_csv(_mirror_file("nb101_specs.csv.gz"))
    assert len(full) == 423_624
    assert full.index(INCEPTION_HASH) == 67206  # PROVENANCE.md
    assert full.cell(67206).module_hash() == INCEPTION_HASH


def test_catalogue_rejects_bad_tables(tmp_path):
    with pytest.raises(ValueError, match="occurs more than once"):
        NB101Catalogue(["a" * 32, "a" * 32], [2, 2], [1, 1], [[], []])
    with pytest.raises(ValueError, match="32 hex digits"):
        NB101Catalogue(["xyz"], [2], [1], [[]])
    with pytest.raises(ValueError, match="differ in length"):
        NB101Catalogue(["a" * 32], [2, 3], [1], [[]])
    path = tmp_path / "bad.csv"
    path.write_text("hash,ops\n")
    with pytest.raises(ValueError, match="not a catalogue file"):
        NB101Catalogue.from_csv(path)
