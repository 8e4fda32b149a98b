import numpy as np
import pytest

from hypernas_pyg.metrics import kendall_tau, precision_at_k, spearman_rho


def test_perfect_and_reversed_rankings():
    t = np.arange(10.0)
    assert kendall_tau(t * 2 + 1, t) == pytest.approx(1.0)
    assert kendall_tau(-t, t) == pytest.approx(-1.0)
    assert spearman_rho(np.exp(t), t) == pytest.approx(1.0)


def test_kendall_known_value():
    # One discordant pair out of 6: tau = (5 - 1) / 6.
    assert kendall_tau([1, 2, 4, 3], [1, 2, 3, 4]) == pytest.approx(4 / 6)


def test_precision_at_k():
    target = np.array([0.9, 0.8, 0.1, 0.2, 0.3])
    pred = np.array([0.9, 0.1, 0.8, 0.2, 0.3])
    assert precision_at_k(pred, target, 1) == 1.0
    assert precision_at_k(pred, target, 2) == 0.5  # predicted {0, 2}, true {0, 1}
    assert precision_at_k(pred, target, 5) == 1.0
    with pytest.raises(ValueError, match="k must be in 1..5"):
        precision_at_k(pred, target, 0)


def test_length_mismatch():
    with pytest.raises(ValueError, match="differ in length"):
        kendall_tau([1, 2, 3], [1, 2])
