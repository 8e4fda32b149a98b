"""The registry of auxiliary image data sets of the hypernetwork task."""
from __future__ import annotations

from typing import Callable

from hypernas_pyg.datasets.cifar10 import CIFAR10Images

#: Image data sets by name. Each is built as ``cls(root, split=..., subset=..., seed=...,
#: image_size=..., log=...)`` with splits ``"train"`` and ``"heldout"`` and offers
#: ``num_classes``, ``sample_batch``, ``transform_batch``, ``images`` and ``labels``.
IMAGE_DATASETS: dict[str, Callable] = {"cifar10": CIFAR10Images}


def image_dataset_resolver(name: str) -> Callable:
    """The image data set class registered as ``name``.

    Raises:
        ValueError: for an unknown name, listing the registered ones.
    """
    if isinstance(name, str) and name.lower() in IMAGE_DATASETS:
        return IMAGE_DATASETS[name.lower()]
    raise ValueError(f"Unknown auxiliary image data set {name!r}; choose one of: "
                     f"{', '.join(IMAGE_DATASETS)}")
