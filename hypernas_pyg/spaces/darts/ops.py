"""The op vocabulary and cell layout of the DARTS search space (Liu et al., ICLR 2019)."""
from __future__ import annotations

#: The seven candidate ops of a DARTS cell edge, in the order NASLib's compact encoding
#: indexes them (DARTS's ``none`` is not a choice of a derived genotype).
DARTS_OPS: tuple[str, ...] = ("max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3",
                              "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5")
#: Intermediate nodes per cell; each takes two (op, input) pairs.
NUM_NODES = 4
#: Cell outputs: the concatenation of every intermediate node (nodes 2..5).
CONCAT: tuple[int, ...] = (2, 3, 4, 5)
