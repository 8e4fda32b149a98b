"""The ranking protocol of ``evaluate_ranking``, including its fixed scoring sample."""
import pytest

from hypernas_pyg.baselines import RandomPredictor
from hypernas_pyg.evaluation import evaluate_ranking


class _Oracle(RandomPredictor):
    """Predicts the evaluation target itself: a perfect ranker, to check what is scored."""

    def predict(self, dataset):
        return dataset.y[:, 1].numpy().copy()


def test_score_sample_ranks_a_fixed_sample(nb201):
    full = evaluate_ranking(_Oracle(seed=0), nb201, 50, 0)
    a = evaluate_ranking(_Oracle(seed=0), nb201, 50, 0, score_sample=2000)
    b = evaluate_ranking(RandomPredictor(seed=0), nb201, 50, 3, score_sample=2000)
    assert full["num_archs"] == len(nb201) and a["num_archs"] == b["num_archs"] == 2000
    assert a["kendall_tau"] == pytest.approx(1.0) and a["kendall_tau_heldout"] == pytest.approx(1.0)
    assert abs(b["kendall_tau"]) < 0.1


def test_score_sample_out_of_range_is_named(nb201):
    with pytest.raises(ValueError, match=r"score_sample must be in 51\.\.15625, got 20"):
        evaluate_ranking(RandomPredictor(seed=0), nb201, 50, 0, score_sample=20)
