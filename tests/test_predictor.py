import warnings

import numpy as np
import pytest
import torch
from torch_geometric.data import Batch

from hypernas_pyg import HyperNASPredictor
from hypernas_pyg.data.arch_data import arch_to_data
from hypernas_pyg.predictor import member_seed
from hypernas_pyg.spaces import NASBench201Space

SPACE = NASBench201Space()
FAST = dict(epochs=15, hidden_channels=16, num_layers=1, batch_size=16, progress=False,
            space=SPACE)
FULL = NASBench201Space(prune=False)


def _toy(n=24, seed=0):
    """Archs with a learnable synthetic accuracy: number of 3x3 convs."""
    archs = SPACE.sample(n, np.random.default_rng(seed))
    y = [80 + 2 * SPACE.parse(a).count("nor_conv_3x3") - SPACE.parse(a).count("none")
         for a in archs]
    return archs, np.array(y, dtype=float)


def test_fit_predict_strings_learns_signal():
    archs, y = _toy(48)
    model = HyperNASPredictor(**{**FAST, "epochs": 60}, lr=1e-2).fit(archs, y)
    test_archs, test_y = _toy(64, seed=1)
    pred = model.predict(test_archs)
    assert pred.shape == (64,) and pred.dtype == np.float32
    assert np.corrcoef(pred, test_y)[0, 1] > 0.5
    assert 70 < pred.mean() < 95  # de-standardised back to accuracy units


def test_prediction_does_not_depend_on_the_scoring_batch():
    archs, y = _toy()
    model = HyperNASPredictor(**{**FAST, "num_layers": 2}, seed=0).fit(archs, y)
    test_archs, _ = _toy(40, seed=2)
    whole = model.predict(test_archs)
    for batch_size in (1, 3, 16):
        np.testing.assert_array_equal(model.predict(test_archs, batch_size=batch_size), whole)


def test_same_seed_same_result():
    archs, y = _toy()
    a = HyperNASPredictor(**FAST, seed=3).fit(archs, y).predict(archs)
    b = HyperNASPredictor(**FAST, seed=3).fit(archs, y).predict(archs)
    c = HyperNASPredictor(**FAST, seed=4).fit(archs, y).predict(archs)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_rank_weight_changes_the_fit_and_still_learns():
    archs, y = _toy(48)
    test_archs, test_y = _toy(64, seed=1)
    plain = HyperNASPredictor(**{**FAST, "epochs": 60}).fit(archs, y)
    ranked = HyperNASPredictor(**{**FAST, "epochs": 60}, rank_weight=1.0).fit(archs, y)
    assert ranked.get_params()["rank_weight"] == 1.0
    pred = ranked.predict(test_archs)
    assert not np.allclose(pred, plain.predict(test_archs))
    assert np.corrcoef(pred, test_y)[0, 1] > 0.5


def test_ensemble_averages_members_seeded_apart(tmp_path):
    archs, y = _toy(32)
    single = HyperNASPredictor(**FAST, seed=5).fit(archs, y)
    ens = HyperNASPredictor(**FAST, seed=5, ensemble=3).fit(archs, y)
    assert len(ens.members_) == 3 and ens.model_ is ens.members_[0]
    # Member k is the single model of seed member_seed(5, k); predict averages scaled outputs.
    batch = Batch.from_data_list([arch_to_data(a, SPACE) for a in archs])
    with torch.no_grad():
        scaled = [m(batch).numpy() for m in ens.members_]
    for k in (0, 1):
        alone = HyperNASPredictor(**FAST, seed=member_seed(5, k)).fit(archs, y)
        np.testing.assert_allclose(ens.scaler_.inverse_transform(scaled[k]),
                                   alone.predict(archs), rtol=1e-5)
    np.testing.assert_allclose(ens.predict(archs),
                               ens.scaler_.inverse_transform(np.mean(scaled, axis=0)), rtol=1e-5)
    assert not np.allclose(scaled[0], scaled[1])
    assert not np.allclose(ens.predict(archs), single.predict(archs))
    assert len({member_seed(5, k) for k in range(3)} | {member_seed(6, k) for k in range(3)}) == 6
    path = tmp_path / "ens.pt"
    ens.save(str(path))
    loaded = HyperNASPredictor.load(str(path))
    assert loaded.ensemble == 3 and len(loaded.members_) == 3
    np.testing.assert_array_equal(loaded.predict(archs), ens.predict(archs))


