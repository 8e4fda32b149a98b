"""The adaptive multi-task loss of HyperNAS, with preference coefficient ``q``."""
from __future__ import annotations

import math
from numbers import Real
from typing import Sequence, Union

import torch
from torch import Tensor
from torch.nn import Module, Parameter


def _check_positive_finite(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value) \
            or value <= 0:
        raise ValueError(f"{name} must be a finite positive number, got {value!r}")
    return float(value)


class PreferenceWeightedLoss(Module):
    r"""Adaptive multi-task loss with a learnable weight per task and preference ``q``.

    Each task :math:`t` has a learnable scale :math:`u_t`. Given the task losses
    :math:`\mathcal{L}_t`, the total loss is

    .. math::
        \mathcal{L} = \sum_{t=1}^{T} \frac{\mathcal{L}_t}{q\,|u_t|^q}
                      + \ln\!\left(1 + u_t^2\right),

    so task :math:`t` is weighted by :math:`w_t = 1 / (q\,|u_t|^q)` (see
    :attr:`weights`). With :math:`q = 2` this is exactly the adaptive loss of
    Liebel & Koerner (2018), :math:`\sum_t \mathcal{L}_t / (2 u_t^2) + \ln(1 + u_t^2)`.
    Larger ``q`` lets the weights react more sharply to the scale of a loss;
    HyperNAS reports ``q = 1.5`` as the best setting.

    .. note::
        The HyperNAS paper does not publish its exact formula. The one above is
        *our reading* of it: the natural generalisation of the Liebel & Koerner
        loss in which the exponent and the factor of the data term follow ``q``.

    For fixed :math:`\mathcal{L}_t > 0` and :math:`u_t > 0` the loss is minimised
    where :math:`\partial\mathcal{L}/\partial u_t = -\mathcal{L}_t u_t^{-q-1}
    + 2u_t / (1 + u_t^2) = 0`, i.e. :math:`\mathcal{L}_t (1 + u_t^2) = 2 u_t^{q+2}`
    (one positive root): larger losses get larger :math:`u_t`, smaller weights.

    **Guard at** :math:`u_t \to 0`. :math:`|u_t|` is replaced by a smooth floor
    that equals :math:`|u_t|` wherever :math:`|u_t| \ge \epsilon` (so the loss
    and its gradients are *exactly* the formula above there) and the quadratic
    :math:`(u_t^2 + \epsilon^2) / (2\epsilon)` below it:

    .. math::
        s_\epsilon(u) = \begin{cases} |u| & |u| \ge \epsilon \\
                        \dfrac{u^2 + \epsilon^2}{2\epsilon} & |u| < \epsilon \end{cases}

    :math:`s_\epsilon` is continuously differentiable and at least
    :math:`\epsilon / 2`, so the loss stays finite and its gradient keeps pushing
    :math:`u_t` away from zero (a hard clamp would give a zero gradient below
    :math:`\epsilon`, a region :math:`u_t` could not leave). The loss is even
    in :math:`u_t`, so :math:`u_t = 0` exactly is a (finite, unstable)
    stationary point; this is why ``init_u`` must not be zero.

    Args:
        num_tasks: Number of tasks :math:`T`.
        q: Preference coefficient, a finite positive number.
        init_u: Initial value of every :math:`u_t` (finite, non-zero).
        eps: Floor :math:`\epsilon` of :math:`|u_t|`, a finite positive number.

    Shapes:
        - **input:** ``losses`` :math:`(T)`, or a sequence of :math:`T` scalar tensors
        - **output:** scalar :math:`()`

    Raises:
        ValueError: for ``num_tasks < 1``, a non-positive or non-finite ``q`` or
            ``eps``, or a zero or non-finite ``init_u``.
    """

    def __init__(self, num_tasks: int, q: float = 1.5, init_u: float = 1.0,
                 eps: float = 1e-3) -> None:
        super().__init__()
        if isinstance(num_tasks, bool) or not isinstance(num_tasks, int) or num_tasks < 1:
            raise ValueError(f"num_tasks must be a positive integer, got {num_tasks!r}")
        self.q = _check_positive_finite("q", q)
        self.eps = _check_positive_finite("eps", eps)
        if isinstance(init_u, bool) or not isinstance(init_u, Real) \
                or not math.isfinite(init_u) or init_u == 0:
            raise ValueError(f"init_u must be a finite non-zero number, got {init_u!r}")
        self.num_tasks = num_tasks
        self.init_u = float(init_u)
        self.u = Parameter(torch.empty(num_tasks))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        with torch.no_grad():
            self.u.fill_(self.init_u)

    def _scale(self) -> Tensor:
        """:math:`s_\\epsilon(u)^q`, the guarded :math:`|u|^q`."""
        u = self.u
        a = u.abs()
        floor = (u * u + self.eps * self.eps) / (2.0 * self.eps)
        return torch.where(a >= self.eps, a, floor).pow(self.q)

    @property
    def weights(self) -> Tensor:
        r"""The effective task weights :math:`1 / (q\,|u_t|^q)`, detached, shape :math:`(T)`."""
        with torch.no_grad():
            return 1.0 / (self.q * self._scale())

    def forward(self, losses: Union[Tensor, Sequence[Tensor]]) -> Tensor:
        """Combines the task losses.

        Args:
            losses: The :math:`T` task losses, as a tensor of shape :math:`(T)`
                or a sequence of scalar (one-element) tensors.

        Returns:
            The scalar total loss.

        Raises:
            ValueError: when the number of losses is not ``num_tasks``.
        """
        if isinstance(losses, Tensor):
            if losses.dim() != 1:
                raise ValueError(
                    f"losses must have shape [{self.num_tasks}], got {tuple(losses.shape)}")
            stacked = losses
        else:
            losses = list(losses)
            for i, loss in enumerate(losses):
                if not isinstance(loss, Tensor) or loss.numel() != 1:
                    raise ValueError(f"losses[{i}] must be a scalar tensor, got {loss!r}")
            if not losses:
                raise ValueError(f"Expected {self.num_tasks} losses, got 0")
            stacked = torch.stack([loss.reshape(()) for loss in losses])
        if stacked.numel() != self.num_tasks:
            raise ValueError(f"Expected {self.num_tasks} losses, got {stacked.numel()}")
        stacked = stacked.to(self.u.dtype)
        data = stacked / (self.q * self._scale())
        reg = torch.log1p(self.u * self.u)
        return (data + reg).sum()

    def extra_repr(self) -> str:
        return f"num_tasks={self.num_tasks}, q={self.q}, eps={self.eps}"
