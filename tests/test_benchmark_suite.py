"""The sweep bookkeeping of ``benchmarks/nb201_suite.py``: which runs count as done, and how a
row's settings are described."""
import json
import os.path as osp
import sys

sys.path.insert(0, osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), "benchmarks"))
import nb201_suite as suite  # noqa: E402


def test_neutral_values_key_like_absent_arguments():
    old = json.dumps({"variant": "np", "hidden_channels": 64, "seed": 3})
    new = json.dumps({"variant": "np", "hidden_channels": 64, "seed": 4, "rank_weight": 0.0,
                      "ensemble": 1, "prune_cells": False, "aux_root": "/x"})
    assert suite.normalise_config(old) == suite.normalise_config(new)
    pruned = json.dumps({"variant": "np", "hidden_channels": 64, "prune_cells": True})
    assert suite.normalise_config(pruned) != suite.normalise_config(old)


def test_config_difference_names_what_differs_from_the_defaults():
    stock = suite.normalise_config(json.dumps(
        {"hidden_channels": 64, "prune_cells": True, "proxy": {"C": 8, "aux_steps": 1}}))
    row = json.dumps({"hidden_channels": 32, "proxy": {"C": 8, "aux_steps": 2}})
    assert suite.config_difference(row, stock) == \
        "hidden_channels=32, proxy.aux_steps=2, prune_cells=false"  # sorted keys
    assert suite.config_difference(stock, stock) == ""


def test_stock_rows_are_the_current_defaults():
    import pandas as pd
    default = suite.config_key(suite.make_estimator(
        {"variant": "np", "encoder": "bigcn", "context": "", "q": None}, 0, {}))
    full = suite.config_key(suite.make_estimator(
        {"variant": "np", "encoder": "bigcn", "context": "", "q": None}, 0,
        {"prune_cells": False}))
    df = pd.DataFrame({"variant": ["np", "np"], "encoder": ["bigcn"] * 2, "context": ["", ""],
                       "q": [float("nan")] * 2, "config": [default, full]})
    assert suite.stock_mask(df).tolist() == [True, False]
    assert suite.config_difference(full, default) == "prune_cells=false"
