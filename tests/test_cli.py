import json

import pytest

from hypernas_pyg.cli import main


def test_evaluate_writes_json(nb201, tmp_path, capsys):
    out = tmp_path / "res" / "run.json"
    ckpt = tmp_path / "model.pt"
    code = main(["evaluate", "--benchmark", "nasbench201", "--dataset", "cifar10",
                 "--root", nb201.root, "--train-size", "20", "--seed", "1",
                 "--variant", "np", "--encoder", "bigcn", "--epochs", "3",
                 "--hidden-channels", "8", "--json", str(out), "--save", str(ckpt)])
    assert code == 0
    result = json.loads(out.read_text())
    for key in ("kendall_tau", "kendall_tau_heldout", "spearman", "fit_seconds",
                "predict_seconds", "num_archs", "args", "precision_at_50"):
        assert key in result
    assert result["num_archs"] == 15625 and result["args"]["train_size"] == 20
    assert result["config"]["variant"] == "np" and result["config"]["epochs"] == 3
    assert -1.0 <= result["kendall_tau"] <= 1.0
    assert "Kendall tau" in capsys.readouterr().out

    arch = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|none~1|none~2|"
    assert main(["predict", str(ckpt), arch]) == 0
    line = capsys.readouterr().out.strip()
    assert line.endswith(arch) and float(line.split("\t")[0]) > 0


def test_bad_train_size_is_a_clean_error(nb201, capsys):
    code = main(["evaluate", "--root", nb201.root, "--train-size", "99999"])
    assert code == 2
    assert "train_size must be in 2..15624, got 99999" in capsys.readouterr().err


def test_unknown_variant_rejected_by_argparse():
    with pytest.raises(SystemExit):
        main(["evaluate", "--train-size", "10", "--variant", "magic"])


def test_no_prune_cells_evaluates_on_full_cell_graphs(nb201, tmp_path):
    out = tmp_path / "full.json"
    code = main(["evaluate", "--root", nb201.root, "--train-size", "20", "--variant", "np",
                 "--epochs", "2", "--hidden-channels", "8", "--no-prune-cells",
                 "--json", str(out)])
    assert code == 0
    result = json.loads(out.read_text())
    assert result["space"] == {"name": "nasbench201", "cells_per_stage": 5, "prune": False}
    assert result["num_archs"] == 15625


def test_options_of_another_benchmark_are_rejected(capsys):
    assert main(["evaluate", "--benchmark", "nasbench201", "--subset", "naslib500",
                 "--train-size", "20"]) == 2
    assert "benchmark 'nasbench201' takes no --subset option" in capsys.readouterr().err


def test_evaluate_nasbench101_naslib500(tmp_path, capsys):
    """The same command and JSON keys on the second benchmark (its 500-cell subset)."""
    import os
    if not os.environ.get("HYPERNAS_MIRROR"):
        pytest.skip("HYPERNAS_MIRROR is not set: the NAS-Bench-101 files are unavailable")
    out = tmp_path / "nb101.json"
    code = main(["evaluate", "--benchmark", "nasbench101", "--subset", "naslib500",
                 "--root", str(tmp_path / "nb101"), "--train-size", "50", "--variant", "np",
                 "--epochs", "3", "--hidden-channels", "8", "--json", str(out)])
    assert code == 0
    result = json.loads(out.read_text())
    for key in ("kendall_tau", "kendall_tau_heldout", "spearman", "precision_at_10",
                "fit_seconds", "predict_seconds", "num_archs", "args", "config", "hardware"):
        assert key in result
    assert result["num_archs"] == 500
    assert result["space"] == {"name": "nasbench101", "max_vertices": 7, "max_edges": 9}
    assert "NASBench101(500" in capsys.readouterr().out
    assert main(["evaluate", "--benchmark", "nasbench101", "--no-prune-cells",
                 "--train-size", "20"]) == 2
    assert "benchmark 'nasbench101' takes no --prune-cells option" in capsys.readouterr().err


def test_search_writes_json_and_plot(nb201, tmp_path, capsys):
    out, plot = tmp_path / "s" / "search.json", tmp_path / "s" / "best.png"
    args = ["search", "--root", nb201.root, "--algorithm", "predictor", "--predictor", "gbdt",
            "--budget", "25", "--seed", "2", "--pool-size", "40", "--json", str(out)]
    assert main(args + ["--plot", str(plot)]) == 0
    result = json.loads(out.read_text())
    for key in ("best_val_arch", "best_val_test_accuracy", "best_test_accuracy",
                "num_queries", "history", "search_seconds", "args", "optimum"):
        assert key in result
    assert result["num_queries"] == len(result["history"]) == 25
    assert result["args"]["budget"] == 25 and result["algorithm"]["pool_size"] == 40
    assert result["best_test_accuracy"] >= result["best_val_test_accuracy"]
    assert plot.stat().st_size > 1000
    assert "best by validation" in capsys.readouterr().out
    again = tmp_path / "again.json"
    assert main(args + ["--json", str(again)]) == 0
    strip = lambda h: [{k: v for k, v in r.items() if k != "seconds"} for r in h]  # noqa: E731
    assert strip(json.loads(again.read_text())["history"]) == strip(result["history"])


