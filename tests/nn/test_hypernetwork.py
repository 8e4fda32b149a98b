import math

import pytest
import torch
import torch.nn.functional as F
from torch.func import functional_call
from torch_geometric.data import Batch

from hypernas_pyg.data import arch_to_data
from hypernas_pyg.nn import CellSequenceEncoder
from hypernas_pyg.nn.hypernetwork import HyperNetwork
from hypernas_pyg.nn.weight_generation import generated_state as _generated_state
from hypernas_pyg.spaces import NASBench201Space
from hypernas_pyg.spaces import NASBench201Network

# Every conv lies on an input-output path, so every head gets a gradient.
ARCH = ("|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|"
        "+|avg_pool_3x3~0|nor_conv_3x3~1|skip_connect~2|")
NO_CONV = "|skip_connect~0|+|none~0|avg_pool_3x3~1|+|skip_connect~0|none~1|skip_connect~2|"


def encode(arch, N, hidden=16):
    space = NASBench201Space(cells_per_stage=N)
    data = arch_to_data(arch, space)
    enc = CellSequenceEncoder(space.num_node_types, hidden, num_layers=2)
    b = Batch.from_data_list([data])
    out = enc(b.x, b.edge_index, b.cell_pos, b.batch, b.rev_edge_index, b.num_graphs)
    return enc, data, out.node


def kernel_shapes(net):
    """Every kernel shape at the network's width (the space's list)."""
    return NASBench201Space().kernel_shapes(C=net.C, N=net.N)


def generated_state(net, feats, cell_pos, hyper, op=None, prune=True):
    """Kernels of ``net`` from features of a graph of ``net``'s own skeleton."""
    space = NASBench201Space(cells_per_stage=net.N, prune=prune)
    arch = net.arch_str
    return _generated_state(space.kernel_slots(arch, net), feats, cell_pos, hyper,
                            cells=space.cell_sequence(arch), op=op,
                            node_type_index=space.node_type_index, arch=arch)


def kernel_hyper(net):
    return HyperNetwork(16, kernel_shapes(net), hidden_channels=8)


@pytest.mark.parametrize("C,N", [(4, 1), (8, 2)])
@pytest.mark.parametrize("arch", [ARCH, NO_CONV])
def test_generated_shapes_match_parameters(C, N, arch):
    torch.manual_seed(0)
    net = NASBench201Network.from_arch(arch, C=C, N=N)
    data = arch_to_data(arch, NASBench201Space(cells_per_stage=N))
    feats = torch.randn(data.num_nodes, 16)
    hyper = HyperNetwork(16, kernel_shapes(net), hidden_channels=16)
    state = generated_state(net, feats, data.cell_pos, hyper, op=data.op)
    params = dict(net.named_parameters())
    assert list(state) == list(net.op_weight_names().values())
    for name, w in state.items():
        assert w.shape == params[name].shape, name
    out = functional_call(net, state, (torch.randn(2, 3, 16, 16),))
    assert out.shape == (2, 10)


def test_kernel_shapes_cover_every_architecture_of_a_width():
    shapes = kernel_shapes(NASBench201Network.from_arch(NO_CONV, C=4, N=1))
    assert shapes == sorted(shapes) and len(set(shapes)) == len(shapes)
    assert shapes == kernel_shapes(NASBench201Network.from_arch(ARCH, C=4, N=2))
    # 1x1 and 3x3 at widths 4, 8, 16; reduction convs 3x3 (8,4), (16,8); shortcuts 1x1.
    assert set(shapes) == {(4, 4, 1, 1), (4, 4, 3, 3), (8, 8, 1, 1), (8, 8, 3, 3),
                           (16, 16, 1, 1), (16, 16, 3, 3), (8, 4, 3, 3), (16, 8, 3, 3),
                           (8, 4, 1, 1), (16, 8, 1, 1)}


