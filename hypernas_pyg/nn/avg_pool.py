"""Average pooling that leaves padding out of the mean, as one depthwise convolution."""
from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor
from torch.nn import AvgPool2d

from hypernas_pyg.validation import check_int


class ExcludePadAvgPool2d(AvgPool2d):
    r"""``torch.nn.AvgPool2d(kernel_size, stride, padding, count_include_pad=False)``
    computed as a depthwise convolution with a kernel of ones, divided by the
    number of unpadded inputs under each window:

    .. math::
        y_{c,i,j} = \frac{\sum_{(u,v) \in W_{ij}} x_{c,u,v}}{|W_{ij}|},

    where :math:`W_{ij}` is the part of window :math:`(i, j)` inside the image.
    The same function; on CPU several times faster for the small NCHW feature
    maps of NAS proxy networks, forward and backward, because PyTorch's NCHW
    average pooling is not vectorised over channels. It is an ``AvgPool2d``
    (``isinstance`` holds, the attributes are the same, FLOP counters treat it
    alike) without parameters or buffers, so ``state_dict`` keys do not change.

    Args:
        kernel_size: Side of the square window.
        stride: Step of the window.
        padding: Implicit zero padding on every side (left out of the mean).

    Shapes:
        - **input:** :math:`(B, C, H, W)`
        - **output:** :math:`(B, C, H_{out}, W_{out})`, as ``AvgPool2d``'s
    """

    def __init__(self, kernel_size: int, stride: int = 1, padding: int = 0) -> None:
        check_int("kernel_size", kernel_size)
        check_int("stride", stride)
        check_int("padding", padding, minimum=0)
        if 2 * padding > kernel_size:
            raise ValueError(f"padding={padding} must be at most half of "
                             f"kernel_size={kernel_size}")
        super().__init__(kernel_size, stride, padding, count_include_pad=False)
        self._counts: dict[tuple, Tensor] = {}  # window sizes per input size, device, dtype

    def _window_counts(self, x: Tensor) -> Tensor:
        key = (x.shape[-2:], x.device, x.dtype)
        counts = self._counts.get(key)
        if counts is None:
            k = self.kernel_size
            counts = F.conv2d(x.new_ones(1, 1, *x.shape[-2:]), x.new_ones(1, 1, k, k),
                              stride=self.stride, padding=self.padding)
            self._counts[key] = counts
        return counts

    def forward(self, x: Tensor) -> Tensor:
        channels, k = x.size(1), self.kernel_size
        summed = F.conv2d(x, x.new_ones(channels, 1, k, k), stride=self.stride,
                          padding=self.padding, groups=channels)
        return summed / self._window_counts(x)

