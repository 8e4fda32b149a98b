"""Do two checkouts of the library compute the same NAS-Bench-201 results?

Runs ``hypernas evaluate`` for a grid of variants, training sizes and seeds with the
code of a given checkout (``run``), then compares two such result directories run by
run (``compare``): Kendall tau, held-out tau, Spearman and the hypernetwork accuracy.
``time`` measures the whole ``hypernas evaluate`` process of both checkouts, interleaved
(before, after, before, after, ...) so that drifts of the machine hit both alike.

    git worktree add /tmp/before <old-commit>
    python benchmarks/nb201_reproduce.py run --code /tmp/before --out /tmp/runs_before
    python benchmarks/nb201_reproduce.py run --code . --out /tmp/runs_after
    python benchmarks/nb201_reproduce.py compare /tmp/runs_before /tmp/runs_after \\
        --out benchmarks/results/nb201_reproduce.json
    python benchmarks/nb201_reproduce.py time /tmp/before . --repeats 5 \\
        --out benchmarks/results/nb201_evaluate_timing.json

Each run is one process with one torch thread; finished runs are skipped when the
script starts again. The defaults are the check of the space-generic redesign:
``hypernas-p`` and ``hypernas`` at N = 78 and 469, seeds 0-4.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import os.path as osp
import subprocess
import sys
import time

KEYS = ("kendall_tau", "kendall_tau_heldout", "spearman", "hyper_val_acc")


def evaluate_command(variant: str, size: int, seed: int, threads: int, out: str) -> list[str]:
    """``hypernas evaluate`` on NAS-Bench-201 as both checkouts spell it."""
    return [sys.executable, "-m", "hypernas_pyg.cli", "evaluate", "--benchmark",
            "nasbench201", "--train-size", str(size), "--seed", str(seed),
            "--variant", variant, "--threads", str(threads), "--json", out]


def run(args: argparse.Namespace) -> int:
    code = osp.abspath(args.code)
    os.makedirs(args.out, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": code}
    for variant in args.variants:
        for size in args.sizes:
            for seed in args.seeds:
                out = osp.join(args.out, f"{variant}_{size}_{seed}.json")
                if osp.exists(out):
                    continue
                cmd = evaluate_command(variant, size, seed, args.threads, out)
                t0 = time.perf_counter()
                done = subprocess.run(cmd, cwd=code, env=env, capture_output=True, text=True)
                if done.returncode:
                    print(done.stderr, file=sys.stderr)
                    return done.returncode
                print(f"{variant} N={size} seed={seed}: {time.perf_counter() - t0:.0f} s",
                      flush=True)
    return 0


def compare(args: argparse.Namespace) -> int:
    rows, worst = [], 0.0
    for path in sorted(glob.glob(osp.join(args.before, "*.json"))):
        name = osp.basename(path)
        other = osp.join(args.after, name)
        if not osp.exists(other):
            continue
        with open(path) as f:
            a = json.load(f)
        with open(other) as f:
            b = json.load(f)
        row = {"run": name[:-5]}
        for key in KEYS:
            if a.get(key) is None and b.get(key) is None:
                continue
            row[f"{key}_before"], row[f"{key}_after"] = a[key], b[key]
            row[f"{key}_diff"] = b[key] - a[key]
            worst = max(worst, abs(b[key] - a[key]))
        row["fit_seconds_before"], row["fit_seconds_after"] = a["fit_seconds"], b["fit_seconds"]
        rows.append(row)
    result = {"runs": len(rows), "max_abs_difference": worst, "tolerance": args.tolerance,
              "same": worst <= args.tolerance, "rows": rows}
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as f:
            json.dump(result, f, indent=2)
    print(f"{len(rows)} runs compared; largest difference {worst:.3g} "
          f"({'within' if result['same'] else 'OUTSIDE'} {args.tolerance:g})")
    return 0 if result["same"] else 1


def _commit(code: str) -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=code,
                          capture_output=True, text=True)
    return done.stdout.strip() or "unknown"


def timing(args: argparse.Namespace) -> int:
    """Wall time of the whole evaluate process, before and after, interleaved. The dataset of
    each checkout is built once first (untimed) in its own root, so that neither side pays
    for the other's processed-file format."""
    import platform
    import statistics
    import tempfile

    sides = {"before": osp.abspath(args.before), "after": osp.abspath(args.after)}
    seconds: dict[str, list[float]] = {name: [] for name in sides}
    with tempfile.TemporaryDirectory() as scratch:
        def once(name: str) -> float:
            env = {**os.environ, "PYTHONPATH": sides[name],
                   "HYPERNAS_ROOT": osp.join(scratch, name)}
            cmd = evaluate_command(args.variant, args.size, args.seed, args.threads,
                                   osp.join(scratch, f"{name}.json"))
            t0 = time.perf_counter()
            done = subprocess.run(cmd, cwd=sides[name], env=env, capture_output=True, text=True)
            if done.returncode:
                raise RuntimeError(f"{name} ({sides[name]}) failed:\n{done.stderr}")
            return time.perf_counter() - t0

        for name in sides:                      # build each side's dataset, untimed
            once(name)
        for i in range(args.repeats):
            for name in sides:
                seconds[name].append(once(name))
                print(f"repeat {i}: {name} {seconds[name][-1]:.2f} s", flush=True)
    summary = {name: {"commit": _commit(code), "seconds": seconds[name],
                      "mean": statistics.mean(seconds[name]),
                      "std": statistics.stdev(seconds[name]) if args.repeats > 1 else 0.0}
               for name, code in sides.items()}
    ratio = summary["after"]["mean"] / summary["before"]["mean"]
    result = {"command": "hypernas evaluate --benchmark nasbench201 "
                         f"--train-size {args.size} --seed {args.seed} --variant {args.variant} "
                         f"--threads {args.threads}",
              "repeats": args.repeats, "order": "interleaved, before first", **summary,
              "ratio_after_before": ratio,
              "hardware": {"machine": platform.machine(), "cpus": os.cpu_count(),
                           "python": platform.python_version()}}
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as f:
            json.dump(result, f, indent=2)
    print(f"before {summary['before']['mean']:.2f} ± {summary['before']['std']:.2f} s, "
          f"after {summary['after']['mean']:.2f} ± {summary['after']['std']:.2f} s, "
          f"ratio {ratio:.3f}")
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="evaluate the grid with the code of one checkout")
    r.add_argument("--code", default=".", help="root of the checkout whose code runs")
    r.add_argument("--out", required=True, help="directory of the per-run JSON files")
    r.add_argument("--variants", nargs="+", default=["hypernas-p", "hypernas"])
    r.add_argument("--sizes", nargs="+", type=int, default=[78, 469])
    r.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    r.add_argument("--threads", type=int, default=1)
    c = sub.add_parser("compare", help="compare two result directories run by run")
    c.add_argument("before")
    c.add_argument("after")
    c.add_argument("--tolerance", type=float, default=1e-4)
    c.add_argument("--out", default=None, help="JSON file of the comparison")
    t = sub.add_parser("time", help="time the evaluate process of two checkouts, interleaved")
    t.add_argument("before")
    t.add_argument("after")
    t.add_argument("--variant", default="hypernas-p")
    t.add_argument("--size", type=int, default=78)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--threads", type=int, default=1)
    t.add_argument("--repeats", type=int, default=5)
    t.add_argument("--out", default=None, help="JSON file of the timings")
    args = p.parse_args(argv)
    return {"run": run, "compare": compare, "time": timing}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