def test_search_with_a_hypernas_predictor(nb201, tmp_path):
    out = tmp_path / "h.json"
    assert main(["search", "--root", nb201.root, "--variant", "np", "--epochs", "3",
                 "--hidden-channels", "8", "--budget", "20", "--pool-size", "20",
                 "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["algorithm"]["predictor"] == "HyperNASPredictor(np)"
    assert len(result["extra"]["refit_seconds"]) == 1


@pytest.mark.parametrize("extra, message", [
    (["--algorithm", "random", "--pool-size", "5"],
     "--pool-size is an option of --algorithm predictor, not random"),
    (["--algorithm", "evolution", "--population-size", "3", "--sample-size", "4"],
     "sample_size must be at most population_size"),
    (["--seed", "-1"], "--seed must be a non-negative integer, got -1"),
    (["--json", "/"], "--json '/' is not a file path"),
])
def test_search_user_errors_are_one_line(nb201, capsys, extra, message):
    assert main(["search", "--root", nb201.root, "--budget", "5"] + extra) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_search_darts_on_the_pool_and_on_a_predictor(tmp_path, capsys):
    """DARTS214: evolution kept to the 214 labelled genotypes (the table answers), and a
    search of the whole space on a predictor fitted on all 214 (no labels, prints the
    genotype in DARTS's form)."""
    import os
    if not os.path.exists(os.path.join(os.environ.get("HYPERNAS_MIRROR", ""),
                                       "darts_random214", "214genotypes.pkl")):
        pytest.skip("HYPERNAS_MIRROR does not hold darts_random214/")
    root = str(tmp_path / "d214")
    pool = tmp_path / "pool.json"
    assert main(["search", "--benchmark", "darts214", "--root", root, "--oracle", "pool",
                 "--algorithm", "evolution", "--budget", "60", "--json", str(pool)]) == 0
    result = json.loads(pool.read_text())
    assert result["num_queries"] == 60 and result["validation_is_test"] is True
    out = tmp_path / "pred.json"
    # "darts" names the 214; a table that is a sample of its space defaults to a predictor.
    assert main(["search", "--benchmark", "darts", "--root", root,
                 "--variant", "np", "--epochs", "3",
                 "--hidden-channels", "8", "--budget", "40", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["args"]["benchmark"] == "darts214" and result["args"]["oracle"] == "predictor"
    assert result["args"]["algorithm"] == "evolution" and result["num_queries"] == 40
    assert result["best_test_accuracy"] is None and result["optimum"] is None
    assert result["best_val_genotype"].startswith("Genotype(normal=[")
    assert 1e6 < result["best_val_params_full"] < 1e7  # DARTS networks at C=36: ~2-5 M
    lo, hi = result["fitted_label_range"]
    assert 90 < lo < hi < 100  # the 214's measured test accuracies
    printed = capsys.readouterr().out
    assert "Genotype(normal=[" in printed
    assert f"the 214 labels it was fitted on span {lo:.2f} to {hi:.2f}" in printed


@pytest.mark.parametrize("argv, expected", [
    ([], ("table", "predictor", 100)),
    (["--benchmark", "nasbench101"], ("table", "predictor", 100)),
    (["--benchmark", "nasbench101", "--subset", "naslib500"], ("predictor", "evolution", 1000)),
    (["--benchmark", "darts"], ("predictor", "evolution", 1000)),
    (["--benchmark", "darts", "--oracle", "pool"], ("pool", "predictor", 100)),
    (["--benchmark", "darts", "--budget", "7", "--algorithm", "random"],
     ("predictor", "random", 7)),
])
def test_search_defaults_follow_whether_the_table_holds_the_space(argv, expected):
    """A table of the whole space answers itself; a sample of a space (DARTS's 214, NB101's
    NASLib 500) is answered by a predictor fitted on it, searched by evolution."""
    from hypernas_pyg.cli import _search_defaults, build_parser
    args = build_parser().parse_args(["search"] + argv)
    _search_defaults(args)
    assert (args.oracle, args.algorithm, args.budget) == expected
