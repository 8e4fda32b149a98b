"""NAS-Bench-201 ranking benchmark: every predictor variant, encoder, ablation and baseline.

Each run (method, encoder, context, q, training size, seed, configuration) is one
row of a tidy CSV; rows already there are skipped when the script starts again,
so a sweep can be stopped and continued. A run is identified by the full
estimator configuration, so changing a default starts new rows instead of
silently reusing old ones. A markdown table (mean and std over seeds) and a
JSON with the hardware are written next to the CSV.

    python benchmarks/nb201_suite.py --study variants            # np, hypernas-p/-h, hypernas
    python benchmarks/nb201_suite.py --study encoders            # gin, transformer
    python benchmarks/nb201_suite.py --study q                   # q in 1.25, 2, 3 (1.5 = variants)
    python benchmarks/nb201_suite.py --study positional          # positional cell encoding
    python benchmarks/nb201_suite.py --study baselines           # one-hot GBDT, random floor
    python benchmarks/nb201_suite.py --study all --sizes 39 78   # everything at two sizes

Protocol: train on ``N`` architectures drawn with ``seed`` (their cifar10-valid
validation accuracy), rank all 15,625 against CIFAR-10 test accuracy.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import os.path as osp
import sys
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import pandas as pd

SIZES = [39, 78, 156, 469, 781, 1563]
KEYS = ["variant", "encoder", "context", "q", "train_size", "seed", "config"]
BASELINES = ("gbdt", "random")
# Estimator arguments that do not change what is computed.
NOT_CONFIG = ("seed", "progress", "device", "aux_root")
#: Arguments added after results were recorded, with the value that reproduces the earlier
#: computation; a configuration holding that value keys like one without the argument.
NEUTRAL = {"rank_weight": 0.0, "ensemble": 1, "prune_cells": False}
#: What a run's ``commit`` vouches for (pathspecs relative to the project root).
CODE_PATHS = ("hypernas_pyg", "benchmarks/*.py", "pyproject.toml")


def parse_overrides(parser: argparse.ArgumentParser, items: list[str]) -> dict[str, Any]:
    """``--set KEY=VALUE`` items (JSON values) as a dict; a malformed item is a usage error."""
    overrides = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--set expects KEY=VALUE, got {item!r}")
        overrides[key] = json.loads(value)
    return overrides


def study_runs(study: str) -> list[dict[str, Any]]:
    """The (variant, encoder, context, q) combinations a study consists of."""
    def run(variant, encoder="bigcn", context="", q=None):
        return {"variant": variant, "encoder": encoder, "context": context, "q": q}
    studies = {
        "variants": [run(v) for v in ("np", "hypernas-p", "hypernas-h", "hypernas")],
        "encoders": [run(v, e) for e in ("gin", "transformer") for v in ("hypernas-p", "hypernas")],
        "q": [run("hypernas", q=q) for q in (1.25, 2.0, 3.0)],
        "positional": [run(v, context="positional") for v in ("hypernas-p", "hypernas")],
        "baselines": [run(b, encoder="") for b in BASELINES],
    }
    if study == "all":
        return [r for name in studies for r in studies[name]]
    if study not in studies:
        raise ValueError(f"Unknown study {study!r}; choose one of: all, {', '.join(studies)}")
    return studies[study]


def make_estimator(run: dict[str, Any], seed: int, overrides: dict[str, Any]):
    """The estimator of one run (the baselines take only a seed and their own options)."""
    if run["variant"] in BASELINES:
        from hypernas_pyg.baselines import BASELINES as classes
        return classes[run["variant"]](seed=seed, **overrides)
    from hypernas_pyg import HyperNASPredictor
    from hypernas_pyg.predictor import HYPERNET_VARIANTS
    kwargs = dict(overrides)
    if run["variant"] not in HYPERNET_VARIANTS:
        kwargs.pop("aux_root", None)  # where the images are, for the variants that read them
    if run["q"] is not None:
        kwargs["q"] = run["q"]
    # ``prune_cells`` (an override of earlier sweeps) is an option of the space.
    kwargs["space"] = {"name": "nasbench201", "prune": kwargs.pop("prune_cells", True)}
    return HyperNASPredictor(variant=run["variant"], encoder=run["encoder"],
                             context=run["context"] or None, seed=seed, progress=False, **kwargs)


def legacy_params(estimator) -> dict[str, Any]:
    """The estimator's configuration in the layout the results file was started with, so
    that a run keys like the earlier runs of the same computation: the space as its name
    with ``prune_cells`` beside it, ``q`` resolved (1.5 for ``hypernas``), and one ``proxy``
    dict holding the network size and the auxiliary-image settings."""
    from hypernas_pyg.predictor import DEFAULT_Q, HYPERNET_VARIANTS
    from hypernas_pyg.spaces import space_resolver
    from hypernas_pyg.training import aux_resolver
    params = estimator.config() if hasattr(estimator, "config") else estimator.get_params()
    if "space" not in params:  # the random floor
        return params
    space = space_resolver(params.pop("space") or "nasbench201")
    params["space"] = space.name
    if "variant" not in params:  # the GBDT baseline
        return params
    params["prune_cells"] = space.prune
    if params["variant"] == "hypernas" and params["q"] is None:
        params["q"] = DEFAULT_Q
    aux = params.pop("aux")
    if params["variant"] in HYPERNET_VARIANTS:
        images = aux_resolver(aux).to_dict()
        images.pop("dataset")  # CIFAR-10, the only data set of the earlier layout
        params["proxy"] = {**space.network_size(params["proxy"]), **images}
    return params


def config_key(estimator) -> str:
    """The estimator's configuration as canonical JSON (see :func:`normalise_config` and
    :func:`legacy_params`)."""
    return normalise_config(json.dumps(legacy_params(estimator)))


def normalise_config(config: str) -> str:
    """Canonical JSON of a configuration: sorted keys, without the arguments that do not
    change what is computed, without ``None`` values and without :data:`NEUTRAL` values (so
    that adding an argument whose default reproduces the earlier computation leaves earlier
    configurations equal)."""
    params = json.loads(config)
    return json.dumps({k: v for k, v in params.items()
                       if k not in NOT_CONFIG and v is not None
                       and not (k in NEUTRAL and v == NEUTRAL[k])}, sort_keys=True)


def code_version(root: str | None = None) -> str:
    """The git commit of the code that runs, ``+dirty`` when :data:`CODE_PATHS` have
    uncommitted changes (results files, which the sweep itself writes, and documentation
    do not count). ``root``: the project's root (default: the one holding this script)."""
    import subprocess
    root = root or osp.dirname(osp.dirname(osp.abspath(__file__)))
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, text=True,
                                capture_output=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--",
                                *CODE_PATHS], cwd=root, text=True, capture_output=True,
                               check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("+dirty" if dirty else "")


