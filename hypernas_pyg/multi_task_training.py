"""Training loops of the variants with the hypernetwork task (``hypernas``, ``hypernas-h``)."""
from __future__ import annotations

import logging
import warnings
from typing import Optional, Sequence

import torch
from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.loader import DataLoader
from tqdm.auto import tqdm

from hypernas_pyg.auxiliary_task import AuxiliaryTask
from hypernas_pyg.nn.models.hypernas import HyperNAS
from hypernas_pyg.nn.multi_task_loss import PreferenceWeightedLoss
from hypernas_pyg.nn.regression_loss import regression_loss

logger = logging.getLogger(__name__)

#: Names of the two tasks, in the order of the multi-task loss's weights.
TASKS = ("predictor", "hypernet")


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

    Adam with cosine annealing, as in the predictor-only fit. The global torch
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
    loader = DataLoader(list(data_list), batch_size=min(batch_size, len(data_list)),
                        shuffle=True, generator=gen, exclude_keys=["arch_id", "y"])
    pool_batches = _endless(aux_pool, min(batch_size, len(aux_pool)),
                            torch.Generator().manual_seed(seed + 2)) if aux_pool else None
    loss_fn = PreferenceWeightedLoss(len(TASKS), q).to(device) if joint else None
    if joint:
        groups = [{"params": list(model.parameters())},
                  {"params": list(loss_fn.parameters()), "weight_decay": 0.0}]
    else:
        groups = [{"params": [p for name, p in model.named_parameters()
                              if not name.startswith("regressor.")]}]
    opt = torch.optim.Adam(groups, lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    model.train()
    desc = "fit hypernas" if joint else "fit hypernas-h (hypernetwork)"
    bar = tqdm(range(epochs), desc=desc, disable=not progress, leave=False)
    for _ in bar:
        sums = {"mse": 0.0, "ce": 0.0}
        steps = 0
        for batch in loader:
            batch = batch.to(device)
            opt.zero_grad()
            if pool_batches is None:
                out = model.encode(batch)
                ce = aux.loss(model, batch, out.node, aux_gen)
            else:
                pool_batch = next(pool_batches).to(device)
                ce = aux.loss(model, pool_batch, model.encode(pool_batch).node, aux_gen)
                out = model.encode(batch) if joint else None
            if joint:
                mse = regression_loss(model.regressor(out.graph), batch.target, rank_weight)
                loss = loss_fn(torch.stack([mse, ce]))
                sums["mse"] += float(mse.detach())
            else:
                loss = ce
            loss.backward()
            opt.step()
            sums["ce"] += float(ce.detach())
            steps += 1
        sched.step()
        postfix = {"ce": sums["ce"] / steps}
        if joint:
            postfix["mse"] = sums["mse"] / steps
            postfix.update({f"w_{t}": float(w) for t, w in zip(TASKS, loss_fn.weights)})
        bar.set_postfix(postfix)
    logger.debug("hypernetwork phase done: %s", postfix)
    if not joint:
        fit_frozen_regressor(model, data_list, epochs=epochs, batch_size=batch_size, lr=lr,
                             weight_decay=weight_decay, generator=gen, device=device,
                             progress=progress, rank_weight=rank_weight)
    model.eval()
    return loss_fn


def _endless(data: Sequence[Data], batch_size: int, generator: torch.Generator):
    """Shuffled mini-batches of ``data``, epoch after epoch, without end."""
    loader = DataLoader(list(data), batch_size=batch_size, shuffle=True, generator=generator,
                        exclude_keys=["arch_id", "y"])
    while True:
        yield from loader


def fit_frozen_regressor(model: HyperNAS, data_list: Sequence[Data], *, epochs: int,
                         batch_size: int, lr: float, weight_decay: float,
                         generator: torch.Generator, device: torch.device,
                         progress: bool, rank_weight: float = 0.0) -> None:
    r"""Fits ``model.regressor`` with :func:`regression_loss` (MSE plus
    ``rank_weight`` times the pairwise ranking term) on the frozen encoder's embeddings.

    The embeddings are computed once with the encoder in eval mode and
    standardised per dimension with the training set's mean :math:`\mu` and
    standard deviation :math:`\sigma` (an encoder trained on the hypernetwork
    task alone gives embeddings whose dimensions differ in scale by orders of
    magnitude, some of them constant); only the regressor's parameters are
    optimised (Adam, cosine annealing). The standardisation is then folded
    into the regressor's first linear layer,
    :math:`\mathbf{W}' = \mathbf{W}\,\mathrm{diag}(1/\sigma)`,
    :math:`\mathbf{b}' = \mathbf{b} - \mathbf{W}'\mu`, so the regressor takes
    raw embeddings as before. Dimensions constant on the training set
    (:math:`\sigma < 10^{-6}`) get zero weight; when every dimension is
    constant (a collapsed encoder) a :class:`RuntimeWarning` says so, since
    the predictions are then one value.
    """
    model.eval()
    loader = DataLoader(list(data_list), batch_size=max(batch_size, 256), shuffle=False,
                        exclude_keys=["arch", "arch_id", "y"])
    with torch.no_grad():
        raw = torch.cat([model.encode(b.to(device)).graph for b in loader])
        mean, std = raw.mean(0), raw.std(0, unbiased=False)
        inv_std = torch.where(std > 1e-6, 1.0 / std.clamp_min(1e-6), torch.zeros_like(std))
        emb = (raw - mean) * inv_std
    if not inv_std.any():  # every dimension constant
        warnings.warn(
            f"every one of the {raw.size(1)} embedding dimensions is constant (std < 1e-6) on the "
            f"{raw.size(0)} training architectures: the encoder trained on the hypernetwork task "
            "alone has collapsed, so the regressor predicts one value for every architecture "
            "(the hypernetwork can lower its loss with kernels that ignore the encoder); use "
            "variant='hypernas' or 'hypernas-p' to rank", RuntimeWarning, stacklevel=3)
    target = torch.cat([d.target.view(-1) for d in data_list]).to(device)
    opt = torch.optim.Adam(model.regressor.parameters(), lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    model.regressor.train()
    size = min(batch_size, len(data_list))
    bar = tqdm(range(epochs), desc="fit hypernas-h (regressor)", disable=not progress,
               leave=False)
    for _ in bar:
        total = 0.0
        for idx in torch.randperm(len(data_list), generator=generator).split(size):
            idx = idx.to(device)
            opt.zero_grad()
            loss = regression_loss(model.regressor(emb[idx]), target[idx], rank_weight)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * idx.numel()
        sched.step()
        bar.set_postfix(mse=total / len(data_list))
    fold_standardisation(model.regressor.lins[0], mean, inv_std)
    model.eval()


@torch.no_grad()
def fold_standardisation(linear: torch.nn.Linear, mean: Tensor, inv_std: Tensor) -> None:
    r"""Rewrites ``linear`` in place so that ``linear(x)`` becomes ``linear((x - mean) * inv_std)``.

    .. math::
        \mathbf{W}' = \mathbf{W}\,\mathrm{diag}(s), \qquad
        \mathbf{b}' = \mathbf{b} - \mathbf{W}'\boldsymbol{\mu}

    Args:
        linear: A linear layer with a bias.
        mean: :math:`\boldsymbol{\mu}`, shape ``[in_features]``.
        inv_std: :math:`s`, shape ``[in_features]``.
    """
    linear.weight.mul_(inv_std)
    linear.bias.sub_(linear.weight @ mean)
