"""NAS-Bench-201 ranking: HyperNAS-P vs NP over training sizes and seeds.

Every run (variant, size, seed) is one row of a CSV; finished rows are skipped
when the script is started again, so a sweep can be stopped and continued.
A markdown summary (mean and std over seeds) and a JSON with the hardware are
written next to the CSV.

    python benchmarks/nb201_variants.py --out benchmarks/results/nb201_variants.csv
"""
from __future__ import annotations

import argparse
import json
import os
import os.path as osp
import sys
from concurrent.futures import ProcessPoolExecutor

import pandas as pd

PAPER = {"np": {39: 0.655, 78: 0.626, 156: 0.696, 469: 0.757},
         "hypernas": {39: 0.667, 78: 0.677, 156: 0.765, 469: 0.836}}
KEYS = ["variant", "encoder", "context", "train_size", "seed"]


def _run(job: dict) -> dict:
    import torch
    torch.set_num_threads(job.pop("threads"))
    from hypernas_pyg import HyperNASPredictor
    from hypernas_pyg.datasets import NASBench201
    from hypernas_pyg.evaluation import evaluate_ranking

    dataset = NASBench201(job.pop("root"), log=False)
    predictor = HyperNASPredictor(variant=job["variant"], encoder=job["encoder"],
                                  context=job["context"] or None, seed=job["seed"],
                                  progress=False, **job.pop("overrides"))
    result = evaluate_ranking(predictor, dataset, job["train_size"], job["seed"])
    row = {**job, **result, "threads": torch.get_num_threads()}
    print(" ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}"
                   for k, v in row.items()), flush=True)
    return row


def summarise(df: pd.DataFrame) -> str:
    g = df.groupby(["variant", "encoder", "context", "train_size"])
    table = g.agg(tau_mean=("kendall_tau", "mean"), tau_std=("kendall_tau", "std"),
                  heldout_mean=("kendall_tau_heldout", "mean"), seeds=("seed", "nunique"),
                  fit_s=("fit_seconds", "mean"), predict_s=("predict_seconds", "mean"))
    if "hyper_val_acc" in df:
        table["hyper_val_acc"] = g["hyper_val_acc"].mean()
    table = table.reset_index()
    lines = ["| variant | encoder | context | N | Kendall tau (all) | held-out | seeds | fit s "
             "| predict s | hypernet val acc |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in table.itertuples():
        hva = getattr(r, "hyper_val_acc", float("nan"))
        lines.append(f"| {r.variant} | {r.encoder} | {r.context or '-'} | {r.train_size} | "
                     f"{r.tau_mean:.3f} ± {r.tau_std:.3f} | {r.heldout_mean:.3f} | {r.seeds} | "
                     f"{r.fit_s:.1f} | {r.predict_s:.2f} | "
                     f"{'-' if pd.isna(hva) else f'{hva:.3f}'} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="benchmarks/results/nb201_variants.csv")
    p.add_argument("--root", default=osp.join(osp.expanduser("~"), ".cache", "hypernas_pyg",
                                              "nasbench201"))
    p.add_argument("--variants", nargs="+", default=["np", "hypernas-p"])
    p.add_argument("--encoders", nargs="+", default=["bigcn"])
    p.add_argument("--context", default="", help="override the variant's context")
    p.add_argument("--sizes", nargs="+", type=int, default=[39, 78, 156, 469])
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    p.add_argument("--workers", type=int, default=2, help="parallel runs")
    p.add_argument("--threads", type=int, default=None,
                   help="torch threads per run (default: 1 with several workers, else 2)")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                   help="predictor hyper-parameter overrides, e.g. epochs=100")
    args = p.parse_args(argv)

    overrides = {}
    for item in args.set:
        key, _, value = item.partition("=")
        overrides[key] = json.loads(value)
    from hypernas_pyg.datasets import NASBench201
    NASBench201(args.root, log=False)  # process once before the workers start

    done = pd.read_csv(args.out) if osp.exists(args.out) else pd.DataFrame(columns=KEYS)
    done["context"] = done["context"].astype(object).fillna("")
    finished = {tuple(r) for r in done[KEYS].astype(str).itertuples(index=False)}
    jobs = []
    for size in args.sizes:
        for seed in args.seeds:
            for variant in args.variants:
                for encoder in args.encoders:
                    key = (variant, encoder, args.context, str(size), str(seed))
                    if key in finished:
                        continue
                    jobs.append({"variant": variant, "encoder": encoder, "context": args.context,
                                 "train_size": size, "seed": seed, "root": args.root,
                                 "threads": args.threads or (1 if args.workers > 1 else 2),
                                 "overrides": dict(overrides)})
    print(f"{len(jobs)} runs to do, {len(finished)} already in {args.out}", flush=True)
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        for row in pool.map(_run, jobs):
            row["overrides"] = json.dumps(overrides, sort_keys=True)
            frame = pd.DataFrame([row])
            frame.to_csv(args.out, mode="a", header=not osp.exists(args.out), index=False)
    df = pd.read_csv(args.out)
    df["context"] = df["context"].astype(object).fillna("")
    summary = summarise(df)
    stem = osp.splitext(args.out)[0]
    with open(stem + ".md", "w") as f:
        f.write(summary)
    from hypernas_pyg.evaluation import hardware
    with open(stem + ".hardware.json", "w") as f:
        json.dump({**hardware(), "cpu_count": os.cpu_count(), "workers": args.workers}, f, indent=2)
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