def stock_configs(df: pd.DataFrame) -> list[str]:
    """Per row, the configuration its run (variant, encoder, context, q) has at the library's
    current defaults."""
    cache: dict[tuple, str] = {}

    def expected(r) -> str:
        q = None if pd.isna(r.q) else float(r.q)
        key = (r.variant, r.encoder, r.context, q)
        if key not in cache:
            run = {"variant": r.variant, "encoder": r.encoder, "context": r.context, "q": q}
            cache[key] = config_key(make_estimator(run, 0, {}))
        return cache[key]
    return [expected(r) for r in df.itertuples()]


def stock_mask(df: pd.DataFrame) -> pd.Series:
    """Rows run with the library's current defaults (only variant, encoder, context, q set)."""
    return pd.Series([normalise_config(c) == e for c, e in zip(df["config"], stock_configs(df))],
                     index=df.index, dtype=bool)


def config_difference(config: str, stock: str) -> str:
    """The settings in which ``config`` differs from ``stock`` (both canonical JSON), as
    ``key=value`` pairs; an argument absent from one side takes its :data:`NEUTRAL` value."""
    def diff(a: dict, b: dict, prefix: str) -> list[str]:
        out = []
        for key in sorted(set(a) | set(b)):
            va, vb = a.get(key, NEUTRAL.get(key)), b.get(key, NEUTRAL.get(key))
            if isinstance(va, dict) and isinstance(vb, dict):
                out += diff(va, vb, f"{prefix}{key}.")  # e.g. proxy.aux_steps=2
            elif va != vb:
                out.append(f"{prefix}{key}={json.dumps(va)}")
        return out
    return ", ".join(diff(json.loads(normalise_config(config)), json.loads(stock), ""))


def dataset_options(estimator) -> dict[str, Any]:
    """The ``NASBench201`` arguments of a run's dataset: the predictor's cell graphs; the
    baselines read only the architecture strings, so they take the default dataset."""
    space = estimator.get_params().get("space")
    return {"prune_cells": space["prune"]} if isinstance(space, dict) else {}


def _run(job: dict) -> dict:
    import torch
    torch.set_num_threads(job.pop("threads"))
    from hypernas_pyg.datasets import NASBench201
    from hypernas_pyg.evaluation import evaluate_ranking

    commit = job.pop("commit")
    root = job.pop("root")
    options = job.pop("overrides")
    overrides = json.dumps({k: v for k, v in options.items() if k not in NOT_CONFIG},
                           sort_keys=True)
    estimator = make_estimator(job, job["seed"], options)
    dataset = NASBench201(root, log=False, **dataset_options(estimator))
    result = evaluate_ranking(estimator, dataset, job["train_size"], job["seed"])
    row = {**job, **result, "threads": torch.get_num_threads(), "commit": commit,
           "overrides": overrides}
    if row["loss_weights"] is not None:
        row["loss_weights"] = json.dumps(row["loss_weights"], sort_keys=True)
    print(" ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}"
                   for k, v in row.items() if k != "config"), flush=True)
    return row


