"""The bidirectional graph convolution of HyperNAS / NP."""
from __future__ import annotations

from typing import Any, Optional

import torch
import torch.nn.functional as F
from torch.nn.parameter import is_lazy
from torch import Tensor
from torch_geometric.nn import MessagePassing
from torch_geometric.nn.dense.linear import Linear
from torch_geometric.typing import Adj
from torch_geometric.utils import is_torch_sparse_tensor, spmm


class BiGCNConv(MessagePassing):
    r"""Bidirectional GCN layer reading a DAG along and against its edges.

    .. math::
        \mathbf{V}' = \tfrac{1}{2}\,\mathrm{ReLU}\big(\hat{\mathbf{A}}\,\mathbf{V}
        \mathbf{W}^{+}\big) + \tfrac{1}{2}\,\mathrm{ReLU}\big(\hat{\mathbf{A}}_{r}\,
        \mathbf{V}\mathbf{W}^{-}\big)

    Direction: with PyG's default ``flow="source_to_target"`` an edge ``(i, j)``
    in ``edge_index`` sends node ``i``'s message to node ``j``, so the forward
    term aggregates every node's *predecessors*. With the dense adjacency
    :math:`\mathbf{A}_{ij} = 1` for ``i -> j`` and self-loops
    :math:`\tilde{\mathbf{A}} = \mathbf{A} + \mathbf{I}`, the normalisation is
    the row-stochastic mean over in-neighbours (self included):

    .. math::
        \hat{\mathbf{A}} = \tilde{\mathbf{D}}_{\mathrm{in}}^{-1}\tilde{\mathbf{A}}^{\top},
        \qquad
        \hat{\mathbf{A}}_{r} = \tilde{\mathbf{D}}_{\mathrm{out}}^{-1}\tilde{\mathbf{A}},

    i.e. the reverse term averages every node's *successors* (the edges of
    ``rev_edge_index``, by default ``edge_index.flip(0)``). The graph may also be
    given as sparse CSR adjacencies ``adj_t`` (``adj_t[j, i] = 1`` for an edge
    ``i -> j``), which runs one fused sparse product per direction. This is the
    paper's :math:`\mathbf{E}\mathbf{V}` / :math:`\mathbf{E}^{\top}\mathbf{V}`
    pair with a mean normalisation that keeps magnitudes independent of degree.

    Args:
        in_channels: Size of each input feature.
        out_channels: Size of each output feature.
        add_self_loops: Add self-loops before normalising (``\tilde{A}``).
        bias: Learn an additive bias in each direction.
        **kwargs: Passed to :class:`~torch_geometric.nn.conv.MessagePassing`.

    Shapes:
        - **input:** node features :math:`(|\mathcal{V}|, F_{in})`, edge indices
          :math:`(2, |\mathcal{E}|)` or sparse adjacency :math:`(|\mathcal{V}|, |\mathcal{V}|)`,
          optional reversed edge indices or adjacency of the same shape
        - **output:** node features :math:`(|\mathcal{V}|, F_{out})`
    """

    def __init__(self, in_channels: int, out_channels: int, add_self_loops: bool = True,
                 bias: bool = True, **kwargs: Any) -> None:
        kwargs.setdefault("aggr", "add")
        super().__init__(**kwargs)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.add_self_loops = add_self_loops
        self.lin_fwd = Linear(in_channels, out_channels, bias=bias, weight_initializer="glorot")
        self.lin_rev = Linear(in_channels, out_channels, bias=bias, weight_initializer="glorot")
        self.reset_parameters()

    def reset_parameters(self) -> None:
        super().reset_parameters()
        self.lin_fwd.reset_parameters()
        self.lin_rev.reset_parameters()

    def forward(self, x: Tensor, edge_index: Adj, rev_edge_index: Optional[Adj] = None) -> Tensor:
        if rev_edge_index is None:
            rev_edge_index = (edge_index.t().to_sparse_csr() if is_torch_sparse_tensor(edge_index)
                              else edge_index.flip(0))
        h_fwd, h_rev = self.lin_fwd(x), self.lin_rev(x)
        out_fwd = self._normalised(self.propagate(edge_index, x=h_fwd), h_fwd, edge_index)
        out_rev = self._normalised(self.propagate(rev_edge_index, x=h_rev), h_rev, rev_edge_index)
        return 0.5 * (F.relu(out_fwd) + F.relu(out_rev))

    def forward_dense(self, x: Tensor, adj: Tensor, rev_adj: Tensor) -> Tensor:
        r"""The same layer on a batch of small graphs in dense, padded form.

        Args:
            x: Node features :math:`(B, N, F_{in})`.
            adj: Normalised forward operator :math:`\hat{\mathbf{A}}` of every
                graph, :math:`(B, N, N)`: row ``i`` holds the weights of the mean
                over ``i``'s predecessors (and ``i`` itself with self-loops).
            rev_adj: The reverse operator :math:`\hat{\mathbf{A}}_{r}`, same shape.

        Returns:
            Node features :math:`(B, N, F_{out})`, equal to :meth:`forward` on
            the same graphs (see :func:`dense_mean_operator` for the operators).
        """
        if is_lazy(self.lin_fwd.weight):
            fwd = torch.bmm(adj, self.lin_fwd(x))
            rev = torch.bmm(rev_adj, self.lin_rev(x))
            return 0.5 * (F.relu(fwd) + F.relu(rev))
        return self.forward_stacked(x, stack_operators(adj, rev_adj), *self.stacked_parameters())

    def stacked_parameters(self) -> tuple[Tensor, Optional[Tensor]]:
        r"""Both directions' weights side by side, :math:`(F_{in}, 2F_{out})` =
        :math:`[\mathbf{W}^{+} \mid \mathbf{W}^{-}]`, and biases, :math:`(2F_{out})`
        (``None`` without bias): the operands of :meth:`forward_stacked`, built once and
        reused for many calls."""
        weight = torch.cat([self.lin_fwd.weight.t(), self.lin_rev.weight.t()], dim=1)
        bias = (torch.cat([self.lin_fwd.bias, self.lin_rev.bias])
                if self.lin_fwd.bias is not None else None)
        return weight, bias

    @staticmethod
    def forward_stacked(x: Tensor, operators: Tensor, weight: Tensor,
                        bias: Optional[Tensor]) -> Tensor:
        r""":meth:`forward_dense` with its operands prepared once.

        One matrix product projects the features with both directions' weights
        at once (:math:`\mathbf{X}[\mathbf{W}^{+} \mid \mathbf{W}^{-}]`), one
        batched product per direction applies :math:`\tfrac12\hat{\mathbf{A}}`
        and :math:`\tfrac12\hat{\mathbf{A}}_{r}` to its half of the columns, and
        the two ReLUs are summed (:math:`\tfrac12\mathrm{ReLU}(a) =
        \mathrm{ReLU}(\tfrac12 a)`, exactly in floating point).

        Args:
            x: Node features :math:`(B, N, F_{in})`.
            operators: :func:`stack_operators` of the graphs, :math:`(2B, N, N)`.
            weight, bias: :meth:`stacked_parameters`.

        Returns:
            Node features :math:`(B, N, F_{out})`.
        """
        graphs, width, channels = x.shape
        flat = x.reshape(graphs * width, channels)
        proj = torch.mm(flat, weight) if bias is None else torch.addmm(bias, flat, weight)
        return BiGCNConv.combine_stacked(
            *BiGCNConv.aggregate_stacked(operators, proj.view(graphs, width, -1)))

    @staticmethod
    def aggregate_stacked(operators: Tensor, proj: Tensor) -> tuple[Tensor, Tensor]:
        r"""Both directions' aggregations of :meth:`forward_stacked`: the forward operators
        (the first half of ``operators``, :math:`(2B, N, N)`) applied to the first half of
        the columns of ``proj``, :math:`(B, N, 2F)`, the reverse ones to the second half.

        Returns:
            The forward and the reverse aggregated features, :math:`(B, N, F)` each.
        """
        graphs, half = proj.size(0), proj.size(-1) // 2
        return (torch.bmm(operators[:graphs], proj[..., :half]),
                torch.bmm(operators[graphs:], proj[..., half:]))

    @staticmethod
    def combine_stacked(fwd: Tensor, rev: Tensor) -> Tensor:
        r"""The last step of :meth:`forward_stacked`: both directions' aggregated
        features, :math:`(B, N, F_{out})` each, through the ReLU and summed (the halves
        are already in the operators).

        Returns:
            Node features :math:`(B, N, F_{out})`.
        """
        if torch.is_grad_enabled():
            return torch.add(fwd.relu(), rev.relu())
        return fwd.relu_().add_(rev.relu_())

    def _normalised(self, summed: Tensor, h: Tensor, edge_index: Adj) -> Tensor:
        # Mean over in-neighbours (and the node itself when self-loops are on),
        # computed without materialising the self-loop edges.
        if is_torch_sparse_tensor(edge_index):  # adj_t in CSR: row i lists i's sources
            crow = edge_index.crow_indices()
            deg = (crow[1:] - crow[:-1]).to(h.dtype)
        else:
            deg = torch.bincount(edge_index[1], minlength=h.size(0)).to(h.dtype)
        if self.add_self_loops:
            return summed.add_(h).mul_((deg + 1.0).reciprocal_().unsqueeze(-1))
        return summed.mul_(deg.clamp_(min=1.0).reciprocal_().unsqueeze(-1))

    def message(self, x_j: Tensor) -> Tensor:
        return x_j

    def message_and_aggregate(self, adj_t: Tensor, x: Tensor) -> Tensor:
        # Used when the graph is given as a sparse (CSR) adjacency ``adj_t``
        # (``adj_t[i, j] = 1`` for an edge ``j -> i``): one fused sparse product.
        return spmm(adj_t, x, reduce="sum")

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.in_channels}, {self.out_channels})"


