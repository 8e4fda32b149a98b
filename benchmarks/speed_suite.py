"""Speed of the whole pipeline, two checkouts side by side: scoring, fitting, a search.

    python benchmarks/speed_suite.py compare /tmp/before . --repeats 3 \\
        --out benchmarks/results/speed_suite.json
    python benchmarks/speed_suite.py task score_nb201          # one task here, one JSON line
    python benchmarks/speed_suite.py floor --out benchmarks/results/speed_floor.json
    python benchmarks/speed_suite.py profile     # where scoring's time goes, per operator
    python benchmarks/speed_suite.py profile --benchmark nasbench101 --archs 100000 \\
        --out benchmarks/results/speed_profile_score_nb101.json
    python benchmarks/speed_suite.py tau --before B.csv --after A.csv   # the ranking check
    python benchmarks/speed_suite.py split --variant hypernas --size 78  # a fit, stage by stage

``compare`` runs every task as its own process with ``PYTHONPATH`` set to each checkout in
turn, interleaved (before, after, before, ...), so that load on the host hits both sides
alike; each side first builds its datasets in its own cache, untimed. Tasks (2 torch
threads unless ``--threads``):

* ``score_nb201``: score all 15,625 NAS-Bench-201 architectures (median of 3; the model is
  fitted for one epoch first: scoring time does not depend on the weights);
* ``score_nb101``: score all 423,624 NAS-Bench-101 cells (median of 2) and the process's
  peak RSS;
* ``fit_p469`` / ``fit_h78``: fit ``hypernas-p`` on 469 / ``hypernas`` on 78 NAS-Bench-201
  architectures (seed 0, library defaults), and the Kendall tau of the fit;
* ``search100``: a 100-query HyperNAS-P-guided search on NAS-Bench-201 (seed 0).

``--epochs-after N`` trains the after side's fitting and search tasks for ``N`` epochs while
the before side keeps its default (a shorter schedule against the old one).

``tau`` compares the mean Kendall tau per variant and training size of two
``nb201_suite.py`` result files (one run per seed; the check runs seeds 0-4 at N = 78 and
469 on both checkouts) and flags every gap larger than ``--tolerance`` (0.005).

``split`` fits twice, once plainly (its time is ``seconds``) and once under cProfile, and
writes the cumulative time of each stage of the second fit (:data:`STAGES`: batching,
encoder, image batches, kernel generation, proxy networks, backward, Adam, the final
hypernetwork validation; the rest is "other"). cProfile slows Python-heavy stages more than
kernels, so the shares are a guide.

``floor`` measures this machine's float32 matmul rate at the encoder's shapes and divides the
encoder's multiply-adds for all NAS-Bench-201 / NAS-Bench-101 architectures by it: a rough
lower bound on scoring time.
"""
from __future__ import annotations

import argparse
import json
import os
import os.path as osp
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from nb201_suite import write_json  # noqa: E402

TASKS = ("score_nb201", "score_nb101", "fit_p469", "fit_h78", "search100")


def _peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9


def _nb201():
    from hypernas_pyg.datasets import NASBench201
    return NASBench201(osp.join(_root(), "nasbench201"), log=False)


def _root() -> str:
    return os.environ.get("HYPERNAS_ROOT") or osp.join(osp.expanduser("~"), ".cache",
                                                        "hypernas_pyg")


def _fit(dataset, variant: str, size: int, **kwargs):
    import torch
    from hypernas_pyg import HyperNASPredictor
    from hypernas_pyg.evaluation import sample_train_indices
    train = dataset[torch.as_tensor(sample_train_indices(len(dataset), size, 0))]
    model = HyperNASPredictor(variant=variant, seed=0, progress=False, **kwargs)
    t0 = time.perf_counter()
    model.fit(train)
    return model, time.perf_counter() - t0


def _score(model, dataset, repeats: int) -> dict:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        pred = model.predict(dataset)
        times.append(time.perf_counter() - t0)
    return {"seconds": statistics.median(times), "all_seconds": times, "num_archs": len(pred)}