#: The rank correlations of a run: undefined (empty in the CSV) when its predictions do not rank.
RANK_SCORES = ("kendall_tau", "kendall_tau_heldout", "spearman")
#: Numeric columns besides these and the ``precision_at_<k>`` ones.
NUMBERS = ("fit_seconds", "predict_seconds", "hyper_val_acc", "q")


def read_results(path: str) -> pd.DataFrame:
    """The runs of a results CSV, for tables and figures.

    Text columns keep empty cells as ``""`` (no context, no encoder); numeric
    ones read them as NaN. A run whose predictions do not rank (one value for
    every architecture, as a collapsed ``hypernas-h`` encoder gives) has
    undefined rank correlations, stored as empty cells: it is flagged in
    ``no_ranking`` and scored 0 (what a ranking carrying no information is
    worth), so that means over seeds count it instead of dropping it.
    """
    df = pd.read_csv(path, keep_default_na=False)
    for col in df.columns:
        if col in RANK_SCORES or col in NUMBERS or col.startswith("precision_at_"):
            df[col] = pd.to_numeric(df[col], errors="coerce")
    df["no_ranking"] = df["kendall_tau"].isna()
    df[list(RANK_SCORES)] = df[list(RANK_SCORES)].fillna(0.0)
    if "overrides" not in df:
        df["overrides"] = "{}"
    df["overrides"] = df["overrides"].replace("", "{}")
    return df


