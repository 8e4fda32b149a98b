"""The NAS-Bench-101 network (Ying et al., ICML 2019), runnable with external weights."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from hypernas_pyg.spaces.nasbench101.hashing import as_spec, live_vertices

#: Kernel size of the convolution of each conv op (the other interior op,
#: ``maxpool3x3``, has no parameters).
CONV_KERNEL_SIZES: dict[str, int] = {"conv3x3-bn-relu": 3, "conv1x1-bn-relu": 1}


class ConvBNReLU(nn.Module):
    r"""``Conv2d (no bias, 'same' padding) -> BatchNorm2d -> ReLU``, NAS-Bench-101's
    ``conv_bn_relu`` (the conv ops and the 1x1 projections).

    The BatchNorm has both affine parameters (TF's ``batch_normalization`` with
    ``center=True, scale=True``) and ``eps=1e-5`` as in NAS-Bench-101; its momentum
    is PyTorch's default 0.1 (TF's decay 0.997 would be ``momentum=0.003``).

    Args:
        in_channels: Input channels.
        out_channels: Output channels.
        kernel_size: Square, odd kernel size (stride 1).

    Shapes:
        - **input:** :math:`(B, C_{in}, H, W)`
        - **output:** :math:`(B, C_{out}, H, W)`
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size,
                              padding=kernel_size // 2, bias=False)
        self.bn = nn.BatchNorm2d(out_channels, eps=1e-5)
        self.act = nn.ReLU(inplace=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.bn(self.conv(x)))


def _build_op(op: str, channels: int) -> nn.Module:
    if op in CONV_KERNEL_SIZES:
        return ConvBNReLU(channels, channels, CONV_KERNEL_SIZES[op])
    return nn.MaxPool2d(3, stride=1, padding=1)


def compute_vertex_channels(in_channels: int, out_channels: int, matrix: Any) -> list[int]:
    r"""The output channels of every vertex of a *pruned* cell (NB101's rule).

    The input vertex has ``in_channels`` and the output vertex ``out_channels``.
    The :math:`k` interior vertices with an edge to the output share
    ``out_channels``: each gets :math:`\lfloor C / k \rfloor`, and the first
    :math:`C \bmod k` of them (in vertex order) one channel more, so their
    concatenation has exactly ``out_channels``. Every other interior vertex
    gets, going backwards from the output, the largest channel count among the
    interior vertices it feeds. So channels never grow along an interior edge,
    and where they shrink (by one) the consumer truncates its input.

    Args:
        in_channels: Channels of the cell input.
        out_channels: Channels of the cell output.
        matrix: Pruned adjacency matrix (every vertex on an input-output path).

    Returns:
        One channel count per vertex.
    """
    array = np.asarray(matrix)
    n = array.shape[0]
    channels = [0] * n
    channels[0], channels[n - 1] = in_channels, out_channels
    if n == 2:
        return channels
    feeders = [v for v in range(1, n - 1) if array[v, n - 1]]
    base, extra = divmod(out_channels, len(feeders))
    for i, v in enumerate(feeders):
        channels[v] = base + (1 if i < extra else 0)
    for v in range(n - 3, 0, -1):
        if not array[v, n - 1]:
            channels[v] = max(channels[w] for w in range(v + 1, n - 1) if array[v, w])
    return channels


