import numpy as np
import pytest
from scipy import stats

from hypernas_pyg.training import TargetScaler


def test_quantile_scores_are_rank_normal_and_robust_to_outliers():
    y = np.array([9.7, 85.0, 86.0, 87.5, 88.0, 91.0])
    z = TargetScaler("quantile").fit_transform(y)
    np.testing.assert_allclose(z, stats.norm.ppf((np.arange(1, 7) - 0.5) / 6))
    # Moving the diverged network further away does not change any score.
    np.testing.assert_allclose(TargetScaler("quantile").fit_transform(
        np.r_[-50.0, y[1:]]), z)


def test_quantile_inverse_is_monotone_and_exact_on_knots():
    y = np.array([10.0, 80.0, 80.0, 85.0, 90.0])
    scaler = TargetScaler("quantile")
    z = scaler.fit_transform(y)
    np.testing.assert_allclose(scaler.inverse_transform(z), y)
    grid = np.linspace(-4, 4, 201)
    back = scaler.inverse_transform(grid)
    assert np.all(np.diff(back) > 0)  # strictly increasing: no ties, also beyond the knots


def test_standard_round_trip_and_state():
    y = np.array([1.0, 2.0, 4.0])
    scaler = TargetScaler("standard")
    z = scaler.fit_transform(y)
    assert z.mean() == pytest.approx(0.0) and z.std(ddof=1) == pytest.approx(1.0)
    restored = TargetScaler.from_state_dict(scaler.state_dict())
    np.testing.assert_allclose(restored.inverse_transform(z), y)


def test_unknown_scaling():
    with pytest.raises(ValueError, match="Unknown target scaling 'rank'; choose one of: "
                                         "standard, quantile"):
        TargetScaler("rank")


def test_quantile_inverse_saturates_beyond_the_training_range():
    y = np.array([90.0, 91.0, 92.0, 93.0, 94.0])
    scaler = TargetScaler("quantile", tail=0.5)
    z = scaler.fit_transform(y)
    hi_slope = (y[-1] - y[-2]) / (z[-1] - z[-2])
    far = scaler.inverse_transform(np.array([z[-1] + 1e-6, z[-1] + 3.0, z[-1] + 50.0]))
    # Leaves the top knot with the last segment's slope ...
    assert (far[0] - y[-1]) / 1e-6 == pytest.approx(hi_slope, rel=1e-4)
    # ... and never exceeds it by more than tail times that slope, yet keeps increasing.
    assert far[1] < far[2] <= y[-1] + 0.5 * hi_slope
    low = scaler.inverse_transform(np.array([z[0] - 50.0]))
    assert y[0] - 0.5 * (y[1] - y[0]) / (z[1] - z[0]) <= low[0] < y[0]
    restored = TargetScaler.from_state_dict(scaler.state_dict())
    assert restored.tail == 0.5
    np.testing.assert_allclose(restored.inverse_transform(z + 2.0), scaler.inverse_transform(z + 2.0))


def test_tail_must_be_positive():
    with pytest.raises(ValueError, match="tail must be a positive number of normal-score units, got 0"):
        TargetScaler("quantile", tail=0)