def run_task(name: str, epochs: int | None = None) -> dict:
    """One task in this process (``hypernas_pyg`` from ``PYTHONPATH``); ``epochs``
    overrides the library's default for the fitting and search tasks."""
    train = {} if epochs is None else {"epochs": epochs}
    from hypernas_pyg.metrics import kendall_tau
    if name == "score_nb201":
        dataset = _nb201()
        model, _ = _fit(dataset, "hypernas-p", 78, epochs=1)
        return _score(model, dataset, 3)
    if name == "score_nb101":
        from hypernas_pyg.datasets import NASBench101
        dataset = NASBench101(osp.join(_root(), "nasbench101"), log=False)
        model, _ = _fit(dataset, "hypernas-p", 100, epochs=1)
        return {**_score(model, dataset, 2), "peak_rss_gb": _peak_rss_gb()}
    if name in ("fit_p469", "fit_h78"):
        dataset = _nb201()
        variant, size = ("hypernas-p", 469) if name == "fit_p469" else ("hypernas", 78)
        model, seconds = _fit(dataset, variant, size, **train)
        tau = kendall_tau(model.predict(dataset), dataset.y[:, 1].numpy())
        return {"seconds": seconds, "kendall_tau": tau, "variant": variant, "train_size": size,
                "epochs": model.epochs}
    if name == "search100":
        from hypernas_pyg import HyperNASPredictor
        from hypernas_pyg.search import PredictorGuidedEvolution, TableOracle
        oracle = TableOracle(_nb201())
        predictor = HyperNASPredictor(variant="hypernas-p", seed=0, progress=False, **train)
        search = PredictorGuidedEvolution(predictor)
        t0 = time.perf_counter()
        result = search.search(oracle, 100, seed=0)
        refits = result.extra.get("refit_seconds", [])
        return {"seconds": time.perf_counter() - t0, "refits": len(refits),
                "refit_seconds": refits, "best_val_test_accuracy": result.best_val_test_accuracy,
                "epochs": predictor.epochs}
    raise ValueError(f"unknown task {name!r}; choose one of: {', '.join(TASKS)}")


def _commit(code: str) -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=code, text=True,
                          capture_output=True)
    return done.stdout.strip() or "unknown"


def compare(args: argparse.Namespace) -> int:
    sides = {"before": osp.abspath(args.before), "after": osp.abspath(args.after)}
    script = osp.abspath(__file__)
    runs: dict = {task: {side: [] for side in sides} for task in args.tasks}
    with tempfile.TemporaryDirectory() as scratch:
        def once(side: str, task: str) -> dict:
            env = {**os.environ, "PYTHONPATH": sides[side],
                   "HYPERNAS_ROOT": args.root or osp.join(scratch, side)}
            cmd = [sys.executable, script, "task", task, "--threads", str(args.threads)]
            if side == "after" and args.epochs_after is not None:
                cmd += ["--epochs", str(args.epochs_after)]
            done = subprocess.run(cmd, cwd=sides[side], env=env, capture_output=True,
                                  text=True)
            if done.returncode:
                raise RuntimeError(f"{task} on {side} ({sides[side]}) failed:\n{done.stderr}")
            return json.loads(done.stdout.strip().splitlines()[-1])

        for side in (() if args.root else sides):  # build each side's datasets, untimed
            for task in {"score_nb201" if t != "score_nb101" else t for t in args.tasks}:
                once(side, task)
        for i in range(args.repeats):
            for task in args.tasks:
                for side in sides:
                    runs[task][side].append(once(side, task))
                    print(f"repeat {i} {task} {side}: {runs[task][side][-1]['seconds']:.2f} s",
                          flush=True)
    table = {}
    for task, by_side in runs.items():
        row = {}
        for side, results in by_side.items():
            secs = [r["seconds"] for r in results]
            row[side] = {"mean": statistics.mean(secs),
                         "std": statistics.stdev(secs) if len(secs) > 1 else 0.0,
                         "runs": results}
        row["ratio_after_before"] = row["after"]["mean"] / row["before"]["mean"]
        table[task] = row
    # Commits, not paths: a checkout's location says nothing on another machine.
    result = {"before": {"commit": _commit(sides["before"])},
              "after": {"commit": _commit(sides["after"])},
              "threads": args.threads, "repeats": args.repeats,
              "epochs_after": args.epochs_after,
              "dataset_cache": "one shared (--root)" if args.root else "a fresh one per side",
              "order": "interleaved per task, before first", "tasks": table,
              "hardware": {"machine": platform.machine(), "cpus": os.cpu_count(),
                           "processor": platform.processor(),
                           "python": platform.python_version()}}
    _write(args.out, result)
    for task, row in table.items():
        print(f"{task}: before {row['before']['mean']:.2f} s, after {row['after']['mean']:.2f} "
              f"s, ratio {row['ratio_after_before']:.3f}")
    return 0


