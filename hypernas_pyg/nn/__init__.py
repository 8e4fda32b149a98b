"""Neural network modules: message passing, encoders, predictor, hypernetwork, losses."""
from hypernas_pyg.nn.conv import BiGCNConv, Bidirectional, conv_resolver
from hypernas_pyg.nn.hypernetwork import HyperNetwork
from hypernas_pyg.nn.models import CellSequenceEncoder, EncoderOutput, HyperNAS, HypernetBranch
from hypernas_pyg.nn.multi_task_loss import PreferenceWeightedLoss
from hypernas_pyg.nn.regression_loss import pairwise_logistic_loss, regression_loss
from hypernas_pyg.nn.weight_generation import NodeLayout, generated_state

__all__ = ["BiGCNConv", "Bidirectional", "conv_resolver", "CellSequenceEncoder",
           "EncoderOutput", "HyperNAS", "HypernetBranch", "HyperNetwork", "PreferenceWeightedLoss",
           "NodeLayout", "generated_state", "pairwise_logistic_loss",
           "regression_loss"]
