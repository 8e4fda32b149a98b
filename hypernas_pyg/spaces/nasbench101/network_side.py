"""The network side of NAS-Bench-101: what the hypernetwork task needs from the space."""
from __future__ import annotations

from typing import Any, Mapping

from torch import nn

from hypernas_pyg.spaces.nasbench101.network import (CONV_KERNEL_SIZES, ConvBNReLU,
                                                     NASBench101Cell, NASBench101Network)
from hypernas_pyg.spaces.search_space import KernelSlot, NetworkSpace


def vertex_widths(out_channels: int, max_feeders: int) -> list[int]:
    r"""Every channel count an interior vertex can have in a cell of ``out_channels``.

    With :math:`k` interior vertices feeding the output, NB101's split
    (:func:`~hypernas_pyg.spaces.nasbench101.network.compute_vertex_channels`)
    gives them :math:`\lfloor C/k \rfloor` or :math:`\lfloor C/k \rfloor + 1`
    channels, and every other interior vertex the channels of one of them.

    Args:
        out_channels: The cell's output channels :math:`C`.
        max_feeders: The largest :math:`k` of the space.

    Returns:
        The sorted widths over :math:`k = 1, \dots,` ``max_feeders``.
    """
    widths = set()
    for k in range(1, max_feeders + 1):
        base, extra = divmod(out_channels, k)
        widths.add(base)
        if extra:
            widths.add(base + 1)
    return sorted(widths)


def norm_key(position: int, vertex: int, role: str, width: int) -> str:
    """The name of a BatchNorm of :class:`NASBench101SharedParameters` (``norms.<key>``).

    Args:
        position: The cell's position in the network.
        vertex: The vertex (ignored for ``role="out"``).
        role: ``"op"`` (the conv op of ``vertex``), ``"proj"`` (its input projection)
            or ``"out"`` (the projection of an ``input -> output`` edge).
        width: The BatchNorm's channels.
    """
    if role == "out":
        return f"c{position}_out_w{width}"
    return f"c{position}_v{vertex}_{role}_w{width}"


class NASBench101SharedParameters(nn.Module):
    """The parameters that every NAS-Bench-101 network of one size draws from.

    ``stem`` and ``classifier`` are those of every network (same names);
    ``norms`` holds one BatchNorm per ``(cell position, vertex, role, width)``
    (:func:`norm_key`) that any cell of the space can have at that size. It has
    no cell convolutions: those are generated.

    Args:
        norms: The BatchNorm keys and widths.
        stem_channels: Stem width.
        final_channels: Width of the last stack (the classifier's input).
        num_classes: Output classes.
        in_channels: Channels of the input images.
    """

    def __init__(self, norms: Mapping[str, int], stem_channels: int, final_channels: int,
                 num_classes: int, in_channels: int) -> None:
        super().__init__()
        self.stem = ConvBNReLU(in_channels, stem_channels, 3)
        self.norms = nn.ModuleDict({key: nn.BatchNorm2d(width, eps=1e-5)
                                    for key, width in norms.items()})
        self.classifier = nn.Linear(final_channels, num_classes)


