"""The NAS-Bench-201 ``infer.tiny`` network, runnable with external weights."""
from __future__ import annotations

from typing import Any, Callable, Sequence

import torch
from torch import Tensor, nn

from hypernas_pyg.nn.avg_pool import ExcludePadAvgPool2d
from hypernas_pyg.spaces.nasbench201.ops import NB201_EDGES, NB201_OPS


class ReLUConvBN(nn.Module):
    r"""``ReLU -> Conv2d (no bias) -> BatchNorm2d``, NAS-Bench-201's conv op.

    Args:
        in_channels: Input channels.
        out_channels: Output channels.
        kernel_size: Square kernel size.
        stride: Convolution stride.

    Shapes:
        - **input:** :math:`(B, C_{in}, H, W)`
        - **output:** :math:`(B, C_{out}, H / s, W / s)` for stride :math:`s`
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int,
                 stride: int = 1) -> None:
        super().__init__()
        self.act = nn.ReLU(inplace=False)
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride,
                              padding=kernel_size // 2, bias=False)
        self.bn = nn.BatchNorm2d(out_channels)

    def forward(self, x: Tensor) -> Tensor:
        return self.bn(self.conv(self.act(x)))


class Zero(nn.Module):
    """The ``none`` op: an all-zero tensor of the input's shape (no gradient path)."""

    def forward(self, x: Tensor) -> Tensor:
        return torch.zeros_like(x)


def _nor_conv(kernel_size: int) -> Callable[[int], nn.Module]:
    def build(channels: int) -> nn.Module:
        return ReLUConvBN(channels, channels, kernel_size)
    return build


#: Builders ``channels -> module`` for every NAS-Bench-201 edge op.
OP_BUILDERS: dict[str, Callable[[int], nn.Module]] = {
    "none": lambda channels: Zero(),
    "skip_connect": lambda channels: nn.Identity(),
    "nor_conv_1x1": _nor_conv(1),
    "nor_conv_3x3": _nor_conv(3),
    "avg_pool_3x3": lambda channels: ExcludePadAvgPool2d(3, stride=1, padding=1),
}


class NB201Cell(nn.Module):
    r"""A NAS-Bench-201 cell: 4 nodes, 6 edges, each node the sum of its inputs.

    Node 0 is the cell input; node :math:`j \in \{1, 2, 3\}` is

    .. math::
        x_j = \sum_{i < j} o_{i \to j}(x_i),

    and node 3 is the cell output. ``edges[k]`` holds the op of edge ``k`` in
    arch-string order ``(0,1), (0,2), (1,2), (0,3), (1,3), (2,3)``.

    Args:
        ops: The six edge ops in arch-string order.
        channels: Channels of every node (input and output alike).

    Shapes:
        - **input:** :math:`(B, C, H, W)`
        - **output:** :math:`(B, C, H, W)`
    """

    def __init__(self, ops: Sequence[str], channels: int) -> None:
        super().__init__()
        self.ops = tuple(ops)
        self.edges = nn.ModuleList(OP_BUILDERS[op](channels) for op in self.ops)

    def forward(self, x: Tensor) -> Tensor:
        nodes = [x]
        for node in range(1, 4):
            terms = [self.edges[k](nodes[src])
                     for k, (src, dst) in enumerate(NB201_EDGES) if dst == node]
            out = terms[0]
            for term in terms[1:]:
                out = out + term
            nodes.append(out)
        return nodes[3]


