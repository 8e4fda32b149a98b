"""DARTS's CIFAR-10 evaluation network (Liu et al. 2019), an ordinary ``nn.Module``.

The stem (3x3 conv to ``3 C`` channels), ``layers`` cells (the reduction cell at 1/3 and 2/3
of the depth doubles the channels and halves the resolution), an optional auxiliary head after
the second reduction, global average pooling and a linear classifier. Each cell
preprocesses its two inputs to ``C`` channels (a factorised reduction when the previous cell
reduced), runs the genotype's eight ops (stride 2 on the cell inputs of a reduction cell),
sums them per node and concatenates the four nodes. Drop path zeroes whole op outputs
during training (not identities), as DARTS's training recipe does.
"""
from __future__ import annotations

from typing import Any, Optional

import torch
from torch import Tensor, nn

from hypernas_pyg.nn.avg_pool import ExcludePadAvgPool2d
from hypernas_pyg.spaces.darts.genotype import DARTSGenotype
from hypernas_pyg.spaces.darts.ops import NUM_NODES


class ReLUConvBN(nn.Sequential):
    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int) -> None:
        super().__init__(nn.ReLU(inplace=False),
                         nn.Conv2d(c_in, c_out, kernel, stride, padding, bias=False),
                         nn.BatchNorm2d(c_out))


class DilConv(nn.Sequential):
    """ReLU, depthwise (dilated) conv, pointwise conv, BN."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int,
                 dilation: int, affine: bool = True) -> None:
        super().__init__(nn.ReLU(inplace=False),
                         nn.Conv2d(c_in, c_in, kernel, stride, padding, dilation=dilation,
                                   groups=c_in, bias=False),
                         nn.Conv2d(c_in, c_out, 1, bias=False),
                         nn.BatchNorm2d(c_out, affine=affine))


class SepConv(nn.Sequential):
    """Two depthwise-separable blocks (the first carries the stride)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int,
                 affine: bool = True) -> None:
        super().__init__(DilConv(c_in, c_in, kernel, stride, padding, 1, affine),
                         DilConv(c_in, c_out, kernel, 1, padding, 1, affine))


class FactorizedReduce(nn.Module):
    """Halves the resolution with two offset stride-2 1x1 convs, concatenated."""

    def __init__(self, c_in: int, c_out: int, affine: bool = True) -> None:
        super().__init__()
        if c_out % 2:
            raise ValueError(f"FactorizedReduce needs an even channel count, got {c_out}")
        self.relu = nn.ReLU(inplace=False)
        self.conv_1 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.conv_2 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(c_out, affine=affine)

    def forward(self, x: Tensor) -> Tensor:
        x = self.relu(x)
        return self.bn(torch.cat([self.conv_1(x), self.conv_2(x[:, :, 1:, 1:])], dim=1))


def make_op(name: str, channels: int, stride: int, affine: bool = True) -> nn.Module:
    """The DARTS op ``name`` on ``channels`` channels (``affine``: learnable BN scale and
    shift inside the op)."""
    c = channels
    if name == "max_pool_3x3":
        return nn.MaxPool2d(3, stride=stride, padding=1)
    if name == "avg_pool_3x3":
        return ExcludePadAvgPool2d(3, stride=stride, padding=1)
    if name == "skip_connect":
        return nn.Identity() if stride == 1 else FactorizedReduce(c, c, affine)
    if name in ("sep_conv_3x3", "sep_conv_5x5"):
        k = int(name[-1])
        return SepConv(c, c, k, stride, k // 2, affine)
    if name in ("dil_conv_3x3", "dil_conv_5x5"):
        k = int(name[-1])
        return DilConv(c, c, k, stride, k - 1, 2, affine)
    raise ValueError(f"unknown DARTS op {name!r}")


def drop_path(x: Tensor, drop_prob: float) -> Tensor:
    """Zeroes each sample's ``x`` with probability ``drop_prob`` (rescaling the rest)."""
    keep = 1.0 - drop_prob
    mask = torch.empty(x.size(0), 1, 1, 1, device=x.device, dtype=x.dtype).bernoulli_(keep)
    return x / keep * mask


class DARTSCell(nn.Module):
    """One cell: preprocess both inputs, eight ops, four sums, concatenation."""

    def __init__(self, pairs: tuple, c_prev_prev: int, c_prev: int, channels: int,
                 reduction: bool, reduction_prev: bool, affine: bool = True) -> None:
        super().__init__()
        self.reduction = reduction
        self.preprocess0 = (FactorizedReduce(c_prev_prev, channels) if reduction_prev
                            else ReLUConvBN(c_prev_prev, channels, 1, 1, 0))
        self.preprocess1 = ReLUConvBN(c_prev, channels, 1, 1, 0)
        self.inputs = [source for _, source in pairs]
        self.ops = nn.ModuleList(make_op(op, channels, 2 if reduction and source < 2 else 1,
                                         affine) for op, source in pairs)
        self.multiplier = NUM_NODES

    def forward(self, s0: Tensor, s1: Tensor, drop_prob: float = 0.0) -> Tensor:
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        for node in range(NUM_NODES):
            total = 0
            for k in (2 * node, 2 * node + 1):
                h = self.ops[k](states[self.inputs[k]])
                if self.training and drop_prob > 0 and not isinstance(self.ops[k], nn.Identity):
                    h = drop_path(h, drop_prob)
                total = total + h
            states.append(total)
        return torch.cat(states[2:], dim=1)


class AuxiliaryHead(nn.Module):
    """DARTS's CIFAR auxiliary classifier (on 8x8 feature maps)."""

    def __init__(self, channels: int, num_classes: int) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.ReLU(inplace=True), nn.AvgPool2d(5, stride=3, padding=0, count_include_pad=False),
            nn.Conv2d(channels, 128, 1, bias=False), nn.BatchNorm2d(128), nn.ReLU(inplace=True),
            nn.Conv2d(128, 768, 2, bias=False), nn.BatchNorm2d(768), nn.ReLU(inplace=True))
        self.classifier = nn.Linear(768, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x).flatten(1))


