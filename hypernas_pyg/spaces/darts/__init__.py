"""The DARTS search space: genotypes in every usual form, the cell sequence of the CIFAR-10
evaluation network, sampling and mutation, and that network itself."""
from hypernas_pyg.spaces.darts.genotype import DARTSGenotype
from hypernas_pyg.spaces.darts.network import DARTSNetwork
from hypernas_pyg.spaces.darts.ops import DARTS_OPS
from hypernas_pyg.spaces.darts.space import DARTSSpace

__all__ = ["DARTSGenotype", "DARTSNetwork", "DARTSSpace", "DARTS_OPS"]