def summarise(df: pd.DataFrame) -> str:
    """A markdown table: one line per method and size, mean ± std over seeds (runs that did
    not rank count as 0, see :func:`read_results`; "no ranking" says how many)."""
    df = df.copy()
    # Runs with changed defaults (overrides, or defaults changed since) are their own rows.
    # A row's settings are what differs from today's defaults ("default" when nothing does).
    diffs = [config_difference(c, e) for c, e in zip(df["config"], stock_configs(df))]
    df["q"] = df["q"].map(lambda v: "-" if pd.isna(v) else f"{v:g}")
    df["settings"] = [d or "default" for d in diffs]
    g = df.groupby(["variant", "encoder", "context", "q", "settings", "train_size"], sort=True)
    table = g.agg(tau_mean=("kendall_tau", "mean"), tau_std=("kendall_tau", "std"),
                  heldout_mean=("kendall_tau_heldout", "mean"),
                  spearman=("spearman", "mean"), p100=("precision_at_100", "mean"),
                  seeds=("seed", "nunique"), no_ranking=("no_ranking", "sum"),
                  fit_s=("fit_seconds", "mean"),
                  predict_s=("predict_seconds", "mean"),
                  hyper_val_acc=("hyper_val_acc", "mean")).reset_index()
    lines = ["| variant | encoder | context | q | settings | N | Kendall tau (all) | held-out "
             "| Spearman | P@100 | seeds | no ranking | fit s | predict s | hypernet val acc |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in table.itertuples():
        hva = "-" if pd.isna(r.hyper_val_acc) else f"{r.hyper_val_acc:.3f}"
        std = "-" if pd.isna(r.tau_std) else f"{r.tau_std:.3f}"
        settings = r.settings.replace("|", "\\|")
        lines.append(f"| {r.variant} | {r.encoder or '-'} | {r.context or '-'} | {r.q} | "
                     f"{settings} | "
                     f"{r.train_size} | {r.tau_mean:.3f} ± {std} | {r.heldout_mean:.3f} | "
                     f"{r.spearman:.3f} | {r.p100:.2f} | {r.seeds} | {r.no_ranking} | "
                     f"{r.fit_s:.1f} | {r.predict_s:.2f} | {hva} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="benchmarks/results/nb201_suite.csv")
    p.add_argument("--root", default=osp.join(osp.expanduser("~"), ".cache", "hypernas_pyg",
                                              "nasbench201"))
    p.add_argument("--study", default="variants",
                   help="variants, encoders, q, positional, baselines or all")
    p.add_argument("--variants", nargs="+", default=None,
                   help="run these variants / baselines instead of a study")
    p.add_argument("--encoders", nargs="+", default=["bigcn"], help="with --variants")
    p.add_argument("--context", default="", help="with --variants: override the context")
    p.add_argument("--q", type=float, default=None, help="with --variants: the q of hypernas")
    p.add_argument("--sizes", nargs="+", type=int, default=SIZES)
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    p.add_argument("--workers", type=int, default=2, help="parallel runs")
    p.add_argument("--threads", type=int, default=None,
                   help="torch threads per run (default: 1 with several workers, else 2)")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                   help="estimator overrides as JSON values, e.g. epochs=100 "
                        "aux_root='\"/path/to/cifar10\"'")
    p.add_argument("--dry-run", action="store_true", help="list the runs to do and stop")
    args = p.parse_args(argv)

    overrides = parse_overrides(p, args.set)
    if args.variants:
        runs = [{"variant": v, "encoder": "" if v in BASELINES else e, "context": args.context,
                 "q": args.q if v == "hypernas" else None}
                for v in args.variants for e in (args.encoders if v not in BASELINES else [""])]
    else:
        runs = study_runs(args.study)
    runs = list({json.dumps(r, sort_keys=True): r for r in runs}.values())

    done = (pd.read_csv(args.out, dtype=str, keep_default_na=False) if osp.exists(args.out)
            else pd.DataFrame(columns=KEYS))
    done["config"] = done["config"].map(normalise_config)
    finished = {tuple(r) for r in done[KEYS].itertuples(index=False)}
    jobs, commit = [], code_version()
    datasets = set()  # the dataset variants the jobs read, as sorted JSON of their options
    for size in args.sizes:
        for seed in args.seeds:
            for run in runs:
                # Options of the neural predictors do not apply to the baselines.
                opts = {} if run["variant"] in BASELINES else dict(overrides)
                estimator = make_estimator(run, seed, opts)
                config = config_key(estimator)
                q = "" if run["q"] is None and run["variant"] != "hypernas" else str(
                    run["q"] if run["q"] is not None else json.loads(config)["q"])
                key = (run["variant"], run["encoder"], run["context"], q, str(size), str(seed),
                       config)
                if key in finished:
                    continue
                datasets.add(json.dumps(dataset_options(estimator), sort_keys=True))
                jobs.append({**run, "q": float(q) if q else None, "train_size": size,
                             "seed": seed, "config": config, "root": args.root,
                             "threads": args.threads or (1 if args.workers > 1 else 2),
                             "overrides": opts, "commit": commit})
    print(f"{len(jobs)} runs to do, {len(finished)} already in {args.out}", flush=True)
    if args.dry_run:
        for j in jobs:
            print(j["variant"], j["encoder"], j["context"], j["q"], j["train_size"], j["seed"])
        return 0
    from hypernas_pyg.datasets import NASBench201
    for options in sorted(datasets):  # process before the workers start
        NASBench201(args.root, log=False, **json.loads(options))
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    # Cheap runs first, so that a stopped sweep has covered the most ground.
    jobs.sort(key=lambda j: (j["variant"] not in BASELINES, j["train_size"]))
    # Fresh interpreters: forking a process that has run torch's thread pool can deadlock.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=args.workers, mp_context=context) as pool:
        for row in pool.map(_run, jobs):
            append_row(args.out, row)
    write_summary(args.out, args.workers)
    return 0


def append_row(path: str, row: dict[str, Any], keys: list[str] = KEYS) -> None:
    """Appends one run in the file's column order (a new file starts with ``keys``); a new
    column rewrites the file once."""
    frame = pd.DataFrame([row])
    if not osp.exists(path):
        frame[keys + [c for c in row if c not in keys]].to_csv(path, index=False)
        return
    header = pd.read_csv(path, nrows=0).columns.tolist()
    if set(row) <= set(header):
        frame.reindex(columns=header).to_csv(path, mode="a", header=False, index=False)
        return
    old = pd.read_csv(path, dtype=str, keep_default_na=False)
    merged = pd.concat([old, frame], ignore_index=True)
    from hypernas_pyg.atomic_file import atomic_file
    with atomic_file(path) as tmp:
        merged[header + [c for c in row if c not in header]].to_csv(tmp, index=False)


def write_json(path: str, result: dict) -> None:
    """Writes ``result`` as indented JSON to ``path``, creating its folder."""
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(result, f, indent=2)


def write_summary(path: str, workers: int, summarise_fn=None) -> None:
    """Writes the markdown table (``summarise_fn``, default :func:`summarise`) and the
    hardware JSON next to the results CSV ``path``."""
    from hypernas_pyg.evaluation import hardware
    summary = (summarise_fn or summarise)(read_results(path))
    stem = osp.splitext(path)[0]
    with open(stem + ".md", "w") as f:
        f.write(summary)
    with open(stem + ".hardware.json", "w") as f:
        json.dump({**hardware(), "cpu_count": os.cpu_count(), "workers": workers}, f, indent=2)
    print(summary)


if __name__ == "__main__":
    sys.exit(main())
