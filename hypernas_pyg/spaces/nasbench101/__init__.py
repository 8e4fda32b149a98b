"""NAS-Bench-101: the space, its cells and module hash, the enumeration of its cells, and
its real network with the network side of the hypernetwork task."""
from hypernas_pyg.spaces.nasbench101.enumeration import NB101Catalogue, enumerate_cells
from hypernas_pyg.spaces.nasbench101.hashing import NB101_OPS, NB101Cell, hash_module, prune_spec
from hypernas_pyg.spaces.nasbench101.network import NASBench101Network
from hypernas_pyg.spaces.nasbench101.space import NASBench101Space

__all__ = ["NASBench101Network", "NASBench101Space", "NB101Catalogue", "NB101Cell", "NB101_OPS", "enumerate_cells",
           "hash_module", "prune_spec"]
