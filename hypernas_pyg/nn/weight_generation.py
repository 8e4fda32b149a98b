"""Glue between encoder features, :class:`HyperNetwork` and a space's real network.

:func:`generated_state` turns one architecture's encoder node features into the
kernels of its network, ready for :func:`torch.func.functional_call`::

    network = space.build_network(space.network_arch(arch), **size)
    slots = space.kernel_slots(arch, network)
    hypernet = HyperNetwork(hidden, space.kernel_shapes(**size))
    params = generated_state(slots, out.node, data.cell_pos, hypernet,
                             cells=space.cell_sequence(arch))
    logits = torch.func.functional_call(network, params, (images,))

Nothing here knows a particular space: the space says which kernel comes from
which node (:class:`~hypernas_pyg.spaces.KernelSlot`).
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch
from torch import Tensor

from hypernas_pyg.nn.hypernetwork import HyperNetwork
from hypernas_pyg.spaces.search_space import Cell, KernelSlot


class NodeLayout:
    r"""Where the nodes of one architecture's cells lie among its encoder nodes.

    The nodes are laid out as in :class:`~hypernas_pyg.data.ArchData`: the nodes
    of cell ``p`` (in order of appearance among the nodes with ``cell_pos == p``)
    are numbered ``0, 1, ...`` within the cell. :meth:`index` maps ``(cell,
    node)`` pairs to rows of the node-feature matrix; :meth:`check` compares a
    graph's ``cell_pos`` (and node types) with the expected cells.

    Args:
        cells: The architecture's cell sequence (``space.cell_sequence(arch)``).
        node_type_index: Maps an op name to its node-type index (for :meth:`check`).
        arch: The architecture string, for error messages.
    """

    def __init__(self, cells: Sequence[Cell], node_type_index=None, arch: str = "") -> None:
        self.arch = arch
        self.counts = [len(cell.ops) for cell in cells]
        self.starts = [0]
        for n in self.counts[:-1]:
            self.starts.append(self.starts[-1] + n)
        self.types = None if node_type_index is None else torch.tensor(
            [node_type_index(op) for cell in cells for op in cell.ops], dtype=torch.long)
        self._node_type_names = [op for cell in cells for op in cell.ops]

    def check(self, cell_pos: Tensor, op: Optional[Tensor] = None) -> Tensor:
        """Validates one graph's layout and returns the permutation that sorts its nodes
        by cell (``argsort(cell_pos, stable=True)``).

        Raises:
            ValueError: when the number of cells or the node count of any cell
                differs from the expected cells, or ``op`` disagrees with them.
        """
        if cell_pos.dim() != 1:
            raise ValueError(f"cell_pos must be 1-dimensional, got shape {tuple(cell_pos.shape)}")
        if cell_pos.numel() and int(cell_pos.min()) < 0:
            raise ValueError("cell_pos must be non-negative")
        counts = torch.bincount(cell_pos, minlength=len(self.counts)).tolist()
        if counts != self.counts:
            raise ValueError(
                f"Node layout does not match the network ({self.arch}): expected "
                f"{len(self.counts)} cells with node counts {self.counts}, got {len(counts)} "
                f"cells with node counts {counts}")
        order = torch.argsort(cell_pos, stable=True)
        if op is not None and self.types is not None:
            if op.shape != cell_pos.shape:
                raise ValueError(
                    f"op must have shape {tuple(cell_pos.shape)}, got {tuple(op.shape)}")
            bad = (op[order] != self.types.to(op.device)).nonzero().view(-1)
            if bad.numel():
                i = int(bad[0])
                raise ValueError(
                    f"Node {int(order[i])} has node type {int(op[order[i]])} but the network "
                    f"({self.arch}) expects {self._node_type_names[i]!r} there: the features "
                    "belong to another architecture")
        return order

    def rows(self, slots: Sequence[KernelSlot]) -> list[int]:
        """Positions, among the nodes sorted by cell, of every slot's node."""
        out = []
        for slot in slots:
            if not 0 <= slot.cell < len(self.counts) or \
                    not 0 <= slot.node < self.counts[slot.cell]:
                raise ValueError(f"kernel {slot.name} comes from node {slot.node} of cell "
                                 f"{slot.cell}, which the graph of {self.arch} does not have")
            out.append(self.starts[slot.cell] + slot.node)
        return out


def generated_state(slots: Sequence[KernelSlot], node_feats: Tensor, cell_pos: Tensor,
                    hypernet: HyperNetwork, cells: Sequence[Cell],
                    op: Optional[Tensor] = None, node_type_index=None,
                    arch: str = "") -> dict[str, Tensor]:
    r"""Generates every kernel of ``slots`` from one architecture's node features.

    All slot nodes go through the hypernetwork in one call (one trunk pass, one
    head call per kernel shape). Parameters that are not slots (stem,
    normalisation, classifier) are not generated.

    Args:
        slots: The kernels (``space.kernel_slots(arch, network)``).
        node_feats: Node features of this one architecture (e.g. the rows of
            :attr:`EncoderOutput.node` with ``batch == g``).
        cell_pos: The cell position of every node.
        hypernet: Generates the kernels; it needs a head for every slot's shape.
        cells: The architecture's cell sequence (``space.cell_sequence(arch)``),
            against which the node layout is checked.
        op: Optional node-type indices (``ArchData.op``); with
            ``node_type_index`` every node is checked against ``cells``, which
            catches features of a different architecture.
        node_type_index: ``space.node_type_index``.
        arch: The architecture string, for error messages.

    Shapes:
        - **input:** ``node_feats`` :math:`(|\mathcal{V}|, H)`, ``cell_pos``
          and ``op`` :math:`(|\mathcal{V}|)`
        - **output:** ``{parameter name: kernel}``, each of its slot's shape

    Raises:
        ValueError: when the node layout differs from ``cells``, when ``op``
            disagrees with them, or when ``hypernet`` lacks a kernel shape.
    """
    if node_feats.dim() != 2:
        raise ValueError(f"node_feats must be 2-dimensional, got shape {tuple(node_feats.shape)}")
    if cell_pos.dim() != 1 or cell_pos.numel() != node_feats.size(0):
        raise ValueError(f"cell_pos must have shape [{node_feats.size(0)}] (one entry per "
                         f"node), got {tuple(cell_pos.shape)}")
    layout = NodeLayout(cells, node_type_index, arch)
    order = layout.check(cell_pos, op)
    index = torch.tensor(layout.rows(slots), dtype=torch.long, device=cell_pos.device)
    shape_ids = torch.tensor([hypernet.shape_index(slot.shape) for slot in slots],
                             dtype=torch.long, device=node_feats.device)
    kernels = hypernet(node_feats[order[index]], shape_ids)
    return dict(zip((slot.name for slot in slots), kernels))
