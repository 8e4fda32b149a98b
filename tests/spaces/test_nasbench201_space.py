import os.path as osp

import numpy as np
import pandas as pd
import pytest

from hypernas_pyg.spaces import NASBench201Space, SearchSpace, space_resolver

BEST = ("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|"
        "+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|")


@pytest.fixture
def space():
    return NASBench201Space()


def test_parse_round_trip(space):
    ops = space.parse(BEST)
    assert ops == ("nor_conv_3x3", "nor_conv_3x3", "nor_conv_3x3",
                   "skip_connect", "nor_conv_3x3", "nor_conv_1x1")
    assert space.to_string(ops) == BEST
    assert space.validate("  " + BEST + " ") == BEST


@pytest.mark.parametrize("bad, fragment", [
    (BEST.replace("nor_conv_1x1~2", "conv_7x7~2"), "'conv_7x7'"),
    (BEST.replace("skip_connect~0", "skip_connect~1"), "'skip_connect~1'"),
    ("|none~0|+|none~0|none~1|", "3 node groups"),
    ("none~0|+|none~0|none~1|+|none~0|none~1|none~2|", "Malformed"),
    ("|none~0|+|none~0|+|none~0|none~1|none~2|", "node 2 needs 2"),
])
def test_parse_errors_name_the_bad_token(space, bad, fragment):
    with pytest.raises(ValueError) as err:
        space.parse(bad)
    assert fragment in str(err.value)


def test_unknown_op_lists_allowed_ops(space):
    with pytest.raises(ValueError, match="allowed ops: none, skip_connect, nor_conv_1x1"):
        space.parse(BEST.replace("nor_conv_1x1", "sep_conv_3x3"))


def test_all_archs_enumerates_the_space_once(space):
    archs = list(space.all_archs())
    assert len(archs) == len(set(archs)) == 15625


def test_canonical_form_groups_like_nats_unique_string(nb201, space):
    table = pd.read_csv(osp.join(nb201.raw_dir, "nats_bench.csv"))
    keys = table["ArchitectureString"].map(space.canonical_key)
    assert keys.nunique() == 6466
    # Same partition: every key maps to one UniqueString and vice versa.
    pairs = pd.DataFrame({"key": keys, "unique": table["UniqueString"]}).drop_duplicates()
    assert len(pairs) == 6466 == table["UniqueString"].nunique()


def test_canonical_key_identifies_skip_and_none_equivalents(space):
    a = "|nor_conv_3x3~0|+|skip_connect~0|none~1|+|none~0|none~1|nor_conv_1x1~2|"
    b = "|nor_conv_3x3~0|+|skip_connect~0|none~1|+|none~0|none~1|nor_conv_1x1~2|".replace(
        "|nor_conv_3x3~0|+", "|avg_pool_3x3~0|+")  # node 1 is off every path in both
    assert space.canonical_key(a) == space.canonical_key(b)
    c = a.replace("nor_conv_1x1~2", "nor_conv_3x3~2")
    assert space.canonical_key(a) != space.canonical_key(c)


def test_cell_graph(space):
    cell = space.cell(BEST)
    assert cell.ops[0] == "input" and cell.ops[-1] == "output" and len(cell.ops) == 8
    assert len(cell.edges) == 10 and all(s < d for s, d in cell.edges)
    # op (1->2) is node 3, it reads op (0->1) = node 1 and feeds op (2->3) = node 6
    assert (1, 3) in cell.edges and (3, 6) in cell.edges and (6, 7) in cell.edges


def test_pruned_cell_drops_none_and_dead_nodes(space):
    cell = space.pruned_cell("|none~0|+|nor_conv_1x1~0|none~1|+|none~0|none~1|avg_pool_3x3~2|")
    assert cell.ops == ("input", "nor_conv_1x1", "avg_pool_3x3", "output")
    assert cell.edges == ((0, 1), (1, 2), (2, 3))
    # An op whose input is unreachable from the cell input is dropped too.
    dead = space.pruned_cell("|none~0|+|none~0|none~1|+|none~0|none~1|nor_conv_3x3~2|")
    assert dead.ops == ("input", "output") and dead.edges == ()


