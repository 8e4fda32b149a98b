"""The HyperNAS hypernetwork: op-node features -> convolution kernels."""
from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import Tensor
from torch.nn import LayerNorm, Linear, Module, ModuleList
from torch_geometric.nn import MLP


def _check_positive_int(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


class HyperNetwork(Module):
    r"""Multi-head MLP mapping each op node's feature to that op's weight tensor.

    A shared trunk (``num_layers`` ``Linear -> ReLU`` layers, then a LayerNorm
    without affine parameters) embeds every op node; one linear head per
    distinct weight shape :math:`(C_{out}, C_{in}, k, k)` maps the embedding to
    a tensor of that shape (the paper's "multi-head MLP with fixed output
    sizes"). The raw head output is scaled by the shape's fan-in:

    .. math::
        \mathbf{h} = \mathrm{LN}\big(\mathrm{MLP}(\mathbf{v})\big), \qquad
        \mathbf{W} = \frac{\text{gain}}{\sqrt{C_{in} k^2}}\,
                     \mathrm{reshape}\big(\mathbf{A}_s \mathbf{h} + \mathbf{b}_s\big),

    where :math:`s` is the node's shape id. Heads start with
    :math:`\mathbf{A}_s \sim \mathcal{N}(0, 1/\text{hidden})` and
    :math:`\mathbf{b}_s = 0`. As :math:`\mathbf{h}` has zero mean and unit
    variance over its channels, every raw output then has unit variance, so a
    freshly initialised hypernetwork generates kernels with standard deviation
    :math:`\text{gain} / \sqrt{C_{in} k^2}`; the default
    :math:`\text{gain} = \sqrt{2}` is Kaiming-normal scale for ReLU networks,
    whatever the scale of the input features. (Fan-in is the product of all
    dimensions but the first, for shapes of any rank.)

    Args:
        in_channels: Size of the op-node features.
        shapes: The distinct weight shapes, one head each; shape id ``i`` in
            :meth:`forward` means ``shapes[i]``. See
            :meth:`hypernas_pyg.spaces.NetworkSpace.kernel_shapes`.
        hidden_channels: Width of the trunk.
        num_layers: Layers of the trunk.
        gain: Scale of the generated weights relative to :math:`1/\sqrt{\text{fan-in}}`.

    Shapes:
        - **input:** ``node_feats`` :math:`(M, \text{in\_channels})`, ``shape_ids`` :math:`(M)`
        - **output:** a list of :math:`M` tensors, the ``i``-th of shape
          ``shapes[shape_ids[i]]``

    Raises:
        ValueError: for non-positive sizes, an empty ``shapes``, a shape with a
            non-positive dimension, or a repeated shape.
    """

    def __init__(self, in_channels: int, shapes: Sequence[tuple[int, ...]],
                 hidden_channels: int = 64, num_layers: int = 2,
                 gain: float = math.sqrt(2.0)) -> None:
        super().__init__()
        _check_positive_int("in_channels", in_channels)
        _check_positive_int("hidden_channels", hidden_channels)
        _check_positive_int("num_layers", num_layers)
        if not (isinstance(gain, (int, float)) and math.isfinite(gain) and gain > 0):
            raise ValueError(f"gain must be a finite positive number, got {gain!r}")
        checked: list[tuple[int, ...]] = []
        for shape in shapes:
            shape = tuple(shape)
            if not shape or any(isinstance(d, bool) or not isinstance(d, int) or d < 1
                                for d in shape):
                raise ValueError(f"Every shape must be a tuple of positive integers, got {shape!r}")
            if shape in checked:
                raise ValueError(f"Shape {shape} is listed twice; shapes must be distinct")
            checked.append(shape)
        if not checked:
            raise ValueError("shapes must list at least one weight shape")

        self.in_channels = in_channels
        self.hidden_channels = hidden_channels
        self.num_layers = num_layers
        self.gain = float(gain)
        self.shapes: tuple[tuple[int, ...], ...] = tuple(checked)
        self._shape_ids = {shape: i for i, shape in enumerate(self.shapes)}
        self.scales: tuple[float, ...] = tuple(
            self.gain / math.sqrt(math.prod(shape[1:])) for shape in self.shapes)

        self.trunk = MLP([in_channels] + [hidden_channels] * num_layers, norm=None,
                         plain_last=False)
        self.norm = LayerNorm(hidden_channels, elementwise_affine=False)
        self.heads = ModuleList(Linear(hidden_channels, math.prod(shape))
                                for shape in self.shapes)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.trunk.reset_parameters()
        for head in self.heads:
            torch.nn.init.normal_(head.weight, std=1.0 / math.sqrt(self.hidden_channels))
            torch.nn.init.zeros_(head.bias)

    def shape_index(self, shape: Sequence[int]) -> int:
        """The shape id (head index) of ``shape``.

        Raises:
            ValueError: when no head generates ``shape``, listing the known shapes.
        """
        key = tuple(shape)
        if key not in self._shape_ids:
            raise ValueError(f"No head generates weights of shape {key}; "
                             f"known shapes: {list(self.shapes)}")
        return self._shape_ids[key]

    def forward(self, node_feats: Tensor, shape_ids: Tensor) -> list[Tensor]:
        if node_feats.dim() != 2 or node_feats.size(1) != self.in_channels:
            raise ValueError(f"node_feats must have shape [M, {self.in_channels}], "
                             f"got {tuple(node_feats.shape)}")
        if shape_ids.dim() != 1 or shape_ids.numel() != node_feats.size(0):
            raise ValueError(f"shape_ids must have shape [{node_feats.size(0)}], "
                             f"got {tuple(shape_ids.shape)}")
        if shape_ids.numel() == 0:
            return []
        present = torch.unique(shape_ids).tolist()
        if present[0] < 0 or present[-1] >= len(self.shapes):
            raise ValueError(f"shape_ids must lie in [0, {len(self.shapes) - 1}], got "
                             f"values {present}")

        h = self.norm(self.trunk(node_feats))  # one trunk pass over all nodes
        out: list[Tensor] = [h] * node_feats.size(0)  # placeholders, all overwritten
        for s in present:  # one head call per shape group
            idx = (shape_ids == s).nonzero().view(-1)
            weights = self.heads[s](h[idx]) * self.scales[s]
            for i, w in zip(idx.tolist(), weights.view(-1, *self.shapes[s]).unbind(0)):
                out[i] = w
        return out

    def extra_repr(self) -> str:
        return (f"in_channels={self.in_channels}, num_shapes={len(self.shapes)}, "
                f"gain={self.gain:.4g}")
