"""Search: oracles, the budget by canonical key, the three algorithms, results, executors."""
import json
import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest

from hypernas_pyg.baselines import OneHotGBDTPredictor
from hypernas_pyg.search import (Evaluation, Evaluator, FunctionOracle, PredictorGuidedEvolution,
                                 RandomSearch, RegularizedEvolution, SearchResult, TableOracle)
from hypernas_pyg.spaces import NASBench201Space

SPACE = NASBench201Space()
# Two labellings of one computation: the none edge 0->1 makes node 1 all-zero, so what
# node 1 feeds does not matter.
A = "|none~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_1x1~1|nor_conv_3x3~2|"
B = "|none~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|avg_pool_3x3~1|nor_conv_3x3~2|"


@pytest.fixture(scope="module")
def oracle(nb201):
    return TableOracle(nb201)


def table_accuracy(arch):
    """A picklable user oracle: the number of 3x3 convolutions, as (validation, test)."""
    n = arch.count("nor_conv_3x3")
    return float(n), float(10 * n)


class TablePredictor:
    """A user predictor (no get_params) that knows the answers: the search must follow it."""

    def __init__(self, oracle):
        self.oracle = oracle

    def fit(self, archs, y):
        assert len(archs) == len(y) >= 2
        return self

    def predict(self, archs):
        return np.array([self.oracle.query(a).validation for a in archs])


class NaNPredictor(TablePredictor):
    def predict(self, archs):
        return np.full(len(archs), np.nan)


def test_table_oracle_reads_validation_and_test(oracle, nb201):
    i = 17
    e = oracle.query(nb201.archs[i])
    assert oracle.row(nb201.archs[i]) <= i
    j = oracle.row(nb201.archs[i])
    assert (e.validation, e.test, e.cost) == (pytest.approx(float(nb201.y[j, 0])),
                                              pytest.approx(float(nb201.y[j, 1])), 1.0)
    assert not oracle.validation_is_test
    best = oracle.best_possible()
    assert best["test"] == pytest.approx(float(nb201.y[:, 1].max()))
    assert len(oracle) == len({SPACE.canonical_key(a) for a in nb201.archs}) < len(nb201)


def test_isomorphic_queries_cost_nothing(oracle):
    assert SPACE.canonical_key(A) == SPACE.canonical_key(B) and A != B
    ev = Evaluator(oracle, budget=2)
    first, again = ev.evaluate([A, B])
    assert first == again and len(ev.history) == 1 and ev.remaining == 1
    assert ev.evaluate_one(B) == first and len(ev.history) == 1


def test_budget_is_never_exceeded(oracle):
    archs = SPACE.sample(20, np.random.default_rng(0))
    ev = Evaluator(oracle, budget=5)
    out = ev.evaluate(archs)
    assert len(ev.history) == 5 and ev.exhausted
    queried = {r.key for r in ev.history}
    assert [o is not None for o in out] == [SPACE.canonical_key(a) in queried for a in archs]
    assert ev.evaluate(SPACE.sample(5, np.random.default_rng(1))) and len(ev.history) == 5
    assert [r.order for r in ev.history] == list(range(5))


def test_unknown_architecture_is_named(nb201):
    small = TableOracle(nb201[:100])
    missing = next(a for a in nb201.archs[100:] if SPACE.canonical_key(a) not in small._row)
    with pytest.raises(ValueError, match="is not in the table"):
        small.query(missing)


def test_function_oracle_and_bad_values():
    oracle = FunctionOracle(SPACE, table_accuracy)
    assert oracle.query(A) == Evaluation(2.0, 20.0, 1.0)
    bad = FunctionOracle(SPACE, lambda arch: float("nan"))
    with pytest.raises(ValueError, match=r"returned nan for '\|none~0"):
        bad.query(A)
    with pytest.raises(ValueError, match="fn must be callable"):
        FunctionOracle(SPACE, 3)


@pytest.mark.parametrize("algorithm", [RandomSearch(), RegularizedEvolution(),
                                       PredictorGuidedEvolution(OneHotGBDTPredictor(
                                           n_estimators=20), pool_size=50)],
                         ids=["random", "evolution", "predictor-gbdt"])
