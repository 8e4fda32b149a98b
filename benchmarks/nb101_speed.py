"""NAS-Bench-101 speed and memory: load all 423,624 cells, fit, score them all.

    python benchmarks/nb101_speed.py --out benchmarks/results/nb101_speed.json
    python benchmarks/nb101_speed.py --set num_layers=3 rank_weight=1.0 \\
        --out benchmarks/results/nb101_speed_l3.json

Loads the processed ``NASBench101`` dataset (building it first if needed, timed
separately), fits a predictor on ``--train-size`` cells, scores every cell
``--repeats`` times and records the times, the peak resident memory of the process
(``resource.getrusage``: the figure that counts against a 6 GB machine) and the
machine's load average before and after (other work skews the timings).
"""
from __future__ import annotations

import argparse
import json
import os
import os.path as osp
import resource
import sys
import time


def peak_rss_gb() -> float:
    """Peak resident set size of this process so far, in GB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", default=osp.join(osp.expanduser("~"), ".cache", "hypernas_pyg",
                                              "nasbench101"))
    p.add_argument("--out", default="benchmarks/results/nb101_speed.json")
    p.add_argument("--variant", default="hypernas-p")
    p.add_argument("--train-size", type=int, default=424)
    p.add_argument("--epochs", type=int, default=None,
                   help="training epochs (default: the estimator's)")
    p.add_argument("--batch-size", type=int, default=1024, help="scoring batch size")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--flush-denormal", action="store_true",
                   help="score with torch.set_flush_denormal(True)")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                   help="HyperNASPredictor overrides as JSON values, e.g. num_layers=3")
    args = p.parse_args(argv)
    sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
    from nb201_suite import parse_overrides
    overrides = parse_overrides(p, args.set)

    import torch
    torch.set_num_threads(args.threads)
    from hypernas_pyg import HyperNASPredictor
    from hypernas_pyg.datasets import NASBench101
    from hypernas_pyg.evaluation import hardware, sample_train_indices
    from hypernas_pyg.metrics import kendall_tau

    load_before = os.getloadavg()
    t0 = time.perf_counter()
    NASBench101(args.root, log=False)  # processes the raw files when needed
    prepare_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    dataset = NASBench101(args.root, log=False)
    load_seconds = time.perf_counter() - t0
    rss_loaded = peak_rss_gb()
    train_idx = sample_train_indices(len(dataset), args.train_size, args.seed)
    epochs = {} if args.epochs is None else {"epochs": args.epochs}
    predictor = HyperNASPredictor(variant=args.variant, seed=args.seed, progress=False,
                                  **epochs, **overrides)
    t0 = time.perf_counter()
    predictor.fit(dataset[torch.as_tensor(train_idx)])
    fit_seconds = time.perf_counter() - t0
    # Weights trained for long with weight decay can hold denormal floats, which the CPU
    # multiplies far more slowly: time a slice of the space with and without flushing them.
    probe = dataset[torch.arange(min(20000, len(dataset)))]
    probe_seconds = {}
    for flush in (False, True):
        torch.set_flush_denormal(flush)
        t0 = time.perf_counter()
        predictor.predict(probe, batch_size=args.batch_size)
        probe_seconds[f"flush_denormal={flush}"] = time.perf_counter() - t0
    torch.set_flush_denormal(args.flush_denormal)
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        pred = predictor.predict(dataset, batch_size=args.batch_size)
        times.append(time.perf_counter() - t0)
    result = {"num_archs": len(dataset), "variant": args.variant,
              "train_size": args.train_size, "epochs": predictor.epochs, "seed": args.seed,
              "overrides": overrides,
              "threads": args.threads, "batch_size": args.batch_size,
              "prepare_seconds": prepare_seconds, "load_seconds": load_seconds,
              "fit_seconds": fit_seconds, "predict_seconds": times,
              "predict_seconds_min": min(times), "flush_denormal": args.flush_denormal,
              "probe_archs": len(probe), "probe_predict_seconds": probe_seconds,
              "kendall_tau": kendall_tau(pred, dataset.y[:, 1].numpy()),
              "peak_rss_gb_after_load": rss_loaded, "peak_rss_gb": peak_rss_gb(),
              "loadavg_before": load_before, "loadavg_after": os.getloadavg(),
              "hardware": {**hardware(), "cpu_count": os.cpu_count()}}
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
    print(json.dumps({k: v for k, v in result.items() if k != "hardware"}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