def stack_operators(adj: Tensor, rev_adj: Tensor) -> Tensor:
    r"""Both directions' operators of many graphs as the one batch
    :meth:`BiGCNConv.forward_stacked` reads: :math:`\tfrac12\hat{\mathbf{A}}` of
    every graph, then :math:`\tfrac12\hat{\mathbf{A}}_{r}` of every graph.

    Args:
        adj, rev_adj: :math:`(\ldots, B, N, N)` each.

    Returns:
        :math:`(\ldots, 2B, N, N)`.
    """
    return torch.stack([adj, rev_adj], dim=-4).mul(0.5).flatten(-4, -3)


def dense_mean_operator(edge_index: Tensor, group: Tensor, local: Tensor, num_groups: int,
                        width: int, add_self_loops: bool = True,
                        dtype: torch.dtype = torch.float) -> Tensor:
    r"""One direction's normalised operator of :class:`BiGCNConv` for many small graphs.

    Every node belongs to graph ``group[v]`` at padded slot ``local[v] < width``;
    edges must not cross graphs. Row ``j`` averages the sources of ``j``'s
    incoming edges (and ``j`` itself with self-loops), exactly as
    :meth:`BiGCNConv.forward` normalises: pass ``edge_index`` for
    :math:`\hat{\mathbf{A}}` and the reversed edges for :math:`\hat{\mathbf{A}}_{r}`.
    Padded slots have no edges, so they never feed real nodes.

    Returns:
        A tensor of shape ``(num_groups, width, width)`` and type ``dtype`` (that of
        the node features it will multiply).
    """
    src, dst = edge_index
    return _mean_operators(group[dst] * width + local[dst], local[src], num_groups, width,
                           add_self_loops, dtype, edge_index.device)


