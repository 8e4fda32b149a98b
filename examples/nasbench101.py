"""Train a HyperNAS predictor on a few NAS-Bench-101 cells and rank all 423,624.

    HYPERNAS_MIRROR=../shared/data python examples/nasbench101.py --train-size 424

Raw files are copied from ``$HYPERNAS_MIRROR/nasbench101/`` into ``--root`` on first
use. ``--subset naslib500`` uses NASLib's 500 cells (validation accuracy) instead of the
whole space; ``--subset tfrecord`` reads the official ``nasbench_only108.tfrecord`` if you
put it in ``<root>/raw`` (mean validation accuracy of the 3 runs to train, mean test
accuracy to evaluate). With ``--subset all`` both targets are the single-run 108-epoch
test accuracy: that table has no validation accuracy (see ``datasets/nasbench101.md``).
"""
from __future__ import annotations

import argparse
import os.path as osp
import time

import numpy as np
import pandas as pd
import torch

from hypernas_pyg import VARIANTS, HyperNASPredictor
from hypernas_pyg.datasets import NASBench101
from hypernas_pyg.evaluation import sample_train_indices
from hypernas_pyg.metrics import kendall_tau, precision_at_k, spearman_rho


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=osp.join(osp.expanduser("~"), ".cache",
                                                   "hypernas_pyg", "nasbench101"))
    parser.add_argument("--subset", default="all", choices=["all", "naslib500", "tfrecord"])
    parser.add_argument("--train-size", type=int, default=424)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--variant", default="hypernas-p", choices=list(VARIANTS))
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--aux-root", default=None,
                        help="CIFAR-10 cache directory (hypernas and hypernas-h only)")
    parser.add_argument("--save", default=None, help="where to save the fitted predictor")
    args = parser.parse_args()

    # 1. The benchmark: every item is the 11-cell sequence of one cell as an ArchData graph.
    dataset = NASBench101(args.root, subset=args.subset)
    print(dataset, "-", dataset.target_kind)
    print("first cell:", dataset.archs[0], "graph:", dataset[0])

    # 2. Fit on a few cells (the space comes from the dataset).
    train_idx = sample_train_indices(len(dataset), args.train_size, args.seed)
    extra = {"aux_root": args.aux_root} if args.aux_root else {}
    predictor = HyperNASPredictor(variant=args.variant, seed=args.seed, epochs=args.epochs,
                                  **extra)
    t0 = time.perf_counter()
    predictor.fit(dataset[torch.as_tensor(train_idx)])
    print(f"fitted on {args.train_size} cells in {time.perf_counter() - t0:.1f} s")

    # 3. Rank every cell and compare with the evaluation target.
    t0 = time.perf_counter()
    pred = predictor.predict(dataset, batch_size=4096)
    print(f"scored {len(dataset)} cells in {time.perf_counter() - t0:.1f} s")
    target = dataset.y[:, 1].numpy()
    print(f"Kendall tau {kendall_tau(pred, target):.4f}, Spearman {spearman_rho(pred, target):.4f}, "
          f"precision@100 {precision_at_k(pred, target, 100):.2f}")
    table = pd.DataFrame({"cell": dataset.archs, "module_hash": dataset.hashes,
                          "predicted": pred, "accuracy": target})
    table["trained_on"] = np.isin(np.arange(len(dataset)), train_idx)
    print("Top 5 predicted cells:")
    print(table.sort_values("predicted", ascending=False).head(5).to_string(index=False))
    print(f"Best in the table: {table.accuracy.max():.2f}%")
    if args.save:
        predictor.save(args.save)
        print("saved to", args.save)


if __name__ == "__main__":
    main()
