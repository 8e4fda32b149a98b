"""Message-passing layers and the resolver that swaps them by name."""
from __future__ import annotations

import copy
from typing import Callable, Union

from torch.nn import Module
from torch_geometric.nn import GINConv, MLP, TransformerConv

from hypernas_pyg.nn.conv.bi_gcn_conv import BiGCNConv
from hypernas_pyg.nn.conv.bidirectional import Bidirectional


def _bigcn(channels: int) -> Module:
    return BiGCNConv(channels, channels)


def _gin(channels: int) -> Module:
    return Bidirectional(GINConv(MLP([channels, channels, channels], norm=None), train_eps=True))


def _transformer(channels: int, heads: int = 4) -> Module:
    if channels % heads:
        raise ValueError(f"transformer encoder needs hidden_channels divisible by {heads}, "
                         f"got {channels}")
    return Bidirectional(TransformerConv(channels, channels // heads, heads=heads, root_weight=True))


#: Builders of the swappable bidirectional layers, keyed by name.
CONVS: dict[str, Callable[[int], Module]] = {
    "bigcn": _bigcn, "gin": _gin, "transformer": _transformer}


def conv_resolver(conv: Union[str, Module], channels: int) -> Module:
    """Returns a fresh bidirectional layer mapping ``channels`` to ``channels``.

    Args:
        conv: A name from :data:`CONVS` or a module instance. An instance is
            deep-copied and its parameters reset, so every layer of a stack is
            independent; it must be called as ``conv(x, edge_index, rev_edge_index)``
            (wrap a one-directional PyG layer in :class:`Bidirectional`).
        channels: Input and output feature size.

    Raises:
        ValueError: for an unknown name, listing the choices.
    """
    if isinstance(conv, Module):
        layer = copy.deepcopy(conv)
        if hasattr(layer, "reset_parameters"):
            layer.reset_parameters()
        return layer
    if isinstance(conv, str) and conv.lower() in CONVS:
        return CONVS[conv.lower()](channels)
    raise ValueError(f"Unknown conv {conv!r}; choose one of: {', '.join(CONVS)} "
                     "or pass a module instance")


__all__ = ["BiGCNConv", "Bidirectional", "CONVS", "conv_resolver"]