class NASBench101Cell(nn.Module):
    r"""One NAS-Bench-101 module (cell): a DAG of up to 7 vertices.

    With :math:`c_t` the channels of vertex :math:`t`
    (:func:`compute_vertex_channels`) and :math:`P_t` a 1x1 Conv-BN-ReLU
    projection of the cell input :math:`x` to :math:`c_t` channels, interior
    vertex :math:`t` computes

    .. math::
        h_t = \mathrm{op}_t\Big(\sum_{s \to t,\ s > 0} h_s[:c_t]
              \;+\; [0 \to t]\, P_t(x)\Big),

    where :math:`h_s[:c_t]` keeps the first :math:`c_t` channels. The output
    is the channel concatenation of the vertices with an edge to the output,
    plus :math:`P_{out}(x)` (``out_channels`` wide) when the edge ``input ->
    output`` exists (alone, when no interior vertex remains).

    Parameter names (keys of ``named_parameters()``): ``vertices.{t}.conv.weight``
    (conv op of vertex ``t``), ``projections.{t}.conv.weight`` (input projection
    of vertex ``t``), ``out_projection.conv.weight``, and the ``.bn.weight`` /
    ``.bn.bias`` of each. ``t`` numbers the vertices of the *pruned* cell.

    Args:
        matrix: Pruned adjacency matrix (every vertex on an input-output path).
        ops: Op name of every vertex (``"input"``, ..., ``"output"``).
        in_channels: Channels of the cell input.
        out_channels: Channels of the cell output.

    Shapes:
        - **input:** :math:`(B, C_{in}, H, W)`
        - **output:** :math:`(B, C_{out}, H, W)`

    Raises:
        ValueError: when the matrix is not pruned, or ``out_channels`` is smaller
            than the number of vertices feeding the output (a vertex would get no
            channel).
    """

    def __init__(self, matrix: np.ndarray, ops: Sequence[str], in_channels: int,
                 out_channels: int) -> None:
        super().__init__()
        array = np.asarray(matrix)
        n = array.shape[0]
        if len(live_vertices(array)) != n:
            raise ValueError(f"NASBench101Cell needs a pruned cell (every vertex on an "
                             f"input -> output path), got matrix {array.tolist()}")
        self.num_vertices = n
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.vertex_channels = tuple(compute_vertex_channels(in_channels, out_channels, array))
        channels = self.vertex_channels
        if n > 2 and min(channels[1:-1]) < 1:
            feeders = int(array[1:, n - 1].sum())
            raise ValueError(f"out_channels={out_channels} cannot be split among the {feeders} "
                             "vertices that feed the cell output (each needs a channel)")
        # Per interior vertex: interior predecessors (and whether to truncate them).
        self._inputs = tuple(
            tuple((s, channels[s] > channels[t]) for s in range(1, t) if array[s, t])
            for t in range(n - 1))
        self._projected = tuple(bool(array[0, t]) for t in range(n - 1))
        self._concat = tuple(t for t in range(1, n - 1) if array[t, n - 1])
        self.vertices = nn.ModuleDict(
            {str(t): _build_op(ops[t], channels[t]) for t in range(1, n - 1)})
        self.projections = nn.ModuleDict(
            {str(t): ConvBNReLU(in_channels, channels[t], 1)
             for t in range(1, n - 1) if array[0, t]})
        self.out_projection = ConvBNReLU(in_channels, out_channels, 1) \
            if array[0, n - 1] else None

    def forward(self, x: Tensor) -> Tensor:
        channels = self.vertex_channels
        states: list[Tensor] = [x]
        for t in range(1, self.num_vertices - 1):
            terms = [states[s][:, :channels[t]] if cut else states[s]
                     for s, cut in self._inputs[t]]
            if self._projected[t]:
                terms.append(self.projections[str(t)](x))
            total = terms[0]
            for term in terms[1:]:
                total = total + term
            states.append(self.vertices[str(t)](total))
        if not self._concat:
            return self.out_projection(x)
        out = states[self._concat[0]] if len(self._concat) == 1 else \
            torch.cat([states[t] for t in self._concat], dim=1)
        if self.out_projection is not None:
            out = out + self.out_projection(x)
        return out


