"""Train a HyperNAS predictor on a few NAS-Bench-201 architectures and rank all 15,625.

    HYPERNAS_MIRROR=../shared/data python examples/nasbench201.py --train-size 78

Raw tables are copied from ``$HYPERNAS_MIRROR/nasbench201/`` (or downloaded) into
``--root`` on first use. The variants with the hypernetwork task (``--variant hypernas``
or ``hypernas-h``) also need CIFAR-10, copied from ``$HYPERNAS_MIRROR/cifar10/`` into
``--aux-root``.
"""
from __future__ import annotations

import argparse
import os.path as osp

import numpy as np
import pandas as pd
import torch

from hypernas_pyg import VARIANTS, HyperNASPredictor
from hypernas_pyg.datasets import NASBench201
from hypernas_pyg.evaluation import sample_train_indices
from hypernas_pyg.metrics import kendall_tau, precision_at_k, spearman_rho


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=osp.join(osp.expanduser("~"), ".cache",
                                                   "hypernas_pyg", "nasbench201"))
    parser.add_argument("--train-size", type=int, default=78)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--variant", default="hypernas-p", choices=list(VARIANTS))
    parser.add_argument("--q", type=float, default=None,
                        help="preference coefficient of the two-task loss (hypernas only)")
    parser.add_argument("--aux-root", default=None,
                        help="CIFAR-10 cache directory (hypernas and hypernas-h only)")
    parser.add_argument("--save", default=None, help="where to save the fitted predictor")
    parser.add_argument("--predictions", default=None, help="CSV of predictions for all archs")
    args = parser.parse_args()

    # 1. The benchmark: every item is an ArchData graph with y = [[valid acc, test acc]].
    dataset = NASBench201(args.root, dataset="cifar10")
    print(dataset, "- first item:", dataset[0])

    # 2. Train on a few architectures' cifar10-valid validation accuracy.
    train_idx = sample_train_indices(len(dataset), args.train_size, args.seed)
    extra = {k: v for k, v in (("q", args.q), ("aux_root", args.aux_root)) if v is not None}
    predictor = HyperNASPredictor(variant=args.variant, seed=args.seed, **extra)
    predictor.fit(dataset[torch.as_tensor(train_idx)])
    if predictor.hyper_val_acc_ is not None:
        print(f"Hypernetwork validation accuracy {predictor.hyper_val_acc_:.4f} "
              f"(held-out CIFAR-10 images, {len(predictor.hyper_val_archs_)} held-out archs)")

    # 3. Rank the whole space and compare with the CIFAR-10 test accuracy.
    pred = predictor.predict(dataset)
    test_acc = dataset.y[:, 1].numpy()
    print(f"Kendall tau {kendall_tau(pred, test_acc):.4f}, "
          f"Spearman {spearman_rho(pred, test_acc):.4f}, "
          f"precision@50 {precision_at_k(pred, test_acc, 50):.2f}")

    table = pd.DataFrame({"arch": dataset.archs, "predicted": pred, "test_accuracy": test_acc})
    table["trained_on"] = np.isin(np.arange(len(dataset)), train_idx)
    print("Top 5 predicted architectures:")
    print(table.sort_values("predicted", ascending=False).head(5).to_string(index=False))
    print(f"Best in the space: {table.test_accuracy.max():.2f}% test accuracy")

    if args.predictions:
        table.to_csv(args.predictions, index=False)
    if args.save:
        predictor.save(args.save)
        reloaded = HyperNASPredictor.load(args.save)
        if not np.array_equal(reloaded.predict(dataset[:10]), pred[:10]):
            raise RuntimeError("reloaded predictor disagrees with the fitted one")
        print("saved to", args.save)


if __name__ == "__main__":
    main()