def test_pruned_cell_sources_and_prune_arch(space):
    arch = "|none~0|+|nor_conv_3x3~0|nor_conv_1x1~1|+|skip_connect~0|none~1|nor_conv_3x3~2|"
    cell = space.pruned_cell(arch)
    # Node 1 (edge 0->1) is none, so the 1x1 conv (node 3) reads nothing: both dropped.
    assert cell.source == (0, 2, 4, 6, 7)
    assert [space.cell(arch).ops[i] for i in cell.source] == list(cell.ops)
    assert cell.source_index(6) == 3
    with pytest.raises(KeyError):
        cell.source_index(3)
    pruned = space.prune_arch(arch)
    assert pruned == arch.replace("nor_conv_1x1~1", "none~1")
    assert space.pruned_cell(pruned) == cell and space.prune_arch(pruned) == pruned
    assert space.canonical_key(pruned) == space.canonical_key(arch)
    # Pruning is idempotent and keeps the pruned graph, for every architecture.
    for a in list(space.all_archs())[::37]:
        p = space.prune_arch(a)
        assert space.prune_arch(p) == p and space.pruned_cell(p) == space.pruned_cell(a)


def test_cell_sequence_prunes_unless_told_not_to(space):
    arch = "|none~0|+|nor_conv_3x3~0|nor_conv_1x1~1|+|skip_connect~0|none~1|nor_conv_3x3~2|"
    assert space.prune and repr(space) == "NASBench201Space(cells_per_stage=5, prune=True)"
    assert [len(c.ops) for c in space.cell_sequence(arch)][:6] == [5] * 5 + [5]
    full = NASBench201Space(prune=False)
    assert [len(c.ops) for c in full.cell_sequence(arch)][:6] == [8] * 5 + [5]
    with pytest.raises(ValueError, match="prune must be True or False, got 1"):
        NASBench201Space(prune=1)


def test_cell_sequence_has_reduction_blocks_between_stages(space):
    cells = space.cell_sequence(BEST)
    assert len(cells) == 17
    assert [i for i, c in enumerate(cells) if c.kind == "reduction"] == [5, 11]
    assert NASBench201Space(cells_per_stage=2).cell_sequence(BEST)[2].kind == "reduction"
    with pytest.raises(ValueError, match="cells_per_stage"):
        NASBench201Space(cells_per_stage=0)


def test_sample_is_seeded_and_covers_ops(space):
    a = space.sample(500, np.random.default_rng(1))
    assert a == space.sample(500, np.random.default_rng(1))
    ops = np.array([space.parse(x) for x in a])
    for edge in range(6):
        counts = pd.Series(ops[:, edge]).value_counts()
        assert len(counts) == 5 and counts.min() > 60  # ~100 expected per op


def test_mutate_changes_exactly_one_edge(space):
    rng = np.random.default_rng(0)
    for arch in space.sample(50, rng):
        child = space.mutate(arch, rng)
        diff = sum(a != b for a, b in zip(space.parse(arch), space.parse(child)))
        assert diff == 1


def test_space_resolver():
    assert isinstance(space_resolver("nasbench201"), NASBench201Space)
    s = NASBench201Space()
    assert space_resolver(s) is s
    with pytest.raises(ValueError, match="nasbench201"):
        space_resolver("nasbench999")
    assert issubclass(NASBench201Space, SearchSpace)


def test_proxy_cell_positions():
    space = NASBench201Space(cells_per_stage=5)
    pos = space.proxy_cell_positions(1)
    assert len(pos) == 17
    assert [p for p in pos if p >= 0] == [0, 1, 2, 3, 4]
    assert [i for i, p in enumerate(pos) if p >= 0] == [0, 5, 6, 11, 12]
    assert space.proxy_cell_positions(5) == tuple(range(17))
    two = space.proxy_cell_positions(2)
    assert [i for i, p in enumerate(two) if p >= 0] == [0, 1, 5, 6, 7, 11, 12, 13]
    with pytest.raises(ValueError, match="cells_per_stage must be an int in 1..5"):
        space.proxy_cell_positions(6)


def test_network_sizes():
    space = NASBench201Space(cells_per_stage=2)
    assert space.network_size(None) == {"C": 8, "N": 1}
    assert space.network_size({"C": 4}) == {"C": 4, "N": 1}
    with pytest.raises(ValueError, match="exceeds the cells per stage"):
        NASBench201Space(cells_per_stage=2).network_size("full")
    with pytest.raises(ValueError, match=r"Unknown network size key\(s\) \['depth'\]"):
        space.network_size({"depth": 2})
    with pytest.raises(ValueError, match="Unknown network size 'huge'"):
        space.network_size("huge")
    with pytest.raises(ValueError, match="network size C must be an integer >= 1"):
        space.network_size({"C": 0})


def test_config_round_trip_and_equality():
    space = NASBench201Space(cells_per_stage=3, prune=False)
    assert NASBench201Space(**space.get_config()) == space
    assert space != NASBench201Space(cells_per_stage=3)
    assert repr(space) == "NASBench201Space(cells_per_stage=3, prune=False)"
