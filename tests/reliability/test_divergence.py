"""A diverged fit is never silent: the loop, predict, save and the targets say so."""
import os
import re

import numpy as np
import pytest
import torch

import hypernas_pyg.training.regression as regression
from hypernas_pyg.predictor import HyperNASPredictor
from hypernas_pyg.training import train_epochs


def _small(**kwargs):
    kwargs.setdefault("epochs", 5)
    return HyperNASPredictor(space="nasbench201", hidden_channels=8, progress=False, **kwargs)


@pytest.mark.parametrize("lr", [1e3, 1e6])
def test_huge_lr_raises_naming_epoch_loss_and_lr(nb201_archs, lr):
    archs, y = nb201_archs
    p = _small(lr=lr)
    with pytest.raises(FloatingPointError, match=r"loss is nan at epoch \d+/5.*lr="
                       + re.escape(f"{lr:g} is likely too large")):
        p.fit(archs, y)
    assert "members_" not in p.__dict__  # nothing half-fitted to predict with


def test_nan_loss_is_caught_at_its_step(nb201_archs, monkeypatch):
    archs, y = nb201_archs
    monkeypatch.setattr(regression, "regression_loss",
                        lambda pred, target, rank_weight=0.0: (pred * float("nan")).mean())
    with pytest.raises(FloatingPointError, match=r"loss is nan at epoch 1/5, step 1; lr=0.01"):
        _small().fit(archs, y)


def test_non_finite_parameters_after_training_raise():
    w = torch.nn.Parameter(torch.ones(3))
    # The loss is finite, but an infinite lr leaves the weights non-finite.
    with pytest.raises(FloatingPointError, match=r"parameter of shape \[3\].*after 1 epochs"):
        train_epochs([w], lambda _: ((w ** 2).sum(), {}), lambda: [None], epochs=1,
                     lr=float("inf"), weight_decay=0.0)


def test_predict_and_save_refuse_non_finite_weights(nb201_archs, tmp_path):
    archs, y = nb201_archs
    p = _small(epochs=1).fit(archs, y)
    assert np.isfinite(p.predict(archs)).all()
    with torch.no_grad():
        next(p.members_[0].regressor.parameters()).fill_(float("nan"))
    with pytest.raises(FloatingPointError, match=r"12 of 12 predictions are NaN"):
        p.predict(archs)
    path = tmp_path / "model.pt"
    with pytest.raises(FloatingPointError, match=r"refusing to save .*model.pt.*regressor"):
        p.save(str(path))
    assert os.listdir(tmp_path) == []  # nothing half-written


@pytest.mark.parametrize("bad, shown", [(1e39, "1e+39"), (-1e39, "-1e+39"),
                                        (float("nan"), "nan"), (float("inf"), "inf")])
def test_targets_beyond_float32_are_named(nb201_archs, bad, shown):
    archs, y = nb201_archs
    y = list(y)
    y[7] = bad
    with pytest.raises(ValueError, match=re.escape(f"target 7 is {shown}")):
        _small(epochs=1).fit(archs, y)
