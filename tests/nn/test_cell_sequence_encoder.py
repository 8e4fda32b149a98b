import numpy as np
import pytest
import torch
from torch_geometric.data import Batch
from torch_geometric.nn import GINConv

from hypernas_pyg.data import ArchData, arch_to_data
from hypernas_pyg.nn import BiGCNConv, Bidirectional, CellSequenceEncoder, conv_resolver
from hypernas_pyg.spaces import NASBench201Space

SPACE = NASBench201Space(cells_per_stage=2)  # 8 cells: quick
F_IN = SPACE.num_node_types


@pytest.fixture
def batch():
    archs = SPACE.sample(3, np.random.default_rng(0))
    return Batch.from_data_list([arch_to_data(a, SPACE) for a in archs])


def encode(enc, b):
    return enc(b.x, b.edge_index, b.cell_pos, b.batch, b.rev_edge_index, b.num_graphs)


def naive_reference(enc, data):
    """Loop over cells of one graph with explicit injection of z(i-1) (and z(i-2))."""
    v = enc.lin_in(data.x)
    z = z2 = torch.zeros(enc.hidden_channels)
    zs = []
    for i in range(data.num_cells):
        mask = data.cell_pos == i
        ids = mask.nonzero().view(-1)
        remap = torch.full((data.num_nodes,), -1, dtype=torch.long)
        remap[ids] = torch.arange(ids.numel())
        emask = mask[data.edge_index[0]]
        ei = remap[data.edge_index[:, emask]]
        context = {"preceding": z, "preceding2": z + z2}.get(enc.context)
        h = v[ids] + context if context is not None else v[ids]
        for conv in enc.convs:
            h = conv(h, ei)
        z, z2 = h.mean(0), z
        zs.append(z)
    return torch.stack(zs), torch.stack(zs).mean(0)