class DARTSNetwork(nn.Module):
    """The evaluation network of a genotype.

    Args:
        genotype: A :class:`DARTSGenotype` (``DARTSSpace().parse(...)`` of any form).
        channels: Initial channels ``C`` (36 for DARTS's CIFAR-10 network).
        layers: Cells (20).
        num_classes: Classifier outputs.
        auxiliary: Add the auxiliary head (its logits are returned during training).
        drop_path_prob: Drop-path probability during training (a training schedule
            usually raises it linearly; set the attribute between epochs).
        in_channels: Image channels.
        stem_multiplier: Stem channels over ``C`` (3).
        affine_ops: Learnable BN scale and shift inside the ops (DARTS's evaluation network;
            NAS-Bench-301's networks have none there: ``channels=32, layers=8,
            affine_ops=False`` gives exactly the ``params`` of NASLib's NB301 table).

    ``forward`` returns the logits, or ``(logits, aux_logits)`` in training mode with the
    auxiliary head.
    """

    def __init__(self, genotype: DARTSGenotype, channels: int = 36, layers: int = 20,
                 num_classes: int = 10, auxiliary: bool = False, drop_path_prob: float = 0.0,
                 in_channels: int = 3, stem_multiplier: int = 3, affine_ops: bool = True) -> None:
        super().__init__()
        if not isinstance(genotype, DARTSGenotype):
            raise ValueError(f"genotype must be a DARTSGenotype (DARTSSpace().parse(...)), got "
                             f"{type(genotype).__name__}")
        self.layers, self.auxiliary, self.drop_path_prob = layers, auxiliary, drop_path_prob
        c_curr = stem_multiplier * channels
        self.stem = nn.Sequential(nn.Conv2d(in_channels, c_curr, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(c_curr))
        c_prev_prev, c_prev, c_curr = c_curr, c_curr, channels
        self.reductions = (layers // 3, 2 * layers // 3)
        self.cells = nn.ModuleList()
        reduction_prev, c_aux = False, None
        for i in range(layers):
            reduction = i in self.reductions
            if reduction:
                c_curr *= 2
            pairs = genotype.reduce if reduction else genotype.normal
            cell = DARTSCell(pairs, c_prev_prev, c_prev, c_curr, reduction, reduction_prev,
                             affine_ops)
            self.cells.append(cell)
            reduction_prev = reduction
            c_prev_prev, c_prev = c_prev, cell.multiplier * c_curr
            if i == self.reductions[1]:
                c_aux = c_prev
        self.auxiliary_head: Optional[nn.Module] = (AuxiliaryHead(c_aux, num_classes)
                                                    if auxiliary else None)
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_prev, num_classes)

    def forward(self, x: Tensor) -> Any:
        aux = None
        s0 = s1 = self.stem(x)
        for i, cell in enumerate(self.cells):
            s0, s1 = s1, cell(s0, s1, self.drop_path_prob)
            if i == self.reductions[1] and self.auxiliary_head is not None and self.training:
                aux = self.auxiliary_head(s1)
        logits = self.classifier(self.global_pooling(s1).flatten(1))
        return (logits, aux) if aux is not None else logits


def count_parameters(network: nn.Module, auxiliary: bool = False) -> int:
    """Trainable parameters, without the auxiliary head unless ``auxiliary`` (DARTS's figure)."""
    return sum(p.numel() for name, p in network.named_parameters()
               if p.requires_grad and (auxiliary or not name.startswith("auxiliary_head")))
