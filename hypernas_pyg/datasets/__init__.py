"""Benchmark datasets (architectures with accuracies) and auxiliary image data."""
from hypernas_pyg.datasets.cifar10 import CIFAR10Images
from hypernas_pyg.datasets.nasbench201 import NASBench201
from hypernas_pyg.datasets.raw_files import MIRROR_ENV, RawFile, fetch_raw_files

__all__ = ["CIFAR10Images", "NASBench201", "MIRROR_ENV", "RawFile", "fetch_raw_files"]
