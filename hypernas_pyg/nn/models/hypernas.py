"""The HyperNAS network: shared cell-sequence encoder, accuracy regressor, hypernetwork branch."""
from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence, Union

import torch.nn.functional as F
from torch import Tensor
from torch.nn import Module
from torch_geometric.data import Batch
from torch_geometric.nn import MLP

from hypernas_pyg.nn.models.cell_sequence_encoder import CellSequenceEncoder, EncoderOutput
from hypernas_pyg.nn.models.hypernet_branch import HypernetBranch
from hypernas_pyg.spaces.search_space import SearchSpace


class HyperNAS(Module):
    r"""Accuracy predictor: :class:`CellSequenceEncoder` followed by an MLP regressor,
    optionally with the hypernetwork branch of the auxiliary task.

    :meth:`forward` is the predictor alone (encoder and regressor); the
    hypernetwork branch (:attr:`hypernet`, built only when ``space`` is given)
    is used by :meth:`hypernet_loss` during training and never at prediction time.

    Args:
        in_channels: Size of the input node features.
        hidden_channels: Size of node, cell and architecture embeddings.
        num_layers: Message-passing layers per cell.
        conv: Message-passing layer (name or instance), see the encoder.
        context: ``"preceding"`` (HyperNAS), ``"none"`` (NP) or ``"positional"``.
        max_cells: Largest number of cells an architecture may have.
        dropout: Dropout in the encoder and the regressor.
        regressor_layers: Layers of the regressor MLP.
        pool: Cell readout of the encoder.
        space: The search space of the hypernetwork task's networks (one with a
            network side); ``None`` builds no hypernetwork branch (the
            predictor-only variants).
        network_size: Size of those networks (see
            :meth:`~hypernas_pyg.spaces.NetworkSpace.network_size`; with ``space``).
        num_classes: Classes of the auxiliary image data (with ``space``).
        hypernet_channels: Width of the hypernetwork trunk (with ``space``).

    Shapes:
        - **input:** an :class:`~hypernas_pyg.data.ArchData` batch
        - **output:** predicted (standardised) accuracy :math:`(B,)`
    """

    def __init__(self, in_channels: int, hidden_channels: int = 64, num_layers: int = 3,
                 conv: Union[str, Module] = "bigcn", context: str = "preceding",
                 max_cells: int = 32, dropout: float = 0.0, regressor_layers: int = 2,
                 pool: str = "mean", space: Optional[SearchSpace] = None,
                 network_size: Union[None, str, Mapping[str, Any]] = None,
                 num_classes: int = 10, hypernet_channels: int = 64) -> None:
        super().__init__()
        self.encoder = CellSequenceEncoder(in_channels, hidden_channels, num_layers, conv=conv,
                                           context=context, max_cells=max_cells,
                                           dropout=dropout, pool=pool)
        channels = [hidden_channels] * regressor_layers + [1]
        self.regressor = MLP(channels, dropout=dropout, norm=None)
        # Built after the predictor, so the predictor's initialisation does not depend on it.
        self.hypernet: Optional[HypernetBranch] = None
        if space is not None:
            self.hypernet = HypernetBranch(space, hidden_channels, network_size,
                                           num_classes=num_classes,
                                           hidden_channels=hypernet_channels)

    def reset_parameters(self) -> None:
        self.encoder.reset_parameters()
        self.regressor.reset_parameters()
        if self.hypernet is not None:
            self.hypernet.reset_parameters()

    def encode(self, batch: Batch, return_node: bool = True) -> EncoderOutput:
        """Runs the encoder on an :class:`~hypernas_pyg.data.ArchData` batch
        (``return_node=False``: without the node features)."""
        return self.encoder(batch.x, batch.edge_index, batch.cell_pos, batch.batch,
                            rev_edge_index=batch.rev_edge_index, num_graphs=batch.num_graphs,
                            return_node=return_node)

    def forward(self, batch: Batch) -> Tensor:
        return self.regressor(self.encode(batch, return_node=False).graph).view(-1)

    def hypernet_loss(self, batch: Batch, node: Tensor, images: Tensor, labels: Tensor,
                      graphs: Sequence[int]) -> Tensor:
        """Cross-entropy of the proxy networks generated for some architectures of a batch.

        The image batch is split into ``len(graphs)`` nearly equal chunks
        (:func:`torch.tensor_split`); chunk ``i`` runs through the proxy network
        of graph ``graphs[i]`` with kernels generated from its node features.

        Args:
            batch: The :class:`~hypernas_pyg.data.ArchData` batch; needs ``arch``
                (the architecture strings), ``op``, ``cell_pos`` and ``batch``.
            node: The encoder's node features of ``batch`` (:attr:`EncoderOutput.node`).
            images: Auxiliary images.
            labels: Their class ids.
            graphs: Indices of the architectures within ``batch``.

        Returns:
            The mean cross-entropy over all images (a scalar).

        Shapes:
            - **input:** ``images`` :math:`(B, 3, H, W)`, ``labels`` :math:`(B)`
            - **output:** :math:`()`
        """
        if self.hypernet is None:
            raise RuntimeError("this HyperNAS model has no hypernetwork branch (built without "
                               "a space)")
        if not 1 <= len(graphs) <= labels.numel():
            raise ValueError(f"need between 1 and {labels.numel()} graphs (one image each at "
                             f"least), got {len(graphs)}")
        archs = batch.arch if isinstance(batch.arch, (list, tuple)) else [batch.arch]
        index = batch.batch if batch.batch is not None else \
            batch.cell_pos.new_zeros(batch.cell_pos.size(0))
        total = node.new_zeros(())
        for g, x, y in zip(graphs, images.tensor_split(len(graphs)),
                           labels.tensor_split(len(graphs))):
            mask = index == g
            logits = self.hypernet(archs[g], node[mask], batch.cell_pos[mask], x,
                                   op=batch.op[mask])
            total = total + F.cross_entropy(logits, y, reduction="sum")
        return total / labels.numel()
