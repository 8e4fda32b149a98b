"""The chance floor of a ranking benchmark."""
from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np

from hypernas_pyg.data.inputs import arch_strings, training_targets
from hypernas_pyg.estimator import NotFittedError, ParamsMixin


class RandomPredictor(ParamsMixin):
    """Scores every architecture with an independent uniform draw.

    Its expected Kendall tau with any target is 0; a learned predictor must be
    judged by how far it rises above this floor at the same training size. The
    draws depend on ``seed`` only, so the same call gives the same ranking.

    Args:
        seed: Seed of the draws.
    """

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def fit(self, archs: Any, y: Optional[Sequence[float]] = None) -> "RandomPredictor":
        """Checks the input as the learned predictors do; learns nothing."""
        training_targets(archs, len(arch_strings(archs)), y)
        self.fitted_ = True
        return self

    def predict(self, archs: Any) -> np.ndarray:
        if not self.__dict__.get("fitted_", False):
            raise NotFittedError("call fit() before predict()")
        n = len(arch_strings(archs))
        return np.random.default_rng(self.seed).random(n).astype(np.float32)
