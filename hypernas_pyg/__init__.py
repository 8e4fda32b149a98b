"""hypernas_pyg: the HyperNAS architecture-accuracy predictor on PyTorch Geometric."""
from hypernas_pyg.data import ArchData, arch_to_data
from hypernas_pyg.predictor import VARIANTS, HyperNASPredictor

__version__ = "0.1.0"

__all__ = ["ArchData", "arch_to_data", "HyperNASPredictor", "VARIANTS", "__version__"]
