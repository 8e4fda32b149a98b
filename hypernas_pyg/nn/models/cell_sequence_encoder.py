"""The global (cell-sequence) architecture encoder of HyperNAS."""
from __future__ import annotations

import warnings
from typing import NamedTuple, Optional, Union

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn import Dropout, Embedding, Module, ModuleList
from torch_geometric.nn import global_add_pool, global_max_pool, global_mean_pool
from torch_geometric.nn.dense.linear import Linear

from hypernas_pyg.nn.conv import conv_resolver
from hypernas_pyg.nn.conv.bi_gcn_conv import BiGCNConv, stacked_mean_operators

CONTEXTS = ("preceding", "none", "positional", "preceding2")
POOLS = {"mean": global_mean_pool, "sum": global_add_pool, "max": global_max_pool}


class EncoderOutput(NamedTuple):
    """What :class:`CellSequenceEncoder` returns.

    Attributes:
        node: Final feature of every node, ``[num_nodes, hidden_channels]`` (``None``
            when the encoder is called with ``return_node=False``).
        cell: Pooled feature ``z(i)`` of every cell, ``[num_graphs, num_cells, hidden_channels]``.
        graph: Architecture embedding ``h = mean_i z(i)``, ``[num_graphs, hidden_channels]``.
    """

    node: Optional[Tensor]
    cell: Tensor
    graph: Tensor


class _CellGroups(NamedTuple):
    nodes: list[Tensor]    # global node ids of each cell position
    edges: list[Tensor]    # sparse adj_t of each position, in local node ids
    rev_edges: list[Tensor]


def _csr(row_counts: Tensor, cols: Tensor, num_nodes: int) -> Tensor:
    """A ``num_nodes x num_nodes`` CSR matrix of ones from per-row counts and column ids."""
    crow = torch.zeros(num_nodes + 1, dtype=torch.long, device=cols.device)
    crow[1:] = torch.cumsum(row_counts, 0)
    ones = torch.ones(cols.numel(), dtype=torch.float, device=cols.device)
    with warnings.catch_warnings():  # torch flags CSR support as beta
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(crow, cols, ones, (num_nodes, num_nodes),
                                       check_invariants=False)


def csr_adjacency(edge_index: Tensor, num_nodes: int) -> Tensor:
    """The transposed adjacency ``adj_t`` (row ``j`` lists the sources of ``j``) in CSR."""
    dst, src = edge_index[1], edge_index[0]
    perm = torch.argsort(dst, stable=True)
    return _csr(torch.bincount(dst, minlength=num_nodes), src[perm], num_nodes)


def _rank_in_group(group: Tensor, num_groups: int) -> tuple[Tensor, Tensor, Tensor]:
    """Node ids sorted by group (stable), group sizes, and each node's rank in its group."""
    order = torch.argsort(group, stable=True)
    counts = torch.bincount(group, minlength=num_groups)
    local = torch.empty_like(order)
    starts = torch.cumsum(counts, 0) - counts
    local[order] = torch.arange(order.numel(), device=order.device) - starts[group[order]]
    return order, counts, local


def _local_rank(group: Tensor, num_groups: int) -> tuple[Tensor, Tensor]:
    """Group sizes and every node's rank in its group (in node order), as
    :func:`_rank_in_group` gives them; without a sort when every group's nodes are
    consecutive (a batch collated graph by graph, each graph's cells in order)."""
    counts = torch.bincount(group, minlength=num_groups)
    num = group.numel()
    if num:
        start = torch.ones(num, dtype=torch.bool, device=group.device)
        torch.ne(group[1:], group[:-1], out=start[1:])
        firsts = torch.nonzero(start).view(-1)
        if firsts.numel() == int(torch.count_nonzero(counts)):  # one run per group
            run = torch.cumsum(start, 0).sub_(1)
            return counts, torch.arange(num, device=group.device) - firsts[run]
    _, counts, local = _rank_in_group(group, num_groups)
    return counts, local


def _group_by_cell(edge_index: Tensor, rev_edge_index: Tensor, cell_pos: Tensor,
                   num_cells: int) -> _CellGroups:
    """Splits a batch into per-position node sets and sparse adjacencies (no loop over graphs)."""
    order, counts, local = _rank_in_group(cell_pos, num_cells)
    nodes = list(torch.split(order, counts.tolist()))
    sizes = counts.tolist()

    width = max(sizes) if sizes else 0

    def split_edges(ei: Tensor) -> list[Tensor]:
        # One stable sort by (cell position, local target) builds every
        # position's CSR adjacency at once; it orders edges exactly as sorting
        # by position and then by target within each position would.
        pos = cell_pos[ei[0]]
        src, dst = local[ei[0]], local[ei[1]]
        key = pos * width + dst
        perm = torch.argsort(key, stable=True)
        ecounts = torch.bincount(pos, minlength=num_cells).tolist()
        row_counts = torch.bincount(key, minlength=num_cells * width).view(num_cells, width)
        cols = torch.split(src[perm], ecounts)
        return [_csr(row_counts[p, :n], c, n) for p, (c, n) in enumerate(zip(cols, sizes))]

    return _CellGroups(nodes, split_edges(edge_index), split_edges(rev_edge_index))