def floor(args: argparse.Namespace) -> int:
    """The matmul rate at the encoder's shape and the scoring floor it implies."""
    import torch
    torch.set_num_threads(args.threads)
    hidden, layers = 64, 2
    x, w = torch.randn(65536, hidden), torch.randn(hidden, hidden)
    for _ in range(3):
        x @ w
    t0, reps = time.perf_counter(), 50
    for _ in range(reps):
        x @ w
    rate = 2 * x.shape[0] * hidden * hidden * reps / (time.perf_counter() - t0)
    from hypernas_pyg.datasets import NASBench101
    out = {"threads": args.threads, "matmul_shape": [x.shape[0], hidden, hidden],
           "gflops": rate / 1e9, "benchmarks": {}}
    for name, dataset in (("nasbench201", _nb201()),
                          ("nasbench101", NASBench101(osp.join(_root(), "nasbench101"),
                                                      log=False))):
        nodes = int(dataset._data.x.size(0))
        # Per node and layer: two directions of a hidden x hidden linear map (2 flops each).
        flops = nodes * layers * 2 * 2 * hidden * hidden
        out["benchmarks"][name] = {"archs": len(dataset), "nodes": nodes, "gflop": flops / 1e9,
                                   "floor_seconds": flops / rate}
    _write(args.out, out)
    print(json.dumps(out, indent=1))
    return 0


def profile(args: argparse.Namespace) -> int:
    """Where the time of one scoring pass goes: torch.profiler's operator table (self CPU
    time) of ``predict`` over NAS-Bench-201 (or the first ``--archs`` NAS-Bench-101 cells)
    after one warm-up pass."""
    import torch
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile
    torch.set_num_threads(args.threads)
    if args.benchmark == "nasbench201":
        dataset = _nb201()
    else:
        from hypernas_pyg.datasets import NASBench101
        dataset = NASBench101(osp.join(_root(), "nasbench101"), log=False)
    model, _ = _fit(dataset, "hypernas-p", 78, epochs=1)
    if args.archs is not None:
        dataset = dataset[:args.archs]
    model.predict(dataset)
    t0 = time.perf_counter()
    with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
        model.predict(dataset)
    seconds = time.perf_counter() - t0
    ops = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)
    total = sum(e.self_cpu_time_total for e in ops)
    rows = [{"op": e.key, "self_ms": e.self_cpu_time_total / 1e3,
             "share": e.self_cpu_time_total / total, "calls": e.count} for e in ops[:args.top]]
    out = {"task": f"score {args.benchmark} (profiled)", "archs": len(dataset),
           "threads": args.threads, "commit": _commit("."),
           "seconds_under_profiler": seconds, "self_cpu_ms_total": total / 1e3, "ops": rows}
    _write(args.out, out)
    for r in rows:
        print(f"{r['op']:<32} {r['self_ms']:9.1f} ms {100 * r['share']:5.1f} % {r['calls']:6d}")
    return 0


