"""Ranking benchmark on a table: NP, HyperNAS-P, HyperNAS and GBDT, Kendall tau over all rows.

Each run (method, training size, seed) is one row of a tidy CSV; rows already there are
skipped when the script starts again, so a sweep can be stopped and continued. A
markdown table (mean and std over seeds) and a JSON with the hardware are written next
to the CSV. ``--benchmark`` picks the table (a key of ``hypernas_pyg.datasets.BENCHMARKS``)
and with it the default sizes, seeds and results file:

    python benchmarks/ranking_suite.py --benchmark nasbench101      # NB101 study
    python benchmarks/ranking_suite.py --benchmark darts214         # DARTS214 study
    python benchmarks/ranking_suite.py --benchmark nb301_surrogate  # NB301-surrogate study
    python benchmarks/ranking_suite.py --benchmark darts214 --methods np --sizes 100 --seeds 0

Protocol: train on ``N`` architectures drawn with ``seed``, rank all of them and the
held-out ones (``kendall_tau_heldout``: the tau on the rest). Training and evaluation
target are the table's (see its data card). NAS-Bench-101 (PINAT's splits S1 / S2 / S4 /
S5 are N = 100 / 172 / 424 / 4236): both are the single-run 108-epoch CIFAR-10 test
accuracy of the table in the mirror (PINAT trains on the validation accuracy of the
official data). DARTS214: the single-run 600-epoch test accuracy; NB301 surrogate: the
surrogate's prediction. Epochs shrink with ``N`` so that no fit takes more than about
3,000 optimisation steps (``--max-steps``): the estimator's default epochs (200) up to 960
architectures.
"""
from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import os.path as osp
import sys
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import pandas as pd

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from nb201_suite import (append_row, code_version, parse_overrides,  # noqa: E402
                         write_summary)

METHODS = ("np", "hypernas-p", "hypernas", "gbdt")
#: Per benchmark: default training sizes, seeds, and the sizes the hypernetwork variant
#: runs at (its fit is the slowest).
DEFAULTS = {
    "nasbench101": {"sizes": [100, 172, 424, 4236], "seeds": [0, 1, 2, 3, 4],
                    "hypernas_sizes": [100, 172, 424], "out": "nb101_suite.csv"},
    "darts214": {"sizes": [50, 100, 150], "seeds": list(range(10)),
                 "hypernas_sizes": [50, 100, 150], "out": "darts214_suite.csv"},
    "nb301_surrogate": {"sizes": [100, 200, 400], "seeds": list(range(10)),
                        "hypernas_sizes": [100, 200, 400], "out": "nb301_suite.csv"},
}
KEYS = ["method", "train_size", "seed", "epochs", "config"]
#: Estimator arguments that do not change what is computed.
NOT_CONFIG = ("seed", "progress", "device", "aux_root")


