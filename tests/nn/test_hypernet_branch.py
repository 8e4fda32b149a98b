import pytest
import torch
import torch.nn.functional as F
from torch_geometric.data import Batch

from hypernas_pyg.data import arch_to_data
from hypernas_pyg.nn import CellSequenceEncoder, HyperNAS, HypernetBranch
from hypernas_pyg.spaces import NASBench201Space
from hypernas_pyg.spaces import NASBench201Network

def _branch(N, C=4, graph_N=None, prune=True):
    """A branch for networks of ``C`` channels and ``N`` cells per stage, reading graphs
    with ``graph_N`` (default ``N``) cells per stage."""
    space = NASBench201Space(cells_per_stage=graph_N or N, prune=prune)
    return HypernetBranch(space, 16, {"C": C, "N": N})


ARCH = ("|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|"
        "+|avg_pool_3x3~0|nor_conv_3x3~1|skip_connect~2|")
NO_CONV = "|skip_connect~0|+|none~0|avg_pool_3x3~1|+|skip_connect~0|none~1|skip_connect~2|"


def _encoded(arch, N, hidden=16, seed=0):
    torch.manual_seed(seed)
    space = NASBench201Space(cells_per_stage=N)
    data = arch_to_data(arch, space)
    enc = CellSequenceEncoder(space.num_node_types, hidden, num_layers=2)
    b = Batch.from_data_list([data])
    return data, enc(b.x, b.edge_index, b.cell_pos, b.batch, b.rev_edge_index, 1).node


@pytest.mark.parametrize("arch", [ARCH, NO_CONV])
def test_generated_plus_shared_parameters_are_exactly_the_networks(arch):
    torch.manual_seed(0)
    branch = _branch(2)
    real = NASBench201Network.from_arch(arch, C=4, N=2)
    shared = dict(branch.shared.named_parameters())
    generated = set(real.op_weight_names().values())
    assert not generated & set(shared)  # kernels are not parameters of the branch
    data, node = _encoded(arch, 2)
    params = branch.generate(arch, node, data.cell_pos, data.op)
    assert set(params) == {name for name, _ in real.named_parameters()}
    for name, p in real.named_parameters():
        assert params[name].shape == p.shape, name
        if name not in generated:
            assert params[name] is shared[name]


def test_ce_reaches_node_features_hypernet_and_shared_parameters():
    torch.manual_seed(0)
    branch = _branch(1)
    data, node = _encoded(ARCH, 1)
    node = node.detach().requires_grad_()
    logits = branch(ARCH, node, data.cell_pos, torch.randn(8, 3, 8, 8), op=data.op)
    F.cross_entropy(logits, torch.arange(8) % 10).backward()
    assert node.grad.abs().sum() > 0
    used = {name for name, _ in NASBench201Network.from_arch(ARCH, C=4, N=1).named_parameters()}
    for name, p in branch.shared.named_parameters():
        assert (p.grad is not None) == (name in used), name  # e.g. no BN on a skip edge
    for name, p in branch.hypernet.trunk.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    # Exactly the op nodes with a kernel receive a gradient: 3 convs in each of the 3
    # normal cells and 3 in each of the 2 reduction blocks.
    touched = node.grad.abs().sum(1) > 0
    assert int(touched.sum()) == 3 * 3 + 2 * 3


def test_deeper_encoder_graph_maps_to_the_first_cells_of_each_stage():
    """Proxy N=1 on an N'=3 graph reads cells 0, 3 (reduction), 4, 7 (reduction), 8."""
    torch.manual_seed(0)
    branch = _branch(1, graph_N=3)
    torch.manual_seed(0)
    same = _branch(1)  # the same parameters: the graphs' depth does not change them
    deep, node = _encoded(ARCH, 3)
    shallow = arch_to_data(ARCH, NASBench201Space(cells_per_stage=1))
    keep = torch.isin(deep.cell_pos, torch.tensor([0, 3, 4, 7, 8]))
    direct = same.generate(ARCH, node[keep], shallow.cell_pos, shallow.op)
    mapped = branch.generate(ARCH, node, deep.cell_pos, deep.op)
    assert direct.keys() == mapped.keys()
    for name in direct:
        torch.testing.assert_close(mapped[name], direct[name])


def test_graph_shallower_than_the_proxy_is_rejected():
    with pytest.raises(ValueError, match="network size N=2 exceeds the cells per stage of the "
                                         "encoder graphs"):
        _branch(2, graph_N=1)
    branch = _branch(1, graph_N=2)
    data, node = _encoded(ARCH, 1)  # a graph of the wrong depth for this branch's space
    with pytest.raises(ValueError, match="node counts"):
        branch.generate(ARCH, node, data.cell_pos, data.op)


