"""The NAS-Bench-101 search space: parsing, strings, features, skeleton, sampling, mutation.

Small spaces (``max_vertices`` 4 or 5, 91 and 2,532 unique cells) keep the
enumeration behind sampling and mutation fast.
"""
from __future__ import annotations

import dataclasses
import os
import os.path as osp
import pickle
from collections import Counter
from types import SimpleNamespace

import numpy as np
import pytest
from scipy.stats import chisquare

from hypernas_pyg.datasets.raw_files import MIRROR_ENV
from hypernas_pyg.spaces import Cell, SearchSpace
from hypernas_pyg.spaces.nasbench101 import (NASBench101Space, NB101Catalogue, NB101Cell,
                                             enumerate_cells, hash_module)

from nasbench101_cells import INCEPTION_HASH, INCEPTION_MATRIX, INCEPTION_OPS  # noqa: E402

INCEPTION = "in-c1-c3-c3-c3-mp-out:0111010.0000001.0000001.0000100.0000001.0000001.0000000"
C3, C1, MP = "conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3"


@pytest.fixture
def space() -> NASBench101Space:
    return NASBench101Space()


@pytest.fixture(scope="module")
def small_catalogue() -> NB101Catalogue:
    return enumerate_cells(5, progress=False)


# ---------------------------------------------------------- construction
def test_config_equality_and_interface(space):
    assert isinstance(space, SearchSpace) and space.name == "nasbench101" and space.prune
    assert space.get_config() == {"max_vertices": 7, "max_edges": 9}
    assert NASBench101Space(**NASBench101Space(5, 6).get_config()) == NASBench101Space(5, 6)
    assert NASBench101Space(5) != space
    assert space.node_types == ("input", "output", C3, C1, MP, "maxpool2x2")
    assert NASBench101Space(catalogue=enumerate_cells(3, progress=False)) == space  # not config


@pytest.mark.parametrize("kwargs, match", [
    ({"max_vertices": 8}, r"max_vertices must be an int in 2\.\.7, got 8"),
    ({"max_vertices": 1}, r"max_vertices must be an int in 2\.\.7, got 1"),
    ({"max_vertices": 5.0}, r"max_vertices .* got 5\.0"),
    ({"max_edges": 0}, r"max_edges must be an int in 1\.\.21, got 0"),
    ({"max_edges": 22}, r"max_edges .* got 22"),
    ({"max_edges": True}, r"max_edges .* got True"),
    ({"catalogue": ["a" * 32]}, r"a catalogue is an NB101Catalogue .* got list"),
])
def test_constructor_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        NASBench101Space(**kwargs)


# ------------------------------------------------------------------ parse
def test_parse_every_input_form(space):
    cell = space.parse((INCEPTION_MATRIX, INCEPTION_OPS))
    assert isinstance(cell, NB101Cell)
    assert cell.matrix == tuple(map(tuple, INCEPTION_MATRIX)) and cell.ops == tuple(INCEPTION_OPS)
    assert cell.matrix_array.tolist() == INCEPTION_MATRIX
    assert space.parse((np.array(INCEPTION_MATRIX, dtype=np.int8), tuple(INCEPTION_OPS))) == cell
    assert space.parse({"matrix": INCEPTION_MATRIX, "ops": INCEPTION_OPS}) == cell
    assert space.parse([np.array(INCEPTION_MATRIX, dtype=bool), INCEPTION_OPS]) == cell
    assert space.parse(cell) is cell
    assert space.parse(INCEPTION) == cell and space.parse(f"  {INCEPTION}\n") == cell
    model_spec = SimpleNamespace(matrix=np.array(INCEPTION_MATRIX), ops=INCEPTION_OPS)
    assert space.parse(model_spec) == cell
    assert hash(cell) == hash(space.parse(INCEPTION))  # hashable value


def test_string_round_trip(space, small_catalogue):
    assert space.to_string(space.parse(INCEPTION)) == INCEPTION
    assert space.validate((INCEPTION_MATRIX, INCEPTION_OPS)) == INCEPTION
    small = NASBench101Space(5)
    for _, cell in list(small_catalogue)[::50]:
        text = small.to_string(cell)
        assert small.parse(text) == cell and small.validate(text) == text
    assert space.to_string(space.parse("in-out:01.00")) == "in-out:01.00"