def epochs_for(train_size: int, batch_size: int, max_steps: int, max_epochs: int) -> int:
    """Epochs of a fit on ``train_size`` cells: ``max_epochs``, fewer when that would take
    more than ``max_steps`` optimisation steps."""
    steps_per_epoch = math.ceil(train_size / batch_size)
    return max(1, min(max_epochs, max_steps // steps_per_epoch))


def default_epochs() -> int:
    """``HyperNASPredictor``'s default number of epochs."""
    from hypernas_pyg import HyperNASPredictor
    return HyperNASPredictor().epochs


def make_estimator(method: str, seed: int, epochs: int, overrides: dict[str, Any]):
    if method == "gbdt":
        from hypernas_pyg.baselines import OneHotGBDTPredictor
        return OneHotGBDTPredictor(seed=seed)
    from hypernas_pyg import HyperNASPredictor
    return HyperNASPredictor(variant=method, seed=seed, epochs=epochs, progress=False,
                             **overrides)


def config_key(estimator) -> str:
    """The estimator's configuration as sorted JSON, without the arguments that do not change
    what is computed: a run is done when a row has the same method, size, seed, epochs and
    configuration (so changing a default starts new rows)."""
    params = estimator.config() if hasattr(estimator, "config") else estimator.get_params()
    return json.dumps({k: v for k, v in params.items() if k not in NOT_CONFIG},
                      sort_keys=True, default=str)


def _run(job: dict) -> dict:
    import torch
    torch.set_num_threads(job.pop("threads"))
    from hypernas_pyg.datasets import BENCHMARKS
    from hypernas_pyg.evaluation import evaluate_ranking

    overrides = job.pop("overrides")
    dataset = BENCHMARKS[job["benchmark"]](job.pop("root"), log=False)
    estimator = make_estimator(job["method"], job["seed"], job["epochs"], overrides)
    result = evaluate_ranking(estimator, dataset, job["train_size"], job["seed"],
                              score_sample=job.pop("score_sample"))
    row = {**job, **result, "threads": torch.get_num_threads(),
           "overrides": json.dumps(overrides, sort_keys=True)}
    if row["loss_weights"] is not None:
        row["loss_weights"] = json.dumps(row["loss_weights"], sort_keys=True)
    print(" ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}"
                   for k, v in row.items() if k != "config"), flush=True)
    return row


def summarise(df: pd.DataFrame) -> str:
    """Mean and std over seeds per method, size, epochs and overrides (one line per setting)."""
    df = df.assign(overrides=df["overrides"].fillna("{}").replace("", "{}"))
    g = df.groupby(["method", "train_size", "epochs", "overrides"], sort=True)
    table = g.agg(tau=("kendall_tau", "mean"), tau_std=("kendall_tau", "std"),
                  heldout=("kendall_tau_heldout", "mean"),
                  heldout_std=("kendall_tau_heldout", "std"), seeds=("seed", "nunique"),
                  fit_s=("fit_seconds", "mean"), predict_s=("predict_seconds", "mean"),
                  archs=("num_archs", "first"),
                  hyper=("hyper_val_acc", "mean")).reset_index()
    lines = ["| method | N | epochs | overrides | Kendall tau | held-out | seeds | cells ranked | "
             "fit s | predict s | hypernet val acc |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in table.itertuples():
        std = "-" if pd.isna(r.tau_std) else f"{r.tau_std:.3f}"
        heldout_std = "-" if pd.isna(r.heldout_std) else f"{r.heldout_std:.3f}"
        hyper = "-" if pd.isna(r.hyper) else f"{r.hyper:.3f}"
        extra = "-" if r.overrides == "{}" else f"`{r.overrides}`"
        lines.append(f"| {r.method} | {r.train_size} | {r.epochs} | {extra} | {r.tau:.3f} ± {std} | "
                     f"{r.heldout:.3f} ± {heldout_std} | {r.seeds} | {r.archs} | {r.fit_s:.1f} | "
                     f"{r.predict_s:.1f} | {hyper} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--benchmark", choices=sorted(DEFAULTS), default="nasbench101")
    p.add_argument("--out", default=None,
                   help="results CSV (default benchmarks/results/<the benchmark's file>)")
    p.add_argument("--root", default=None,
                   help="dataset cache (default ~/.cache/hypernas_pyg/<benchmark>)")
    p.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    p.add_argument("--sizes", nargs="+", type=int, default=None,
                   help="training sizes (default: the benchmark's)")
    p.add_argument("--seeds", nargs="+", type=int, default=None,
                   help="seeds (default: the benchmark's)")
    p.add_argument("--max-steps", type=int, default=3000,
                   help="at most this many optimisation steps per fit (fewer epochs at large N)")
    p.add_argument("--workers", type=int, default=2, help="parallel runs")
    p.add_argument("--threads", type=int, default=1, help="torch threads per run")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                   help="HyperNASPredictor overrides as JSON values, e.g. aux_root='\"/c\"'")
    p.add_argument("--score-sample", type=int, default=None,
                   help="rank a fixed sample of this many cells instead of all (tuning runs; "
                        "write them to their own --out)")
    p.add_argument("--max-epochs", type=int, default=default_epochs(),
                   help="epochs of a fit below --max-steps (default: the estimator's)")
    p.add_argument("--dry-run", action="store_true", help="list the runs to do and stop")
    args = p.parse_args(argv)
    overrides = parse_overrides(p, args.set)
    defaults = DEFAULTS[args.benchmark]
    args.out = args.out or osp.join("benchmarks", "results", defaults["out"])
    args.root = args.root or osp.join(osp.expanduser("~"), ".cache", "hypernas_pyg",
                                      args.benchmark)
    args.sizes = args.sizes or defaults["sizes"]
    args.seeds = args.seeds if args.seeds is not None else defaults["seeds"]

    done = (pd.read_csv(args.out, dtype=str, keep_default_na=False) if osp.exists(args.out)
            else pd.DataFrame(columns=KEYS))
    finished = {tuple(r) for r in done[KEYS].itertuples(index=False)}
    jobs, commit = [], code_version()
    for size in args.sizes:
        for seed in args.seeds:
            for method in args.methods:
                if method == "hypernas" and size not in defaults["hypernas_sizes"]:
                    continue
                epochs = 0 if method == "gbdt" else epochs_for(size, 64, args.max_steps,
                                                                 args.max_epochs)
                opts = {} if method == "gbdt" else {
                    k: v for k, v in overrides.items()
                    if method == "hypernas" or k not in ("aux_root", "proxy", "aux")}
                config = config_key(make_estimator(method, seed, epochs, opts))
                if (method, str(size), str(seed), str(epochs), config) in finished:
                    continue
                jobs.append({"benchmark": args.benchmark, "method": method,
                             "train_size": size, "seed": seed,
                             "epochs": epochs, "config": config, "root": args.root,
                             "threads": args.threads, "overrides": opts, "commit": commit,
                             "score_sample": args.score_sample})
    print(f"{len(jobs)} runs to do, {len(finished)} already in {args.out}", flush=True)
    if args.dry_run:
        for j in jobs:
            print(j["method"], j["train_size"], j["seed"], j["epochs"])
        return 0
    from hypernas_pyg.datasets import BENCHMARKS
    BENCHMARKS[args.benchmark](args.root, log=False)  # process once before the workers start
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    jobs.sort(key=lambda j: (j["method"] == "hypernas", j["train_size"]))
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=args.workers, mp_context=context) as pool:
        for row in pool.map(_run, jobs):
            append_row(args.out, row, KEYS)
    write_summary(args.out, args.workers, summarise)
    return 0


if __name__ == "__main__":
    sys.exit(main())
