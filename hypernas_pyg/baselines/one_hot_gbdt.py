"""Gradient-boosted regression trees on a one-hot encoding of the searched ops."""
from __future__ import annotations

from typing import Any, Optional, Sequence, Union

import numpy as np

from hypernas_pyg.data.inputs import arch_strings, training_targets
from hypernas_pyg.spaces import SearchSpace, space_resolver


class OneHotGBDTPredictor:
    """Scikit-learn's ``GradientBoostingRegressor`` on :meth:`SearchSpace.one_hot` features.

    The tabular baseline of NAS-predictor papers: on NAS-Bench-201 each
    architecture becomes 30 binary features (6 edges x 5 ops). The defaults
    (1,000 trees of depth 6, learning rate 0.01) were the best of six settings
    on NAS-Bench-201 seeds 0-4 at 469 training archs and within the seed spread
    of the best at 39 and 78 (``benchmarks/README.md``). It has the
    estimator interface of :class:`~hypernas_pyg.HyperNASPredictor`
    (``fit`` / ``predict`` on a dataset, ``ArchData`` or arch strings).

    Args:
        space: Search space name or instance.
        n_estimators: Boosting rounds.
        learning_rate: Shrinkage of every tree.
        max_depth: Depth of every tree.
        subsample: Fraction of the training set each tree sees.
        seed: Seed of the subsampling.

    Raises:
        ImportError: When scikit-learn is not installed (``pip install
            hypernas-pyg[baselines]``).
    """

    def __init__(self, space: Union[str, SearchSpace] = "nasbench201", n_estimators: int = 1000,
                 learning_rate: float = 0.01, max_depth: int = 6, subsample: float = 0.8,
                 seed: int = 0) -> None:
        if not isinstance(n_estimators, int) or n_estimators < 1:
            raise ValueError(f"n_estimators must be a positive integer, got {n_estimators!r}")
        if not 0.0 < learning_rate <= 1.0:
            raise ValueError(f"learning_rate must be in (0, 1], got {learning_rate!r}")
        if not isinstance(max_depth, int) or max_depth < 1:
            raise ValueError(f"max_depth must be a positive integer, got {max_depth!r}")
        if not 0.0 < subsample <= 1.0:
            raise ValueError(f"subsample must be in (0, 1], got {subsample!r}")
        self.space = space_resolver(space)
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.subsample = subsample
        self.seed = seed
        self.model_ = None

    def get_params(self) -> dict[str, Any]:
        return {"space": self.space.name, "n_estimators": self.n_estimators,
                "learning_rate": self.learning_rate, "max_depth": self.max_depth,
                "subsample": self.subsample, "seed": self.seed}

    def features(self, archs: Any) -> np.ndarray:
        """The one-hot feature matrix, ``[num_archs, num_choices * num_ops]``."""
        return np.stack([self.space.one_hot(a) for a in arch_strings(archs)])

    def fit(self, archs: Any, y: Optional[Sequence[float]] = None) -> "OneHotGBDTPredictor":
        try:
            from sklearn.ensemble import GradientBoostingRegressor
        except ImportError as e:
            raise ImportError("OneHotGBDTPredictor needs scikit-learn: "
                              "pip install 'hypernas-pyg[baselines]'") from e
        x = self.features(archs)
        t = training_targets(archs, len(x), y)
        if len(x) < 2:
            raise ValueError(f"need at least 2 architectures to fit, got {len(x)}")
        self.model_ = GradientBoostingRegressor(
            n_estimators=self.n_estimators, learning_rate=self.learning_rate,
            max_depth=self.max_depth, subsample=self.subsample, random_state=self.seed)
        self.model_.fit(x, t)
        return self

    def predict(self, archs: Any) -> np.ndarray:
        """Predicted accuracies, one per architecture."""
        if self.model_ is None:
            raise RuntimeError("call fit() before predict()")
        return self.model_.predict(self.features(archs)).astype(np.float32)
