"""Gradient-boosted regression trees on a space's flat feature vector (one-hot ops)."""
from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence, Union

import numpy as np

from hypernas_pyg.data.inputs import arch_strings, resolve_space, training_targets
from hypernas_pyg.estimator import NotFittedError, ParamsMixin
from hypernas_pyg.spaces import SearchSpace


class OneHotGBDTPredictor(ParamsMixin):
    """Scikit-learn's ``GradientBoostingRegressor`` on :meth:`SearchSpace.features`.

    The tabular baseline of NAS-predictor papers: every architecture becomes the
    space's flat feature vector (on NAS-Bench-201 30 binary features, 6 edges x 5
    ops; on NAS-Bench-101 the adjacency bits and one-hot vertex ops). The
    defaults (1,000 trees of depth 6, learning rate 0.01) were the best of six
    settings on NAS-Bench-201 seeds 0-4 at 469 training archs and within the
    seed spread of the best at 39 and 78 (``benchmarks/README.md``). It has the
    estimator interface of :class:`~hypernas_pyg.HyperNASPredictor`
    (``fit`` / ``predict`` on a dataset, ``ArchData`` or arch strings).

    Args:
        space: Search space name, config dict or instance; ``None`` takes the
            dataset's space at :meth:`fit`.
        n_estimators: Boosting rounds.
        learning_rate: Shrinkage of every tree.
        max_depth: Depth of every tree.
        subsample: Fraction of the training set each tree sees.
        seed: Seed of the subsampling.

    Raises:
        ImportError: When scikit-learn is not installed (``pip install
            hypernas-pyg[baselines]``).
    """

    def __init__(self, space: Union[None, str, Mapping[str, Any], SearchSpace] = None,
                 n_estimators: int = 1000, learning_rate: float = 0.01, max_depth: int = 6,
                 subsample: float = 0.8, seed: int = 0) -> None:
        self.space = space
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.subsample = subsample
        self.seed = seed

    def validate_params(self) -> None:
        """Raises ``ValueError`` naming the first bad constructor argument."""
        if not isinstance(self.n_estimators, int) or self.n_estimators < 1:
            raise ValueError(f"n_estimators must be a positive integer, got "
                             f"{self.n_estimators!r}")
        if not 0.0 < self.learning_rate <= 1.0:
            raise ValueError(f"learning_rate must be in (0, 1], got {self.learning_rate!r}")
        if not isinstance(self.max_depth, int) or self.max_depth < 1:
            raise ValueError(f"max_depth must be a positive integer, got {self.max_depth!r}")
        if not 0.0 < self.subsample <= 1.0:
            raise ValueError(f"subsample must be in (0, 1], got {self.subsample!r}")

    def features(self, archs: Any, space: Optional[SearchSpace] = None) -> np.ndarray:
        """The feature matrix ``[num_archs, num_features]`` (of the fitted space unless
        ``space`` is given)."""
        space = space if space is not None else self._fitted_space()
        return np.stack([space.features(a) for a in arch_strings(archs)])

    def _fitted_space(self) -> SearchSpace:
        if "model_" not in self.__dict__:
            raise NotFittedError("call fit() before predict()")
        return self.space_

    def fit(self, archs: Any, y: Optional[Sequence[float]] = None) -> "OneHotGBDTPredictor":
        try:
            from sklearn.ensemble import GradientBoostingRegressor
        except ImportError as e:
            raise ImportError("OneHotGBDTPredictor needs scikit-learn: "
                              "pip install 'hypernas-pyg[baselines]'") from e
        self.validate_params()
        space = resolve_space(self.space, archs)
        x = self.features(archs, space)
        t = training_targets(archs, len(x), y)
        if len(x) < 2:
            raise ValueError(f"need at least 2 architectures to fit, got {len(x)}")
        model = GradientBoostingRegressor(
            n_estimators=self.n_estimators, learning_rate=self.learning_rate,
            max_depth=self.max_depth, subsample=self.subsample, random_state=self.seed)
        model.fit(x, t)
        self.space_, self.model_ = space, model
        return self

    def predict(self, archs: Any) -> np.ndarray:
        """Predicted accuracies, one per architecture."""
        space = self._fitted_space()
        return self.model_.predict(self.features(archs, space)).astype(np.float32)
