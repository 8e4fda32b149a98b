"""The hypernetwork branch of HyperNAS: node features -> real network -> logits."""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Mapping, Optional

import torch
from torch import Tensor
from torch.func import functional_call
from torch.nn import BatchNorm2d, Module

from hypernas_pyg.nn.hypernetwork import HyperNetwork
from hypernas_pyg.nn.weight_generation import NodeLayout
from hypernas_pyg.spaces.search_space import KernelSlot, SearchSpace

#: Per-architecture network skeletons kept by one branch (least recently used dropped).
_CACHE_SIZE = 512


def _batch_statistics_only(network: Module) -> None:
    """Makes every BatchNorm of ``network`` normalise with batch statistics, always."""
    for module in network.modules():
        if isinstance(module, BatchNorm2d):
            module.track_running_stats = False
            module.running_mean = None
            module.running_var = None
            module.num_batches_tracked = None


@dataclass
class _Plan:
    """Everything the branch needs to run one architecture, computed once per arch."""

    network: Module             # parameter-less skeleton on the ``meta`` device
    slots: list[KernelSlot]     # generated kernels
    shared: dict[str, str]      # other parameters -> name in the shared network
    layout: NodeLayout          # where the slots' nodes lie
    rows: Tensor                # layout.rows(slots)
    shape_ids: Tensor           # head of every slot


