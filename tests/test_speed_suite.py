"""The ranking check of ``benchmarks/speed_suite.py tau``."""
import json
import os.path as osp
import sys

import pandas as pd
import pytest

sys.path.insert(0, osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), "benchmarks"))
import speed_suite  # noqa: E402


def _csv(path, taus, overrides="{}", variant="hypernas-p", size=78, commit="abc"):
    pd.DataFrame({"variant": variant, "train_size": size, "seed": range(len(taus)),
                  "kendall_tau": taus, "overrides": overrides, "commit": commit}).to_csv(
        path, index=False)
    return str(path)


def test_flags_gaps_beyond_the_tolerance(tmp_path):
    before = _csv(tmp_path / "b.csv", [0.70, 0.72, 0.74])
    close = _csv(tmp_path / "a.csv", [0.705, 0.72, 0.744])       # mean +0.003
    far = _csv(tmp_path / "f.csv", [0.68, 0.70, 0.72], overrides='{"epochs": 200}')  # -0.02
    out = tmp_path / "check.json"
    assert speed_suite.main(["tau", "--before", before, "--after", close, far,
                             "--out", str(out)]) == 0
    checks = {c["after_overrides"]: c for c in json.loads(out.read_text())["checks"]}
    assert checks["{}"]["within_tolerance"]
    assert checks["{}"]["difference"] == pytest.approx(0.003)
    assert not checks['{"epochs": 200}']["within_tolerance"]
    assert checks['{"epochs": 200}']["difference"] == pytest.approx(-0.02)


def test_refuses_different_seeds(tmp_path):
    before = _csv(tmp_path / "b.csv", [0.70, 0.72, 0.74])
    after = _csv(tmp_path / "a.csv", [0.70, 0.72])
    with pytest.raises(ValueError, match="seeds differ"):
        speed_suite.main(["tau", "--before", before, "--after", after,
                          "--out", str(tmp_path / "c.json")])


def _leaf(n):
    return sum(i * i for i in range(n))


def _training(n):
    return _leaf(n)


def accuracy(n):  # named as the stage whose share ``split`` takes out
    return _leaf(n)


def test_stage_seconds_leaves_out_one_callers_share():
    import cProfile
    import pstats
    prof = cProfile.Profile()
    prof.enable()
    _training(200_000)
    accuracy(600_000)
    prof.disable()
    stats = pstats.Stats(prof).stats
    here = "tests/test_speed_suite.py"
    both = speed_suite.stage_seconds(stats, here, "_leaf")
    training = speed_suite.stage_seconds(stats, here, "_leaf", exclude_caller="accuracy")
    assert 0 < training < both
    assert training == pytest.approx(speed_suite.stage_seconds(stats, here, "_training"),
                                     rel=0.2)
    assert speed_suite.stage_seconds(stats, "other_file.py", "_leaf") == 0.0
