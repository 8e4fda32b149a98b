"""Search benchmark: random search, regularised evolution and predictor-guided evolution on
NAS-Bench-201 / NAS-Bench-101 tables and the DARTS214 pool, many seeds, several budgets.

Every search is anytime (a longer budget extends a shorter one with the same seed), so one
search per (method, seed) to the largest budget gives every budget: a row of the tidy CSV
per (method, seed, budget). Runs already in the CSV are skipped, so a sweep can be stopped
and continued; the trajectories go to ``<out>_trajectories.csv.gz``, a table (mean ± std over
seeds) to ``<out>.md`` and the curves to ``<out>.png``.

    python benchmarks/search_suite.py --benchmark nasbench201            # budgets 50-200
    python benchmarks/search_suite.py --benchmark nasbench101 --budgets 150 300
    python benchmarks/search_suite.py --benchmark darts214               # pool search
    python benchmarks/search_suite.py --methods gbdt --seeds 0 1 --budgets 50   # a quick look

A pool benchmark (``darts214``) searches the full space's mutations but only ever proposes
members of the table (:class:`~hypernas_pyg.search.PoolSpace`); its rows also give
``queries_to_top5`` / ``queries_to_best``: the queries until one of the table's five best
architectures (by test accuracy), or the best, was queried (empty when not within the
budget).

Selection: ``val_test`` is the test accuracy of the best architecture by validation (what a
search returns); ``best_test`` the best test accuracy among the queried ones (selects on
test, as some papers report). On NAS-Bench-101 both targets are the single-run test
accuracy of the table (``validation_is_test`` in every row).
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import os.path as osp
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from nb201_suite import append_row, code_version, parse_overrides  # noqa: E402

#: Methods: an algorithm, and for the guided one its predictor.
METHODS = ("random", "evolution", "hypernas-p", "gbdt", "hypernas")
DEFAULT_BUDGETS = {"nasbench201": [50, 100, 150, 200], "nasbench101": [150, 300],
                   "darts214": [25, 50, 100, 150]}
#: Benchmarks searched as a pool: proposals are restricted to the table's architectures.
POOL_BENCHMARKS = ("darts214",)
KEYS = ["benchmark", "method", "seed", "budget", "max_budget", "config"]


def make_algorithm(method: str, seed: int, overrides: dict[str, Any]):
    from hypernas_pyg.search import PredictorGuidedEvolution, RandomSearch, RegularizedEvolution
    if method == "random":
        return RandomSearch()
    if method == "evolution":
        return RegularizedEvolution(**overrides.get("evolution", {}))
    if method == "gbdt":
        from hypernas_pyg.baselines import OneHotGBDTPredictor
        predictor = OneHotGBDTPredictor(seed=seed)
    else:
        from hypernas_pyg import HyperNASPredictor
        predictor = HyperNASPredictor(variant=method, seed=seed, progress=False,
                                      **overrides.get("predictor", {}))
    return PredictorGuidedEvolution(predictor, **overrides.get("guided", {}))


def config_key(algorithm) -> str:
    """The algorithm's arguments (and its predictor's configuration) as sorted JSON."""
    params = dict(algorithm.get_params())
    predictor = params.pop("predictor", None)
    if predictor is not None:
        conf = predictor.config() if hasattr(predictor, "config") else predictor.get_params()
        params["predictor"] = {k: v for k, v in conf.items()
                               if k not in ("seed", "progress", "device", "aux_root")}
        params["predictor_class"] = type(predictor).__name__
    return json.dumps(params, sort_keys=True, default=str)


def _run(job: dict) -> tuple[list[dict], list[dict]]:
    import torch
    torch.set_num_threads(job["threads"])
    from hypernas_pyg.datasets import BENCHMARKS
    from hypernas_pyg.search import PoolSpace, TableOracle

    dataset = BENCHMARKS[job["benchmark"]](job["root"], log=False, **job["dataset_kwargs"])
    oracle = TableOracle(dataset)
    pool = job["benchmark"] in POOL_BENCHMARKS
    if pool:
        oracle.space = PoolSpace(dataset.space, dataset.archs)
    algorithm = make_algorithm(job["method"], job["seed"], job["overrides"])
    t0 = time.perf_counter()
    result = algorithm.search(oracle, job["max_budget"], job["seed"])
    seconds = time.perf_counter() - t0
    refits = result.extra.get("refit_seconds", [])
    hits = {}
    if pool:
        ranked = np.sort(np.unique(dataset.y[:, 1].numpy()))[::-1]
        tests = np.array([r.test for r in result.history])
        for name, threshold in (("queries_to_top5", ranked[min(4, len(ranked) - 1)]),
                                ("queries_to_best", ranked[0])):
            found = np.flatnonzero(tests >= threshold)
            hits[name] = int(found[0]) + 1 if found.size else None
    rows = []
    for budget in job["budgets"]:
        at = result.at_budget(min(budget, result.num_queries))
        rows.append({"benchmark": job["benchmark"], "method": job["method"],
                     "seed": job["seed"], "budget": budget, "max_budget": job["max_budget"],
                     "config": job["config"], "commit": job["commit"],
                     "val_test": at["best_val_test_accuracy"],
                     "best_val": at["best_val_accuracy"], "best_test": at["best_test_accuracy"],
                     "best_val_arch": at["best_val_arch"],
                     "queries": min(budget, result.num_queries),
                     "search_seconds": seconds,
                     "refits": len(refits),
                     "refit_seconds_mean": sum(refits) / len(refits) if refits else None,
                     "validation_is_test": result.validation_is_test,
                     "optimum_test": oracle.best_possible()["test"],
                     "threads": torch.get_num_threads(), **hits})
    t = result.trajectory()
    trajectory = [{"benchmark": job["benchmark"], "method": job["method"],
                   "seed": job["seed"], "query": int(q), "best_val": float(v),
                   "val_test": float(vt), "best_test": float(bt)}
                  for q, v, vt, bt in zip(t["queries"], t["best_validation"],
                                          t["test_of_best_validation"], t["best_test"])]
    print(f"{job['benchmark']} {job['method']} seed={job['seed']}: "
          + ", ".join(f"{r['budget']}: {r['val_test']:.2f}" for r in rows)
          + f" ({seconds:.0f} s, {len(refits)} refits)", flush=True)
    return rows, trajectory


def summarise(df: pd.DataFrame) -> str:
    # A seed searched to several max budgets (anytime: the shorter is a prefix of the longer)
    # counts once per budget, from its longest search.
    df = (df.sort_values("max_budget")
          .drop_duplicates(["benchmark", "method", "seed", "budget"], keep="last"))
    g = df.groupby(["benchmark", "method", "budget"], sort=True)
    table = g.agg(val_test=("val_test", "mean"), val_test_std=("val_test", "std"),
                  best_test=("best_test", "mean"), best_test_std=("best_test", "std"),
                  seeds=("seed", "nunique"), seconds=("search_seconds", "mean"),
                  refit=("refit_seconds_mean", "mean")).reset_index()
    lines = ["| benchmark | method | budget | test acc of best by val | best test acc | seeds | "
             "search s (to max budget) | s per refit |", "|---|---|---|---|---|---|---|---|"]
    for r in table.itertuples():
        refit = "-" if pd.isna(r.refit) else f"{r.refit:.1f}"
        lines.append(f"| {r.benchmark} | {r.method} | {r.budget} | {r.val_test:.2f} ± "
                     f"{r.val_test_std:.2f} | {r.best_test:.2f} ± {r.best_test_std:.2f} | "
                     f"{r.seeds} | {r.seconds:.0f} | {refit} |")
    text = "\n".join(lines) + "\n"
    if "queries_to_top5" in df:
        text += "\n" + summarise_hits(df)
    return text


def summarise_hits(df: pd.DataFrame) -> str:
    """Pool benchmarks: queries until one of the true top 5 (and the best) was queried, over
    seeds (one value per search: its largest budget's row)."""
    df = df[df["benchmark"].isin(POOL_BENCHMARKS) & (df["budget"] == df["max_budget"])]
    lines = ["| benchmark | method | budget | queries to a top-5 arch: median (mean) | found | "
             "queries to the best: median (mean) | found | seeds |",
             "|---|---|---|---|---|---|---|---|"]
    for (bench, method, budget), g in df.groupby(["benchmark", "method", "max_budget"]):
        cells = []
        for col in ("queries_to_top5", "queries_to_best"):
            v = g[col].dropna()
            cells += ["-" if v.empty else f"{v.median():.0f} ({v.mean():.1f})",
                      f"{len(v)}/{len(g)}"]
        lines.append(f"| {bench} | {method} | {budget} | " + " | ".join(cells)
                     + f" | {g['seed'].nunique()} |")
    return "\n".join(lines) + "\n"


def plot(trajectories: pd.DataFrame, path: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    # A seed searched to several max budgets: its shorter trajectory is a prefix of the longer.
    trajectories = trajectories.drop_duplicates(["benchmark", "method", "seed", "query"],
                                                keep="last")
    benchmarks = sorted(trajectories["benchmark"].unique())
    fig, axes = plt.subplots(1, len(benchmarks), figsize=(5.5 * len(benchmarks), 3.8),
                             squeeze=False)
    for ax, bench in zip(axes[0], benchmarks):
        sub = trajectories[trajectories["benchmark"] == bench]
        for method, m in sub.groupby("method"):
            curve = m.groupby("query")["val_test"].agg(["mean", "std", "count"])
            line, = ax.plot(curve.index, curve["mean"],
                            label=f"{method} ({int(curve['count'].max())} seeds)")
            ax.fill_between(curve.index, curve["mean"] - curve["std"],
                            curve["mean"] + curve["std"], color=line.get_color(), alpha=0.15)
        means = sub[sub["query"] >= 10].groupby(["method", "query"])["val_test"].mean()
        if len(means):  # the top of the range, where the methods differ
            optimum = sub["best_test"].max()
            ax.set_ylim(means.min() - 0.1, optimum + 0.05)
            ax.axhline(optimum, color="grey", lw=0.8, ls=":")
        ax.set_title(bench)
        ax.set_xlabel("queries")
        ax.set_ylabel("test accuracy of best by validation (%)")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--benchmark", choices=list(DEFAULT_BUDGETS), default="nasbench201")
    p.add_argument("--out", default=None,
                   help="results CSV (default benchmarks/results/search_<benchmark>.csv)")
    p.add_argument("--root", default=None, help="dataset cache (default ~/.cache/hypernas_pyg/"
                                                "<benchmark>)")
    p.add_argument("--methods", nargs="+", choices=METHODS,
                   default=["random", "evolution", "hypernas-p", "gbdt"])
    p.add_argument("--budgets", nargs="+", type=int, default=None)
    p.add_argument("--seeds", nargs="+", type=int, default=list(range(20)))
    p.add_argument("--workers", type=int, default=2, help="parallel searches")
    p.add_argument("--threads", type=int, default=1, help="torch threads per search")
    p.add_argument("--set", nargs="*", default=[], metavar="GROUP=JSON",
                   help='overrides: predictor={"epochs": 100}, guided={"per_round": 5}, '
                        'evolution={"population_size": 10}')
    p.add_argument("--dry-run", action="store_true")
    p.add_argument("--report", action="store_true",
                   help="only rewrite the table and the plot from the CSV (no searches)")
    args = p.parse_args(argv)
    overrides = parse_overrides(p, args.set)
    unknown = set(overrides) - {"predictor", "guided", "evolution"}
    if unknown:
        p.error(f"--set groups are predictor, guided and evolution; got {sorted(unknown)}")
    budgets = sorted(args.budgets or DEFAULT_BUDGETS[args.benchmark])
    out = args.out or f"benchmarks/results/search_{args.benchmark}.csv"
    root = args.root or osp.join(osp.expanduser("~"), ".cache", "hypernas_pyg", args.benchmark)
    dataset_kwargs = {"dataset": "cifar10"} if args.benchmark == "nasbench201" else {}

    done = (pd.read_csv(out, dtype=str, keep_default_na=False) if osp.exists(out)
            else pd.DataFrame(columns=KEYS))
    finished = {tuple(r) for r in done[KEYS].itertuples(index=False)}
    jobs, commit = [], code_version()
    for seed in args.seeds:
        for method in args.methods:
            config = config_key(make_algorithm(method, seed, overrides))
            todo = [b for b in budgets if (args.benchmark, method, str(seed), str(b),
                                           str(budgets[-1]), config) not in finished]
            if todo:
                jobs.append({"benchmark": args.benchmark, "method": method, "seed": seed,
                             "budgets": budgets, "max_budget": budgets[-1], "config": config,
                             "commit": commit, "root": root, "threads": args.threads,
                             "overrides": overrides, "dataset_kwargs": dataset_kwargs})
    print(f"{len(jobs)} searches to do; results in {out}", flush=True)
    if args.report:
        jobs = []
    if args.dry_run:
        for j in jobs:
            print(j["method"], j["seed"], j["max_budget"])
        return 0
    from hypernas_pyg.datasets import BENCHMARKS
    BENCHMARKS[args.benchmark](root, log=False, **dataset_kwargs)  # process once
    stem = osp.splitext(out)[0]
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    traj = stem + "_trajectories.csv.gz"  # one row per query: gzip keeps it small
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=args.workers, mp_context=context) as pool:
        for rows, trajectory in pool.map(_run, jobs):
            for row in rows:
                append_row(out, row, KEYS)
            pd.DataFrame(trajectory).to_csv(traj, mode="a", index=False, compression="gzip",
                                            header=not osp.exists(traj))
    df = pd.read_csv(out)
    with open(stem + ".md", "w") as f:
        f.write(summarise(df))
    print(summarise(df))
    if osp.exists(traj):
        plot(pd.read_csv(traj), stem + ".png")
    from hypernas_pyg.evaluation import hardware
    with open(stem + ".hardware.json", "w") as f:
        json.dump({**hardware(), "workers": args.workers}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
