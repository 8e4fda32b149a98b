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

    Raises:
        FloatingPointError: when a step's loss is NaN or infinite (naming the epoch,
            the step, the loss and ``lr``), or when a parameter is no longer finite
            after training: a diverged fit is never returned silently.
    """
    # One multi-tensor update for all parameters (the per-parameter loop is CPU's default):
    # the same arithmetic, bitwise, in fewer kernel calls.
    opt = torch.optim.Adam(parameters, lr=lr, weight_decay=weight_decay, foreach=True)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    bar = tqdm(range(epochs), desc=desc, disable=not progress, leave=False)
    means: dict[str, float] = {}
    for epoch in bar:
        sums: dict[str, float] = {}
        steps = 0
        for item in batches():
            opt.zero_grad()
            loss, values = step(item)
            if not bool(torch.isfinite(loss.detach()).all()):
                raise FloatingPointError(_diverged(
                    f"the loss is {float(loss.detach().reshape(-1)[0])} at epoch "
                    f"{epoch + 1}/{epochs}, step {steps + 1}", lr))
            loss.backward()
            opt.step()
            for key, value in values.items():
                sums[key] = sums.get(key, 0.0) + value
            steps += 1
        sched.step()
        means = {key: value / max(steps, 1) for key, value in sums.items()}
        bar.set_postfix(means)
    for group in opt.param_groups:
        for p in group["params"]:
            if not bool(torch.isfinite(p.detach()).all()):
                raise FloatingPointError(_diverged(
                    f"a parameter of shape {list(p.shape)} holds NaN or infinite values "
                    f"after {epochs} epochs", lr))
    return means


def _diverged(what: str, lr: float) -> str:
    return (f"training diverged: {what}; lr={lr:g} is likely too large (lower it, e.g. to "
            f"{lr / 10:g}), or the targets hold extreme values")