class HypernetBranch(Module):
    r"""Runs an architecture's real network with hypernetwork-generated kernels.

    The branch owns a :class:`~hypernas_pyg.nn.HyperNetwork` (one head per
    kernel shape the space can need, :meth:`~hypernas_pyg.spaces.NetworkSpace.kernel_shapes`)
    and the *shared* parameters of the networks (stem, normalisation,
    classifier; :meth:`~hypernas_pyg.spaces.NetworkSpace.shared_network`). For
    an architecture it generates every kernel the space lists
    (:meth:`~hypernas_pyg.spaces.NetworkSpace.kernel_slots`) from the encoder's
    feature of the node the space names, and runs

    .. math::
        \text{logits} = f_{A}\big(x;\; \{\mathbf{W}_k = \mathrm{HN}(\mathbf{v}_k)\}_k
                        \cup \theta_{\text{shared}}\big)

    with :func:`torch.func.functional_call`, so the cross-entropy reaches the
    hypernetwork, the shared parameters and, through :math:`\mathbf{v}_k`, the
    encoder. The network run for an architecture is that of
    :meth:`~hypernas_pyg.spaces.NetworkSpace.network_arch` (e.g. its pruned
    form), held as a skeleton on the ``meta`` device (no memory, no random
    draws) whose every parameter is supplied.

    BatchNorm always normalises with the statistics of the current image batch
    (no running statistics): the running statistics of a network shared by
    thousands of architectures would belong to none of them.

    Nothing here knows a particular space: everything particular comes from
    ``space``.

    Args:
        space: A search space with a network side (:class:`~hypernas_pyg.spaces.NetworkSpace`).
        in_channels: Size of the encoder's node features.
        size: The network size (a preset name or dict, see
            :meth:`~hypernas_pyg.spaces.NetworkSpace.network_size`).
        num_classes: Classes of the auxiliary data set.
        hidden_channels: Width of the hypernetwork trunk.
        num_layers: Layers of the hypernetwork trunk.

    Shapes:
        - **input:** ``node_feats`` :math:`(|\mathcal{V}|, F)`, ``cell_pos`` and
          ``op`` :math:`(|\mathcal{V}|)` of *one* architecture; ``images``
          :math:`(B, 3, H, W)`
        - **output:** logits :math:`(B, \text{num\_classes})`

    Raises:
        ValueError: when the space has no network side, or for a bad ``size``.
    """

    def __init__(self, space: SearchSpace, in_channels: int,
                 size: Optional[Mapping[str, Any]] = None, num_classes: int = 10,
                 hidden_channels: int = 64, num_layers: int = 2) -> None:
        super().__init__()
        space.check_network_side("the hypernetwork branch")
        self.space = space
        self.size = space.network_size(size)
        self.num_classes = num_classes
        # The shared parameters first, then the heads: the order of the random draws.
        shared = space.shared_network(num_classes=num_classes, **self.size)
        shapes = space.kernel_shapes(**self.size)
        self.hypernet = HyperNetwork(in_channels, shapes, hidden_channels=hidden_channels,
                                     num_layers=num_layers)
        _batch_statistics_only(shared)
        #: The shared parameters, named as :meth:`NetworkSpace.shared_names` says.
        self.shared = shared
        self._plans: OrderedDict[str, _Plan] = OrderedDict()

    def reset_parameters(self) -> None:
        self.hypernet.reset_parameters()
        for module in self.shared.modules():
            own = module._parameters.values()
            if own and all(p is not None for p in own) and hasattr(module, "reset_parameters"):
                module.reset_parameters()

    # ---------------------------------------------------------------- networks
    def network_arch(self, arch: str) -> str:
        """The architecture whose network runs for ``arch`` (see the space's
        :meth:`~hypernas_pyg.spaces.NetworkSpace.network_arch`)."""
        return self.space.network_arch(arch)

    def _plan(self, arch: str) -> _Plan:
        plan = self._plans.get(arch)
        if plan is not None:
            self._plans.move_to_end(arch)
            return plan
        with torch.device("meta"):
            net = self.space.build_network(self.network_arch(arch),
                                           num_classes=self.num_classes, **self.size)
        _batch_statistics_only(net)
        slots = self.space.kernel_slots(arch, net)
        layout = NodeLayout(self.space.cell_sequence(arch), self.space.node_type_index, arch)
        plan = _Plan(network=net, slots=slots, shared=self.space.shared_names(arch, net),
                     layout=layout, rows=torch.tensor(layout.rows(slots), dtype=torch.long),
                     shape_ids=torch.tensor([self.hypernet.shape_index(s.shape) for s in slots],
                                            dtype=torch.long))
        self._plans[arch] = plan
        if len(self._plans) > _CACHE_SIZE:
            self._plans.popitem(last=False)
        return plan

    def network(self, arch: str) -> Module:
        """The parameter-less (``meta``) skeleton of the network run for ``arch``."""
        return self._plan(arch).network

    def generate(self, arch: str, node_feats: Tensor, cell_pos: Tensor,
                 op: Optional[Tensor] = None) -> dict[str, Tensor]:
        """Every parameter of ``arch``'s network: generated kernels and shared rest.

        Args:
            arch: The architecture string.
            node_feats: Encoder features of this architecture's nodes.
            cell_pos: Cell position of every node (of the encoder graph).
            op: Node-type indices; when given, checked against ``arch``.

        Returns:
            ``{parameter name: tensor}`` covering every parameter of
            :meth:`network` ``(arch)``, ready for :func:`torch.func.functional_call`.

        Raises:
            ValueError: when the node layout (or ``op``) does not match ``arch``.
        """
        plan = self._plan(arch)
        if node_feats.dim() != 2 or node_feats.size(0) != cell_pos.numel():
            raise ValueError(f"node_feats must have shape [{cell_pos.numel()}, F] (one row per "
                             f"node), got {tuple(node_feats.shape)}")
        order = plan.layout.check(cell_pos, op)
        kernels = self.hypernet(node_feats[order[plan.rows.to(order.device)]],
                                plan.shape_ids.to(node_feats.device))
        params = dict(zip((slot.name for slot in plan.slots), kernels))
        shared = dict(self.shared.named_parameters())
        for name, key in plan.shared.items():
            params[name] = shared[key]
        return {name: params[name] for name, _ in plan.network.named_parameters()}

    def run(self, arch: str, params: dict[str, Tensor], images: Tensor) -> Tensor:
        """Logits of ``arch``'s network with the parameters of :meth:`generate`."""
        return functional_call(self.network(arch), params, (images,))

    def forward(self, arch: str, node_feats: Tensor, cell_pos: Tensor, images: Tensor,
                op: Optional[Tensor] = None) -> Tensor:
        return self.run(arch, self.generate(arch, node_feats, cell_pos, op), images)

    @torch.no_grad()
    def network_state_dict(self, arch: str, node_feats: Tensor, cell_pos: Tensor,
                           op: Optional[Tensor] = None) -> dict[str, Tensor]:
        """A ``state_dict`` for ``space.build_network(arch, **size)``.

        Kernels are generated, the other parameters are the shared ones, and
        the normalisation buffers are a fresh network's: the weights were
        trained with batch statistics, so run the network in training mode or
        re-estimate the running statistics before evaluating it in eval mode.
        Parameters of ``arch``'s network that the network run for it lacks
        (ops that :meth:`network_arch` drops) keep a fresh network's values.
        """
        params = self.generate(arch, node_feats, cell_pos, op)
        with torch.random.fork_rng(devices=[]):
            state = self.space.build_network(arch, num_classes=self.num_classes,
                                             **self.size).state_dict()
        for name, value in params.items():
            state[name] = value.detach().clone()
        return {name: value.to(node_feats.device) for name, value in state.items()}

    def extra_repr(self) -> str:
        size = ", ".join(f"{k}={v}" for k, v in self.size.items())
        return f"space={self.space!r}, {size}, num_classes={self.num_classes}"
