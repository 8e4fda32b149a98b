"""Target networks that architectures describe, runnable with generated weights."""
from hypernas_pyg.target.flops import count_flops
from hypernas_pyg.target.nb201_network import NASBench201Network
from hypernas_pyg.target.proxy import PROXY_PRESETS, ProxyConfig, proxy_resolver

__all__ = ["NASBench201Network", "PROXY_PRESETS", "ProxyConfig", "count_flops", "proxy_resolver"]