def test_unpruned_pair_gives_the_pruned_cell(space):
    # 8 raw vertices (more than max_vertices) and 9 edges; 5 vertices and 6 edges after
    # pruning: vertices 2 and 6 have no path to the output, vertex 5 none from the input
    matrix = np.zeros((8, 8), dtype=int)
    for i, j in [(0, 1), (0, 2), (1, 3), (1, 4), (3, 7), (4, 7), (2, 6), (5, 7), (0, 4)]:
        matrix[i, j] = 1
    ops = ["input", C3, C1, MP, C1, C3, MP, "output"]
    cell = space.parse((matrix, ops))
    assert cell.ops == ("input", C3, MP, C1, "output")
    assert cell.edges == ((0, 1), (0, 3), (1, 2), (1, 3), (2, 4), (3, 4))
    assert space.to_string(cell) == "in-c3-mp-c1-out:01010.00110.00001.00001.00000"
    assert space.canonical_key((matrix, ops)) == hash_module(cell.matrix, cell.ops)


def test_parse_by_hash_needs_a_catalogue(space, small_catalogue):
    with pytest.raises(ValueError, match="needs the table of cells: the NASBench101 dataset"):
        space.parse(INCEPTION_HASH)
    space.set_catalogue(NB101Catalogue.from_cells([INCEPTION_HASH],
                                                  [NB101Cell(INCEPTION_MATRIX, INCEPTION_OPS)]))
    assert space.to_string(space.parse(INCEPTION_HASH.upper())) == INCEPTION
    with pytest.raises(ValueError, match="unknown module hash '0{32}': not among the 1 cells"):
        space.parse("0" * 32)
    small = NASBench101Space(4, catalogue=small_catalogue)
    assert len(small.catalogue) == 91  # rows beyond the limits dropped
    some_hash, some_cell = next(iter(small.catalogue))
    assert small.parse(some_hash) == some_cell
    assert small.canonical_key(some_hash) == some_hash


def test_parse_by_hash_with_the_benchmark_table():
    path = osp.join(os.environ.get(MIRROR_ENV, ""), "nasbench101", "nb101_specs.csv.gz")
    if not os.environ.get(MIRROR_ENV) or not osp.exists(path):
        pytest.skip(f"nb101_specs.csv.gz not found (set {MIRROR_ENV})")
    space = NASBench101Space(catalogue=NB101Catalogue.from_csv(path))
    assert space.num_archs == 423_624
    assert space.canonical_key(space.parse(INCEPTION_HASH)) == INCEPTION_HASH


@pytest.mark.parametrize("arch, match", [
    (([[0, 1, 0], [0, 0, 1]], ["input", C3, "output"]), r"square .* got shape \(2, 3\)"),
    (([[0, 1], [0]], ["input", "output"]), "square"),
    (([[0]], ["input"]), "at least 2 vertices"),
    (([[0, 2], [0, 0]], ["input", "output"]), "entries must be 0 or 1, got 2"),
    (([[0, "x"], [0, 0]], ["input", "output"]), "entries must be 0 or 1"),
    (([[0, 1], [1, 0]], ["input", "output"]), "upper-triangular .* row 1, column 0"),
    (([[1, 1], [0, 0]], ["input", "output"]), "upper-triangular .* row 0, column 0"),
    (([[0, 1], [0, 0]], ["input", C3, "output"]), "got 3 ops for a 2-vertex matrix"),
    (([[0, 1, 0], [0, 0, 1], [0, 0, 0]], ["input", "conv5x5", "output"]),
     r"unknown op 'conv5x5' at vertex 1; allowed interior ops: conv3x3-bn-relu, "
     r"conv1x1-bn-relu, maxpool3x3"),
    (([[0, 1, 0], [0, 0, 1], [0, 0, 0]], ["input", "output", "output"]), "unknown op 'output'"),
    (([[0, 1, 0], [0, 0, 1], [0, 0, 0]], [C3, C3, "output"]), "first op must be 'input'"),
    (([[0, 1, 0], [0, 0, 1], [0, 0, 0]], ["input", C3, C1]), "last op must be 'output'"),
    (([[0, 1, 0], [0, 0, 0], [0, 0, 0]], ["input", C3, "output"]), "disconnected"),
    ({"matrix": [[0, 1], [0, 0]]}, r"missing \['ops'\]"),
    ({"matrix": [[0, 1], [0, 0]], "ops": ["input", "output"], "hash": ""},
     r"unknown \['hash'\]"),
    (42, "from a int"),
    (np.zeros((3, 3)), "from a ndarray"),
    (SimpleNamespace(matrix=None, ops=None), "disconnected"),
    ("in-c3-out", "Malformed NAS-Bench-101 string"),
    ("in-c3-out:011.001:000", "Malformed"),
    ("in-c5-out:011.001.000", r"Unknown op code 'c5' .* allowed codes: in \(input\)"),
    ("in-c3-out:011.0a1.000", "entries must be 0 or 1: row 1"),
    ("in-c3-out:011.01.000", "square"),
    ("in-c3-out:0110.0010.0001.0000", "got 3 ops for a 4-vertex matrix"),
    ("in-c3-out:010.000.000", r"output vertex is not reachable"),
])
def test_parse_errors_name_the_fault(space, arch, match):
    with pytest.raises(ValueError, match=match):
        space.parse(arch)


