"""The op vocabulary and cell layout of NAS-Bench-201."""
from __future__ import annotations

#: Edge ops of NAS-Bench-201, in the benchmark's own order.
NB201_OPS: tuple[str, ...] = (
    "none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
#: The six cell edges ``(from_node, to_node)`` in arch-string order.
NB201_EDGES: tuple[tuple[int, int], ...] = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))
#: Fixed ops of the residual reduction block between stages.
REDUCTION_OPS: tuple[str, ...] = ("res_conv3x3_s2", "res_conv3x3", "res_shortcut")
