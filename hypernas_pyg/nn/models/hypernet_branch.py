"""The hypernetwork branch of HyperNAS: node features -> proxy network -> logits."""
from __future__ import annotations

from collections import OrderedDict
from typing import Optional

import torch
from torch import Tensor
from torch.func import functional_call
from torch.nn import BatchNorm2d, Module

from hypernas_pyg.nn.hypernetwork import HyperNetwork
from hypernas_pyg.nn.weight_generation import generated_state, kernel_shapes
from hypernas_pyg.spaces.nasbench201 import NB201_EDGES, NASBench201Space
from hypernas_pyg.target.nb201_network import NASBench201Network

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


class HypernetBranch(Module):
    r"""Runs an architecture's proxy network with hypernetwork-generated kernels.

    The branch owns a :class:`~hypernas_pyg.nn.HyperNetwork` (one head per
    kernel shape of a NAS-Bench-201 network with ``C`` channels) and the
    *shared* parameters of the proxy network: the stem, every BatchNorm affine
    pair (one per edge slot, shared by the 1x1 and 3x3 convs on that edge) and
    the classifier. For an architecture the branch generates every op kernel
    (normal-cell convs and the reduction blocks' convs) from the encoder's
    features of the op nodes, and runs

    .. math::
        \text{logits} = f_{A}\big(x;\; \{\mathbf{W}_k = \mathrm{HN}(\mathbf{v}_k)\}_k
                        \cup \theta_{\text{shared}}\big)

    with :func:`torch.func.functional_call`, so the cross-entropy reaches the
    hypernetwork, the shared parameters and, through :math:`\mathbf{v}_k`, the
    encoder. The per-architecture networks are skeletons on the ``meta`` device
    (no memory, no random draws) and every one of their parameters is supplied.

    BatchNorm always normalises with the statistics of the current image batch
    (no running statistics): the running statistics of a network shared by
    thousands of architectures would belong to none of them.

    With ``prune=True`` (the default) the encoder graph holds pruned cells
    (:meth:`~hypernas_pyg.spaces.NASBench201Space.pruned_cell`) and the proxy
    network of an architecture is that of its
    :meth:`~hypernas_pyg.spaces.NASBench201Space.prune_arch`: ops with no node
    in the graph are ``none`` there, so every kernel has a node to come from.

    The encoder graph may describe a deeper skeleton than the proxy (``N'``
    cells per stage, ``N' >= N``): the proxy reads the first ``N`` cells of
    every stage and both reduction blocks
    (:meth:`~hypernas_pyg.spaces.NASBench201Space.proxy_cell_positions`).

    Args:
        in_channels: Size of the encoder's node features.
        C: Channels of the proxy's first stage.
        N: Cells per stage of the proxy.
        num_classes: Classes of the auxiliary data set.
        hidden_channels: Width of the hypernetwork trunk.
        num_layers: Layers of the hypernetwork trunk.
        prune: The encoder graph holds pruned cells (see above); ``False`` for
            graphs of ``NASBench201Space(prune=False)``.

    Shapes:
        - **input:** ``node_feats`` :math:`(|\mathcal{V}|, F)`, ``cell_pos`` and
          ``op`` :math:`(|\mathcal{V}|)` of *one* architecture; ``images``
          :math:`(B, 3, H, W)`
        - **output:** logits :math:`(B, \text{num\_classes})`
    """

    def __init__(self, in_channels: int, C: int = 8, N: int = 1, num_classes: int = 10,
                 hidden_channels: int = 64, num_layers: int = 2, prune: bool = True) -> None:
        super().__init__()
        self.C = C
        self.prune = prune
        self.N = N
        self.num_classes = num_classes
        # A network with a conv on every edge has a parameter slot for every op
        # kernel and BatchNorm any architecture of this width can have.
        shared = NASBench201Network(("nor_conv_3x3",) * len(NB201_EDGES), C=C, N=N,
                                    num_classes=num_classes)
        self.hypernet = HyperNetwork(in_channels, kernel_shapes(shared),
                                     hidden_channels=hidden_channels, num_layers=num_layers)
        generated = set()
        for name in shared.op_weight_names().values():  # generated, so not parameters here
            module_name, _, param = name.rpartition(".")
            shared.get_submodule(module_name).register_parameter(param, None)
            generated.add(module_name)
        _batch_statistics_only(shared)
        #: The shared parameters, named as in every architecture's network.
        self.shared = shared
        self._generated_modules = frozenset(generated)
        self._networks: OrderedDict[str, NASBench201Network] = OrderedDict()
        self._position_maps: dict[int, Tensor] = {}

    def reset_parameters(self) -> None:
        self.hypernet.reset_parameters()
        for name, module in self.shared.named_modules():
            if name not in self._generated_modules and hasattr(module, "reset_parameters"):
                module.reset_parameters()

    # ---------------------------------------------------------------- networks
    def proxy_arch(self, arch: str) -> str:
        """The architecture the proxy network runs for ``arch`` (its pruned form with
        ``prune=True``, else ``arch`` itself)."""
        return NASBench201Space().prune_arch(arch) if self.prune else arch

    def network(self, arch: str) -> NASBench201Network:
        """The parameter-less (``meta``) skeleton of ``arch``'s proxy network."""
        net = self._networks.get(arch)
        if net is None:
            with torch.device("meta"):
                net = NASBench201Network.from_arch(self.proxy_arch(arch), C=self.C, N=self.N,
                                                   num_classes=self.num_classes)
            _batch_statistics_only(net)
            self._networks[arch] = net
            if len(self._networks) > _CACHE_SIZE:
                self._networks.popitem(last=False)
        else:
            self._networks.move_to_end(arch)
        return net

    def _proxy_positions(self, cell_pos: Tensor) -> Tensor:
        """Proxy cell position of every node (``-1``: the proxy has no such cell)."""
        num_cells = int(cell_pos.max()) + 1 if cell_pos.numel() else 0
        table = self._position_maps.get(num_cells)
        if table is None:
            per_stage, rest = divmod(num_cells - 2, 3)
            if rest or per_stage < self.N:
                raise ValueError(
                    f"The encoder graph has {num_cells} cells; the proxy (N={self.N}) needs a "
                    f"NAS-Bench-201 cell sequence of 3N'+2 cells with N' >= {self.N}")
            mapping = NASBench201Space(per_stage).proxy_cell_positions(self.N)
            table = torch.tensor(mapping, dtype=torch.long)
            self._position_maps[num_cells] = table
        return table.to(cell_pos.device)[cell_pos]

    def generate(self, arch: str, node_feats: Tensor, cell_pos: Tensor,
                 op: Optional[Tensor] = None) -> dict[str, Tensor]:
        """Every parameter of ``arch``'s proxy network: generated kernels and shared rest.

        Args:
            arch: The architecture string.
            node_feats: Encoder features of this architecture's nodes.
            cell_pos: Cell position of every node (of the encoder graph).
            op: Node-type indices; when given, checked against ``arch``.

        Returns:
            ``{parameter name: tensor}`` covering every parameter of
            :meth:`network` ``(arch)``, ready for :func:`torch.func.functional_call`.
        """
        pos = self._proxy_positions(cell_pos)
        keep = pos >= 0
        net = self.network(arch)
        kernels = generated_state(net, node_feats[keep], pos[keep], self.hypernet,
                                  op=None if op is None else op[keep], prune=self.prune)
        shared = dict(self.shared.named_parameters())
        return {name: kernels[name] if name in kernels else shared[name]
                for name, _ in net.named_parameters()}

    def run(self, arch: str, params: dict[str, Tensor], images: Tensor) -> Tensor:
        """Logits of ``arch``'s proxy network with the parameters of :meth:`generate`."""
        return functional_call(self.network(arch), params, (images,))

    def forward(self, arch: str, node_feats: Tensor, cell_pos: Tensor, images: Tensor,
                op: Optional[Tensor] = None) -> Tensor:
        return self.run(arch, self.generate(arch, node_feats, cell_pos, op), images)

    @torch.no_grad()
    def network_state_dict(self, arch: str, node_feats: Tensor, cell_pos: Tensor,
                           op: Optional[Tensor] = None) -> dict[str, Tensor]:
        """A ``state_dict`` for ``NASBench201Network.from_arch(arch, C=C, N=N)``.

        Kernels are generated, the other parameters are the shared ones, and
        the BatchNorm buffers are a fresh network's (running mean 0, variance
        1): the weights were trained with batch statistics, so run the network
        in training mode or re-estimate the running statistics before
        evaluating it in eval mode. With ``prune=True`` the kernels of ops that
        pruning removes keep a fresh network's initial values: they are
        ``none`` in the proxy network the hypernetwork was trained with.
        """
        params = self.generate(arch, node_feats, cell_pos, op)
        with torch.random.fork_rng(devices=[]):
            state = NASBench201Network.from_arch(arch, C=self.C, N=self.N,
                                                 num_classes=self.num_classes).state_dict()
        for name, value in params.items():
            state[name] = value.detach().clone()
        return {name: value.to(node_feats.device) for name, value in state.items()}

    def extra_repr(self) -> str:
        return f"C={self.C}, N={self.N}, num_classes={self.num_classes}, prune={self.prune}"
