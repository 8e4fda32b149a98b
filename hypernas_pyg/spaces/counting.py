"""FLOP counting in the convention of the NAS-Bench-201 zero-cost tables."""
from __future__ import annotations

import math
from typing import Callable, Sequence

import torch
from torch import Tensor, nn


def _pair(value: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(value, int):
        return value, value
    first, second = value
    return int(first), int(second)


def _conv2d_flops(module: nn.Conv2d, x: Tensor, out: Tensor) -> int:
    kh, kw = _pair(module.kernel_size)
    positions = out.shape[0] * out.shape[2] * out.shape[3]
    flops = positions * kh * kw * module.in_channels * (module.out_channels // module.groups)
    if module.bias is not None:
        flops += positions * module.out_channels
    return flops


def _linear_flops(module: nn.Linear, x: Tensor, out: Tensor) -> int:
    return (out.numel() // module.out_features) * module.in_features * module.out_features


def _batch_norm_flops(module: nn.BatchNorm2d, x: Tensor, out: Tensor) -> int:
    return x.numel() * (2 if module.affine else 1)


def _activation_flops(module: nn.Module, x: Tensor, out: Tensor) -> int:
    return x.numel()


def _pool_flops(module: nn.Module, x: Tensor, out: Tensor) -> int:
    kh, kw = _pair(module.kernel_size)
    return out.numel() * kh * kw


def _adaptive_pool_flops(module: nn.Module, x: Tensor, out: Tensor) -> int:
    # Window of output cell i: [floor(i * H / h), ceil((i + 1) * H / h)), counted
    # as (length + 1) like the reference counter.
    (in_h, in_w), (out_h, out_w) = x.shape[-2:], out.shape[-2:]
    rows = sum(math.ceil((i + 1) * in_h / out_h) - math.floor(i * in_h / out_h) + 1
               for i in range(out_h))
    cols = sum(math.ceil((j + 1) * in_w / out_w) - math.floor(j * in_w / out_w) + 1
               for j in range(out_w))
    return (x.numel() // (in_h * in_w)) * rows * cols


#: Counted module types and their per-call FLOP rule ``(module, input, output) -> int``.
FLOP_RULES: dict[type, Callable[[nn.Module, Tensor, Tensor], int]] = {
    nn.Conv2d: _conv2d_flops,
    nn.Linear: _linear_flops,
    nn.BatchNorm2d: _batch_norm_flops,
    nn.ReLU: _activation_flops,
    nn.ReLU6: _activation_flops,
    nn.PReLU: _activation_flops,
    nn.ELU: _activation_flops,
    nn.LeakyReLU: _activation_flops,
    nn.AvgPool2d: _pool_flops,
    nn.MaxPool2d: _pool_flops,
    nn.AdaptiveAvgPool2d: _adaptive_pool_flops,
    nn.AdaptiveMaxPool2d: _adaptive_pool_flops,
}


def _rule(module: nn.Module) -> Callable[[nn.Module, Tensor, Tensor], int] | None:
    for kind in type(module).__mro__:
        if kind in FLOP_RULES:
            return FLOP_RULES[kind]
    return None


def count_flops(model: nn.Module, input_size: Sequence[int] = (1, 3, 32, 32)) -> int:
    r"""Counts a model's FLOPs per input sample as the NAS-Bench-201 tables do.

    Runs one forward pass on a zero tensor of ``input_size`` (device and dtype
    of the model's first parameter; eval mode and no gradients, the training
    flags are restored afterwards) and sums, through forward hooks, over every
    call of these modules (:math:`B` batch, :math:`C` channels):

    - ``nn.Conv2d``: :math:`B H_{out} W_{out} \, k_h k_w \, C_{in} C_{out} / g`
      multiply-accumulates, plus :math:`B H_{out} W_{out} C_{out}` with a bias;
    - ``nn.Linear``: :math:`B F_{in} F_{out}` multiply-accumulates (a bias
      adds nothing);
    - ``nn.BatchNorm2d``: 2 per input element (1 without affine parameters);
    - ``nn.ReLU`` (and ReLU6, PReLU, ELU, LeakyReLU): 1 per input element;
    - ``nn.AvgPool2d`` / ``nn.MaxPool2d``: :math:`k_h k_w` per output element;
    - ``nn.AdaptiveAvgPool2d`` / ``nn.AdaptiveMaxPool2d``: :math:`B C` times
      the sum over output cells of :math:`(h + 1)(w + 1)` for a pooling
      window of :math:`h \times w` (a global pool over :math:`8 \times 8`
      counts :math:`81 C`, a quirk kept for exactness).

    Everything else (additions of cell nodes, ``none`` / ``skip_connect``,
    flatten) counts nothing. The total is divided by the batch size.

    This is the torchstat rule set that NASLib's zero-cost ``flops`` proxy
    reads from ``tensorwatch.ModelStats`` (batch 1). With it,
    ``count_flops(net) / 1e6`` of a
    :class:`~hypernas_pyg.spaces.NASBench201Network` with
    ``C=16, N=5`` equals the ``flops`` score (MFLOPs) of NASLib's
    ``zc_nasbench201.json`` exactly, to its 6 decimals, for every listed
    architecture (CIFAR-10, CIFAR-100 and ImageNet16-120 at 16x16). Unlike
    ``ModelStats``, a module called several times counts every call.

    Args:
        model: The model to measure.
        input_size: Shape of the dummy input, batch first.

    Returns:
        FLOPs of one sample.

    Raises:
        ValueError: if ``input_size`` is empty or has a non-positive entry.
    """
    size = tuple(int(s) for s in input_size)
    if len(size) == 0 or any(s < 1 for s in size):
        raise ValueError(
            f"input_size must be a non-empty shape of positive sizes, got {tuple(input_size)!r}")
    reference = next(model.parameters(), None)
    if reference is None:
        reference = next(model.buffers(), torch.empty(0))

    total = 0

    def make_hook(rule: Callable[[nn.Module, Tensor, Tensor], int]) -> Callable[..., None]:
        def hook(module: nn.Module, inputs: tuple[Tensor, ...], output: Tensor) -> None:
            nonlocal total
            total += int(rule(module, inputs[0], output))
        return hook

    handles = []
    for module in model.modules():
        rule = _rule(module)
        if rule is not None:
            handles.append(module.register_forward_hook(make_hook(rule)))
    was_training = {module: module.training for module in model.modules()}
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(size, device=reference.device, dtype=reference.dtype))
    finally:
        for handle in handles:
            handle.remove()
        for module, flag in was_training.items():
            module.training = flag
    return total // size[0]