class ResidualBlock(nn.Module):
    r"""NAS-Bench-201's reduction block between stages (a ResNet basic block).

    .. math::
        y = \mathrm{Conv}_{1\times1}(\mathrm{AvgPool}_{2\times2}(x))
          + \mathrm{RCB}_{3\times3}(\mathrm{RCB}_{3\times3,\,s=2}(x)),

    where RCB is ReLU-Conv-BN. The shortcut has no BatchNorm and no ReLU.

    Args:
        in_channels: Input channels.
        out_channels: Output channels.

    Shapes:
        - **input:** :math:`(B, C_{in}, H, W)`
        - **output:** :math:`(B, C_{out}, H / 2, W / 2)`
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv_a = ReLUConvBN(in_channels, out_channels, 3, stride=2)
        self.conv_b = ReLUConvBN(out_channels, out_channels, 3)
        self.shortcut = nn.Sequential()
        self.shortcut.add_module("pool", nn.AvgPool2d(kernel_size=2, stride=2, padding=0))
        self.shortcut.add_module("conv", nn.Conv2d(in_channels, out_channels, 1, bias=False))

    def forward(self, x: Tensor) -> Tensor:
        return self.shortcut(x) + self.conv_b(self.conv_a(x))


def _check_positive_int(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


class NASBench201Network(nn.Module):
    r"""The NAS-Bench-201 ``infer.tiny`` network (Dong & Yang, ICLR 2020).

    Macro skeleton: a stem ``Conv3x3(in_channels, C, bias=False) -> BN``; three
    stages of ``N`` identical cells with ``C``, ``2C`` and ``4C`` channels; a
    :class:`ResidualBlock` (stride 2, doubling the channels) between stages;
    then ``BN -> ReLU -> global average pool -> Linear(4C, num_classes)``.

    ``self.cells`` holds the ``3N + 2`` cells in the order of
    :meth:`NASBench201Space.cell_sequence`, so ``cells[p]`` is the cell at
    cell position ``p``: normal cells at ``0..N-1``, ``N+1..2N``,
    ``2N+2..3N+1`` and reduction blocks at ``N`` and ``2N+1``.

    The network runs *functionally*: every weight can be supplied from outside
    with :func:`torch.func.functional_call`, and gradients flow back into the
    supplied tensors (e.g. the output of a hypernetwork). :meth:`op_weight_names`
    tells which parameter belongs to which op node of the cell sequence.

    Parameter count convention: the sum of ``p.numel()`` over **all**
    parameters (convolution kernels, BatchNorm affine weights and biases, the
    classifier's weight and bias; BatchNorm running statistics are buffers and
    do not count), divided by ``1e6``, is the ``params`` score (millions) of
    NASLib's ``zc_nasbench201.json``: with ``C=16, N=5`` it matches to the
    table's 6 decimals for every listed architecture (724 on CIFAR-10 with
    ``num_classes=10``; also CIFAR-100 with 100, ImageNet16-120 with 120).
    Dropping the BatchNorm or classifier parameters breaks the match. FLOPs:
    :func:`hypernas_pyg.spaces.counting.count_flops`.

    Example::

        net = NASBench201Network.from_arch(arch_str)
        weights = {name: generated[key] for key, name in net.op_weight_names().items()}
        logits = torch.func.functional_call(net, weights, (images,))

    Unsupplied parameters and buffers are taken from the module itself. In
    training mode BatchNorm normalises with batch statistics and updates the
    module's running statistics unless buffers are supplied as well.
    The ``none`` op returns ``torch.zeros_like(input)``.

    Args:
        ops: The six edge ops in arch-string order (edges ``(0,1), (0,2), (1,2),
            (0,3), (1,3), (2,3)``), each one of ``none``, ``skip_connect``,
            ``nor_conv_1x1``, ``nor_conv_3x3``, ``avg_pool_3x3``.
        C: Channels of the first stage (16 in the benchmark).
        N: Cells per stage (5 in the benchmark).
        num_classes: Output classes of the classifier.
        in_channels: Channels of the input images.

    Shapes:
        - **input:** :math:`(B, \text{in\_channels}, H, W)` with :math:`H, W`
          divisible by 4 for exact shapes (32x32 for CIFAR-10).
        - **output:** :math:`(B, \text{num\_classes})` logits.

    Raises:
        ValueError: for a wrong number of ops, an unknown op name, or a
            non-positive ``C``, ``N``, ``num_classes`` or ``in_channels``.
    """

    def __init__(self, ops: Sequence[str], C: int = 16, N: int = 5,
                 num_classes: int = 10, in_channels: int = 3) -> None:
        super().__init__()
        if isinstance(ops, str):
            raise ValueError(
                f"ops must be a sequence of {len(NB201_EDGES)} op names, got the string "
                f"{ops!r}; use NASBench201Network.from_arch for arch strings")
        ops = tuple(ops)
        if len(ops) != len(NB201_EDGES):
            raise ValueError(
                f"ops must hold exactly {len(NB201_EDGES)} edge ops (edges {NB201_EDGES}), "
                f"got {len(ops)}: {ops!r}")
        for op in ops:
            if op not in OP_BUILDERS:
                raise ValueError(
                    f"Unknown op {op!r}; allowed ops: {', '.join(NB201_OPS)}")
        for name, value in (("C", C), ("N", N), ("num_classes", num_classes),
                            ("in_channels", in_channels)):
            _check_positive_int(name, value)

        self.ops = ops
        self.C = C
        self.N = N
        self.num_classes = num_classes
        self.in_channels = in_channels

        self.stem = nn.Sequential()
        self.stem.add_module("conv", nn.Conv2d(in_channels, C, 3, padding=1, bias=False))
        self.stem.add_module("bn", nn.BatchNorm2d(C))

        cells: list[nn.Module] = []
        channels = C
        for stage in range(3):
            if stage > 0:
                cells.append(ResidualBlock(channels, 2 * channels))
                channels *= 2
            cells.extend(NB201Cell(ops, channels) for _ in range(N))
        self.cells = nn.ModuleList(cells)

        self.lastact = nn.Sequential()
        self.lastact.add_module("bn", nn.BatchNorm2d(channels))
        self.lastact.add_module("act", nn.ReLU(inplace=False))
        self.global_pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(channels, num_classes)

    @classmethod
    def from_arch(cls, arch_str: str, **kwargs: Any) -> "NASBench201Network":
        """Builds the network of a NAS-Bench-201 arch string.

        Args:
            arch_str: An arch string ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``,
                e.g. ``"|nor_conv_3x3~0|+|none~0|skip_connect~1|+|skip_connect~0|none~1|avg_pool_3x3~2|"``.
            **kwargs: Forwarded to the constructor (``C``, ``N``, ``num_classes``,
                ``in_channels``).

        Raises:
            ValueError: for a malformed string or an unknown op.
        """
        from hypernas_pyg.spaces.nasbench201.space import NASBench201Space
        return cls(NASBench201Space().parse(arch_str), **kwargs)

    @property
    def arch_str(self) -> str:
        """The arch string of this network's cell."""
        from hypernas_pyg.spaces.nasbench201.space import NASBench201Space
        return NASBench201Space().to_string(self.ops)

    @property
    def reduction_positions(self) -> tuple[int, int]:
        """Cell positions of the two reduction blocks, ``(N, 2N + 1)``."""
        return (self.N, 2 * self.N + 1)

    def op_weight_names(self) -> dict[tuple[int, int], str]:
        r"""Maps every op node that owns a convolution to its kernel's parameter name.

        Keys are ``(cell_position, op_node)`` in the numbering of
        :meth:`NASBench201Space.cell_sequence`:

        - normal cell ``p``: op node ``k`` in ``1..6`` is edge ``k - 1`` in
          arch-string order; only ``nor_conv_1x1`` / ``nor_conv_3x3`` edges
          appear, mapped to ``"cells.{p}.edges.{k-1}.conv.weight"``;
        - reduction block ``p`` (``p`` in :attr:`reduction_positions`): op node
          1 (``res_conv3x3_s2``) -> ``"cells.{p}.conv_a.conv.weight"``, 2
          (``res_conv3x3``) -> ``"cells.{p}.conv_b.conv.weight"``, 3
          (``res_shortcut``) -> ``"cells.{p}.shortcut.conv.weight"``.

        Parameter-free ops (``none``, ``skip_connect``, ``avg_pool_3x3``) have
        no entry. The names are keys of :meth:`named_parameters`, ready for
        :func:`torch.func.functional_call`. BatchNorm, stem and classifier
        parameters are not listed.

        Shapes:
            - ``nor_conv_kxk`` at stage width :math:`c`: :math:`(c, c, k, k)`
            - ``res_conv3x3_s2``: :math:`(2c, c, 3, 3)`; ``res_conv3x3``:
              :math:`(2c, 2c, 3, 3)`; ``res_shortcut``: :math:`(2c, c, 1, 1)`,
              where :math:`c` is the width of the preceding stage.

        Returns:
            An ordered dict (by cell position, then op node) of parameter names.
        """
        names: dict[tuple[int, int], str] = {}
        for pos, cell in enumerate(self.cells):
            if isinstance(cell, ResidualBlock):
                names[(pos, 1)] = f"cells.{pos}.conv_a.conv.weight"
                names[(pos, 2)] = f"cells.{pos}.conv_b.conv.weight"
                names[(pos, 3)] = f"cells.{pos}.shortcut.conv.weight"
            else:
                for k, edge in enumerate(cell.edges):
                    if isinstance(edge, ReLUConvBN):
                        names[(pos, k + 1)] = f"cells.{pos}.edges.{k}.conv.weight"
        return names

    def forward(self, x: Tensor) -> Tensor:
        x = self.stem(x)
        for cell in self.cells:
            x = cell(x)
        x = self.global_pool(self.lastact(x))
        return self.classifier(x.flatten(1))

    def extra_repr(self) -> str:
        return (f"arch={self.arch_str!r}, C={self.C}, N={self.N}, "
                f"num_classes={self.num_classes}, in_channels={self.in_channels}")