@pytest.mark.parametrize("context", ["preceding", "none", "preceding2"])
def test_matches_naive_per_graph_loop(batch, context):
    torch.manual_seed(0)
    enc = CellSequenceEncoder(F_IN, 16, num_layers=2, context=context).eval()
    out = encode(enc, batch)
    assert out.cell.shape == (3, 8, 16) and out.graph.shape == (3, 16)
    assert out.node.shape == (batch.num_nodes, 16)
    for g, data in enumerate(batch.to_data_list()):
        cells, h = naive_reference(enc, data)
        torch.testing.assert_close(out.cell[g], cells, atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(out.graph[g], h, atol=1e-5, rtol=1e-4)


def test_injection_makes_cells_see_their_predecessors(batch):
    torch.manual_seed(0)
    pre = encode(CellSequenceEncoder(F_IN, 16, context="preceding"), batch)
    torch.manual_seed(0)
    iso = encode(CellSequenceEncoder(F_IN, 16, context="none"), batch)
    # Same weights: cell 0 (z(0) = 0) agrees, later cells differ.
    torch.testing.assert_close(pre.cell[:, 0], iso.cell[:, 0])
    assert not torch.allclose(pre.cell[:, 1], iso.cell[:, 1])
    # In isolation, identical normal cells give identical z.
    torch.testing.assert_close(iso.cell[:, 0], iso.cell[:, 1])


def test_two_preceding_cells_differ_from_one_from_the_third_cell(batch):
    torch.manual_seed(0)
    one = encode(CellSequenceEncoder(F_IN, 16, context="preceding"), batch)
    torch.manual_seed(0)
    two = encode(CellSequenceEncoder(F_IN, 16, context="preceding2"), batch)
    torch.testing.assert_close(one.cell[:, :2], two.cell[:, :2])  # z(-1) = 0: cells 0, 1 agree
    assert not torch.allclose(one.cell[:, 2], two.cell[:, 2])


def test_positional_context_distinguishes_identical_cells(batch):
    torch.manual_seed(0)
    out = encode(CellSequenceEncoder(F_IN, 16, context="positional"), batch)
    assert not torch.allclose(out.cell[:, 0], out.cell[:, 1])


def test_batch_equivalence(batch):
    torch.manual_seed(0)
    enc = CellSequenceEncoder(F_IN, 16).eval()
    out = encode(enc, batch)
    for g, data in enumerate(batch.to_data_list()):
        single = Batch.from_data_list([data])
        torch.testing.assert_close(encode(enc, single).graph[0], out.graph[g],
                                   atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("conv", ["gin", "transformer"])
def test_swappable_convs_read_both_directions(batch, conv):
    torch.manual_seed(0)
    enc = CellSequenceEncoder(F_IN, 16, conv=conv)
    assert all(isinstance(c, Bidirectional) for c in enc.convs)
    out = encode(enc, batch)
    assert out.graph.shape == (3, 16) and torch.isfinite(out.graph).all()
    # Reading the graph against its edges only must give another embedding.
    flipped = enc(batch.x, batch.edge_index.flip(0), batch.cell_pos, batch.batch,
                  batch.edge_index, batch.num_graphs)
    assert not torch.allclose(out.graph, flipped.graph)


def test_conv_instance_is_copied_per_layer():
    template = Bidirectional(GINConv(torch.nn.Linear(8, 8)))
    enc = CellSequenceEncoder(F_IN, 8, num_layers=2, conv=template)
    assert enc.convs[0] is not template and enc.convs[0] is not enc.convs[1]
    assert not torch.equal(enc.convs[0].conv_fwd.nn.weight, enc.convs[1].conv_fwd.nn.weight)


def test_gradients_reach_every_parameter(batch):
    torch.manual_seed(0)
    enc = CellSequenceEncoder(F_IN, 8, context="preceding")
    encode(enc, batch).graph.sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in enc.parameters())


@pytest.mark.parametrize("kwargs, match", [
    (dict(context="global"), "Unknown context 'global'"),
    (dict(conv="gat"), "Unknown conv 'gat'; choose one of: bigcn, gin, transformer"),
    (dict(pool="median"), "Unknown pool"),
    (dict(num_layers=0), "num_layers"),
    (dict(dropout=1.5), "dropout"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CellSequenceEncoder(F_IN, 8, **kwargs)


def test_conv_resolver_names():
    for name in ("bigcn", "gin", "transformer", "BiGCN"):
        assert conv_resolver(name, 8) is not None


@pytest.mark.parametrize("context", ["preceding", "none", "positional", "preceding2"])
@pytest.mark.parametrize("pool", ["mean", "sum", "max"])
@pytest.mark.parametrize("num_layers", [1, 2])
def test_dense_path_equals_sparse_path(batch, context, pool, num_layers):
    torch.manual_seed(0)
    enc = CellSequenceEncoder(F_IN, 16, num_layers=num_layers, context=context, pool=pool)
    assert enc.dense  # picked automatically for BiGCN layers
    outs, grads = [], []
    for dense in (True, False):
        enc.dense = dense
        enc.zero_grad()
        out = encode(enc, batch)
        (out.graph.square().sum() + out.node.sum()).backward()
        outs.append(out)
        grads.append([p.grad.clone() for p in enc.parameters()])
    for a, b in zip(outs[0], outs[1]):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    # Sum readouts let gradients grow to ~1e4 over the cell sequence, where float32
    # rounding alone differs by ~2e-4 relative between the two paths (both are
    # that far from a float64 run).
    rtol = 1e-3 if pool == "sum" else 1e-4
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, rtol=rtol, atol=1e-4)


def test_dense_path_reuses_a_cell_only_where_every_graph_repeats_it():
    # Both graphs hold cell a at positions 0 and 2, so the dense path may reuse
    # position 0's first-layer product at position 2; graph 0 repeats a at
    # position 1 but graph 1 does not, so position 1 needs its own.
    a, b = (SPACE.cell_sequence(arch)[0] for arch in SPACE.sample(2, np.random.default_rng(3)))
    assert a != b
    data = [ArchData.from_cells(cells, SPACE) for cells in ([a, a, a, b], [a, b, a, b])]
    batch = Batch.from_data_list(data)
    torch.manual_seed(0)
    enc = CellSequenceEncoder(F_IN, 16, num_layers=2)
    dense = encode(enc, batch)
    enc.dense = False
    sparse = encode(enc, batch)
    for x, y in zip(dense, sparse):
        torch.testing.assert_close(x, y, rtol=1e-4, atol=1e-5)
    for g, item in enumerate(data):
        cells, h = naive_reference(enc, item)
        torch.testing.assert_close(dense.cell[g], cells, atol=1e-5, rtol=1e-4)
    # Graph 0's repeated cell a gets different features only through the context.
    assert not torch.allclose(dense.cell[0, 0], dense.cell[0, 1])


@pytest.mark.parametrize("dense", [True, False])
def test_nodes_need_not_come_cell_by_cell(batch, dense):
    # A batch whose nodes are shuffled (not graph by graph, cell by cell) encodes the
    # same cells; node features follow the shuffle.
    torch.manual_seed(0)
    enc = CellSequenceEncoder(F_IN, 16, num_layers=2, dense=dense)
    ref = encode(enc, batch)
    perm = torch.randperm(batch.num_nodes, generator=torch.Generator().manual_seed(1))
    new_id = torch.empty_like(perm)
    new_id[perm] = torch.arange(perm.numel())
    out = enc(batch.x[perm], new_id[batch.edge_index], batch.cell_pos[perm], batch.batch[perm],
              new_id[batch.rev_edge_index], batch.num_graphs)
    torch.testing.assert_close(out.cell, ref.cell, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(out.node, ref.node[perm], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("context", ["preceding", "positional"])
def test_dense_path_equals_sparse_path_without_self_loops(batch, context):
    torch.manual_seed(0)
    conv = BiGCNConv(16, 16, add_self_loops=False)
    enc = CellSequenceEncoder(F_IN, 16, num_layers=2, conv=conv, context=context)
    assert enc.dense
    outs = []
    for dense in (True, False):
        enc.dense = dense
        outs.append(encode(enc, batch))
    for a, b in zip(*outs):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_dense_needs_bigcn_layers():
    assert not CellSequenceEncoder(F_IN, 8, conv="gin").dense
    with pytest.raises(ValueError, match="dense=True needs a known in_channels and every layer to be a BiGCNConv"):
        CellSequenceEncoder(F_IN, 8, conv="gin", dense=True)


@pytest.mark.parametrize("dense", [True, False])
def test_return_node_false_skips_only_the_node_features(batch, dense):
    torch.manual_seed(0)
    enc = CellSequenceEncoder(F_IN, 16, num_layers=2, dense=dense)
    full = encode(enc, batch)
    lean = enc(batch.x, batch.edge_index, batch.cell_pos, batch.batch, batch.rev_edge_index,
               batch.num_graphs, return_node=False)
    assert lean.node is None and full.node.shape == (batch.num_nodes, 16)
    torch.testing.assert_close(lean.cell, full.cell)
    torch.testing.assert_close(lean.graph, full.graph)
