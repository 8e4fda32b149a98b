import math

import pytest
import torch

from hypernas_pyg.nn.multi_task_loss import PreferenceWeightedLoss


def liebel_koerner(losses, u):
    return (losses / (2 * u**2) + torch.log(1 + u**2)).sum()


def test_q2_is_exactly_liebel_koerner():
    torch.manual_seed(0)
    losses = torch.rand(3) * 4 + 0.1
    crit = PreferenceWeightedLoss(3, q=2.0)
    with torch.no_grad():
        crit.u.copy_(torch.tensor([0.3, -1.2, 2.5]))
    u_ref = crit.u.detach().clone().requires_grad_(True)

    ours = crit(losses)
    ref = liebel_koerner(losses, u_ref)
    torch.testing.assert_close(ours, ref, rtol=1e-6, atol=0.0)
    ours.backward()
    ref.backward()
    torch.testing.assert_close(crit.u.grad, u_ref.grad, rtol=1e-6, atol=0.0)
    torch.testing.assert_close(crit.weights, 1 / (2 * u_ref.detach()**2), rtol=1e-6, atol=0.0)


def test_general_q_formula_and_sequence_input():
    losses = [torch.tensor(0.7), torch.tensor([2.0])]
    crit = PreferenceWeightedLoss(2, q=1.5, init_u=0.8)
    expected = sum(float(x) / (1.5 * 0.8**1.5) + math.log(1 + 0.8**2) for x in (0.7, 2.0))
    assert crit(losses).item() == pytest.approx(expected, rel=1e-6)
    assert crit(torch.stack([losses[0], losses[1][0]])).item() == pytest.approx(expected, rel=1e-6)
    assert crit.weights.requires_grad is False
    torch.testing.assert_close(crit.weights, torch.full((2,), 1 / (1.5 * 0.8**1.5)))


def test_loss_gradient_reaches_task_losses():
    pred = torch.ones(2, requires_grad=True)
    crit = PreferenceWeightedLoss(2, q=1.5)
    crit([pred[0] ** 2, pred[1] * 3]).backward()
    torch.testing.assert_close(pred.grad, torch.tensor([2.0, 3.0]) / 1.5)


@pytest.mark.parametrize("q", [1.25, 1.5, 2.0, 3.0])
def test_u_zero_is_finite(q):
    crit = PreferenceWeightedLoss(2, q=q)
    with torch.no_grad():
        crit.u.copy_(torch.tensor([0.0, 1e-5]))
    loss = crit(torch.tensor([1.0, 1.0]))
    loss.backward()
    assert torch.isfinite(loss)
    assert torch.isfinite(crit.u.grad).all()
    assert torch.isfinite(crit.weights).all()
    # Just inside the floor the gradient still pushes u away from zero.
    assert crit.u.grad[1] < 0


def test_floor_is_continuous_at_eps():
    crit = PreferenceWeightedLoss(1, q=1.5, eps=1e-2)
    values = []
    for u in (1e-2 * (1 - 1e-6), 1e-2 * (1 + 1e-6)):
        with torch.no_grad():
            crit.u.fill_(u)
        values.append(crit(torch.tensor([1.0])).item())
    assert values[0] == pytest.approx(values[1], rel=1e-4)


def stationary_u(loss, q):
    """Positive root of L (1 + u^2) = 2 u^(q+2) by bisection."""
    lo, hi = 1e-6, 1e3
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if 2 * mid ** (q + 2) - loss * (1 + mid**2) < 0:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def test_gradient_descent_on_u_reaches_the_analytic_optimum():
    torch.manual_seed(0)
    q = 1.5
    fixed = torch.tensor([0.2, 1.0, 5.0], dtype=torch.float64)
    crit = PreferenceWeightedLoss(3, q=q).double()
    opt = torch.optim.Adam(crit.parameters(), lr=0.05)
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.995)
    for _ in range(1500):
        opt.zero_grad()
        crit(fixed).backward()
        opt.step()
        sched.step()
    u_star = torch.tensor([stationary_u(float(x), q) for x in fixed], dtype=torch.float64)
    # The root is a stationary point of the analytic derivative.
    grad = -fixed * u_star ** (-q - 1) + 2 * u_star / (1 + u_star**2)
    torch.testing.assert_close(grad, torch.zeros_like(grad), atol=1e-9, rtol=0)
    torch.testing.assert_close(crit.u.detach().abs(), u_star, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(crit.weights, 1 / (q * u_star**q), rtol=1e-3, atol=0)
    # Larger losses are weighted less.
    assert (crit.weights[1:] < crit.weights[:-1]).all()


def test_wrong_number_of_losses():
    crit = PreferenceWeightedLoss(2)
    with pytest.raises(ValueError, match="Expected 2 losses, got 3"):
        crit(torch.ones(3))
    with pytest.raises(ValueError, match="Expected 2 losses, got 1"):
        crit([torch.tensor(1.0)])
    with pytest.raises(ValueError, match="got 0"):
        crit([])
    with pytest.raises(ValueError, match="shape"):
        crit(torch.ones(2, 1))
    with pytest.raises(ValueError, match="scalar"):
        crit([torch.ones(2), torch.ones(())])


@pytest.mark.parametrize("q", [0, -1, -0.5, float("nan"), float("inf")])
def test_invalid_q(q):
    with pytest.raises(ValueError, match=f"q must be .* got {q!r}"):
        PreferenceWeightedLoss(2, q=q)


@pytest.mark.parametrize("kwargs", [dict(num_tasks=0), dict(num_tasks=-1), dict(num_tasks=1.0),
                                    dict(num_tasks=2, eps=0.0), dict(num_tasks=2, init_u=0.0),
                                    dict(num_tasks=2, init_u=float("nan"))])
def test_invalid_arguments(kwargs):
    with pytest.raises(ValueError):
        PreferenceWeightedLoss(**kwargs)


def test_reset_parameters_and_repr():
    crit = PreferenceWeightedLoss(3, q=1.25, init_u=0.5)
    with torch.no_grad():
        crit.u.add_(1.0)
    crit.reset_parameters()
    torch.testing.assert_close(crit.u.detach(), torch.full((3,), 0.5))
    assert "q=1.25" in repr(crit)
