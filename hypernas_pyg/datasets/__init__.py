"""Benchmark datasets (architectures with accuracies) and auxiliary image data."""
from hypernas_pyg.datasets.cifar10 import CIFAR10Images
from hypernas_pyg.datasets.darts import DARTS214, NASBench301Surrogate
from hypernas_pyg.datasets.images import IMAGE_DATASETS, image_dataset_resolver
from hypernas_pyg.datasets.nasbench101 import NASBench101
from hypernas_pyg.datasets.nasbench201 import NASBench201
from hypernas_pyg.datasets.raw_files import MIRROR_ENV, RawFile, fetch_raw_files

#: Benchmark tables by name (what ``hypernas evaluate --benchmark`` takes).
BENCHMARKS = {"nasbench201": NASBench201, "nasbench101": NASBench101, "darts214": DARTS214,
              "nb301_surrogate": NASBench301Surrogate}
#: Other names of benchmarks: a space's name for its default labelled table.
BENCHMARK_ALIASES = {"darts": "darts214"}

__all__ = ["BENCHMARKS", "BENCHMARK_ALIASES", "CIFAR10Images", "DARTS214", "NASBench301Surrogate", "IMAGE_DATASETS", "NASBench101", "NASBench201",
           "MIRROR_ENV", "RawFile", "fetch_raw_files", "image_dataset_resolver"]
