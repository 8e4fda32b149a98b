"""Fit and scoring time of the predictor on NAS-Bench-201 (run on an otherwise idle machine).

    python benchmarks/nb201_speed.py --out benchmarks/results/nb201_speed.json

Fits each variant on ``--train-size`` architectures, then scores all 15,625
``--repeats`` times (predict only: the dataset is already loaded). Reports
seconds and the process's peak resident memory.
"""
from __future__ import annotations

import argparse
import json
import os
import os.path as osp
import resource
import statistics
import sys
import time

import torch

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from nb201_suite import parse_overrides  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="benchmarks/results/nb201_speed.json")
    p.add_argument("--root", default=osp.join(osp.expanduser("~"), ".cache", "hypernas_pyg",
                                              "nasbench201"))
    p.add_argument("--train-size", type=int, default=469)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--variants", nargs="+", default=["hypernas-p", "np"])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--aux-root", default=None,
                   help="CIFAR-10 cache of the hypernetwork variants (default: the predictor's)")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                   help="predictor overrides as JSON values, e.g. num_layers=2")
    args = p.parse_args(argv)
    overrides = parse_overrides(p, args.set)
    torch.set_num_threads(args.threads)

    from hypernas_pyg import HyperNASPredictor
    from hypernas_pyg.predictor import HYPERNET_VARIANTS
    from hypernas_pyg.datasets import NASBench201
    from hypernas_pyg.evaluation import hardware, sample_train_indices
    from hypernas_pyg.metrics import kendall_tau

    prune_cells = overrides.pop("prune_cells", True)  # an option of the space and dataset
    predictors = [HyperNASPredictor(variant=variant, seed=args.seed, progress=False,
                                    **({"aux_root": args.aux_root}
                                       if variant in HYPERNET_VARIANTS else {}), **overrides)
                  for variant in args.variants]
    load_before = os.getloadavg()  # other work on the machine skews the timings
    t0 = time.perf_counter()
    # The cell graphs the predictors encode (they share the overrides, so all agree).
    dataset = NASBench201(args.root, prune_cells=prune_cells, log=False)
    load_seconds = time.perf_counter() - t0
    train = dataset[torch.as_tensor(sample_train_indices(len(dataset), args.train_size, args.seed))]
    rows = []
    for variant, predictor in zip(args.variants, predictors):
        t0 = time.perf_counter()
        predictor.fit(train)
        fit_seconds = time.perf_counter() - t0
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            pred = predictor.predict(dataset)
            times.append(time.perf_counter() - t0)
        rows.append({"variant": variant, "train_size": args.train_size, "seed": args.seed,
                     "fit_seconds": fit_seconds, "predict_seconds_all": times,
                     "predict_seconds_median": statistics.median(times),
                     "num_archs": len(dataset),
                     "kendall_tau": kendall_tau(pred, dataset.y[:, 1].numpy()),
                     "config": predictor.get_params()})
        print(f"{variant}: fit {fit_seconds:.1f} s on {args.train_size}, predict "
              f"{statistics.median(times):.2f} s for {len(dataset)} archs", flush=True)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = {"runs": rows, "dataset_load_seconds": load_seconds, "peak_rss_mb": peak_mb,
              "load_average_before": load_before, "load_average_after": os.getloadavg(),
              "hardware": {**hardware(), "cpu_count": os.cpu_count()}}
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