def test_limits_are_counted_after_pruning():
    space = NASBench101Space(4, 4)
    # 5 raw vertices, vertex 3 dead (no path to the output): 4 vertices after pruning
    matrix = [[0, 1, 1, 0, 0],
              [0, 0, 0, 1, 1],
              [0, 0, 0, 0, 1],
              [0, 0, 0, 0, 0],
              [0, 0, 0, 0, 0]]
    cell = space.parse((matrix, ["input", C3, C1, MP, "output"]))
    assert cell.num_vertices == 4 and cell.num_edges == 4
    with pytest.raises(ValueError, match="has 5 vertices; this space allows at most 4 "
                                         r"\(max_vertices\)"):
        space.parse("in-c3-c3-c3-out:01000.00100.00010.00001.00000")
    with pytest.raises(ValueError, match="has 5 edges; this space allows at most 4 "
                                         r"\(max_edges\)"):
        space.parse("in-c3-c3-out:0111.0010.0001.0000")
    with pytest.raises(ValueError, match="has 15 edges; this space allows at most 9"):
        NASBench101Space().parse("in-c3-c3-c3-c3-out:011111.001111.000111.000011.000001.000000")


def test_nb101cell_checks_and_normalises():
    cell = NB101Cell(np.array([[0, 1], [0, 0]]), ["input", "output"])
    assert cell.matrix == ((0, 1), (0, 0)) and cell.ops == ("input", "output")
    assert type(cell.matrix[0][1]) is int and cell.num_edges == 1 and cell.edge_bits == 1
    assert NB101Cell([[0, 1, 0], [0, 0, 1], [0, 0, 0]], np.array(["input", MP, "output"])).ops \
        == ("input", MP, "output")
    with pytest.raises(ValueError, match="not pruned: vertex 1"):
        NB101Cell([[0, 0, 1], [0, 0, 1], [0, 0, 0]], ["input", C3, "output"])
    inception = NB101Cell(INCEPTION_MATRIX, INCEPTION_OPS)
    assert pickle.loads(pickle.dumps(inception)) == inception
    with pytest.raises(dataclasses.FrozenInstanceError):
        inception.ops = ()


# ------------------------------------------------------------ encodings
def test_canonical_key_is_the_module_hash_and_isomorphism_invariant(space):
    assert space.canonical_key(INCEPTION) == INCEPTION_HASH
    # swap the interior vertices 1 and 2 of a two-branch cell: same class
    a = "in-c3-mp-out:0110.0001.0001.0000"
    b = "in-mp-c3-out:0110.0001.0001.0000"
    assert space.canonical_key(a) == space.canonical_key(b) and space.validate(a) != \
        space.validate(b)
    assert space.canonical_key("in-c3-c3-out:0110.0001.0001.0000") != space.canonical_key(a)


def test_features_layout(space):
    f = space.features(INCEPTION)
    assert f.dtype == np.float32 and f.shape == (36,) == (space.num_features,)
    upper = np.array(INCEPTION_MATRIX)[np.triu_indices(7, k=1)]
    assert f[:21].tolist() == upper.tolist()
    ops = f[21:].reshape(5, 3)
    assert ops.tolist() == [[0, 1, 0], [1, 0, 0], [1, 0, 0], [1, 0, 0], [0, 0, 1]]
    # a 4-vertex cell: input->1->2->output; padding goes in before the output (vertex 6)
    g = space.features("in-c1-mp-out:0100.0010.0001.0000")
    padded = np.zeros((7, 7))
    padded[0, 1] = padded[1, 2] = padded[2, 6] = 1
    assert g[:21].tolist() == padded[np.triu_indices(7, k=1)].tolist()
    assert g[21:].reshape(5, 3).tolist() == [[0, 1, 0], [0, 0, 1]] + [[0, 0, 0]] * 3
    assert space.features("in-out:01.00").tolist() == [0] * 5 + [1] + [0] * 30


# ------------------------------------------------------------ skeleton
def test_cell_sequence(space):
    cells = space.cell_sequence(INCEPTION)
    assert len(cells) == 11
    assert [c.kind for c in cells] == ["normal"] * 3 + ["reduction"] + ["normal"] * 3 + \
        ["reduction"] + ["normal"] * 3
    normal = cells[0]
    assert normal.ops == tuple(INCEPTION_OPS) and len(normal.ops) == 7
    assert normal.edges == ((0, 1), (0, 2), (0, 3), (0, 5), (1, 6), (2, 6), (3, 4), (4, 6),
                            (5, 6))
    assert all(c == normal for k, c in enumerate(cells) if k not in (3, 7))
    assert cells[3] == cells[7] == Cell(ops=("input", "maxpool2x2", "output"),
                                        edges=((0, 1), (1, 2)), kind="reduction")
    pruned = space.cell_sequence("in-c3-mp-out:0100.0011.0001.0000")
    assert [len(c.ops) for c in pruned] == [4, 4, 4, 3, 4, 4, 4, 3, 4, 4, 4]
    assert all(op in space.node_types for c in cells for op in c.ops)


