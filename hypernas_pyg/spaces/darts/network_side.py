"""The network side of DARTS: what the hypernetwork task needs from the space.

Generated kernels ("different heads for different kernel sizes"): the 3x3 and 5x5 depthwise
and the 1x1 pointwise kernels of every separable and dilated convolution, and the two 1x1
kernels of a factorised reduction on a reduction cell's ``skip_connect``; each comes from its
op's node in the encoder graph. Shared by every architecture: the stem, the cells'
preprocessing convolutions (they depend only on the position), the BatchNorm affine pairs of
every op slot and the classifier.
"""
from __future__ import annotations

from typing import Any, Mapping

from torch import nn

from hypernas_pyg.spaces.darts.genotype import DARTSGenotype
from hypernas_pyg.spaces.darts.network import DARTSNetwork
from hypernas_pyg.spaces.darts.ops import NUM_NODES
from hypernas_pyg.spaces.search_space import KernelSlot, NetworkSpace

#: The op of every slot of the shared network: it has the most BatchNorms (two per slot).
_SHARED_OP = "sep_conv_3x3"


def _stages(layers: int) -> list[list[int]]:
    """Positions of the normal cells of each of the three stages."""
    red = (layers // 3, 2 * layers // 3)
    return [[i for i in range(lo, hi) if i not in red]
            for lo, hi in ((0, red[0]), (red[0] + 1, red[1]), (red[1] + 1, layers))]


def op_node(pair: int) -> int:
    """Position of pair ``pair``'s op node in a cell graph of :class:`DARTSSpace`."""
    return 2 + 3 * (pair // 2) + pair % 2


class DARTSNetworkSide(NetworkSpace):
    """Real DARTS networks for the hypernetwork task (mixed into ``DARTSSpace``).

    A size is ``{"C": initial channels, "layers": cells}``: ``"small"`` (``C=8, layers=5``,
    one normal cell per stage: the CPU default) or ``"full"`` (``C=36, layers=20``, DARTS's
    CIFAR-10 network, for a GPU). A network with fewer cells than the encoder graphs takes
    its kernels from the first normal cells of each stage and from both reduction cells
    (:meth:`proxy_cell_positions`).
    """

    network_presets: Mapping[str, Mapping[str, Any]] = {
        "small": {"C": 8, "layers": 5}, "full": {"C": 36, "layers": 20}}

    def check_network_size(self, size: Mapping[str, Any]) -> None:
        super().check_network_size(size)
        if size["C"] % 2:
            raise ValueError(f"network size C must be even (factorised reductions halve it), "
                             f"got {size['C']}")
        if size["layers"] < 3 or size["layers"] > self.layers:
            raise ValueError(f"network size layers must be in 3..{self.layers} (the encoder "
                             f"graphs' cells), got {size['layers']}")
        self.proxy_cell_positions(size["layers"])

    def proxy_cell_positions(self, layers: int) -> dict[int, int]:
        """Maps each cell of a ``layers``-cell network onto the encoder's cell: the two
        reduction cells onto the reduction cells, the ``j``-th normal cell of a stage onto
        the ``j``-th normal cell of that stage.

        Raises:
            ValueError: when a stage of the smaller network has more normal cells.
        """
        out = dict(zip((layers // 3, 2 * layers // 3), self.reduction_positions()))
        for small, big in zip(_stages(layers), _stages(self.layers)):
            if len(small) > len(big):
                raise ValueError(f"a {layers}-cell network has more cells in a stage than the "
                                 f"{self.layers}-cell encoder graphs")
            out.update(zip(small, big))
        return out

    def build_network(self, arch: Any, num_classes: int = 10, in_channels: int = 3,
                      **size: Any) -> DARTSNetwork:
        size = self.network_size(size)
        return DARTSNetwork(self.parse(arch), channels=size["C"], layers=size["layers"],
                            num_classes=num_classes, in_channels=in_channels)

    @staticmethod
    def _op_convs(network: DARTSNetwork):
        """``(cell, pair, parameter name)`` of every convolution inside an op."""
        for i, cell in enumerate(network.cells):
            for k, op in enumerate(cell.ops):
                for name, module in op.named_modules():
                    if isinstance(module, nn.Conv2d):
                        yield i, k, f"cells.{i}.ops.{k}.{name}.weight"

    def kernel_slots(self, arch: Any, network: nn.Module) -> list[KernelSlot]:
        if not isinstance(network, DARTSNetwork):
            raise ValueError(f"expected a DARTSNetwork, got {type(network).__name__}")
        genotype = self.parse(arch)
        to_encoder = self.proxy_cell_positions(network.layers)
        params = dict(network.named_parameters())
        slots = []
        for i, k, name in self._op_convs(network):
            cell = to_encoder[i]
            pairs = genotype.reduce if i in network.reductions else genotype.normal
            built = network.cells[i].ops[k]
            want = pairs[k][0]
            if not _matches(built, want):
                raise ValueError(f"the network's op at cell {i}, pair {k} is not {want!r}: the "
                                 f"network belongs to another architecture than {arch!r}")
            slots.append(KernelSlot(name, cell, op_node(k), tuple(params[name].shape)))
        return slots

    def kernel_shapes(self, **size: Any) -> list[tuple[int, ...]]:
        """Depthwise 3x3 / 5x5, pointwise 1x1 and the factorised reduction's half-width 1x1
        kernels at each stage width (``C``, ``2C``, ``4C``)."""
        size = self.network_size(size)
        shapes = set()
        for stage in range(3):
            c = size["C"] * 2 ** stage
            shapes |= {(c, 1, 3, 3), (c, 1, 5, 5), (c, c, 1, 1), (c // 2, c, 1, 1)}
        return sorted(shapes)

    def shared_network(self, num_classes: int = 10, in_channels: int = 3,
                       **size: Any) -> DARTSNetwork:
        """A network with ``sep_conv_3x3`` in every slot (two BatchNorms per slot: the
        most any op has), its op convolutions removed (they are generated)."""
        size = self.network_size(size)
        pairs = tuple((_SHARED_OP, j) for _ in range(NUM_NODES) for j in (0, 1))
        shared = DARTSNetwork(DARTSGenotype(pairs, pairs), channels=size["C"],
                              layers=size["layers"], num_classes=num_classes,
                              in_channels=in_channels)
        for _, _, name in list(self._op_convs(shared)):
            module_name, _, param = name.rpartition(".")
            shared.get_submodule(module_name).register_parameter(param, None)
        return shared

    def shared_names(self, arch: Any, network: nn.Module) -> dict[str, str]:
        """Op BatchNorms map onto the shared slot's BatchNorms in order (``0.3`` then
        ``1.3`` of its separable convolution); everything else keeps its name."""
        generated = {slot.name for slot in self.kernel_slots(arch, network)}
        out = {}
        for i, cell in enumerate(network.cells):
            for k, op in enumerate(cell.ops):
                bns = [n for n, m in op.named_modules() if isinstance(m, nn.BatchNorm2d)]
                for j, n in enumerate(bns):
                    for p in ("weight", "bias"):
                        out[f"cells.{i}.ops.{k}.{n}.{p}"] = f"cells.{i}.ops.{k}.{j}.3.{p}"
        for name, _ in network.named_parameters():
            if name not in generated and name not in out:
                out[name] = name
        return {k: v for k, v in out.items() if k not in generated}


def _matches(module: nn.Module, op: str) -> bool:
    """Whether a built op module is the op ``op`` (by its kind of convolutions)."""
    convs = [m for m in module.modules() if isinstance(m, nn.Conv2d)]
    if op.startswith("sep_conv"):
        return len(convs) == 4 and convs[0].kernel_size[0] == int(op[-1])
    if op.startswith("dil_conv"):
        return len(convs) == 2 and convs[0].kernel_size[0] == int(op[-1]) and \
            convs[0].dilation[0] == 2
    return op == "skip_connect" and len(convs) == 2


