"""The one training loop: Adam with cosine annealing over epochs, with a progress bar."""
from __future__ import annotations

from typing import Any, Callable, Iterable, Union

import torch
from torch import Tensor
from tqdm.auto import tqdm

#: What a step returns: the loss to minimise and the numbers to show for it.
StepResult = tuple[Tensor, dict[str, float]]


def train_epochs(parameters: Union[Iterable[Tensor], list[dict[str, Any]]],
                 step: Callable[[Any], StepResult], batches: Callable[[], Iterable[Any]], *,
                 epochs: int, lr: float, weight_decay: float, progress: bool = False,
                 desc: str = "fit") -> dict[str, float]:
    r"""Minimises ``step``'s loss over ``epochs`` passes of ``batches()``.

    Every variant of the estimator trains through this loop: for each item of
    ``batches()`` the gradients are zeroed, ``step(item)`` computes the loss,
    which is backpropagated, and Adam takes a step; after each epoch the
    learning rate follows cosine annealing,

    .. math::
        \eta_e = \tfrac12\, \eta_0 \big(1 + \cos(\pi e / E)\big).

    The bar (shown with ``progress``) reports the mean over the epoch's steps
    of each number ``step`` returns.

    Args:
        parameters: What Adam optimises: parameters or parameter groups (a group's
            own ``weight_decay`` overrides ``weight_decay``).
        step: Maps one item of ``batches()`` to ``(loss, {name: value})``.
        batches: Called once per epoch; returns that epoch's items in order.
        epochs: Passes over ``batches()`` (:math:`E`).
        lr: Initial learning rate :math:`\eta_0`.
        weight_decay: Adam's weight decay.
        progress: Show a progress bar.
        desc: Its label.

    Returns:
        The last epoch's means of the numbers ``step`` returned.
    """
    opt = torch.optim.Adam(parameters, lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    bar = tqdm(range(epochs), desc=desc, disable=not progress, leave=False)
    means: dict[str, float] = {}
    for _ in bar:
        sums: dict[str, float] = {}
        steps = 0
        for item in batches():
            opt.zero_grad()
            loss, values = step(item)
            loss.backward()
            opt.step()
            for key, value in values.items():
                sums[key] = sums.get(key, 0.0) + value
            steps += 1
        sched.step()
        means = {key: value / max(steps, 1) for key, value in sums.items()}
        bar.set_postfix(means)
    return means