def test_proxy_cell_positions(space):
    assert space.proxy_cell_positions() == tuple(range(11))
    assert space.proxy_cell_positions(3, 1) == (0, -1, -1, 1, 2, -1, -1, 3, 4, -1, -1)
    assert space.proxy_cell_positions(3, 2) == (0, 1, -1, 2, 3, 4, -1, 5, 6, 7, -1)
    assert space.proxy_cell_positions(1, 3) == (0, 1, 2) + (-1,) * 8
    assert space.proxy_cell_positions(2, 1) == (0, -1, -1, 1, 2, -1, -1, -1, -1, -1, -1)
    for bad in (0, 4, True):
        with pytest.raises(ValueError, match=r"cells_per_stack must be an int in 1\.\.3"):
            space.proxy_cell_positions(3, bad)
    with pytest.raises(ValueError, match=r"num_stacks must be an int in 1\.\.3, got 4"):
        space.proxy_cell_positions(4, 3)


# ------------------------------------------------------- sampling, mutation
def test_sample_is_uniform_over_classes_and_reproducible():
    space = NASBench101Space(4)
    rng = np.random.default_rng(0)
    draws = space.sample(9100, rng)
    keys = Counter(space.canonical_key(d) for d in draws)
    assert len(space.catalogue) == 91 and set(keys) == set(space.catalogue.hashes.astype(str))
    counts = np.array(list(keys.values()))
    assert chisquare(counts).pvalue > 1e-3  # 100 expected per class
    # uniform over the 97 labelled graphs would give the 6 classes with two labelled
    # members about 188 draws each: far outside this test's tolerance
    assert counts.max() < 150
    assert space.sample(20, np.random.default_rng(7)) == space.sample(20, np.random.default_rng(7))
    assert space.sample(0, rng) == []
    with pytest.raises(ValueError, match="num must be an integer >= 0, got -1"):
        space.sample(-1, rng)


def test_sample_uses_a_given_catalogue_and_caches_the_enumeration(small_catalogue):
    space = NASBench101Space(5, catalogue=small_catalogue)
    assert space.ensure_catalogue() is space.catalogue
    assert all(space.canonical_key(a) in small_catalogue
               for a in space.sample(50, np.random.default_rng(1)))
    fresh = NASBench101Space(3)
    assert fresh.catalogue is None
    assert sorted(fresh.all_archs()) == sorted(
        ["in-out:01.00"] + [f"in-{c}-out:{r}" for c in ("c3", "c1", "mp")
                             for r in ("010.001.000", "011.001.000")])
    assert fresh.catalogue is fresh.ensure_catalogue() and fresh.num_archs == 7


def test_mutate_gives_valid_different_neighbours(small_catalogue):
    space = NASBench101Space(5, 6, catalogue=small_catalogue)
    rng = np.random.default_rng(3)
    grew = 0
    for arch in space.sample(200, rng):
        child = space.mutate(arch, rng)
        assert space.validate(child) == child  # valid in the space, canonical string
        assert space.canonical_key(child) != space.canonical_key(arch)
        parent, new = space.parse(arch), space.parse(child)
        assert new.num_vertices <= parent.num_vertices + 1
        if new.num_vertices == parent.num_vertices + 1:  # a vertex on a new path u -> w -> v
            grew += 1
            assert new.num_edges == parent.num_edges + 2
        elif new.num_vertices == parent.num_vertices:  # one flip or one op change
            changed = int((parent.matrix_array != new.matrix_array).sum()) + \
                sum(a != b for a, b in zip(parent.ops, new.ops))
            assert changed == 1
    assert grew > 0  # cells can grow, so evolution does not drift towards small cells
    assert space.mutate("in-c3-out:011.001.000", np.random.default_rng(5)) == \
        space.mutate("in-c3-out:011.001.000", np.random.default_rng(5))
    # The 2-vertex cell grows (a vertex between input and output) or stays: never invalid.
    assert space.parse(space.mutate("in-out:01.00", rng)).num_vertices == 3
    tiny = NASBench101Space(2, 1)
    with pytest.raises(ValueError, match="in-out:01.00 has no valid neighbour"):
        tiny.mutate("in-out:01.00", rng)
