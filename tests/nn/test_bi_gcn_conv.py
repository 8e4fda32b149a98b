import pytest
import torch
from torch_geometric.data import Batch, Data

from hypernas_pyg.nn.conv import BiGCNConv
from hypernas_pyg.nn.models.cell_sequence_encoder import csr_adjacency

EDGES = torch.tensor([[0, 0, 1, 2, 1], [1, 2, 3, 3, 2]])  # a small DAG, 4 nodes


def dense_reference(conv, x, edge_index, self_loops=True):
    n = x.size(0)
    a = torch.zeros(n, n)
    a[edge_index[0], edge_index[1]] = 1.0
    if self_loops:
        a = a + torch.eye(n)
    fwd = a.t() / a.t().sum(1, keepdim=True).clamp(min=1)  # mean over predecessors
    rev = a / a.sum(1, keepdim=True).clamp(min=1)           # mean over successors
    w_f, b_f = conv.lin_fwd.weight, conv.lin_fwd.bias
    w_r, b_r = conv.lin_rev.weight, conv.lin_rev.bias
    return (0.5 * torch.relu(fwd @ (x @ w_f.t() + b_f))
            + 0.5 * torch.relu(rev @ (x @ w_r.t() + b_r)))


@pytest.mark.parametrize("self_loops", [True, False])
def test_matches_dense_reference(self_loops):
    torch.manual_seed(0)
    conv = BiGCNConv(5, 7, add_self_loops=self_loops)
    x = torch.randn(4, 5)
    out = conv(x, EDGES)
    assert out.shape == (4, 7)
    torch.testing.assert_close(out, dense_reference(conv, x, EDGES, self_loops))


def test_directions_are_distinct():
    torch.manual_seed(0)
    conv = BiGCNConv(3, 3)
    x = torch.randn(4, 3)
    # Swapping the two directions must change the result (W+ != W-).
    assert not torch.allclose(conv(x, EDGES), conv(x, EDGES.flip(0)))
    torch.testing.assert_close(conv(x, EDGES), conv(x, EDGES, EDGES.flip(0)))


def test_sparse_adjacency_path_equals_edge_index_path():
    torch.manual_seed(0)
    conv = BiGCNConv(5, 6)
    x = torch.randn(4, 5, requires_grad=True)
    ref = conv(x, EDGES)
    out = conv(x, csr_adjacency(EDGES, 4), csr_adjacency(EDGES.flip(0), 4))
    torch.testing.assert_close(out, ref)
    g_ref, = torch.autograd.grad(ref.sum(), x)
    g_out, = torch.autograd.grad(conv(x, csr_adjacency(EDGES, 4)).sum(), x)
    torch.testing.assert_close(g_out, g_ref)


def test_batch_equivalence():
    torch.manual_seed(0)
    conv = BiGCNConv(5, 6)
    graphs = [Data(x=torch.randn(4, 5), edge_index=EDGES),
              Data(x=torch.randn(3, 5), edge_index=torch.tensor([[0, 1], [1, 2]]))]
    batch = Batch.from_data_list(graphs)
    out = conv(batch.x, batch.edge_index)
    torch.testing.assert_close(out[:4], conv(graphs[0].x, graphs[0].edge_index))
    torch.testing.assert_close(out[4:], conv(graphs[1].x, graphs[1].edge_index))


def test_node_permutation_equivariance():
    torch.manual_seed(0)
    conv = BiGCNConv(5, 6)
    x = torch.randn(4, 5)
    perm = torch.tensor([2, 0, 3, 1])  # new node i is old node perm[i]
    inv = torch.argsort(perm)
    out = conv(x[perm], inv[EDGES])
    torch.testing.assert_close(out, conv(x, EDGES)[perm])


def test_reset_parameters_changes_weights():
    torch.manual_seed(0)
    conv = BiGCNConv(4, 4)
    before = conv.lin_fwd.weight.detach().clone()
    conv.reset_parameters()
    assert not torch.equal(before, conv.lin_fwd.weight)


@pytest.mark.parametrize("self_loops", [True, False])
def test_dense_form_equals_message_passing(self_loops):
    # Two graphs of 4 and 3 nodes, padded to width 4.
    from hypernas_pyg.nn.conv.bi_gcn_conv import dense_mean_operator
    torch.manual_seed(0)
    conv = BiGCNConv(5, 7, add_self_loops=self_loops)
    x = torch.randn(7, 5)
    edge_index = torch.cat([EDGES, torch.tensor([[4, 4], [5, 6]])], dim=1)
    group = torch.tensor([0, 0, 0, 0, 1, 1, 1])
    local = torch.tensor([0, 1, 2, 3, 0, 1, 2])
    adj = dense_mean_operator(edge_index, group, local, 2, 4, self_loops)
    rev = dense_mean_operator(edge_index.flip(0), group, local, 2, 4, self_loops)
    padded = torch.zeros(2 * 4, 5).index_copy(0, group * 4 + local, x).view(2, 4, 5)
    out = conv.forward_dense(padded, adj, rev).reshape(8, 7)[group * 4 + local]
    torch.testing.assert_close(out, conv(x, edge_index))


def test_dense_layer_gives_the_same_values_with_and_without_autograd():
    torch.manual_seed(0)
    conv = BiGCNConv(6, 5)
    x = torch.randn(3, 4, 6)
    adj = torch.rand(3, 4, 4)
    rev = torch.rand(3, 4, 4)
    with_grad = conv.forward_dense(x, adj, rev)
    assert with_grad.requires_grad
    with torch.inference_mode():  # the in-place path
        without = conv.forward_dense(x, adj, rev)
    assert torch.equal(with_grad.detach(), without)
    assert (without >= 0).all()


@pytest.mark.parametrize("self_loops", [True, False])
def test_stacked_operators_equal_stacking_each_direction(self_loops):
    from hypernas_pyg.nn.conv.bi_gcn_conv import (dense_mean_operator, stack_operators,
                                                  stacked_mean_operators)
    # 3 positions x 2 graphs = 6 groups of up to 3 nodes, random edges inside each group.
    gen = torch.Generator().manual_seed(0)
    sizes = torch.tensor([3, 2, 1, 3, 2, 3])
    group = torch.repeat_interleave(torch.arange(6), sizes)
    local = torch.cat([torch.arange(int(n)) for n in sizes])
    starts = torch.cumsum(sizes, 0) - sizes
    edges = [(int(starts[g]) + i, int(starts[g]) + j) for g in range(6)
             for i in range(int(sizes[g])) for j in range(i + 1, int(sizes[g]))
             if torch.rand(1, generator=gen) < 0.7]
    edge_index = torch.tensor(edges).t()
    rev = edge_index.flip(0)
    expected = stack_operators(
        dense_mean_operator(edge_index, group, local, 6, 3, self_loops).view(3, 2, 3, 3),
        dense_mean_operator(rev, group, local, 6, 3, self_loops).view(3, 2, 3, 3))
    got = stacked_mean_operators(edge_index, rev, group, local, 6, 3, 2, self_loops)
    assert torch.equal(got.view(3, 4, 3, 3), expected)
    with pytest.raises(ValueError, match="num_groups=6 is not a multiple of block=4"):
        stacked_mean_operators(edge_index, rev, group, local, 6, 3, 4, self_loops)