def test_hypernetwork_forward_groups_by_shape():
    torch.manual_seed(0)
    shapes = [(2, 3, 3, 3), (4, 2, 1, 1)]
    hyper = HyperNetwork(5, shapes, hidden_channels=8)
    feats = torch.randn(4, 5)
    ids = torch.tensor([1, 0, 1, 0])
    out = hyper(feats, ids)
    assert [tuple(w.shape) for w in out] == [shapes[i] for i in ids.tolist()]
    # Each output depends only on its own node: matches a per-node call.
    for i in range(4):
        single = hyper(feats[i:i + 1], ids[i:i + 1])[0]
        torch.testing.assert_close(out[i], single)
    assert hyper(feats[:0], ids[:0]) == []
    assert hyper.shape_index((4, 2, 1, 1)) == 1
    with pytest.raises(ValueError, match="No head"):
        hyper.shape_index((1, 1, 1, 1))
    with pytest.raises(ValueError, match="shape_ids"):
        hyper(feats, torch.tensor([0, 1, 2, 0]))
    with pytest.raises(ValueError, match="node_feats"):
        hyper(torch.randn(4, 6), ids)


def test_fan_in_scale_at_init():
    torch.manual_seed(0)
    shapes = [(16, 16, 3, 3), (32, 16, 1, 1), (64, 64, 3, 3)]
    hyper = HyperNetwork(12, shapes, hidden_channels=32)
    for feat_scale in (0.01, 1.0, 100.0):  # independent of the input scale
        feats = torch.randn(3, 12) * feat_scale
        for w, shape in zip(hyper(feats, torch.arange(3)), shapes):
            kaiming = math.sqrt(2.0 / math.prod(shape[1:]))
            assert kaiming / 2 < w.std().item() < 2 * kaiming, (shape, w.std().item())


def test_invalid_constructor_arguments():
    with pytest.raises(ValueError, match="twice"):
        HyperNetwork(4, [(2, 2, 1, 1), (2, 2, 1, 1)])
    with pytest.raises(ValueError, match="at least one"):
        HyperNetwork(4, [])
    with pytest.raises(ValueError, match="positive integers"):
        HyperNetwork(4, [(2, 0, 1, 1)])
    with pytest.raises(ValueError, match="num_layers"):
        HyperNetwork(4, [(2, 2, 1, 1)], num_layers=0)


def test_cross_entropy_backpropagates_into_the_encoder():
    torch.manual_seed(0)
    N, C = 1, 4
    enc, data, node = encode(ARCH, N)
    net = NASBench201Network.from_arch(ARCH, C=C, N=N)
    hyper = HyperNetwork(16, kernel_shapes(net), hidden_channels=16)
    state = generated_state(net, node, data.cell_pos, hyper)
    images, labels = torch.randn(8, 3, 16, 16), torch.randint(0, 10, (8,))
    loss = F.cross_entropy(functional_call(net, state, (images,)), labels)
    loss.backward()
    assert torch.isfinite(loss)
    assert enc.lin_in.weight.grad is not None and enc.lin_in.weight.grad.abs().sum() > 0
    for p in enc.convs.parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0
    for head in hyper.heads:
        assert head.weight.grad is not None and head.weight.grad.abs().sum() > 0
    # The network's own conv kernels were replaced, so they get no gradient;
    # stem and classifier remain ordinary trained parameters.
    for name in state:
        assert dict(net.named_parameters())[name].grad is None
    assert net.stem.conv.weight.grad.abs().sum() > 0
    assert net.classifier.weight.grad.abs().sum() > 0