def test_fit_does_not_disturb_global_rng():
    archs, y = _toy()
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    HyperNASPredictor(**FAST).fit(archs, y)
    torch.testing.assert_close(torch.rand(3), expected)


@pytest.mark.parametrize("variant, context", [("np", None), ("hypernas-p", None),
                                              ("hypernas-p", "positional")])
def test_save_load_predicts_identically(tmp_path, variant, context):
    archs, y = _toy()
    model = HyperNASPredictor(**FAST, variant=variant, context=context).fit(archs, y)
    path = tmp_path / "sub" / "model.pt"
    model.save(str(path))
    loaded = HyperNASPredictor.load(str(path))
    assert loaded.get_params() == model.get_params()
    np.testing.assert_array_equal(loaded.predict(archs), model.predict(archs))
    assert [p.name for p in tmp_path.joinpath("sub").iterdir()] == ["model.pt"]


def test_fit_on_dataset_uses_training_target(nb201):
    subset = nb201[torch.arange(0, 40)]
    model = HyperNASPredictor(**{**FAST, "space": None}).fit(subset)  # the dataset's space
    assert model.space_ == nb201.space and model.get_params()["space"] is None
    assert model.scaler_.mean == pytest.approx(float(nb201.y[:40, 0].mean()), rel=1e-5)
    pred = model.predict(nb201[torch.arange(40, 60)])
    assert pred.shape == (20,)
    # The fast in-memory path and the generic list path agree.
    np.testing.assert_allclose(model.predict([nb201[i] for i in range(40, 60)]), pred,
                               rtol=1e-5)


def test_dataset_graphs_must_match_the_space(nb201):
    full = HyperNASPredictor(**{**FAST, "space": FULL})
    with pytest.raises(ValueError, match=r"built with NASBench201Space\(cells_per_stage=5, "
                                         r"prune=True\), but the estimator's space is "
                                         r"NASBench201Space\(cells_per_stage=5, prune=False\)"):
        full.fit(nb201[torch.arange(0, 40)])
    fitted = HyperNASPredictor(**FAST).fit(nb201[torch.arange(0, 40)])
    with pytest.raises(ValueError, match="load the dataset with the same space"):
        HyperNASPredictor(**{**FAST, "space": FULL}).fit(*_toy()).predict(nb201)
    assert fitted.predict(nb201[torch.arange(0, 3)]).shape == (3,)
    with pytest.raises(ValueError, match="prune must be True or False, got 'no'"):
        HyperNASPredictor(**{**FAST, "space": {"name": "nasbench201", "prune": "no"}}).fit(
            *_toy())


def test_pruning_makes_dead_ops_invisible():
    """Architectures that differ only in pruned ops get the same prediction; without
    pruning they do not."""
    archs, y = _toy()
    a = "|none~0|+|nor_conv_3x3~0|nor_conv_1x1~1|+|skip_connect~0|none~1|nor_conv_3x3~2|"
    b = a.replace("nor_conv_1x1~1", "avg_pool_3x3~1")  # another op on the dead edge
    pruned = HyperNASPredictor(**FAST).fit(archs, y).predict([a, b])
    assert pruned[0] == pruned[1]
    full = HyperNASPredictor(**{**FAST, "space": FULL}).fit(archs, y).predict([a, b])
    assert full[0] != full[1]


def test_first_format_checkpoints_load(tmp_path):
    """Checkpoints written before the space-generic core (format 1: space by name,
    ``prune_cells`` beside it or absent for full graphs, one state dict per member)."""
    archs, y = _toy()
    model = HyperNASPredictor(**{**FAST, "space": FULL}).fit(archs, y)
    path = tmp_path / "old.pt"
    model.save(str(path))
    state = torch.load(path, weights_only=True)
    config = {**state["config"], "space": "nasbench201", "q": None, "proxy": None}
    del config["aux"]
    old = {"format": 1, "config": config, "state_dict": state["state_dicts"][0],
           "member_state_dicts": [], "target_scaler": state["target_scaler"]}
    torch.save(old, path)  # no prune_cells: written before the option existed
    loaded = HyperNASPredictor.load(str(path))
    assert loaded.space_ == FULL
    np.testing.assert_array_equal(loaded.predict(archs), model.predict(archs))


