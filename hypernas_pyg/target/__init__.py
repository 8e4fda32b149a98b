"""Target networks that architectures describe, runnable with generated weights."""
from hypernas_pyg.target.flops import count_flops
from hypernas_pyg.target.nb201_network import NASBench201Network

__all__ = ["NASBench201Network", "count_flops"]
