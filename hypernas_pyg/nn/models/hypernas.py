"""The HyperNAS predictor network: shared cell-sequence encoder + accuracy regressor."""
from __future__ import annotations

from typing import Union

from torch import Tensor
from torch.nn import Module
from torch_geometric.data import Batch
from torch_geometric.nn import MLP

from hypernas_pyg.nn.models.cell_sequence_encoder import CellSequenceEncoder, EncoderOutput


class HyperNAS(Module):
    r"""Accuracy predictor: :class:`CellSequenceEncoder` followed by an MLP regressor.

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

    Shapes:
        - **input:** an :class:`~hypernas_pyg.data.ArchData` batch
        - **output:** predicted (standardised) accuracy :math:`(B,)`
    """

    def __init__(self, in_channels: int, hidden_channels: int = 64, num_layers: int = 3,
                 conv: Union[str, Module] = "bigcn", context: str = "preceding",
                 max_cells: int = 32, dropout: float = 0.0, regressor_layers: int = 2,
                 pool: str = "mean") -> None:
        super().__init__()
        self.encoder = CellSequenceEncoder(in_channels, hidden_channels, num_layers, conv=conv,
                                           context=context, max_cells=max_cells,
                                           dropout=dropout, pool=pool)
        channels = [hidden_channels] * regressor_layers + [1]
        self.regressor = MLP(channels, dropout=dropout, norm=None)

    def reset_parameters(self) -> None:
        self.encoder.reset_parameters()
        self.regressor.reset_parameters()

    def encode(self, batch: Batch) -> EncoderOutput:
        """Runs the encoder on an :class:`~hypernas_pyg.data.ArchData` batch."""
        return self.encoder(batch.x, batch.edge_index, batch.cell_pos, batch.batch,
                            rev_edge_index=batch.rev_edge_index, num_graphs=batch.num_graphs)

    def forward(self, batch: Batch) -> Tensor:
        return self.regressor(self.encode(batch).graph).view(-1)
