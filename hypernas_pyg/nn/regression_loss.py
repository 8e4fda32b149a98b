r"""The predictor's regression loss: MSE plus an optional pairwise ranking term.

A NAS predictor is judged by how it *orders* architectures (Kendall's
:math:`\tau`), while MSE only asks it to match values. With few labelled
architectures a ranking term that compares every pair in the batch gives the
encoder :math:`O(B^2)` ordinal signals instead of :math:`B` values:

.. math::
    \mathcal{L}_P = \frac{1}{B}\sum_i (\hat y_i - y_i)^2
      + \lambda\,\frac{1}{|\mathcal{P}|}\sum_{(i, j)\in\mathcal{P}}
        \log\bigl(1 + e^{-(\hat y_i - \hat y_j)}\bigr),
    \qquad \mathcal{P} = \{(i, j) : y_i > y_j\},

the logistic pairwise loss of RankNet (Burges et al., 2005) on the scaled
targets. :math:`\lambda = 0` is plain MSE.
"""
from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


def pairwise_logistic_loss(pred: Tensor, target: Tensor) -> Tensor:
    r"""Mean :math:`\log(1 + e^{-(\hat y_i - \hat y_j)})` over the pairs with
    :math:`y_i > y_j` (zero when all targets are equal)."""
    pred, target = pred.view(-1), target.view(-1)
    if pred.shape != target.shape:
        raise ValueError(f"pred and target must have the same number of elements, got "
                         f"{pred.numel()} and {target.numel()}")
    better = target.unsqueeze(1) > target.unsqueeze(0)
    if not bool(better.any()):
        return pred.sum() * 0.0
    diff = pred.unsqueeze(1) - pred.unsqueeze(0)
    return F.softplus(-diff[better]).mean()


def regression_loss(pred: Tensor, target: Tensor, rank_weight: float = 0.0) -> Tensor:
    """MSE plus ``rank_weight`` times :func:`pairwise_logistic_loss`."""
    pred, target = pred.view(-1), target.view(-1)
    loss = F.mse_loss(pred, target)
    if rank_weight:
        loss = loss + rank_weight * pairwise_logistic_loss(pred, target)
    return loss
