"""The hypernetwork auxiliary task: image batches, its loss and its validation accuracy."""
from __future__ import annotations

import logging
import math
from typing import Optional, Sequence, Union

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import Batch

from hypernas_pyg.data.arch_data import arch_to_data
from hypernas_pyg.datasets.images import image_dataset_resolver
from hypernas_pyg.nn.models.hypernas import HyperNAS
from hypernas_pyg.spaces.search_space import SearchSpace
from hypernas_pyg.training.auxiliary_config import AuxiliaryConfig

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
    r"""Image data of the hypernetwork task, its training loss and validation accuracy.

    The images come from the data set ``config.dataset`` names
    (:func:`~hypernas_pyg.datasets.image_dataset_resolver`; CIFAR-10 today):
    training images from its ``train`` split (a random subset of
    ``config.train_images`` when set), validation images from the disjoint
    ``heldout`` split (``config.heldout_images``), both resized to
    ``config.image_size``.

    Args:
        root: Cache directory of the image data set.
        config: The auxiliary-data settings.
        seed: Seed of the image subsets.
        device: Device the image batches are moved to.

    Raises:
        ValueError: for an unknown data set, or when ``config.batch_size``
            exceeds the training images.
        FileNotFoundError: when the image data cannot be obtained.
    """

    def __init__(self, root: str, config: AuxiliaryConfig, seed: int = 0,
                 device: Union[str, torch.device] = "cpu") -> None:
        self.config = config
        self.device = torch.device(device)
        images = image_dataset_resolver(config.dataset)
        self.train = images(root, split="train", subset=config.train_images, seed=seed,
                            image_size=config.image_size, log=False)
        self.heldout = images(root, split="heldout", subset=config.heldout_images,
                              seed=seed, image_size=config.image_size, log=False)
        self.num_classes = self.train.num_classes
        if config.batch_size > len(self.train):
            raise ValueError(f"aux.batch_size={config.batch_size} exceeds the "
                             f"{len(self.train)} training images of the auxiliary task")
        self._heldout: Optional[tuple[Tensor, Tensor]] = None
        self._seed = seed

    def loss(self, model: HyperNAS, batch: Batch, node: Tensor,
             generator: torch.Generator) -> Tensor:
        """Mean cross-entropy over ``config.aux_steps`` image batches.

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
        for _ in range(self.config.aux_steps):
            g = int(torch.randint(batch.num_graphs, (1,), generator=generator))
            images, labels = self.train.sample_batch(self.config.batch_size, generator=generator,
                                                     device=self.device)
            total = total + model.hypernet_loss(batch, node, images, labels, [g])
        return total / self.config.aux_steps

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
        seed, are split into near-equal batches of at most ``config.batch_size``.
        """
        hypernet = model.hypernet
        if hypernet is None:
            raise RuntimeError("the model has no hypernetwork branch")
        images, labels = self._validation_batches()
        chunks = math.ceil(len(labels) / self.config.batch_size)
        batch = Batch.from_data_list([arch_to_data(a, space) for a in archs]).to(self.device)
        node = model.encode(batch).node
        correct = 0
        for g, arch in enumerate(batch.arch):
            mask = batch.batch == g
            params = hypernet.generate(arch, node[mask], batch.cell_pos[mask], batch.op[mask])
            for x, y in zip(images.tensor_split(chunks), labels.tensor_split(chunks)):
                correct += int((hypernet.run(arch, params, x).argmax(1) == y).sum())
        return correct / (len(archs) * len(labels))