#: The stages of a fit that ``split`` times: (label, file the function is in, its name).
STAGES = (
    ("batching the architectures", "hypernas_pyg/data/collate.py", "__iter__"),
    ("encoder forward", "hypernas_pyg/nn/models/hypernas.py", "encode"),
    ("image batches", "hypernas_pyg/datasets/cifar10.py", "sample_batch"),
    ("kernel generation (hypernetwork)", "hypernas_pyg/nn/models/hypernet_branch.py", "generate"),
    ("proxy networks forward", "hypernas_pyg/nn/models/hypernet_branch.py", "run"),
    ("backward (every part)", "torch/_tensor.py", "backward"),
    ("Adam", "torch/optim/adam.py", "adam"),
    ("hypernetwork validation accuracy", "hypernas_pyg/training/auxiliary_task.py", "accuracy"),
)


def stage_seconds(stats: dict, path: str, name: str, exclude_caller: str = "") -> float:
    """Cumulative seconds of the functions ``name`` defined in a file ending with ``path``
    in ``pstats.Stats(...).stats``, less what they spent when called from a function named
    ``exclude_caller``."""
    total = 0.0
    for (file, _, func), (_, _, _, cumulative, callers) in stats.items():
        if func != name or not file.replace(os.sep, "/").endswith(path):
            continue
        total += cumulative - sum(c[3] for (_, _, caller), c in callers.items()
                                  if caller == exclude_caller)
    return total


def split(args: argparse.Namespace) -> int:
    """Where the time of a fit goes: the cumulative time of each of :data:`STAGES` under
    cProfile (the encoder, the generation and the proxy networks without the final
    validation, which is a stage of its own; the rest is the regressor, the losses and
    the loop)."""
    import cProfile
    import pstats

    import torch
    torch.set_num_threads(args.threads)
    dataset = _nb201()
    _, plain = _fit(dataset, args.variant, args.size)  # also warms the image cache
    prof = cProfile.Profile()
    prof.enable()
    _, profiled = _fit(dataset, args.variant, args.size)
    prof.disable()
    stats = pstats.Stats(prof).stats
    stages = [{"stage": label, "seconds": stage_seconds(stats, path, name, "accuracy")}
              for label, path, name in STAGES]
    stages.append({"stage": "other", "seconds": profiled - sum(r["seconds"] for r in stages)})
    for row in stages:
        row["share"] = row["seconds"] / profiled
    out = {"task": f"fit {args.variant} on {args.size} NAS-Bench-201 architectures (seed 0, "
                   "library defaults)", "threads": args.threads, "commit": _commit("."),
           "seconds": plain, "seconds_under_profiler": profiled, "stages": stages}
    _write(args.out, out)
    for r in stages:
        print(f"{r['stage']:<34} {r['seconds']:7.2f} s {100 * r['share']:5.1f} %")
    return 0


def tau(args: argparse.Namespace) -> int:
    """Mean Kendall tau before and after, per variant, training size and settings."""
    import pandas as pd
    sides = {"before": pd.concat([pd.read_csv(f) for f in args.before]),
             "after": pd.concat([pd.read_csv(f) for f in args.after])}
    rows = []
    for side, frame in sides.items():
        frame = frame.assign(overrides=frame["overrides"].fillna("{}"))
        for (variant, size, over), g in frame.groupby(["variant", "train_size", "overrides"]):
            if g["seed"].duplicated().any():
                raise ValueError(f"{side}: seed repeated for {variant} at N={size} {over}")
            rows.append({"side": side, "variant": variant, "train_size": int(size),
                         "overrides": over, "seeds": sorted(int(x) for x in g["seed"]),
                         "mean_tau": float(g["kendall_tau"].mean()),
                         "taus": [float(x) for x in g.sort_values("seed")["kendall_tau"]],
                         "commits": sorted(set(g["commit"]))})
    before = {(r["variant"], r["train_size"]): r for r in rows
              if r["side"] == "before" and r["overrides"] == "{}"}
    checks = []
    for r in rows:
        ref = before.get((r["variant"], r["train_size"]))
        if r["side"] != "after" or ref is None:
            continue
        if r["seeds"] != ref["seeds"]:
            raise ValueError(f"seeds differ for {r['variant']} at N={r['train_size']}: "
                             f"{ref['seeds']} before, {r['seeds']} after")
        gap = r["mean_tau"] - ref["mean_tau"]
        checks.append({"variant": r["variant"], "train_size": r["train_size"],
                       "after_overrides": r["overrides"], "seeds": r["seeds"],
                       "before": ref["mean_tau"], "after": r["mean_tau"], "difference": gap,
                       "within_tolerance": abs(gap) <= args.tolerance})
    out = {"tolerance": args.tolerance, "before_files": args.before, "after_files": args.after,
           "checks": checks, "runs": rows}
    _write(args.out, out)
    for c in checks:
        print(f"{c['variant']:<11} N={c['train_size']:<4} {c['after_overrides']:<18} before "
              f"{c['before']:.4f} after {c['after']:.4f} diff {c['difference']:+.4f} "
              f"{'ok' if c['within_tolerance'] else 'OUTSIDE'}")
    return 0


