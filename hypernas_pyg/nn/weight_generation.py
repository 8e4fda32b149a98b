"""Glue between encoder features, :class:`HyperNetwork` and the NAS-Bench-201 network.

:func:`kernel_shapes` lists the heads a hypernetwork needs for a network
configuration; :func:`generated_state` turns one architecture's encoder node
features into the network's convolution kernels, ready for
:func:`torch.func.functional_call`::

    shapes = kernel_shapes(network)
    hypernet = HyperNetwork(hidden, shapes)
    params = generated_state(network, out.node, data.cell_pos, hypernet)
    logits = torch.func.functional_call(network, params, (images,))
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from hypernas_pyg.nn.hypernetwork import HyperNetwork
from hypernas_pyg.spaces.nasbench201 import NASBench201Space
from hypernas_pyg.target.nb201_network import OP_BUILDERS, NASBench201Network


def kernel_shapes(network: NASBench201Network) -> list[tuple[int, ...]]:
    """The distinct convolution-kernel shapes of ``network``'s configuration.

    Returns the shapes of the network's own op kernels (those of
    :meth:`~NASBench201Network.op_weight_names`) together with the kernels of
    *every* candidate op at each stage width (``C``, ``2C``, ``4C``), so that a
    :class:`HyperNetwork` built from these shapes serves every architecture with
    the same ``C`` (``N`` does not change the shapes). The list is sorted, hence
    identical whichever architecture ``network`` holds.

    Args:
        network: A NAS-Bench-201 network; only its configuration matters.

    Returns:
        Sorted distinct shapes ``(C_out, C_in, k, k)``.
    """
    params = dict(network.named_parameters())
    shapes = {tuple(params[name].shape) for name in network.op_weight_names().values()}
    for stage in range(3):
        channels = network.C * 2 ** stage
        for build in OP_BUILDERS.values():
            for module in build(channels).modules():
                if isinstance(module, torch.nn.Conv2d):
                    shapes.add(tuple(module.weight.shape))
    return sorted(shapes)


def generated_state(network: NASBench201Network, node_feats: Tensor, cell_pos: Tensor,
                    hypernet: HyperNetwork, op: Optional[Tensor] = None,
                    prune: bool = True) -> dict[str, Tensor]:
    r"""Generates every op kernel of ``network`` from one architecture's node features.

    The nodes are laid out as in :class:`~hypernas_pyg.data.ArchData`: the nodes
    of cell ``p`` (in order of appearance among the nodes with ``cell_pos == p``)
    are numbered ``0, 1, ...`` within the cell, node 0 being the cell input. The
    op node ``(p, k)`` of :meth:`~NASBench201Network.op_weight_names` is the
    ``k``-th node of cell ``p``. All op nodes go through the hypernetwork in one
    call (one trunk pass, one head call per kernel shape).

    Stem, BatchNorm and classifier parameters are not generated: they stay
    ordinary parameters of ``network`` (``functional_call`` falls back to them).

    Args:
        network: The architecture's target network.
        node_feats: Node features of this one architecture (e.g. the rows of
            :attr:`EncoderOutput.node` with ``batch == g``).
        cell_pos: The cell position of every node.
        hypernet: Generates the kernels; it needs a head for every kernel shape
            of ``network`` (see :func:`kernel_shapes`).
        op: Optional node-type indices (``ArchData.op``); when given, every
            node is checked against the network's cell sequence, which catches
            features of a different architecture.
        prune: The features are those of pruned cells (the default graphs,
            ``NASBench201Space(prune=True)``). Every convolution of ``network``
            must then survive pruning: build it from
            :meth:`~NASBench201Space.prune_arch` of the architecture. ``False``
            for graphs of ``NASBench201Space(prune=False)``.

    Shapes:
        - **input:** ``node_feats`` :math:`(|\mathcal{V}|, H)`, ``cell_pos``
          and ``op`` :math:`(|\mathcal{V}|)`
        - **output:** ``{parameter name: kernel}``, each kernel of its
          parameter's shape

    Raises:
        ValueError: when the number of cells or the node count of any cell
            differs from ``network``'s cell sequence, when ``op`` disagrees
            with it, when a convolution of ``network`` was pruned from the
            graph, or when ``hypernet`` lacks a kernel shape.
    """
    if node_feats.dim() != 2:
        raise ValueError(f"node_feats must be 2-dimensional, got shape {tuple(node_feats.shape)}")
    if cell_pos.dim() != 1 or cell_pos.numel() != node_feats.size(0):
        raise ValueError(f"cell_pos must have shape [{node_feats.size(0)}] (one entry per "
                         f"node), got {tuple(cell_pos.shape)}")
    space = NASBench201Space(cells_per_stage=network.N, prune=prune)
    cells = space.cell_sequence(network.arch_str)
    expected = [len(cell.ops) for cell in cells]
    if cell_pos.numel() and int(cell_pos.min()) < 0:
        raise ValueError("cell_pos must be non-negative")
    counts = torch.bincount(cell_pos, minlength=len(cells)).tolist()
    if counts != expected:
        raise ValueError(
            f"Node layout does not match the network ({network.arch_str}, N={network.N}): "
            f"expected {len(expected)} cells with node counts {expected}, got "
            f"{len(counts)} cells with node counts {counts}")

    # Global index of the k-th node of cell p: order[start[p] + k].
    order = torch.argsort(cell_pos, stable=True)
    starts = [0]
    for n in expected[:-1]:
        starts.append(starts[-1] + n)

    if op is not None:
        if op.shape != cell_pos.shape:
            raise ValueError(f"op must have shape {tuple(cell_pos.shape)}, got {tuple(op.shape)}")
        want = torch.tensor([space.node_type_index(name) for cell in cells for name in cell.ops],
                            device=op.device)
        bad = (op[order] != want).nonzero().view(-1)
        if bad.numel():
            i = int(bad[0])
            raise ValueError(
                f"Node {int(order[i])} has type {space.node_types[int(op[order[i]])]!r} but "
                f"the network ({network.arch_str}) expects {space.node_types[int(want[i])]!r} "
                "there: the features belong to another architecture")

    names = network.op_weight_names()
    params = dict(network.named_parameters())
    local = []
    for p, k in names:
        try:
            local.append(starts[p] + cells[p].source_index(k))
        except KeyError:
            raise ValueError(
                f"The convolution at cell {p}, node {k} of the network ({network.arch_str}) "
                "has no node in the pruned cell graph; build the network from "
                "NASBench201Space.prune_arch(arch)") from None
    index = torch.tensor(local, dtype=torch.long, device=cell_pos.device)
    shape_ids = torch.tensor([hypernet.shape_index(params[name].shape) for name in names.values()],
                             dtype=torch.long, device=node_feats.device)
    kernels = hypernet(node_feats[order[index]], shape_ids)
    return dict(zip(names.values(), kernels))
