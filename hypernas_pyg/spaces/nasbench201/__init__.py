"""NAS-Bench-201: the space, its real network, and its network side for the hypernetwork."""
from hypernas_pyg.spaces.nasbench201.network import NASBench201Network
from hypernas_pyg.spaces.nasbench201.ops import NB201_EDGES, NB201_OPS, REDUCTION_OPS
from hypernas_pyg.spaces.nasbench201.space import NASBench201Space

__all__ = ["NASBench201Network", "NASBench201Space", "NB201_EDGES", "NB201_OPS",
           "REDUCTION_OPS"]
