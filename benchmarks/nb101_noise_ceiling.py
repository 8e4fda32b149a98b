"""How far can any predictor rank NAS-Bench-101 by single-run accuracies? Two measurements of
the same 500 cells compared: NASLib's single-run validation accuracy and the table's single-run
test accuracy.

    python benchmarks/nb101_noise_ceiling.py --out benchmarks/results/nb101_noise_ceiling.json

Their Kendall tau is what ranking one noisy measurement by another reaches; a predictor of
the cells' true quality, judged against single-run test accuracy, stays near it.
"""
from __future__ import annotations

import argparse
import json
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from nb201_suite import write_json  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cache = osp.join(osp.expanduser("~"), ".cache", "hypernas_pyg")
    p.add_argument("--root", default=osp.join(cache, "nasbench101"))
    p.add_argument("--root-naslib", default=osp.join(cache, "nasbench101_naslib500"))
    p.add_argument("--out", default="benchmarks/results/nb101_noise_ceiling.json")
    args = p.parse_args(argv)
    from hypernas_pyg.datasets import NASBench101
    from hypernas_pyg.metrics import kendall_tau, spearman_rho

    full = NASBench101(args.root, log=False)
    sub = NASBench101(args.root_naslib, subset="naslib500", log=False)
    row = {h: i for i, h in enumerate(full.hashes)}
    idx = [row[h] for h in sub.hashes]
    val, test = sub.y[:, 0].numpy(), full.y[idx, 1].numpy()
    result = {"cells": len(idx), "kendall_tau": kendall_tau(val, test),
              "spearman": spearman_rho(val, test),
              "a": "NASLib zc_nasbench101.json val_accuracy (single run, 108 epochs)",
              "b": "obfunas_test.npy test accuracy (single run, 108 epochs)"}
    write_json(args.out, result)
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
