"""Fitting the accuracy regressor: end to end (``np``, ``hypernas-p``) or on frozen embeddings."""
from __future__ import annotations

import warnings
from typing import Sequence

import torch
from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.loader import DataLoader

from hypernas_pyg.data.collate import ShuffledBatches
from hypernas_pyg.nn.models.hypernas import HyperNAS
from hypernas_pyg.nn.regression_loss import regression_loss
from hypernas_pyg.training.loop import train_epochs


def fit_regression(model: HyperNAS, data_list: Sequence[Data], *, epochs: int, batch_size: int,
                   lr: float, weight_decay: float, seed: int, device: torch.device,
                   progress: bool, rank_weight: float = 0.0) -> None:
    r"""Trains ``model`` (in place) on :func:`regression_loss` of ``data.target``: the fit of
    the predictor-only variants.

    Mini-batches of ``batch_size`` architectures are reshuffled every epoch with a
    generator seeded by ``seed``; dropout draws from torch's global generator (call
    this inside :func:`torch.random.fork_rng` to leave the caller's state alone).

    Args:
        model: The network to train.
        data_list: Training architectures, each with ``target`` (the scaled accuracy, ``[1]``).
        epochs, batch_size, lr, weight_decay: See :func:`~hypernas_pyg.training.train_epochs`.
        seed: Seed of the shuffling.
        device: Training device.
        progress: Show a progress bar.
        rank_weight: Weight of the pairwise ranking term of the loss.
    """
    gen = torch.Generator().manual_seed(seed)
    loader = ShuffledBatches(data_list, min(batch_size, len(data_list)), gen)

    def step(batch) -> tuple[Tensor, dict[str, float]]:
        batch = batch.to(device)
        loss = regression_loss(model(batch), batch.target, rank_weight)
        return loss, {"loss": float(loss.detach())}

    model.train()
    train_epochs(model.parameters(), step, lambda: loader, epochs=epochs, lr=lr,
                 weight_decay=weight_decay, progress=progress, desc="fit")
    model.eval()


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
    optimised. The standardisation is then folded into the regressor's first
    linear layer, :math:`\mathbf{W}' = \mathbf{W}\,\mathrm{diag}(1/\sigma)`,
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
    size = min(batch_size, len(data_list))

    def step(idx: Tensor) -> tuple[Tensor, dict[str, float]]:
        idx = idx.to(device)
        loss = regression_loss(model.regressor(emb[idx]), target[idx], rank_weight)
        return loss, {"loss": float(loss.detach())}

    model.regressor.train()
    train_epochs(model.regressor.parameters(), step,
                 lambda: torch.randperm(len(data_list), generator=generator).split(size),
                 epochs=epochs, lr=lr, weight_decay=weight_decay, progress=progress,
                 desc="fit hypernas-h (regressor)")
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
