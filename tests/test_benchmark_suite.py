"""The sweep bookkeeping of ``benchmarks/nb201_suite.py``: which runs count as done, and how a
row's settings are described."""
import json
import os.path as osp
import sys

import pytest

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


def test_a_run_that_does_not_rank_counts_as_zero(tmp_path):
    """Constant predictions leave the rank correlations undefined (empty cells): the tables
    count such a run as 0 and say how many there were, instead of averaging it away."""
    config = suite.config_key(suite.make_estimator(
        {"variant": "np", "encoder": "bigcn", "context": "", "q": None}, 0, {}))
    path = str(tmp_path / "runs.csv")
    for seed, tau in [(0, 0.6), (1, float("nan"))]:
        suite.append_row(path, {
            "variant": "np", "encoder": "bigcn", "context": "", "q": None, "train_size": 39,
            "seed": seed, "config": config, "kendall_tau": tau, "kendall_tau_heldout": tau,
            "spearman": tau, "precision_at_100": 0.01, "fit_seconds": 1.0,
            "predict_seconds": 0.5, "hyper_val_acc": None, "overrides": "{}"})
    df = suite.read_results(path)
    assert df["no_ranking"].tolist() == [False, True]
    assert df["kendall_tau"].tolist() == [0.6, 0.0]
    assert df["spearman"].dtype.kind == "f" and df["kendall_tau_heldout"].dtype.kind == "f"
    assert df["context"].tolist() == ["", ""]  # text columns keep their empty cells
    row = [line for line in suite.summarise(df).splitlines() if line.startswith("| np ")]
    cells = [c.strip() for c in row[0].strip("|").split("|")]
    assert cells[6] == "0.300 ± 0.424" and cells[10:12] == ["2", "1"]


def test_code_version_ignores_results_and_docs(tmp_path):
    """The sweep rewrites its own results files; only code changes make a run's commit dirty."""
    import shutil
    import subprocess
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    for rel in ("hypernas_pyg/core.py", "benchmarks/run.py", "benchmarks/results/runs.csv",
                "README.md"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("v1\n")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    subprocess.run(git + ["init", "-q"], cwd=tmp_path, check=True)
    subprocess.run(git + ["add", "."], cwd=tmp_path, check=True)
    subprocess.run(git + ["commit", "-qm", "c"], cwd=tmp_path, check=True)
    clean = suite.code_version(str(tmp_path))
    assert clean and not clean.endswith("+dirty") and clean != "unknown"
    (tmp_path / "benchmarks/results/runs.csv").write_text("v2\n")
    (tmp_path / "README.md").write_text("v2\n")
    assert suite.code_version(str(tmp_path)) == clean
    (tmp_path / "benchmarks/run.py").write_text("v2\n")
    assert suite.code_version(str(tmp_path)) == clean + "+dirty"
    subprocess.run(git + ["checkout", "-q", "benchmarks/run.py"], cwd=tmp_path, check=True)
    (tmp_path / "hypernas_pyg/core.py").write_text("v2\n")
    assert suite.code_version(str(tmp_path)) == clean + "+dirty"


def test_search_suite_rows_resume_and_agree_with_one_search(nb201, tmp_path, capsys):
    """One search per (method, seed) gives every budget; a second call does nothing; the
    rows are what the library's own search returns."""
    import pandas as pd
    import search_suite
    from hypernas_pyg.search import RegularizedEvolution, TableOracle

    out = tmp_path / "s.csv"
    args = ["--methods", "evolution", "--seeds", "0", "1", "--budgets", "20", "40",
            "--workers", "1", "--root", nb201.root, "--out", str(out)]
    assert search_suite.main(args) == 0
    df = pd.read_csv(out)
    assert len(df) == 4 and set(df["budget"]) == {20, 40}
    direct = RegularizedEvolution().search(TableOracle(nb201), 40, seed=1)
    row = df[(df.seed == 1) & (df.budget == 20)].iloc[0]
    assert row["val_test"] == pytest.approx(direct.at_budget(20)["best_val_test_accuracy"])
    assert len(pd.read_csv(tmp_path / "s_trajectories.csv.gz")) == 80
    assert (tmp_path / "s.md").exists() and (tmp_path / "s.png").exists()
    capsys.readouterr()
    assert search_suite.main(args + ["--dry-run"]) == 0
    assert "0 searches to do" in capsys.readouterr().out


def test_ranking_suite_summary_gives_held_out_mean_and_std():
    import pandas as pd
    import ranking_suite
    rows = [{"method": "np", "train_size": 50, "epochs": 300, "overrides": "{}", "seed": s,
             "kendall_tau": t, "kendall_tau_heldout": h, "fit_seconds": 1.0,
             "predict_seconds": 0.1, "num_archs": 214, "hyper_val_acc": None}
            for s, t, h in ((0, 0.5, 0.2), (1, 0.7, 0.4))]
    line = [ln for ln in ranking_suite.summarise(pd.DataFrame(rows)).splitlines()
            if ln.startswith("| np ")][0]
    cells = [c.strip() for c in line.strip("|").split("|")]
    assert cells[4] == "0.600 ± 0.141" and cells[5] == "0.300 ± 0.141" and cells[6] == "2"