def test_searches_are_seeded_and_spend_the_budget(oracle, algorithm):
    a = algorithm.search(oracle, 40, seed=3)
    b = algorithm.search(oracle, 40, seed=3)
    c = algorithm.search(oracle, 40, seed=4)
    assert a.num_queries == 40 and len({r.key for r in a.history}) == 40
    assert [r.arch for r in a.history] == [r.arch for r in b.history]
    assert [r.arch for r in a.history] != [r.arch for r in c.history]
    assert a.best_val_accuracy == max(r.validation for r in a.history)


def test_longer_budget_extends_a_shorter_one(oracle):
    for algorithm in (RegularizedEvolution(), PredictorGuidedEvolution(
            OneHotGBDTPredictor(n_estimators=20), pool_size=50)):
        short = algorithm.search(oracle, 30, seed=0)
        long = algorithm.search(oracle, 50, seed=0)
        assert [r.arch for r in long.history[:30]] == [r.arch for r in short.history]
        assert long.at_budget(30) == short.at_budget(30)


def test_evolution_beats_random_search(oracle):
    evo = [RegularizedEvolution().search(oracle, 100, s).best_val_test_accuracy
           for s in range(5)]
    rnd = [RandomSearch().search(oracle, 100, s).best_val_test_accuracy for s in range(5)]
    assert np.mean(evo) > np.mean(rnd)


def test_predictor_guided_search_follows_its_predictor(oracle):
    """With a predictor that knows the table, few queries reach the best validation."""
    r = PredictorGuidedEvolution(TablePredictor(oracle), initial_size=10, per_round=5,
                                 pool_size=2000).search(oracle, 60, seed=0)
    rnd = RandomSearch().search(oracle, 60, seed=0)
    assert r.best_val_accuracy > rnd.best_val_accuracy
    assert r.best_val_accuracy >= oracle.best_possible()["validation"] - 0.5
    assert len(r.extra["refit_seconds"]) == 10  # (60 - 10) / 5 rounds


def test_predictor_guided_search_refits_a_hypernas_predictor(oracle):
    from hypernas_pyg import HyperNASPredictor
    p = HyperNASPredictor(variant="hypernas-p", epochs=5, hidden_channels=16, progress=False)
    r = PredictorGuidedEvolution(p, pool_size=30, per_round=10).search(oracle, 30, seed=0)
    assert r.num_queries == 30 and len(r.extra["refit_seconds"]) == 2
    assert not hasattr(p, "members_")  # the argument itself is never fitted


def test_non_finite_predictions_raise(oracle):
    with pytest.raises(ValueError, match="one finite score each"):
        PredictorGuidedEvolution(NaNPredictor(oracle), pool_size=20).search(oracle, 20, 0)


@pytest.mark.parametrize("make, message", [
    (lambda: RegularizedEvolution(population_size=5, sample_size=6), "sample_size must be at most"),
    (lambda: RegularizedEvolution(population_size=1), "population_size must be"),
    (lambda: RandomSearch(batch_size=0), "batch_size must be a positive integer, got 0"),
    (lambda: PredictorGuidedEvolution(object()), "predictor must have fit"),
    (lambda: PredictorGuidedEvolution(OneHotGBDTPredictor(), pool_size=5, per_round=6),
     "per_round must be at most pool_size"),
])
def test_bad_arguments_are_named(oracle, make, message):
    with pytest.raises(ValueError, match=message):
        make().search(oracle, 10)


@pytest.mark.parametrize("budget, seed, message", [(0, 0, "budget must be a positive integer"),
                                                  (10, -1, "seed must be a non-negative"),
                                                  (10, 1.5, "seed must be")])
def test_bad_budget_and_seed(oracle, budget, seed, message):
    with pytest.raises(ValueError, match=message):
        RandomSearch().search(oracle, budget, seed)


