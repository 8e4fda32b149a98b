"""Training loops of the variants with the hypernetwork task (``hypernas``, ``hypernas-h``)."""
from __future__ import annotations

import logging
from typing import Optional, Sequence

import torch
from torch import Tensor
from torch_geometric.data import Data

from hypernas_pyg.data.collate import NODE_KEYS, ShuffledBatches
from hypernas_pyg.nn.models.hypernas import HyperNAS
from hypernas_pyg.nn.multi_task_loss import PreferenceWeightedLoss
from hypernas_pyg.nn.regression_loss import regression_loss
from hypernas_pyg.training.auxiliary_task import AuxiliaryTask
from hypernas_pyg.training.loop import train_epochs
from hypernas_pyg.training.regression import fit_frozen_regressor

logger = logging.getLogger(__name__)

#: Names of the two tasks, in the order of the multi-task loss's weights.
TASKS = ("predictor", "hypernet")
#: Node attributes a training batch carries: the encoder's and the node types, which the
#: hypernetwork branch checks against the architecture string.
_NODE_KEYS = NODE_KEYS + ("op",)


def fit_multi_task(model: HyperNAS, data_list: Sequence[Data], aux: AuxiliaryTask, *,
                   joint: bool, q: Optional[float], epochs: int, batch_size: int, lr: float,
                   weight_decay: float, seed: int, device: torch.device,
                   progress: bool,
                   aux_pool: Optional[Sequence[Data]] = None,
                   rank_weight: float = 0.0) -> Optional[PreferenceWeightedLoss]:
    r"""Trains ``model`` (in place) with the hypernetwork task.

    Every step encodes a mini-batch of architectures once and computes the
    hypernetwork loss :math:`\mathcal{L}_H` (:meth:`AuxiliaryTask.loss`).

    - ``joint=True`` (``hypernas``): the step also computes the regression loss
      :math:`\mathcal{L}_P` (:func:`regression_loss` on ``data.target``) from the same encoding and
      minimises :class:`PreferenceWeightedLoss` ``(2, q)`` of
      :math:`(\mathcal{L}_P, \mathcal{L}_H)`; its :math:`u_t` are trained
      with the model, without weight decay.
    - ``joint=False`` (``hypernas-h``): the encoder and the hypernetwork branch
      minimise :math:`\mathcal{L}_H` alone for ``epochs`` epochs; then the
      encoder is frozen and the regressor alone is fitted with MSE on the
      (eval-mode) embeddings for another ``epochs`` epochs.

    Adam with cosine annealing (:func:`~hypernas_pyg.training.train_epochs`). The global torch
    random number generator is used for dropout; call it inside
    :func:`torch.random.fork_rng` to leave the caller's state alone.

    Args:
        model: A :class:`HyperNAS` with a hypernetwork branch.
        data_list: Training architectures, each with ``arch`` (string) and
            ``target`` (the scaled accuracy, shape ``[1]``).
        aux: The auxiliary task (images, loss).
        joint: Train both tasks together (else the hypernetwork task first).
        q: Preference coefficient (``joint`` only).
        epochs: Passes over ``data_list`` (per phase).
        batch_size: Architectures per step.
        lr: Adam learning rate.
        weight_decay: Adam weight decay (not applied to the loss weights).
        seed: Seed of the shuffling and of the auxiliary draws.
        device: Training device.
        progress: Show progress bars.
        aux_pool: Unlabelled architectures (each with ``arch``) for the
            hypernetwork task: when given, every step computes
            :math:`\mathcal{L}_H` on a batch drawn from them (reshuffled when
            used up) instead of on the labelled batch, which then serves the
            regression loss only.
        rank_weight: Weight of the pairwise ranking term of the regression
            loss (:func:`~hypernas_pyg.nn.regression_loss.regression_loss`).

    Returns:
        The trained multi-task loss (``joint``), else ``None``.
    """
    gen = torch.Generator().manual_seed(seed)
    aux_gen = torch.Generator().manual_seed(seed + 1)
    loader = ShuffledBatches(data_list, min(batch_size, len(data_list)), gen,
                             graph_keys=("target", "arch"), node_keys=_NODE_KEYS)
    pool_batches = _endless(aux_pool, min(batch_size, len(aux_pool)),
                            torch.Generator().manual_seed(seed + 2)) if aux_pool else None
    loss_fn = PreferenceWeightedLoss(len(TASKS), q).to(device) if joint else None
    if joint:
        groups = [{"params": list(model.parameters())},
                  {"params": list(loss_fn.parameters()), "weight_decay": 0.0}]
    else:
        groups = [{"params": [p for name, p in model.named_parameters()
                              if not name.startswith("regressor.")]}]

    def step(batch) -> tuple[Tensor, dict[str, float]]:
        batch = batch.to(device)
        if pool_batches is None:
            out = model.encode(batch)
            ce = aux.loss(model, batch, out.node, aux_gen)
        else:
            pool_batch = next(pool_batches).to(device)
            ce = aux.loss(model, pool_batch, model.encode(pool_batch).node, aux_gen)
            out = model.encode(batch) if joint else None
        values = {"ce": float(ce.detach())}
        if not joint:
            return ce, values
        mse = regression_loss(model.regressor(out.graph), batch.target, rank_weight)
        values["mse"] = float(mse.detach())
        values.update({f"w_{t}": float(w) for t, w in zip(TASKS, loss_fn.weights.detach())})
        return loss_fn(torch.stack([mse, ce])), values

    model.train()
    logs = train_epochs(groups, step, lambda: loader, epochs=epochs, lr=lr,
                        weight_decay=weight_decay, progress=progress,
                        desc="fit hypernas" if joint else "fit hypernas-h (hypernetwork)")
    logger.debug("hypernetwork phase done: %s", logs)
    if not joint:
        fit_frozen_regressor(model, data_list, epochs=epochs, batch_size=batch_size, lr=lr,
                             weight_decay=weight_decay, generator=gen, device=device,
                             progress=progress, rank_weight=rank_weight)
    model.eval()
    return loss_fn


def _endless(data: Sequence[Data], batch_size: int, generator: torch.Generator):
    """Shuffled mini-batches of ``data``, epoch after epoch, without end."""
    loader = ShuffledBatches(data, batch_size, generator, graph_keys=("arch",),
                             node_keys=_NODE_KEYS)
    while True:
        yield from loader
