"""Scaling of accuracy targets before regression, and back."""
from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

#: Supported target scalings.
SCALINGS = ("standard", "quantile")
#: Normal-score units over which the quantile inverse saturates beyond the training range.
DEFAULT_TAIL = 1.0


class TargetScaler:
    r"""Maps training accuracies to a well-conditioned regression target and back.

    * ``"standard"``: :math:`(y - \mu) / \sigma`.
    * ``"quantile"``: the normal score of each target's rank,
      :math:`\Phi^{-1}\big((r_i - \tfrac12) / n\big)` with average ranks for ties.
      NAS benchmarks hold a few diverged networks (about 10 % accuracy among
      archs near 90 %); under the standard scaling these outliers dominate the
      squared error and squeeze the good architectures together, which is
      exactly where a ranking predictor must discriminate. The rank-based
      scores are immune to that. The inverse is the monotone piecewise-linear
      map through the training pairs. Beyond them it leaves the last segment
      with that segment's slope and saturates (a ``tanh``) within
      ``tail`` normal-score units of it: strictly increasing, so it creates no
      ties among predictions, yet bounded, so a search that pushes the score
      far past the best training architecture is not reported an accuracy
      far above anything measured (at most ``tail`` times the last slope).

    Args:
        kind: ``"standard"`` or ``"quantile"``.
        tail: Normal-score units over which the quantile inverse saturates beyond
            the training range (the bound on an extrapolated target, in units of
            the last segment's slope).
    """

    def __init__(self, kind: str = "quantile", tail: float = DEFAULT_TAIL) -> None:
        if kind not in SCALINGS:
            raise ValueError(f"Unknown target scaling {kind!r}; choose one of: {', '.join(SCALINGS)}")
        if not tail > 0:
            raise ValueError(f"tail must be a positive number of normal-score units, got {tail!r}")
        self.kind = kind
        self.tail = float(tail)
        self.knots_z: np.ndarray = np.zeros(0)
        self.knots_y: np.ndarray = np.zeros(0)
        self.mean = 0.0
        self.std = 1.0

    def fit_transform(self, y: ArrayLike) -> np.ndarray:
        y = np.asarray(y, dtype=np.float64).ravel()
        self.mean = float(y.mean())
        self.std = float(y.std(ddof=1)) if y.size > 1 and y.std() > 0 else 1.0
        if self.kind == "standard":
            return (y - self.mean) / self.std
        z = stats.norm.ppf((stats.rankdata(y) - 0.5) / y.size)
        self.knots_y, first = np.unique(y, return_index=True)
        self.knots_z = z[first]  # equal targets share one score: strictly increasing knots
        return z

    def inverse_transform(self, z: ArrayLike) -> np.ndarray:
        z = np.asarray(z, dtype=np.float64)
        if self.kind == "standard" or self.knots_z.size < 2:
            return z * self.std + self.mean
        kz, ky = self.knots_z, self.knots_y
        out = np.interp(z, kz, ky)
        lo_slope = (ky[1] - ky[0]) / (kz[1] - kz[0])
        hi_slope = (ky[-1] - ky[-2]) / (kz[-1] - kz[-2])
        t = self.tail
        out = np.where(z < kz[0], ky[0] + lo_slope * t * np.tanh((z - kz[0]) / t), out)
        return np.where(z > kz[-1], ky[-1] + hi_slope * t * np.tanh((z - kz[-1]) / t), out)

    def state_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "tail": self.tail, "mean": self.mean, "std": self.std,
                "knots_z": self.knots_z.tolist(), "knots_y": self.knots_y.tolist()}

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> "TargetScaler":
        scaler = cls(state["kind"], state.get("tail", DEFAULT_TAIL))
        scaler.mean, scaler.std = float(state["mean"]), float(state["std"])
        scaler.knots_z = np.asarray(state["knots_z"], dtype=np.float64)
        scaler.knots_y = np.asarray(state["knots_y"], dtype=np.float64)
        return scaler