def _check_positive_int(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


class NASBench101Network(nn.Module):
    r"""The NAS-Bench-101 network of one cell (Ying et al., ICML 2019;
    ``nasbench/lib/model_builder.py``).

    Macro skeleton: a stem ``Conv3x3(in_channels, stem_channels) -> BN -> ReLU``;
    ``num_stacks`` stacks of ``cells_per_stack`` identical cells
    (:class:`NASBench101Cell`); before every stack but the first a 2x2 max-pool
    with stride 2 (``ceil_mode``, TF's ``'same'``) and twice the channels, the
    first cell of that stack doubling them; then global average pooling and a
    ``Linear(stem_channels * 2 ** (num_stacks - 1), num_classes)``.

    ``self.cells`` holds the cells *and* the downsampling max-pools in the order
    of :meth:`NASBench101Space.cell_sequence`: with ``n`` cells per stack, stack
    ``s`` holds positions ``s (n + 1) .. s (n + 1) + n - 1`` and the max-pool
    before it is position ``s (n + 1) - 1`` (positions 3 and 7 for the benchmark
    network). :meth:`kernel_names` lists every convolution of the cells.

    The cell is pruned first (vertices on no input-output path removed, as NB101's
    ``ModelSpec`` does); vertex indices in parameter names, :attr:`matrix` and
    :attr:`ops` refer to the pruned cell (:attr:`kept` maps them back).

    Parameter count: the sum of ``p.numel()`` over all parameters (convolution
    kernels, BatchNorm weights *and* biases, the classifier's weight and bias;
    running statistics are buffers) is NAS-Bench-101's ``trainable_parameters``:
    2,694,282 for the Inception-like cell of the NASBench colab at the default
    size (2,688,778 without the BatchNorm biases, or without their scales).
    NASLib's ``zc_nasbench101.json`` ``params`` field (millions) counts the same
    network: ``count / 1e6`` rounded to 6 decimals equals the table's value for
    all 500 cells (e.g. 0.29313 for the cell with the fewest parameters, 30.679178
    for the one with the most); any other convention (no BatchNorm biases, no
    classifier bias, a BatchNorm-free or differently sized head) misses it.
    The ``flops`` field (MFLOPs) matches as well: the library's FLOP counter
    ``count_flops(net, (1, 3, 32, 32)) / 1e6`` (torchstat rules; the global
    average pool is a plain mean and counts nothing) equals it for all 500
    (52.80256 to 4512.81408).

    The network runs *functionally*: every parameter can be supplied with
    :func:`torch.func.functional_call` and gradients reach the supplied tensors;
    forward creates no parameters and changes nothing in place.

    Args:
        matrix: Square 0/1 adjacency matrix, strictly upper-triangular (pruned or
            not); ``matrix[i][j] = 1`` is the edge ``i -> j``.
        ops: One op per vertex: ``"input"``, interior ops from ``conv3x3-bn-relu``,
            ``conv1x1-bn-relu``, ``maxpool3x3``, then ``"output"``.
        stem_channels: Output channels of the stem (128 in the benchmark).
        num_stacks: Number of stacks (3 in the benchmark).
        cells_per_stack: Cells per stack (3 in the benchmark).
        num_classes: Output classes.
        in_channels: Channels of the input images.

    Shapes:
        - **input:** :math:`(B, \text{in\_channels}, H, W)` (32x32 for CIFAR-10)
        - **output:** :math:`(B, \text{num\_classes})` logits

    Raises:
        ValueError: for a malformed matrix or op list (see
            :func:`~hypernas_pyg.spaces.nasbench101.hashing.as_spec`: not square, an
            entry other than 0/1 or on or below the diagonal, a wrong number of ops, an
            unknown op, no ``input`` first or ``output`` last), a cell with no
            input-output path, a size argument that is not a positive integer, or
            ``stem_channels`` smaller than the number of vertices feeding the
            output (:class:`NASBench101Cell`).
    """

    def __init__(self, matrix: Any, ops: Sequence[str], stem_channels: int = 128,
                 num_stacks: int = 3, cells_per_stack: int = 3, num_classes: int = 10,
                 in_channels: int = 3) -> None:
        super().__init__()
        for name, value in (("stem_channels", stem_channels), ("num_stacks", num_stacks),
                            ("cells_per_stack", cells_per_stack),
                            ("num_classes", num_classes), ("in_channels", in_channels)):
            _check_positive_int(name, value)
        array, ops = as_spec(matrix, ops)
        kept = tuple(live_vertices(array))
        if not kept:
            raise ValueError("the cell is disconnected: the output vertex is not reachable "
                             f"from the input vertex (matrix {array.tolist()})")
        pruned = array[np.ix_(kept, kept)].astype(np.int64)
        ops = tuple(ops[v] for v in kept)
        self.matrix: tuple[tuple[int, ...], ...] = tuple(tuple(int(v) for v in row)
                                                         for row in pruned)
        self.ops: tuple[str, ...] = ops
        self.kept: tuple[int, ...] = kept
        self.stem_channels = stem_channels
        self.num_stacks = num_stacks
        self.cells_per_stack = cells_per_stack
        self.num_classes = num_classes
        self.in_channels = in_channels

        self.stem = ConvBNReLU(in_channels, stem_channels, 3)
        cells: list[nn.Module] = []
        channels = stem_channels
        for stack in range(num_stacks):
            c_in = channels
            if stack > 0:
                cells.append(nn.MaxPool2d(2, stride=2, ceil_mode=True))
                channels *= 2
            for _ in range(cells_per_stack):
                cells.append(NASBench101Cell(pruned, ops, c_in, channels))
                c_in = channels
        self.cells = nn.ModuleList(cells)
        self.classifier = nn.Linear(channels, num_classes)

    @property
    def downsample_positions(self) -> tuple[int, ...]:
        """Cell positions of the 2x2 max-pools (``(3, 7)`` for the benchmark network)."""
        n = self.cells_per_stack
        return tuple(s * (n + 1) - 1 for s in range(1, self.num_stacks))

    def kernel_names(self) -> dict[tuple[int, int, str], str]:
        r"""Every convolution kernel of the cells, keyed ``(cell position, vertex, kind)``.

        ``kind`` is ``"op"`` for the conv op of vertex ``t`` (shape
        :math:`(c_t, c_t, k, k)`) and ``"projection"`` for the 1x1 input
        projection of vertex ``t`` (:math:`(c_t, C_{in}, 1, 1)`); the projection
        of an ``input -> output`` edge has ``t`` = the output vertex
        (:math:`(C_{out}, C_{in}, 1, 1)`). Vertices number the pruned cell; the
        stem and classifier are not listed.

        Returns:
            An ordered dict (by position, vertex, then op before projection) of
            keys of :meth:`named_parameters`.
        """
        names: dict[tuple[int, int, str], str] = {}
        for pos, cell in enumerate(self.cells):
            if not isinstance(cell, NASBench101Cell):
                continue
            for t in range(1, cell.num_vertices - 1):
                if isinstance(cell.vertices[str(t)], ConvBNReLU):
                    names[(pos, t, "op")] = f"cells.{pos}.vertices.{t}.conv.weight"
                if str(t) in cell.projections:
                    names[(pos, t, "projection")] = f"cells.{pos}.projections.{t}.conv.weight"
            if cell.out_projection is not None:
                names[(pos, cell.num_vertices - 1, "projection")] = \
                    f"cells.{pos}.out_projection.conv.weight"
        return names

    def forward(self, x: Tensor) -> Tensor:
        x = self.stem(x)
        for cell in self.cells:
            x = cell(x)
        return self.classifier(x.mean(dim=(2, 3)))

    def extra_repr(self) -> str:
        return (f"matrix={self.matrix}, ops={self.ops}, stem_channels={self.stem_channels}, "
                f"num_stacks={self.num_stacks}, cells_per_stack={self.cells_per_stack}, "
                f"num_classes={self.num_classes}, in_channels={self.in_channels}")