def test_batch_statistics_in_every_mode_and_no_random_draws():
    torch.manual_seed(0)
    branch = _branch(1)
    data, node = _encoded(ARCH, 1)
    other, other_node = _encoded(NO_CONV, 1)
    images = torch.randn(5, 3, 8, 8)
    state = torch.random.get_rng_state()
    with torch.no_grad():
        train = branch.train()(ARCH, node, data.cell_pos, images)
        # a new skeleton is built
        evald = branch.eval()(NO_CONV, other_node, other.cell_pos, images)
        again = branch(ARCH, node, data.cell_pos, images)
    assert torch.equal(torch.random.get_rng_state(), state)
    torch.testing.assert_close(branch.train()(ARCH, node, data.cell_pos, images), train)
    assert torch.equal(again, branch.eval()(ARCH, node, data.cell_pos, images))
    assert evald.shape == (5, 10)
    assert not any("running" in k for k in branch.state_dict())


def test_pruned_branch_runs_the_pruned_network_and_exports_the_full_state():
    """A conv pruned from the graph is ``none`` in the proxy; the exported state_dict
    still loads into the unpruned network (the dead conv reads an all-zero node, so with
    the shared BatchNorm bias at its initial 0 both networks compute the same)."""
    dead = "|none~0|+|nor_conv_3x3~0|nor_conv_1x1~1|+|skip_connect~0|none~1|nor_conv_3x3~2|"
    torch.manual_seed(0)
    branch = _branch(1)
    assert branch.network_arch(dead) == NASBench201Space().prune_arch(dead) != dead
    data, node = _encoded(dead, 1)
    params = branch.generate(dead, node, data.cell_pos, data.op)
    assert "cells.0.edges.2.conv.weight" not in params  # the dead 1x1 conv
    state = branch.network_state_dict(dead, node, data.cell_pos, data.op)
    net = NASBench201Network.from_arch(dead, C=4, N=1)
    net.load_state_dict(state)
    images = torch.randn(4, 3, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(net.train()(images), branch.train()(dead, node, data.cell_pos,
                                                                        images))
    full = _branch(1, prune=False)
    full_data = arch_to_data(dead, NASBench201Space(cells_per_stage=1, prune=False))
    assert full.network_arch(dead) == dead and full_data.num_nodes > data.num_nodes


def test_hypernas_branch_is_built_after_the_predictor():
    """The predictor's initialisation is the same with and without the branch."""
    torch.manual_seed(3)
    plain = HyperNAS(12, 16, 2)
    torch.manual_seed(3)
    with_branch = HyperNAS(12, 16, 2, space=NASBench201Space(), network_size={"C": 4})
    assert plain.hypernet is None and with_branch.hypernet is not None
    hyper_keys = [k for k in with_branch.state_dict() if k.startswith("hypernet.")]
    assert hyper_keys and set(with_branch.state_dict()) - set(hyper_keys) == set(plain.state_dict())
    for key, value in plain.state_dict().items():
        assert torch.equal(value, with_branch.state_dict()[key]), key


def test_hypernet_loss_splits_images_across_architectures():
    torch.manual_seed(0)
    space = NASBench201Space(cells_per_stage=1)
    model = HyperNAS(space.num_node_types, 16, 2, space=space, network_size={"C": 4, "N": 1})
    batch = Batch.from_data_list([arch_to_data(a, space) for a in (ARCH, NO_CONV)])
    node = model.encode(batch).node
    images, labels = torch.randn(6, 3, 8, 8), torch.arange(6)
    loss = model.hypernet_loss(batch, node, images, labels, [1, 0])
    mask1, mask0 = batch.batch == 1, batch.batch == 0
    first = model.hypernet(NO_CONV, node[mask1], batch.cell_pos[mask1], images[:3])
    second = model.hypernet(ARCH, node[mask0], batch.cell_pos[mask0], images[3:])
    expected = (F.cross_entropy(first, labels[:3], reduction="sum")
                + F.cross_entropy(second, labels[3:], reduction="sum")) / 6
    torch.testing.assert_close(loss, expected)
    with pytest.raises(RuntimeError, match="no hypernetwork branch"):
        HyperNAS(space.num_node_types, 16, 2).hypernet_loss(batch, node, images, labels, [0])
