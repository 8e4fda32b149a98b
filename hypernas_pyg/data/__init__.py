"""Graph data objects for architectures."""
from hypernas_pyg.data.arch_data import ArchData, arch_to_data

__all__ = ["ArchData", "arch_to_data"]
