"""Run any PyG convolution along and against the edges, as :class:`BiGCNConv` does."""
from __future__ import annotations

import copy
from typing import Optional

import torch.nn.functional as F
from torch import Tensor
from torch.nn import Module


class Bidirectional(Module):
    r"""Wraps a convolution so that it reads a DAG in both directions.

    .. math::
        \mathbf{V}' = \tfrac{1}{2}\,\mathrm{ReLU}\big(f^{+}(\mathbf{V}, \mathcal{E})\big)
        + \tfrac{1}{2}\,\mathrm{ReLU}\big(f^{-}(\mathbf{V}, \mathcal{E}^{\top})\big)

    where :math:`f^{+}` is ``conv`` and :math:`f^{-}` an independent copy of it
    with freshly reset parameters. This combines directions exactly as
    :class:`~hypernas_pyg.nn.conv.BiGCNConv`, so swapping the message-passing
    layer changes only the per-direction operator.

    Args:
        conv: A PyG convolution called as ``conv(x, edge_index)``.

    Shapes:
        - **input:** :math:`(|\mathcal{V}|, F_{in})`, :math:`(2, |\mathcal{E}|)`
        - **output:** :math:`(|\mathcal{V}|, F_{out})`
    """

    def __init__(self, conv: Module) -> None:
        super().__init__()
        self.conv_fwd = conv
        self.conv_rev = copy.deepcopy(conv)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.conv_fwd.reset_parameters()
        self.conv_rev.reset_parameters()

    def forward(self, x: Tensor, edge_index: Tensor,
                rev_edge_index: Optional[Tensor] = None) -> Tensor:
        if rev_edge_index is None:
            rev_edge_index = edge_index.flip(0)
        return (0.5 * F.relu(self.conv_fwd(x, edge_index))
                + 0.5 * F.relu(self.conv_rev(x, rev_edge_index)))

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.conv_fwd})"