def stacked_mean_operators(edge_index: Tensor, rev_edge_index: Tensor, group: Tensor,
                           local: Tensor, num_groups: int, width: int, block: int,
                           add_self_loops: bool = True,
                           dtype: torch.dtype = torch.float) -> Tensor:
    r"""Both directions' operators in the layout :func:`stack_operators` gives, built in
    one buffer: for every ``block`` consecutive graphs (groups), their
    :math:`\tfrac12\hat{\mathbf{A}}` and then their :math:`\tfrac12\hat{\mathbf{A}}_{r}`.

    Equal, value for value, to ``stack_operators`` of the two
    :func:`dense_mean_operator` results viewed as ``(num_groups // block, block, width,
    width)``, without their intermediate tensors.

    Returns:
        A tensor of shape ``(2 * num_groups, width, width)``.
    """
    if num_groups % block:
        raise ValueError(f"num_groups={num_groups} is not a multiple of block={block}")
    # Group g of block g // block has its rows at 2 * block * (g // block) + direction * block
    # + g % block: ``base`` is every node's row in the first direction's operators.
    base = (group + torch.div(group, block, rounding_mode="floor") * block) * width + local
    rows, cols = [], []
    for direction, (src, dst) in enumerate((edge_index, rev_edge_index)):
        rows.append(base.index_select(0, dst) + direction * block * width)
        cols.append(local.index_select(0, src))
    # a / (2 s) is exactly (a / s) / 2: the 1/2 of stack_operators, in the same division.
    return _mean_operators(torch.cat(rows), torch.cat(cols), 2 * num_groups, width,
                           add_self_loops, dtype, edge_index.device, scale=2.0)


def _mean_operators(row: Tensor, col: Tensor, num: int, width: int, add_self_loops: bool,
                    dtype: torch.dtype, device: torch.device, scale: float = 1.0) -> Tensor:
    """``num`` row-normalised ``width x width`` operators with a one at every ``(row, col)``
    (``row`` counts the rows of all operators, repeats add up), the identity added with
    self-loops, and every row divided by ``scale`` times its sum (rows without entries
    stay zero)."""
    op = torch.zeros(num * width * width, dtype=dtype, device=device)
    op.index_put_((row * width + col,), op.new_ones(row.numel()), accumulate=True)
    op = op.view(num, width, width)
    # Row sums are the entries' counts per row: exact, and no reduction over short rows.
    deg = torch.bincount(row, minlength=num * width).to(dtype)
    if add_self_loops:
        op.diagonal(dim1=-2, dim2=-1).add_(1.0)
        deg += 1.0
    return op.div_(deg.clamp_(min=1.0).mul_(scale).view(num, width, 1))
