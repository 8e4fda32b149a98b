"""The network side of NAS-Bench-201: what the hypernetwork task needs from the space."""
from __future__ import annotations

from typing import Any, Mapping

import torch
from torch import nn

from hypernas_pyg.spaces.nasbench201.network import OP_BUILDERS, NASBench201Network
from hypernas_pyg.spaces.nasbench201.ops import NB201_EDGES, REDUCTION_OPS
from hypernas_pyg.spaces.search_space import KernelSlot, NetworkSpace


class NASBench201NetworkSide(NetworkSpace):
    """Real NAS-Bench-201 networks for the hypernetwork task (mixed into
    :class:`~hypernas_pyg.spaces.NASBench201Space`).

    A network size is ``{"C": channels of the first stage, "N": cells per stage}``:
    ``"small"`` (``C=8, N=1``, the CPU default) or ``"full"`` (``C=16, N=5``, the
    benchmark network). A network with fewer cells per stage than the encoder
    graphs (``N <`` :attr:`cells_per_stage`) takes its kernels from the *first*
    ``N`` cells of every stage and from both reduction blocks
    (:meth:`proxy_cell_positions`).

    Generated kernels: the convolution of every ``nor_conv_1x1`` / ``nor_conv_3x3``
    edge (from that op's node) and the three convolutions of each reduction block
    (from its ``res_*`` nodes). Shared parameters: the stem, every BatchNorm affine
    pair (one per edge slot, shared by the 1x1 and 3x3 convs on that edge) and the
    classifier, held by a network with a convolution on every edge.
    """

    network_presets: Mapping[str, Mapping[str, Any]] = {
        "small": {"C": 8, "N": 1}, "full": {"C": 16, "N": 5}}

    def check_network_size(self, size: Mapping[str, Any]) -> None:
        super().check_network_size(size)
        if size["N"] > self.cells_per_stage:
            raise ValueError(
                f"network size N={size['N']} exceeds the cells per stage of the encoder graphs "
                f"(cells_per_stage={self.cells_per_stage})")

    def build_network(self, arch: Any, num_classes: int = 10, in_channels: int = 3,
                      **size: Any) -> NASBench201Network:
        size = self.network_size(size)
        return NASBench201Network(self.parse(arch), C=size["C"], N=size["N"],
                                  num_classes=num_classes, in_channels=in_channels)

    def network_arch(self, arch: Any) -> str:
        """``arch``'s :meth:`prune_arch` for pruned graphs (every convolution then has a
        node to come from), else ``arch``."""
        return self.prune_arch(arch) if self.prune else self.validate(arch)

    def kernel_slots(self, arch: Any, network: nn.Module) -> list[KernelSlot]:
        """The convolutions of ``network`` (:meth:`NASBench201Network.op_weight_names`)
        with the encoder node of ``arch`` each comes from.

        Raises:
            ValueError: when the network holds a convolution with no node in ``arch``'s
                (pruned) cell graph, or one whose op differs from that node's.
        """
        if not isinstance(network, NASBench201Network):
            raise ValueError(f"expected a NASBench201Network, got {type(network).__name__}")
        cells = self.cell_sequence(arch)
        positions = self.proxy_cell_positions(network.N)
        to_encoder = {small: big for big, small in enumerate(positions) if small >= 0}
        params = dict(network.named_parameters())
        slots = []
        for (pos, k), name in network.op_weight_names().items():
            cell = to_encoder[pos]
            want = REDUCTION_OPS[k - 1] if pos in network.reduction_positions \
                else network.ops[k - 1]
            try:
                node = cells[cell].source_index(k)
            except KeyError:
                raise ValueError(
                    f"The convolution at cell {pos}, node {k} of the network "
                    f"({network.arch_str}) has no node in the pruned cell graph; build the "
                    f"network from NASBench201Space.prune_arch(arch)") from None
            if cells[cell].ops[node] != want:
                raise ValueError(
                    f"The network's op {want!r} at cell {pos}, node {k} is "
                    f"{cells[cell].ops[node]!r} in the graph of {self.validate(arch)}: the "
                    "network belongs to another architecture")
            slots.append(KernelSlot(name, cell, node, tuple(params[name].shape)))
        return slots

    def kernel_shapes(self, **size: Any) -> list[tuple[int, ...]]:
        """The kernel shapes of a network with a convolution on every edge together with
        the kernels of every candidate op at each stage width (``C``, ``2C``, ``4C``):
        every architecture of this width (``N`` does not change the shapes).

        The candidate ops are built on the CPU, so this draws from torch's generator
        (as the hypernetwork's construction always has: seeded fits reproduce).
        """
        size = self.network_size(size)
        with torch.device("meta"):
            full = NASBench201Network(("nor_conv_3x3",) * len(NB201_EDGES), **size)
        params = dict(full.named_parameters())
        shapes = {tuple(params[name].shape) for name in full.op_weight_names().values()}
        for stage in range(3):
            channels = size["C"] * 2 ** stage
            for build in OP_BUILDERS.values():
                for module in build(channels).modules():
                    if isinstance(module, nn.Conv2d):
                        shapes.add(tuple(module.weight.shape))
        return sorted(shapes)

    def shared_network(self, num_classes: int = 10, in_channels: int = 3,
                       **size: Any) -> NASBench201Network:
        """A network with a 3x3 convolution on every edge, its convolution kernels removed
        (they are generated): the stem, a BatchNorm pair per edge slot and the classifier
        remain, named as in every architecture's network."""
        size = self.network_size(size)
        shared = NASBench201Network(("nor_conv_3x3",) * len(NB201_EDGES), C=size["C"],
                                    N=size["N"], num_classes=num_classes,
                                    in_channels=in_channels)
        for name in shared.op_weight_names().values():
            module_name, _, param = name.rpartition(".")
            shared.get_submodule(module_name).register_parameter(param, None)
        return shared
