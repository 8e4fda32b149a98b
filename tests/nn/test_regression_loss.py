import pytest
import torch
import torch.nn.functional as F

from hypernas_pyg.nn import pairwise_logistic_loss, regression_loss


def test_pairwise_loss_by_hand():
    pred = torch.tensor([0.0, 1.0, 3.0])
    target = torch.tensor([2.0, 1.0, 1.0])
    # Ordered pairs (i better than j): (0, 1) and (0, 2); targets 1 and 2 tie.
    expected = (F.softplus(torch.tensor(1.0)) + F.softplus(torch.tensor(3.0))) / 2
    torch.testing.assert_close(pairwise_logistic_loss(pred, target), expected)


def test_pairwise_loss_rewards_the_right_order():
    target = torch.arange(6.0)
    right = pairwise_logistic_loss(target * 2, target)
    wrong = pairwise_logistic_loss(-target * 2, target)
    assert right < 0.1 < 2.0 < wrong
    # Shifting all predictions changes no difference, so no loss.
    torch.testing.assert_close(pairwise_logistic_loss(target * 2 + 5, target), right)


def test_all_ties_give_zero_with_gradient():
    pred = torch.tensor([0.3, -1.0], requires_grad=True)
    loss = pairwise_logistic_loss(pred, torch.ones(2))
    loss.backward()
    assert float(loss.detach()) == 0.0 and pred.grad is not None


def test_regression_loss_is_mse_plus_weighted_rank_term():
    pred, target = torch.randn(8), torch.randn(8)
    torch.testing.assert_close(regression_loss(pred, target), F.mse_loss(pred, target))
    torch.testing.assert_close(regression_loss(pred.view(-1, 1), target, 0.5),
                               F.mse_loss(pred, target)
                               + 0.5 * pairwise_logistic_loss(pred, target))


def test_shape_mismatch():
    with pytest.raises(ValueError, match="same number of elements, got 3 and 2"):
        pairwise_logistic_loss(torch.zeros(3), torch.zeros(2))
