"""The hypernetwork auxiliary task: CIFAR-10 batches, its loss and its validation accuracy."""
from __future__ import annotations

import logging
import math
from typing import Optional, Sequence, Union

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import Batch

from hypernas_pyg.data.arch_data import arch_to_data
from hypernas_pyg.datasets.cifar10 import CIFAR10Images
from hypernas_pyg.nn.models.hypernas import HyperNAS
from hypernas_pyg.spaces.search_space import SearchSpace
from hypernas_pyg.target.proxy import ProxyConfig

logger = logging.getLogger(__name__)


def held_out_archs(space: SearchSpace, exclude: Sequence[str], num: int, seed: int) -> list[str]:
    """``num`` distinct architectures of ``space`` drawn with ``seed``, none in ``exclude``.

    Raises:
        ValueError: when the space cannot supply ``num`` such architectures
            (after a generous number of draws).
    """
    rng = np.random.default_rng(seed)
    taken = set(exclude)
    out: list[str] = []
    for _ in range(100):
        for arch in space.sample(max(2 * num, 16), rng):
            if arch not in taken:
                taken.add(arch)
                out.append(arch)
                if len(out) == num:
                    return out
    raise ValueError(f"could not draw {num} architectures outside the {len(exclude)} excluded ones")


class AuxiliaryTask:
    r"""CIFAR-10 data of the hypernetwork task, its training loss and validation accuracy.

    Training images come from the ``train`` split of
    :class:`~hypernas_pyg.datasets.CIFAR10Images` (a random subset of
    ``proxy.train_images`` when set), validation images from the disjoint
    ``heldout`` split (``proxy.heldout_images``), both resized to
    ``proxy.image_size``.

    Args:
        root: CIFAR-10 cache directory (see :class:`CIFAR10Images`).
        proxy: The proxy settings.
        seed: Seed of the image subsets.
        device: Device the image batches are moved to.

    Raises:
        ValueError: when ``proxy.batch_size`` exceeds the training images.
        FileNotFoundError: when the CIFAR-10 raw file cannot be obtained.
    """

    def __init__(self, root: str, proxy: ProxyConfig, seed: int = 0,
                 device: Union[str, torch.device] = "cpu") -> None:
        self.proxy = proxy
        self.device = torch.device(device)
        self.train = CIFAR10Images(root, split="train", subset=proxy.train_images, seed=seed,
                                   image_size=proxy.image_size, log=False)
        self.heldout = CIFAR10Images(root, split="heldout", subset=proxy.heldout_images,
                                     seed=seed, image_size=proxy.image_size, log=False)
        if proxy.batch_size > len(self.train):
            raise ValueError(f"proxy.batch_size={proxy.batch_size} exceeds the "
                             f"{len(self.train)} training images of the auxiliary task")
        self._heldout: Optional[tuple[Tensor, Tensor]] = None
        self._seed = seed

    def loss(self, model: HyperNAS, batch: Batch, node: Tensor,
             generator: torch.Generator) -> Tensor:
        """Mean cross-entropy over ``proxy.aux_steps`` image batches.

        Each image batch is classified by the proxy network of one
        architecture of ``batch`` drawn at random with ``generator`` (which
        also draws the images).

        Args:
            model: A :class:`HyperNAS` with a hypernetwork branch.
            batch: The architectures (with ``arch`` strings).
            node: The encoder's node features of ``batch``.
            generator: Random number generator of the draws.
        """
        total = node.new_zeros(())
        for _ in range(self.proxy.aux_steps):
            g = int(torch.randint(batch.num_graphs, (1,), generator=generator))
            images, labels = self.train.sample_batch(self.proxy.batch_size, generator=generator,
                                                     device=self.device)
            total = total + model.hypernet_loss(batch, node, images, labels, [g])
        return total / self.proxy.aux_steps

    def _validation_batches(self) -> tuple[Tensor, Tensor]:
        """The transformed held-out images and labels, in a fixed random order.

        The cached images may be grouped by class (the zip is); BatchNorm with
        batch statistics needs batches that mix the classes, as in training.
        """
        if self._heldout is None:
            order = torch.randperm(len(self.heldout),
                                   generator=torch.Generator().manual_seed(self._seed))
            images = self.heldout.transform_batch(self.heldout.images[order], augment=False)
            self._heldout = images.to(self.device), self.heldout.labels[order].to(self.device)
        return self._heldout

    @torch.no_grad()
    def accuracy(self, model: HyperNAS, archs: Sequence[str], space: SearchSpace) -> float:
        """Mean accuracy on the held-out images of the networks generated for ``archs``.

        The architectures are encoded with ``model`` in its current mode (call
        ``model.eval()`` first). BatchNorm uses the statistics of each
        evaluation batch; the held-out images, shuffled once with the task's
        seed, are split into near-equal batches of at most ``proxy.batch_size``.
        """
        hypernet = model.hypernet
        if hypernet is None:
            raise RuntimeError("the model has no hypernetwork branch")
        images, labels = self._validation_batches()
        chunks = math.ceil(len(labels) / self.proxy.batch_size)
        batch = Batch.from_data_list([arch_to_data(a, space) for a in archs]).to(self.device)
        node = model.encode(batch).node
        correct = 0
        for g, arch in enumerate(batch.arch):
            mask = batch.batch == g
            params = hypernet.generate(arch, node[mask], batch.cell_pos[mask], batch.op[mask])
            for x, y in zip(images.tensor_split(chunks), labels.tensor_split(chunks)):
                correct += int((hypernet.run(arch, params, x).argmax(1) == y).sum())
        return correct / (len(archs) * len(labels))