def _write(path: str | None, result: dict) -> None:
    if path:
        write_json(path, result)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="mode", required=True)
    c = sub.add_parser("compare", help="every task on two checkouts, interleaved")
    c.add_argument("before")
    c.add_argument("after")
    c.add_argument("--tasks", nargs="+", choices=TASKS, default=list(TASKS))
    c.add_argument("--repeats", type=int, default=3)
    c.add_argument("--threads", type=int, default=2)
    c.add_argument("--out", default="benchmarks/results/speed_suite.json")
    c.add_argument("--epochs-after", type=int, help="train the after side's fitting and "
                   "search tasks for this many epochs (the before side keeps its default)")
    c.add_argument("--root", help="one dataset cache for both sides, already built (only "
                   "when both read the same processed files); default: a fresh one each")
    t = sub.add_parser("task", help="one task here; prints one JSON line")
    t.add_argument("name", choices=TASKS)
    t.add_argument("--threads", type=int, default=2)
    t.add_argument("--epochs", type=int, help="epochs of the fitting and search tasks")
    f = sub.add_parser("floor", help="matmul rate and the scoring floor")
    f.add_argument("--threads", type=int, default=2)
    f.add_argument("--out", default="benchmarks/results/speed_floor.json")
    r = sub.add_parser("profile", help="operator profile of scoring")
    r.add_argument("--benchmark", choices=("nasbench201", "nasbench101"), default="nasbench201")
    r.add_argument("--archs", type=int, help="profile only the first ARCHS architectures")
    r.add_argument("--threads", type=int, default=2)
    r.add_argument("--top", type=int, default=15)
    r.add_argument("--out", help="default benchmarks/results/speed_profile_score_nb201.json "
                   "(nb101.json with --benchmark nasbench101)")
    s = sub.add_parser("split", help="where a fit's time goes, stage by stage")
    s.add_argument("--variant", choices=("hypernas", "hypernas-h", "hypernas-p", "np"),
                   default="hypernas")
    s.add_argument("--size", type=int, default=78, help="training architectures")
    s.add_argument("--threads", type=int, default=2)
    s.add_argument("--out", default="benchmarks/results/speed_split_fit.json")
    k = sub.add_parser("tau", help="mean Kendall tau of two nb201_suite result files")
    k.add_argument("--before", nargs="+", required=True)
    k.add_argument("--after", nargs="+", required=True)
    k.add_argument("--tolerance", type=float, default=0.005)
    k.add_argument("--out", default="benchmarks/results/speed_tau_check.json")
    args = p.parse_args(argv)
    if args.mode == "tau":
        return tau(args)
    if args.mode == "profile":
        short = "nb201" if args.benchmark == "nasbench201" else "nb101"
        args.out = args.out or f"benchmarks/results/speed_profile_score_{short}.json"
        return profile(args)
    if args.mode == "compare":
        return compare(args)
    if args.mode == "split":
        return split(args)
    if args.mode == "floor":
        return floor(args)
    import torch
    torch.set_num_threads(args.threads)
    print(json.dumps(run_task(args.name, args.epochs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
