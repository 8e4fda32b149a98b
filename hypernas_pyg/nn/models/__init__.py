"""Encoders and predictor networks."""
from hypernas_pyg.nn.models.cell_sequence_encoder import CONTEXTS, CellSequenceEncoder, EncoderOutput
from hypernas_pyg.nn.models.hypernas import HyperNAS
from hypernas_pyg.nn.models.hypernet_branch import HypernetBranch

__all__ = ["CONTEXTS", "CellSequenceEncoder", "EncoderOutput", "HyperNAS", "HypernetBranch"]
