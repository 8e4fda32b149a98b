import io

import numpy as np
import pytest
import torch
from torch_geometric.data import Batch
from torch_geometric.loader import DataLoader

from hypernas_pyg.data import ArchData, arch_to_data
from hypernas_pyg.data.collate import NODE_KEYS, ShuffledBatches, collate_in_memory
from hypernas_pyg.spaces import NASBench201Space

SPACE = NASBench201Space()


def _some(n=4, seed=0):
    archs = SPACE.sample(n, np.random.default_rng(seed))
    return [arch_to_data(a, SPACE, y=[i, 2 * i], arch_id=i) for i, a in enumerate(archs)]


def test_arch_data_fields():
    d = _some(1)[0]
    normal = len(SPACE.pruned_cell(d.arch).ops)  # the default graphs hold pruned cells
    assert normal < 8 and d.num_nodes == 15 * normal + 2 * 5 and d.num_cells == 17
    full = arch_to_data(d.arch, NASBench201Space(prune=False))
    assert full.num_nodes == 15 * 8 + 2 * 5 and full.num_cells == 17
    assert torch.equal(d.x.argmax(-1), d.op)
    assert torch.equal(d.rev_edge_index, d.edge_index.flip(0))
    assert d.y.shape == (1, 2)
    # Edges never cross cells.
    assert torch.equal(d.cell_pos[d.edge_index[0]], d.cell_pos[d.edge_index[1]])
    assert len(ArchData().keys()) == 0  # constructible without arguments


def test_batching_round_trip_is_exact():
    data = _some(5)
    batch = Batch.from_data_list(data)
    assert batch.y.shape == (5, 2)
    assert torch.equal(batch.arch_id, torch.arange(5))  # not shifted
    assert int(batch.cell_pos.max()) == 16  # not shifted
    # The reversed edge index is shifted like edge_index.
    assert torch.equal(batch.rev_edge_index, batch.edge_index.flip(0))
    for before, after in zip(data, batch.to_data_list()):
        assert before.keys() == after.keys()
        for key in before.keys():
            a, b = before[key], after[key]
            assert torch.equal(a, b) if torch.is_tensor(a) else a == b, key


@pytest.mark.parametrize("index", [[3, 7, 15000, 7], [100, 101, 102, 103], [42]])
def test_collate_in_memory_matches_from_data_list(nb201, index):
    # Scattered positions are gathered; consecutive ones are copied as spans.
    ref = Batch.from_data_list([nb201[i] for i in index])
    got = collate_in_memory(nb201, index)
    for key in ("x", "cell_pos", "edge_index", "rev_edge_index", "y", "batch", "ptr"):
        assert torch.equal(ref[key], got[key]), key
    stored = nb201[index[0]].x.clone()
    got.x.add_(1.0)  # a copy, not a view of the storage
    assert torch.equal(nb201[index[0]].x, stored)
    sub = nb201[torch.tensor([5, 9, 11])]
    assert torch.equal(collate_in_memory(sub, [2, 0]).x,
                       Batch.from_data_list([nb201[11], nb201[5]]).x)


def test_shuffled_batches_are_the_data_loaders():
    # Same graphs in the same order, epoch after epoch, with the node types and the
    # architecture strings when asked for, and the generators left in the same state.
    data = _some(7, seed=3)
    for i, d in enumerate(data):
        d.target = torch.tensor([0.5 * i])
    gen_a, gen_b = torch.Generator().manual_seed(11), torch.Generator().manual_seed(11)
    loader = DataLoader(data, batch_size=3, shuffle=True, generator=gen_a,
                        exclude_keys=["arch_id", "y"])
    ours = ShuffledBatches(data, 3, gen_b, graph_keys=("target", "arch"),
                           node_keys=NODE_KEYS + ("op",))
    assert len(ours) == len(loader) == 3
    for _ in range(2):
        pairs = list(zip(loader, ours, strict=True))
        for ref, got in pairs:
            assert got.arch == ref.arch and got.num_graphs == ref.num_graphs
            for key in ("x", "op", "cell_pos", "edge_index", "rev_edge_index", "target",
                        "batch", "ptr"):
                assert torch.equal(ref[key], got[key]), key
        assert torch.equal(gen_a.get_state(), gen_b.get_state())
    one = next(iter(ShuffledBatches(data[:1], 1, torch.Generator(), graph_keys=("arch",))))
    assert one.arch == [data[0].arch] and "op" not in one and "target" not in one


def test_arch_data_loads_with_weights_only():
    buf = io.BytesIO()
    d = _some(1)[0]
    torch.save(d, buf)
    buf.seek(0)
    loaded = torch.load(buf, weights_only=True)
    assert isinstance(loaded, ArchData) and torch.equal(loaded.edge_index, d.edge_index)