def test_params_round_trip_with_the_space(tmp_path):
    """A predictor of a non-default space reloads with that space (not the default one)."""
    space = NASBench201Space(cells_per_stage=3)
    model = HyperNASPredictor(**{**FAST, "space": space})
    again = HyperNASPredictor(**model.get_params())
    assert again.get_params() == model.get_params()
    assert HyperNASPredictor.from_config(model.config()).get_params() == model.get_params()
    archs, y = _toy()
    model.fit(archs, y)
    model.save(str(tmp_path / "m.pt"))
    loaded = HyperNASPredictor.load(str(tmp_path / "m.pt"))
    assert loaded.get_params() == model.get_params()
    assert loaded.space_ == space and loaded.space_.cells_per_stage == 3
    assert model.set_params(epochs=2).epochs == 2
    with pytest.raises(ValueError, match=r"Unknown parameter\(s\) \['prune_cells'\]"):
        model.set_params(prune_cells=False)


def test_constructor_only_stores():
    """scikit-learn's contract: no validation and no fitted attribute before fit."""
    model = HyperNASPredictor(variant="no-such-variant", lr="fast")
    assert model.variant == "no-such-variant" and model.lr == "fast"
    assert not hasattr(model, "space_") and not hasattr(model, "members_")
    assert not hasattr(model, "model_")


def test_embed_shape():
    archs, y = _toy()
    model = HyperNASPredictor(**FAST).fit(archs, y)
    assert model.embed(archs[:5]).shape == (5, 16)


@pytest.mark.parametrize("kwargs, match", [
    (dict(variant="hypernas-x"), "Unknown variant 'hypernas-x'; choose one of: np, hypernas-p"),
    (dict(encoder="gat"), "Unknown encoder 'gat'"),
    (dict(context="global"), "Unknown context"),
    (dict(epochs=0), "epochs must be a positive integer"),
    (dict(lr=0.0), "lr must be a finite positive number, got 0.0"),
    (dict(lr="0.01"), "lr must be a finite positive number, got '0.01'"),
    (dict(seed=1.5), "seed must be a non-negative integer, got 1.5"),
    (dict(seed=None), "seed must be a non-negative integer, got None"),
    (dict(target_scaling="minmax"), "Unknown target_scaling 'minmax'"),
    (dict(ensemble=0), "ensemble must be a positive integer, got 0"),
    (dict(rank_weight=-1.0), "rank_weight must be a finite non-negative number, got -1.0"),
    (dict(rank_weight=float("nan")), "rank_weight must be a finite non-negative number"),
])
def test_bad_hyper_parameters(kwargs, match):
    model = HyperNASPredictor(**{**FAST, **kwargs})
    with pytest.raises(ValueError, match=match):
        model.fit(*_toy())


def test_bad_data():
    archs, y = _toy()
    model = HyperNASPredictor(**FAST)
    with pytest.raises(RuntimeError, match="not fitted"):
        model.predict(archs)
    with pytest.raises(ValueError, match="got 23 targets for 24"):
        model.fit(archs, y[:-1])
    with pytest.raises(ValueError, match="y is required"):
        model.fit(archs)
    with pytest.raises(ValueError, match="Unknown op 'conv'"):
        model.fit([archs[0].replace("none", "conv").replace("skip_connect", "conv")] * 2, [1, 2])
    with pytest.raises(ValueError, match="NaN"):
        model.fit(archs, np.full(len(archs), np.nan))