class CellSequenceEncoder(Module):
    r"""Encodes an architecture as a sequence of cells with a shared GNN.

    Cells are encoded in order by the same stack of bidirectional layers. With
    ``context="preceding"`` (HyperNAS' global encoding), before cell :math:`i`
    enters the GNN every one of its node features receives the pooled feature
    of the cell before it:

    .. math::
        \mathbf{v} \leftarrow \mathbf{v} + \mathbf{z}^{(i-1)}, \qquad
        \mathbf{z}^{(i)} = \mathrm{pool}\big(\mathrm{GNN}(\text{cell } i)\big), \qquad
        \mathbf{z}^{(0)} = \mathbf{0}, \qquad
        \mathbf{h} = \tfrac{1}{N}\textstyle\sum_i \mathbf{z}^{(i)}.

    ``context="preceding2"`` injects :math:`\mathbf{z}^{(i-1)} + \mathbf{z}^{(i-2)}`
    instead, for spaces whose cells read the two cells before them (DARTS).
    ``context="none"`` encodes every cell in isolation (the NP baseline: in a
    space whose normal cells are all equal, ``h`` is an affine function of the
    single-cell embedding); ``context="positional"`` adds a learned embedding of
    the cell position instead of :math:`\mathbf{z}^{(i-1)}` (the paper's ablation).
    Each step processes one cell position for the whole batch at once.

    Args:
        in_channels: Size of the input node features (the one-hot node type).
        hidden_channels: Size of node and cell features.
        num_layers: Message-passing layers applied to each cell.
        conv: ``"bigcn"``, ``"gin"``, ``"transformer"`` or a module instance
            (see :func:`~hypernas_pyg.nn.conv.conv_resolver`).
        context: ``"preceding"``, ``"none"``, ``"positional"`` or ``"preceding2"``.
        max_cells: Largest number of cells (needed by ``"positional"`` only).
        dropout: Dropout on node features between layers.
        pool: Cell readout: ``"mean"``, ``"sum"`` or ``"max"``.
        dense: Run the cells as padded dense blocks (batched matrix products)
            instead of sparse message passing: the same function, several
            times faster for the small cells of NAS spaces. ``None`` picks it
            whenever every layer is a :class:`BiGCNConv`; ``True`` with other
            layers raises ``ValueError``.

    Shapes:
        - **input:** ``x`` :math:`(|\mathcal{V}|, F_{in})`, ``edge_index`` and
          ``rev_edge_index`` :math:`(2, |\mathcal{E}|)`, ``cell_pos`` and ``batch``
          :math:`(|\mathcal{V}|)`
        - **output:** :class:`EncoderOutput`; ``return_node=False`` skips the
          node features (prediction needs only ``cell`` and ``graph``).
    """

    def __init__(self, in_channels: int, hidden_channels: int, num_layers: int = 3,
                 conv: Union[str, Module] = "bigcn", context: str = "preceding",
                 max_cells: int = 32, dropout: float = 0.0, pool: str = "mean",
                 dense: Optional[bool] = None) -> None:
        super().__init__()
        if context not in CONTEXTS:
            raise ValueError(f"Unknown context {context!r}; choose one of: {', '.join(CONTEXTS)}")
        if pool not in POOLS:
            raise ValueError(f"Unknown pool {pool!r}; choose one of: {', '.join(POOLS)}")
        if num_layers < 1:
            raise ValueError(f"num_layers must be at least 1, got {num_layers}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.in_channels = in_channels
        self.hidden_channels = hidden_channels
        self.num_layers = num_layers
        self.context = context
        self.max_cells = max_cells
        self.pool = pool
        self.lin_in = Linear(in_channels, hidden_channels)
        self.convs = ModuleList(conv_resolver(conv, hidden_channels) for _ in range(num_layers))
        self.dropout = Dropout(dropout)
        self.pos_emb = Embedding(max_cells, hidden_channels) if context == "positional" else None
        dense_ok = in_channels > 0 and all(isinstance(c, BiGCNConv) for c in self.convs) and len(
            {c.add_self_loops for c in self.convs}) == 1
        if dense and not dense_ok:
            raise ValueError("dense=True needs a known in_channels and every layer to be a "
                             "BiGCNConv with the same add_self_loops, got in_channels="
                             f"{in_channels} and {[type(c).__name__ for c in self.convs]}")
        self.dense = dense_ok if dense is None else bool(dense)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.lin_in.reset_parameters()
        for conv in self.convs:
            conv.reset_parameters()
        if self.pos_emb is not None:
            torch.nn.init.normal_(self.pos_emb.weight, std=0.1)

    def _gnn(self, x: Tensor, edge_index: Tensor, rev_edge_index: Tensor) -> Tensor:
        for i, conv in enumerate(self.convs):
            if i > 0:
                x = self.dropout(x)
            x = conv(x, edge_index, rev_edge_index)
        return x

    def forward(self, x: Tensor, edge_index: Tensor, cell_pos: Tensor, batch: Optional[Tensor] = None,
                rev_edge_index: Optional[Tensor] = None,
                num_graphs: Optional[int] = None, return_node: bool = True) -> EncoderOutput:
        if batch is None:
            batch = x.new_zeros(x.size(0), dtype=torch.long)
        if num_graphs is None:
            num_graphs = int(batch.max()) + 1 if batch.numel() else 0
        if rev_edge_index is None:
            rev_edge_index = edge_index.flip(0)
        num_cells = int(cell_pos.max()) + 1
        pool = POOLS[self.pool]
        if self.pos_emb is not None and num_cells > self.max_cells:
            raise ValueError(f"{num_cells} cells exceed max_cells={self.max_cells}")
        inject = self.context in ("preceding", "preceding2")
        if self.dense:
            return self._forward_dense(x, edge_index, rev_edge_index, cell_pos, batch,
                                       num_graphs, num_cells, inject, return_node)
        v = self.lin_in(x)
        if self.pos_emb is not None:
            v = v + self.pos_emb(cell_pos)

        # Cells are processed one position at a time for the whole batch (the
        # injection makes cell i depend on cell i-1; the other contexts reuse the
        # same path, which keeps each step's tensors small and cache-friendly).
        groups = _group_by_cell(edge_index, rev_edge_index, cell_pos, num_cells)
        z = z2 = v.new_zeros(num_graphs, self.hidden_channels)
        two = self.context == "preceding2"
        cells, outs = [], []
        order = torch.cat(groups.nodes)
        # One gather and a split (whose backward is a single concatenation) rather
        # than a gather per cell, whose backward would zero-fill all nodes each time.
        v_cells = v[order].split([n.numel() for n in groups.nodes])
        for nodes, v_cell, ei, rei in zip(groups.nodes, v_cells, groups.edges, groups.rev_edges):
            b = batch[nodes]
            context = z + z2 if two else z
            out = self._gnn(v_cell + context[b] if inject else v_cell, ei, rei)
            z, z2 = pool(out, b, size=num_graphs), z
            outs.append(out)
            cells.append(z)
        # Put node features back in the batch's node order.
        node = torch.empty_like(v).index_copy_(0, order, torch.cat(outs)) if return_node \
            else None
        cell = torch.stack(cells, dim=1)
        return EncoderOutput(node, cell, cell.mean(dim=1))

    def _forward_dense(self, x: Tensor, edge_index: Tensor, rev_edge_index: Tensor,
                       cell_pos: Tensor, batch: Tensor, num_graphs: int, num_cells: int,
                       inject: bool, return_node: bool) -> EncoderOutput:
        # Every (cell position, graph) pair is a block of ``width`` padded node
        # slots, position-major, so that one position's blocks are contiguous.
        group = cell_pos * num_graphs + batch
        num_groups = num_cells * num_graphs
        counts, local = _local_rank(group, num_groups)
        # Each position runs at its own width (its largest cell): a small fixed block
        # between stages is not padded to the searched cells' size. The slots cut
        # off are padding of every graph at that position.
        widths = counts.view(num_cells, num_graphs).amax(1).tolist()
        width = max(widths)
        slot = group * width + local
        self_loops = self.convs[0].add_self_loops
        # Both directions of every position as one batch of operators, and every
        # layer's two projections side by side in one weight, prepared once per call.
        ops = stacked_mean_operators(edge_index, rev_edge_index, group, local, num_groups,
                                     width, num_graphs, self_loops, x.dtype)
        ops = ops.view(num_cells, 2 * num_graphs, width, width)
        params = [conv.stacked_parameters() for conv in self.convs]
        size = counts.view(num_cells, num_graphs, 1).to(x.dtype)
        mask = torch.zeros(num_groups * width, dtype=x.dtype, device=x.device)
        mask[slot] = 1.0
        mask = mask.view(num_cells, num_graphs, width, 1)
        # Mean and sum readouts are one batched product with these weights.
        readout = None if self.pool == "max" else mask.transpose(-1, -2) / (
            size.clamp(min=1.0).unsqueeze(-1) if self.pool == "mean" else 1.0)
        # The first layer reads lin_in(x) + c, with c the same for every node of a
        # cell (context, positional embedding). Its aggregation is therefore
        # A (x W') + rowsum(A) (c W + b), with W' = lin_in then W composed (F_in x
        # F_out instead of F_out x F_out per node): the same function, in which A x W'
        # depends on the cell alone, so a position whose operators and node types
        # equal an earlier position's (the repeated normal cells of a macro skeleton)
        # reuses its product and only adds its own shift. Padded slots may get a
        # shift, but no real node reads them (the operators have no entry in their
        # columns) and the readout masks them, so they never reach a real node, a
        # cell feature or a gradient.
        padded = x.new_zeros(num_groups * width, x.size(-1)).index_copy(0, slot, x)
        padded = padded.view(num_cells, num_graphs * width, -1)
        (weight0, bias0), params = params[0], params[1:]
        weight_in = torch.matmul(self.lin_in.weight.t(), weight0)
        # Every row of an operator sums to 1/2 (the directions' halves) when it has an
        # entry, as every row does with self-loops; without them a row with no edges
        # is zero.
        nonempty = None if self_loops else ops.ne(0).any(-1, keepdim=True).to(x.dtype)
        # Per-cell constants before the first layer's projection: (num_cells, 1, hidden).
        offset = padded.new_zeros(num_cells, 1, self.hidden_channels)
        if self.lin_in.bias is not None:
            offset = offset + self.lin_in.bias
        if self.pos_emb is not None:
            offset = offset + self.pos_emb.weight[:num_cells].unsqueeze(1)
        z = z2 = padded.new_zeros(num_graphs, self.hidden_channels)
        two = self.context == "preceding2"
        drop = self.dropout.p > 0
        hidden = self.hidden_channels
        cells, outs = [], []
        # (position, A x W' of both directions) of the distinct cells so far
        computed: list[tuple[int, tuple[Tensor, Tensor]]] = []
        for k, w in enumerate(widths):
            op_k = ops[k][:, :w, :w]
            c = offset[k] + (z + z2 if two else z) if inject else offset[k]
            shift = torch.matmul(c, weight0)  # (num_graphs or 1, 2 * hidden)
            if bias0 is not None:
                shift = shift + bias0
            cell_term = next((t for j, t in computed if torch.equal(ops[k], ops[j])
                              and torch.equal(padded[k], padded[j])), None)
            if cell_term is None:
                x_k = padded[k].view(num_graphs, width, -1)[:, :w].reshape(num_graphs * w, -1)
                proj = torch.mm(x_k, weight_in).view(num_graphs, w, 2 * hidden)
                cell_term = BiGCNConv.aggregate_stacked(op_k, proj)
                computed.append((k, cell_term))
            shifts = shift.unsqueeze(1).split(hidden, dim=-1)  # one per direction
            if nonempty is None:
                halves = [torch.add(t, s, alpha=0.5) for t, s in zip(cell_term, shifts)]
            else:
                rows = nonempty[k, :, :w].split(num_graphs)
                halves = [torch.addcmul(t, r, s, value=0.5)
                          for t, r, s in zip(cell_term, rows, shifts)]
            h = BiGCNConv.combine_stacked(*halves)
            for weight, bias in params:
                if drop:
                    h = self.dropout(h)
                h = BiGCNConv.forward_stacked(h, op_k, weight, bias)
            if readout is not None:
                z, z2 = torch.bmm(readout[k, :, :, :w], h).squeeze(1), z
            else:
                z, z2 = self._dense_pool(h, mask[k, :, :w], size[k]), z
            if return_node:
                outs.append(F.pad(h, (0, 0, 0, width - w)))
            cells.append(z)
        node = torch.stack(outs).view(num_groups * width, -1)[slot] if return_node else None
        cell = torch.stack(cells, dim=1)
        return EncoderOutput(node, cell, cell.mean(dim=1))

    @staticmethod
    def _dense_pool(x: Tensor, mask: Tensor, size: Tensor) -> Tensor:
        """The max readout over the real (unpadded) slots; graphs without nodes give 0."""
        out = x.masked_fill(mask == 0, float("-inf")).amax(dim=1)
        return out.masked_fill(size == 0, 0.0)