def test_result_round_trips_and_plots(oracle, tmp_path):
    r = RegularizedEvolution().search(oracle, 30, seed=1)
    path = tmp_path / "out" / "r.json"
    r.to_json(str(path), note="x")
    d = json.loads(path.read_text())
    for key in ("best_val_arch", "best_val_test_accuracy", "best_test_accuracy", "num_queries",
                "history", "search_seconds"):
        assert key in d
    assert d["note"] == "x" and d["num_queries"] == 30
    back = SearchResult.from_dict(d)
    assert back.best_val_arch == r.best_val_arch and back.history == r.history
    t = r.trajectory()
    assert (np.diff(t["best_validation"]) >= 0).all() and (np.diff(t["best_test"]) >= 0).all()
    assert t["test_of_best_validation"][-1] == r.best_val_test_accuracy
    assert r.best_test_accuracy >= r.best_val_test_accuracy
    df = r.to_pandas()
    assert list(df["order"]) == list(range(30))
    with pytest.raises(ValueError, match=r"budget must be in 1\.\.30"):
        r.at_budget(31)
    pytest.importorskip("matplotlib")
    import matplotlib
    matplotlib.use("Agg")
    ax = r.plot()
    ax.figure.savefig(tmp_path / "p.png")
    assert (tmp_path / "p.png").stat().st_size > 1000


def test_process_pool_gives_the_serial_history(oracle):
    serial = RegularizedEvolution().search(oracle, 25, seed=2)
    algorithm = PredictorGuidedEvolution(OneHotGBDTPredictor(n_estimators=10), pool_size=30)
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        parallel = RegularizedEvolution().search(oracle, 25, seed=2, executor=pool)
        fn = FunctionOracle(SPACE, table_accuracy)
        guided = algorithm.search(fn, 25, seed=0, executor=pool)
    assert parallel.history[-1].arch == serial.history[-1].arch
    assert [(r.arch, r.validation) for r in parallel.history] == \
        [(r.arch, r.validation) for r in serial.history]
    assert [r.arch for r in guided.history] == \
        [r.arch for r in algorithm.search(fn, 25, seed=0).history]


def test_dask_local_cluster_gives_the_serial_result():
    distributed = pytest.importorskip("distributed")
    fn = FunctionOracle(SPACE, table_accuracy)
    algorithm = PredictorGuidedEvolution(OneHotGBDTPredictor(n_estimators=10), pool_size=30)
    serial = algorithm.search(fn, 30, seed=5)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        clustered = algorithm.search(fn, 30, seed=5, executor=client.get_executor())
    assert [(r.arch, r.validation, r.test) for r in clustered.history] == \
        [(r.arch, r.validation, r.test) for r in serial.history]
    assert clustered.best_val_arch == serial.best_val_arch


def test_predictor_oracle_searches_without_labels(oracle):
    """Evolution on a fitted predictor's estimates: no test accuracy, every query free of
    labels, and the architecture it returns is the one the predictor ranks best."""
    from hypernas_pyg.search import PredictorOracle
    p = TablePredictor(oracle)
    r = RegularizedEvolution().search(PredictorOracle(SPACE, p), 60, seed=0)
    assert r.best_test_accuracy is None and all(rec.test is None for rec in r.history)
    assert r.best_val_accuracy == max(p.predict([rec.arch for rec in r.history]))
    with pytest.raises(ValueError, match="predictor must have predict"):
        PredictorOracle(SPACE, object())


def test_pool_space_keeps_every_proposal_in_the_pool(nb201):
    """A search limited to 300 labelled cells: every query is a pool member, so a table
    oracle that knows only the pool answers every one."""
    from hypernas_pyg.search import PoolSpace
    pool_archs = list(nb201.archs[:300])
    small = TableOracle(nb201[:300])
    pool = PoolSpace(SPACE, pool_archs)
    assert len(pool) == len(small) and pool.has_network is False
    small.space = pool
    for algorithm in (RandomSearch(), RegularizedEvolution(),
                      PredictorGuidedEvolution(OneHotGBDTPredictor(n_estimators=10),
                                               pool_size=20)):
        r = algorithm.search(small, 60, seed=0)
        assert r.num_queries == 60
        assert all(small.row(rec.arch) < 300 for rec in r.history)
    rng = np.random.default_rng(0)
    a = pool.pool[0]
    b = pool.mutate(a, rng)
    assert b in pool.pool and SPACE.canonical_key(b) != SPACE.canonical_key(a)
    with pytest.raises(ValueError, match="at least 2 distinct"):
        PoolSpace(SPACE, [A, B])