def test_fitted_models_hold_no_subnormal_weights():
    """Subnormal weights (what weight decay leaves of unused ones) are set to 0: CPUs
    multiply them many times more slowly, and they change no prediction."""
    from hypernas_pyg.predictor import _flush_subnormal
    archs, y = _toy()
    model = HyperNASPredictor(**FAST).fit(archs, y)
    tiny = torch.finfo(torch.float32).tiny
    for p in model.model_.parameters():
        assert not ((p != 0) & (p.abs() < tiny)).any()
    with torch.no_grad():
        weight = model.model_.encoder.lin_in.weight
        weight[0, 0] = 1e-40  # subnormal in float32
    assert weight[0, 0] != 0
    before = model.predict(archs)
    _flush_subnormal(model.model_)
    assert weight[0, 0] == 0
    np.testing.assert_array_equal(model.predict(archs), before)


def test_a_collapsed_fit_warns(nb201, monkeypatch):
    """A fit whose predictions are one value for training architectures with different graphs
    (seen on DARTS214 with hypernas-p, N=100, seed 0) warns, naming lr and epochs."""
    train = nb201[torch.arange(30)]
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        HyperNASPredictor(variant="np", epochs=2, hidden_channels=8, progress=False).fit(train)
    monkeypatch.setattr(HyperNASPredictor, "predict",
                        lambda self, archs, **kw: np.full(len(archs), 90.0, np.float32))
    with pytest.warns(RuntimeWarning, match=r"one value \(90\) for all 30 training "
                                            r"architectures, whose \d+ distinct graphs.*"
                                            r"lr \(now 0\.01\).*epochs \(now 2\)"):
        HyperNASPredictor(variant="np", epochs=2, hidden_channels=8, progress=False).fit(train)


def test_a_collapsed_member_is_refitted_from_another_seed(nb201, monkeypatch):
    """A member whose outputs are one value is refitted from restart_seed(seed, 1); the
    result is the fit of that seed, and restarts_ records the refit."""
    from hypernas_pyg.predictor import restart_seed
    train = nb201[torch.arange(30)]
    kwargs = dict(variant="np", epochs=2, hidden_channels=8, progress=False)
    calls = []
    real = HyperNASPredictor._member_collapsed

    def first_collapses(self, model, data_list):
        calls.append(real(self, model, data_list))
        return len(calls) == 1
    monkeypatch.setattr(HyperNASPredictor, "_member_collapsed", first_collapses)
    refitted = HyperNASPredictor(seed=0, **kwargs).fit(train)
    assert refitted.restarts_ == [1] and len(calls) == 2
    monkeypatch.setattr(HyperNASPredictor, "_member_collapsed", real)
    direct = HyperNASPredictor(seed=restart_seed(0, 1), **kwargs).fit(train)
    assert direct.restarts_ == [0] and restart_seed(0, 1) != 0
    np.testing.assert_array_equal(refitted.predict(train), direct.predict(train))


def test_collapse_detection_and_the_warning_after_all_refits(nb201, monkeypatch):
    train = nb201[torch.arange(30)]
    model = HyperNASPredictor(variant="np", epochs=2, hidden_channels=8, progress=False)
    model.fit(train)
    data_list = list(train)
    assert not model._member_collapsed(model.model_, data_list)
    with torch.no_grad():
        model.model_.regressor.lins[-1].weight.zero_()  # a dead regressor: one output
    assert model._member_collapsed(model.model_, data_list)
    monkeypatch.setattr(HyperNASPredictor, "_member_collapsed", lambda *a: True)
    monkeypatch.setattr(HyperNASPredictor, "predict",
                        lambda self, archs, **kw: np.full(len(archs), 90.0, np.float32))
    with pytest.warns(RuntimeWarning, match=r"also after 2 refits"):
        model.fit(train)
    assert model.restarts_ == [HyperNASPredictor.COLLAPSE_RESTARTS] == [2]


def test_identical_graphs_predicting_one_value_do_not_warn():
    """Twelve cells whose pruned graphs are all the same: one prediction is right."""
    space = NASBench201Space()
    archs = list(space.all_archs())[100:112]
    assert len({str(space.cell_sequence(a)) for a in archs}) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        HyperNASPredictor(space=space, epochs=1, hidden_channels=8, progress=False).fit(
            archs, list(np.linspace(50.0, 90.0, 12)))