class NASBench101NetworkSide(NetworkSpace):
    """Real NAS-Bench-101 networks for the hypernetwork task (mixed into
    :class:`~hypernas_pyg.spaces.nasbench101.NASBench101Space`).

    Uses only ``parse``, ``validate``, ``cell_sequence``, ``proxy_cell_positions``
    and the limits ``max_vertices`` / ``max_edges`` / ``num_stacks`` /
    ``cells_per_stack`` of the space.

    **Sizes** (:meth:`build_network` keywords ``stem_channels``, ``num_stacks``,
    ``cells_per_stack``): ``"small"`` (16, 3, 1: widths 16 / 32 / 64, one cell per
    stack; the CPU default) and ``"full"`` (128, 3, 3: the benchmark network,
    2.7 M parameters for the Inception-like cell). A network with fewer stacks or
    cells per stack than the encoder's 11-cell skeleton keeps the first cells of
    the first stacks (:meth:`proxy_cell_positions`): its kernels come from those
    encoder cells.

    **Generated kernels** (:meth:`kernel_slots`), every convolution of every cell:

    - the conv op of vertex ``t`` (``conv3x3-bn-relu`` / ``conv1x1-bn-relu``) from
      node ``t``, shape ``(c_t, c_t, k, k)``;
    - the 1x1 projection of the cell input feeding vertex ``t`` also from node
      ``t`` (the projection exists *for* that vertex; taking it from the input node
      would give every same-width projection of a cell the same kernel), shape
      ``(c_t, C_in, 1, 1)``;
    - the projection of an ``input -> output`` edge from the output node, shape
      ``(C, C_in, 1, 1)``.

    A ``conv1x1`` vertex fed by the input whose width equals ``C_in`` has two
    kernels of one shape from one node, hence equal kernels; the BatchNorm after
    each still differs. Node numbers are those of the pruned cell
    (:meth:`cell_sequence`), which the network uses too.

    **Shared parameters** (:meth:`shared_network`, :meth:`shared_names`): the stem
    (conv and BatchNorm), the classifier, and the BatchNorm affine pairs. A
    BatchNorm's width changes between architectures at one place of the network,
    so the shared module holds one BatchNorm per ``(network cell position,
    vertex, role, width)`` (:func:`norm_key`; roles ``op``, ``proj``, ``out``) for
    every vertex index and width the space allows at that position: a superset of
    what any one architecture uses (459 BatchNorms at the full size, 153 at the
    small one); the ones an architecture does not use get no gradient from it.
    """

    network_presets: Mapping[str, Mapping[str, Any]] = {
        "small": {"stem_channels": 16, "num_stacks": 3, "cells_per_stack": 1},
        "full": {"stem_channels": 128, "num_stacks": 3, "cells_per_stack": 3},
    }

    # ------------------------------------------------------------------ limits
    @property
    def max_feeders(self) -> int:
        """The most interior vertices a pruned cell of the space can feed to its output:
        each needs an edge in and one to the output, so ``min(V - 2, E // 2)``."""
        return max(0, min(self.max_vertices - 2, self.max_edges // 2))

    def check_network_size(self, size: Mapping[str, Any]) -> None:
        """Raises ``ValueError`` unless ``num_stacks`` and ``cells_per_stack`` lie in
        ``1..`` the encoder skeleton's counts (3 and 3) and ``stem_channels`` gives each
        output-feeding vertex at least one channel (``>=`` :attr:`max_feeders`)."""
        super().check_network_size(size)
        for key, most in (("num_stacks", self.num_stacks),
                          ("cells_per_stack", self.cells_per_stack)):
            if size[key] > most:
                raise ValueError(f"network size {key}={size[key]} exceeds the {key} of the "
                                 f"encoder skeleton ({most})")
        if size["stem_channels"] < self.max_feeders:
            raise ValueError(
                f"network size stem_channels={size['stem_channels']} is too small: up to "
                f"{self.max_feeders} vertices share a cell's output channels, so it must be at "
                f"least {self.max_feeders}")

    # ----------------------------------------------------------------- networks
    def build_network(self, arch: Any, num_classes: int = 10, in_channels: int = 3,
                      **size: Any) -> NASBench101Network:
        """The NAS-Bench-101 network of ``arch``'s pruned cell at ``size``.

        Raises:
            ValueError: for an invalid ``arch`` or ``size``.
        """
        size = self.network_size(size)
        cell = self.parse(arch)
        return NASBench101Network(cell.matrix, cell.ops, num_classes=num_classes,
                                  in_channels=in_channels, **size)

    def _check_network(self, arch: Any, network: nn.Module) -> None:
        if not isinstance(network, NASBench101Network):
            raise ValueError(f"expected a NASBench101Network, got {type(network).__name__}")
        cell = self.parse(arch)
        if network.matrix != cell.matrix or network.ops != cell.ops:
            raise ValueError(
                f"the network's cell (ops {network.ops}, matrix {network.matrix}) is not the "
                f"pruned cell of {self.validate(arch)}: the network belongs to another "
                "architecture (build it with build_network(network_arch(arch)))")

    def kernel_slots(self, arch: Any, network: nn.Module) -> list[KernelSlot]:
        """Every cell convolution of ``network`` with the encoder node it comes from
        (see the class docstring).

        Raises:
            ValueError: when ``network`` is not the :class:`NASBench101Network` of
                ``arch``'s pruned cell, or its skeleton has no place in the encoder's.
        """
        self._check_network(arch, network)
        cells = self.cell_sequence(arch)
        positions = self.proxy_cell_positions(network.num_stacks, network.cells_per_stack)
        to_encoder = {small: big for big, small in enumerate(positions) if small >= 0}
        if sorted(to_encoder) != list(range(len(network.cells))):
            raise ValueError(
                f"the network's {len(network.cells)} cell positions do not match the proxy "
                f"map {positions} of num_stacks={network.num_stacks}, "
                f"cells_per_stack={network.cells_per_stack}")
        params = dict(network.named_parameters())
        slots = []
        for (pos, vertex, kind), name in network.kernel_names().items():
            cell = cells[to_encoder[pos]]
            op = cell.ops[vertex] if vertex < len(cell.ops) else None
            want = network.ops[vertex]
            if op != want or (kind == "op" and op not in CONV_KERNEL_SIZES):
                raise ValueError(
                    f"kernel {name} belongs to vertex {vertex} ({want!r}), but node {vertex} "
                    f"of encoder cell {to_encoder[pos]} is {op!r}")
            slots.append(KernelSlot(name, to_encoder[pos], vertex, tuple(params[name].shape)))
        return slots

    def _stack_widths(self, size: Mapping[str, Any]) -> list[tuple[int, list[int]]]:
        """``(C, [input widths of its cells])`` for every stack."""
        out = []
        for stack in range(size["num_stacks"]):
            width = size["stem_channels"] * 2 ** stack
            inputs = {width // 2 if stack else width}
            if size["cells_per_stack"] > 1:
                inputs.add(width)
            out.append((width, sorted(inputs)))
        return out

    def kernel_shapes(self, **size: Any) -> list[tuple[int, ...]]:
        """Every shape a generated kernel can have at ``size``, none that none can.

        Per stack of width ``C`` with cell-input widths ``C_in`` (``C / 2`` for the
        first cell of a later stack, else ``C``) and interior widths ``c`` of
        :func:`vertex_widths` (``k`` up to :attr:`max_feeders`, all reached by cells
        whose feeders all hang off the input): ``(c, c, 3, 3)``, ``(c, c, 1, 1)``,
        ``(c, C_in, 1, 1)`` and ``(C, C_in, 1, 1)``. Computed, not sampled; no
        random draws.
        """
        size = self.network_size(size)
        shapes: set[tuple[int, ...]] = set()
        for width, inputs in self._stack_widths(size):
            for c_in in inputs:
                shapes.add((width, c_in, 1, 1))
            for c in vertex_widths(width, self.max_feeders):
                for k in sorted(set(CONV_KERNEL_SIZES.values())):
                    shapes.add((c, c, k, k))
                for c_in in inputs:
                    shapes.add((c, c_in, 1, 1))
        return sorted(shapes)

    def _norm_widths(self, size: Mapping[str, Any]) -> dict[str, int]:
        norms: dict[str, int] = {}
        n = size["cells_per_stack"]
        for stack, (width, _) in enumerate(self._stack_widths(size)):
            widths = vertex_widths(width, self.max_feeders)
            for j in range(n):
                pos = stack * (n + 1) + j
                for vertex in range(1, self.max_vertices - 1):
                    for role in ("op", "proj"):
                        for c in widths:
                            norms[norm_key(pos, vertex, role, c)] = c
                norms[norm_key(pos, 0, "out", width)] = width
        return norms

    def shared_network(self, num_classes: int = 10, in_channels: int = 3,
                       **size: Any) -> NASBench101SharedParameters:
        """The stem, the classifier and every BatchNorm any architecture's network at
        ``size`` can hold (:class:`NASBench101SharedParameters`), initialised as
        PyTorch's defaults (the stem and classifier draw from torch's generator)."""
        size = self.network_size(size)
        final = size["stem_channels"] * 2 ** (size["num_stacks"] - 1)
        return NASBench101SharedParameters(self._norm_widths(size), size["stem_channels"],
                                           final, num_classes, in_channels)

    def shared_names(self, arch: Any, network: nn.Module) -> dict[str, str]:
        """Maps every parameter of ``network`` that is not a generated kernel to its name
        in :meth:`shared_network`: the stem and classifier to themselves, every cell
        BatchNorm to ``norms.<key>`` (:func:`norm_key`).

        Raises:
            ValueError: when ``network`` is not the :class:`NASBench101Network` of
                ``arch``'s pruned cell.
        """
        self._check_network(arch, network)
        names = {f"{prefix}.{param}": f"{prefix}.{param}"
                 for prefix in ("stem.conv", "stem.bn", "classifier")
                 for param in ("weight", "bias")}
        del names["stem.conv.bias"]
        for pos, cell in enumerate(network.cells):
            if not isinstance(cell, NASBench101Cell):
                continue
            channels = cell.vertex_channels
            bns = [(f"vertices.{t}", norm_key(pos, int(t), "op", channels[int(t)]))
                   for t, module in cell.vertices.items() if isinstance(module, ConvBNReLU)]
            bns += [(f"projections.{t}", norm_key(pos, int(t), "proj", channels[int(t)]))
                    for t in cell.projections]
            if cell.out_projection is not None:
                bns.append(("out_projection", norm_key(pos, 0, "out", cell.out_channels)))
            for module_name, key in bns:
                for param in ("weight", "bias"):
                    names[f"cells.{pos}.{module_name}.bn.{param}"] = f"norms.{key}.{param}"
        return names