def test_bad_node_layout_raises():
    torch.manual_seed(0)
    N = 1
    full = NASBench201Space(cells_per_stage=N, prune=False)  # every cell has 8 nodes
    net = NASBench201Network.from_arch(ARCH, C=4, N=N)
    hyper = HyperNetwork(16, kernel_shapes(net), hidden_channels=16)
    data = arch_to_data(ARCH, full)
    feats = torch.randn(data.num_nodes, 16)
    keep = torch.ones(data.num_nodes, dtype=torch.bool)
    keep[3] = False  # drop one node of cell 0
    with pytest.raises(ValueError, match="node counts"):
        generated_state(net, feats[keep], data.cell_pos[keep], hyper, prune=False)
    # A network with two cells per stage has more cells than the data.
    net2 = NASBench201Network.from_arch(ARCH, C=4, N=2)
    with pytest.raises(ValueError, match="expected 8 cells"):
        generated_state(net2, feats, data.cell_pos, kernel_hyper(net2), prune=False)
    with pytest.raises(ValueError, match=r"cells_per_stage must be an int in 1\.\.1"):
        NASBench201Space(cells_per_stage=1).kernel_slots(ARCH, net2)
    with pytest.raises(ValueError, match="cell_pos"):
        generated_state(net, feats, data.cell_pos[:-1], hyper, prune=False)
    # Features of another architecture are caught when node types are given.
    other = arch_to_data(NO_CONV, full)
    with pytest.raises(ValueError, match="another architecture"):
        generated_state(net, feats, other.cell_pos, hyper, op=other.op, prune=False)
    # Full-cell features read as pruned ones do not fit the layout (NO_CONV has none ops).
    no_conv = NASBench201Network.from_arch(NO_CONV, C=4, N=N)
    with pytest.raises(ValueError, match="node counts"):
        generated_state(no_conv, torch.randn(other.num_nodes, 16), other.cell_pos, hyper)
    # A hypernetwork without the needed kernel shape.
    small = HyperNetwork(16, [(4, 4, 3, 3)], hidden_channels=8)
    with pytest.raises(ValueError, match="No head"):
        generated_state(net, feats, data.cell_pos, small, prune=False)


# The 1x1 conv on edge 1 -> 2 reads node 1, which only a ``none`` edge feeds: pruned away.
DEAD_CONV = ("|none~0|+|nor_conv_3x3~0|nor_conv_1x1~1|"
             "+|skip_connect~0|none~1|nor_conv_3x3~2|")


def test_pruned_graphs_generate_the_kernels_of_the_pruned_network():
    torch.manual_seed(0)
    space = NASBench201Space(cells_per_stage=1)
    pruned_arch = space.prune_arch(DEAD_CONV)
    assert pruned_arch == DEAD_CONV.replace("nor_conv_1x1~1", "none~1")
    data = arch_to_data(DEAD_CONV, space)
    feats = torch.randn(data.num_nodes, 16)
    net = NASBench201Network.from_arch(pruned_arch, C=4, N=1)
    hyper = HyperNetwork(16, kernel_shapes(net), hidden_channels=16)
    state = generated_state(net, feats, data.cell_pos, hyper, op=data.op)
    assert list(state) == list(net.op_weight_names().values())
    # The kernel of the conv on edge 0 -> 2 (pruned node 1; full node 2) comes from the
    # features of node 1 of the pruned cell 0: changing them changes that kernel only.
    name = "cells.0.edges.1.conv.weight"
    cell0 = (data.cell_pos == 0).nonzero().view(-1)
    bumped = feats.clone()
    bumped[cell0[1]] += 1.0
    state2 = generated_state(net, bumped, data.cell_pos, hyper, op=data.op)
    changed = {k for k in state if not torch.equal(state[k], state2[k])}
    assert changed == {name}
    # The unpruned network has a conv that no pruned node can generate.
    full_net = NASBench201Network.from_arch(DEAD_CONV, C=4, N=1)
    with pytest.raises(ValueError, match="prune_arch"):
        generated_state(full_net, feats, data.cell_pos, kernel_hyper(full_net), op=data.op)


def test_nodes_need_not_be_contiguous_per_cell():
    """The k-th node (in node order) with cell_pos == p is op node k of cell p."""
    torch.manual_seed(0)
    net = NASBench201Network.from_arch(ARCH, C=4, N=1)
    hyper = HyperNetwork(16, kernel_shapes(net), hidden_channels=16)
    data = arch_to_data(ARCH, NASBench201Space(cells_per_stage=1))
    feats = torch.randn(data.num_nodes, 16)
    ref = generated_state(net, feats, data.cell_pos, hyper)
    # Interleave the cells (node 0 of every cell, then node 1, ...), keeping the
    # order inside each cell.
    counts = torch.bincount(data.cell_pos)
    local = torch.arange(data.num_nodes) - (counts.cumsum(0) - counts)[data.cell_pos]
    perm = torch.argsort(local * counts.numel() + data.cell_pos)
    assert not torch.equal(perm, torch.arange(data.num_nodes))
    got = generated_state(net, feats[perm], data.cell_pos[perm], hyper, op=data.op[perm])
    assert list(got) == list(ref)
    for name in ref:
        torch.testing.assert_close(got[name], ref[name])
