"""Ranking metrics for accuracy predictors."""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats


def _pair(pred: ArrayLike, target: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(pred, dtype=float).ravel()
    t = np.asarray(target, dtype=float).ravel()
    if p.shape != t.shape:
        raise ValueError(f"pred and target differ in length: {p.size} vs {t.size}")
    if p.size < 2:
        raise ValueError(f"need at least 2 values to rank, got {p.size}")
    return p, t


def kendall_tau(pred: ArrayLike, target: ArrayLike) -> float:
    """Kendall's tau-b between predictions and targets (ties handled as in SciPy)."""
    p, t = _pair(pred, target)
    return float(stats.kendalltau(p, t).statistic)


def spearman_rho(pred: ArrayLike, target: ArrayLike) -> float:
    """Spearman's rank correlation between predictions and targets."""
    p, t = _pair(pred, target)
    return float(stats.spearmanr(p, t).statistic)


def precision_at_k(pred: ArrayLike, target: ArrayLike, k: int) -> float:
    """Fraction of the ``k`` best-predicted items that are among the ``k`` truly best.

    Ties at the ``k``-th place are broken by position (stable sort).
    """
    p, t = _pair(pred, target)
    if not 1 <= k <= p.size:
        raise ValueError(f"k must be in 1..{p.size}, got {k}")
    top_pred = np.argsort(-p, kind="stable")[:k]
    top_true = np.argsort(-t, kind="stable")[:k]
    return float(np.intersect1d(top_pred, top_true).size / k)
