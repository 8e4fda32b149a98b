import numpy as np
import pytest
import torch

from hypernas_pyg.baselines import OneHotGBDTPredictor, RandomPredictor
from hypernas_pyg.data import arch_to_data
from hypernas_pyg.evaluation import evaluate_ranking
from hypernas_pyg.spaces import NASBench201Space

SPACE = NASBench201Space()


def _toy(num, seed=0):
    """Archs whose accuracy is the number of conv_3x3 edges: a target trees can learn exactly."""
    archs = SPACE.sample(num, np.random.default_rng(seed))
    y = [float(sum(op == "nor_conv_3x3" for op in SPACE.parse(a))) for a in archs]
    return archs, y


def test_one_hot_marks_one_op_per_edge():
    arch = "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_1x1~1|none~2|"
    v = SPACE.features(arch)
    assert v.shape == (30,) and v.dtype == np.float32
    assert v.reshape(6, 5).sum(1).tolist() == [1.0] * 6
    ops = [SPACE.ops[j] for j in v.reshape(6, 5).argmax(1)]
    assert tuple(ops) == SPACE.parse(arch)


def test_one_hot_rejects_bad_arch():
    with pytest.raises(ValueError, match="conv_9x9"):
        SPACE.features("|conv_9x9~0|+|none~0|none~1|+|none~0|none~1|none~2|")


def test_gbdt_learns_a_tabular_target():
    archs, y = _toy(300)
    test_archs, test_y = _toy(200, seed=1)
    model = OneHotGBDTPredictor(SPACE, n_estimators=200, learning_rate=0.1, max_depth=3).fit(archs, y)
    pred = model.predict(test_archs)
    assert pred.shape == (200,)
    assert np.abs(pred - np.asarray(test_y)).max() < 0.5


def test_gbdt_reads_targets_from_arch_data_and_is_seeded():
    archs, y = _toy(60)
    data = []
    for a, t in zip(archs, y):
        d = arch_to_data(a, SPACE)
        d.y = torch.tensor([[t, t]])
        data.append(d)
    a = OneHotGBDTPredictor(SPACE, n_estimators=50, seed=3).fit(data).predict(archs)
    b = OneHotGBDTPredictor(SPACE, n_estimators=50, seed=3).fit(archs, y).predict(data)
    np.testing.assert_array_equal(a, b)


def test_gbdt_errors():
    archs, y = _toy(5)
    with pytest.raises(ValueError, match="max_depth must be a positive integer, got 0"):
        OneHotGBDTPredictor(SPACE, max_depth=0).fit(archs, y)
    with pytest.raises(ValueError, match="subsample"):
        OneHotGBDTPredictor(SPACE, subsample=1.5).fit(archs, y)
    with pytest.raises(RuntimeError, match="fit"):
        OneHotGBDTPredictor().predict(["|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"])
    with pytest.raises(ValueError, match="4 targets for 5"):
        OneHotGBDTPredictor(SPACE).fit(archs, y[:4])
    with pytest.raises(ValueError, match="y is required"):
        OneHotGBDTPredictor(SPACE).fit(archs)
    with pytest.raises(ValueError, match="space=None takes the search space from a dataset"):
        OneHotGBDTPredictor().fit(archs, y)


def test_params_round_trip():
    model = OneHotGBDTPredictor(SPACE, n_estimators=7, seed=4)
    assert OneHotGBDTPredictor(**model.get_params()).get_params() == model.get_params()
    assert model.set_params(max_depth=2).max_depth == 2
    with pytest.raises(ValueError, match=r"Unknown parameter\(s\) \['depth'\]"):
        model.set_params(depth=2)


def test_random_predictor_is_seeded_and_uninformative(nb201):
    r = evaluate_ranking(RandomPredictor(seed=0), nb201, 39, 0)
    assert abs(r["kendall_tau"]) < 0.02  # 15,625 archs: sd of tau under chance is ~0.005
    p = RandomPredictor(seed=1).fit(nb201[torch.arange(10)])
    np.testing.assert_array_equal(p.predict(nb201), p.predict(nb201))
    assert not np.array_equal(p.predict(nb201), RandomPredictor(2).fit(nb201).predict(nb201))


def test_gbdt_ranks_nb201_above_chance(nb201):
    r = evaluate_ranking(OneHotGBDTPredictor(n_estimators=200, learning_rate=0.05), nb201, 156, 0)
    assert r["kendall_tau"] > 0.4


def test_gbdt_on_nasbench101_features():
    """The same baseline on another space: its flat features (adjacency bits, vertex ops)."""
    from hypernas_pyg.spaces import NASBench101Space
    space = NASBench101Space(max_vertices=5)
    rng = np.random.default_rng(0)
    archs = space.sample(300, rng)
    y = [float(space.parse(a).ops.count("conv3x3-bn-relu")) for a in archs]
    model = OneHotGBDTPredictor(space, n_estimators=100, learning_rate=0.1, max_depth=3)
    pred = model.fit(archs, y).predict(archs[:50])
    assert model.features(archs[:2]).shape == (2, 36)
    assert np.abs(pred - np.asarray(y[:50])).max() < 0.5
