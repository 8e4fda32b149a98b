"""t-SNE of the architecture embeddings of NP, HyperNAS-P and HyperNAS, coloured by accuracy.

    python benchmarks/nb201_tsne.py --train-size 469 --seed 0 \\
        --out benchmarks/results/nb201_tsne.png

Fits each variant on ``--train-size`` NAS-Bench-201 architectures, embeds a
random ``--points`` of all 15,625 (``HyperNASPredictor.embed``: the embedding
``h`` the regressor reads) and maps them to 2-D with scikit-learn's t-SNE. Next
to the figure it writes the 2-D coordinates (CSV) and, per variant, a number
that does not depend on t-SNE's layout: the mean absolute CIFAR-10 test
accuracy gap between each architecture and its 10 nearest neighbours in the
embedding space (lower: accuracy changes more smoothly across the embedding).
"""
from __future__ import annotations

import argparse
import json
import os
import os.path as osp
import sys
import time

import numpy as np


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="benchmarks/results/nb201_tsne.png")
    p.add_argument("--root", default=osp.join(osp.expanduser("~"), ".cache", "hypernas_pyg",
                                              "nasbench201"))
    p.add_argument("--aux-root", default=None, help="CIFAR-10 cache of the hypernas variant")
    p.add_argument("--variants", nargs="+", default=["np", "hypernas-p", "hypernas"])
    p.add_argument("--train-size", type=int, default=469)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--points", type=int, default=3000, help="archs shown in the t-SNE")
    p.add_argument("--neighbours", type=int, default=10)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd
    import torch
    from sklearn.manifold import TSNE
    from sklearn.neighbors import NearestNeighbors

    from hypernas_pyg import HyperNASPredictor
    from hypernas_pyg.datasets import NASBench201
    from hypernas_pyg.evaluation import hardware, sample_train_indices
    from hypernas_pyg.metrics import kendall_tau

    torch.set_num_threads(args.threads)
    dataset = NASBench201(args.root, log=False)
    acc = dataset.y[:, 1].numpy()
    train = dataset[torch.as_tensor(sample_train_indices(len(dataset), args.train_size,
                                                         args.seed))]
    shown = np.sort(np.random.default_rng(args.seed).choice(len(dataset), args.points,
                                                            replace=False))
    coords, summary = [], []
    fig, axes = plt.subplots(1, len(args.variants), figsize=(5 * len(args.variants), 4.6))
    for ax, variant in zip(np.atleast_1d(axes), args.variants):
        aux = {"aux_root": args.aux_root} if variant in ("hypernas", "hypernas-h") else {}
        predictor = HyperNASPredictor(variant=variant, seed=args.seed, progress=False, **aux)
        t0 = time.perf_counter()
        predictor.fit(train)
        fit_seconds = time.perf_counter() - t0
        emb = predictor.embed(dataset)
        tau = kendall_tau(predictor.predict(dataset), acc)
        nn = NearestNeighbors(n_neighbors=args.neighbours + 1).fit(emb)
        _, idx = nn.kneighbors(emb)
        gap = float(np.abs(acc[idx[:, 1:]] - acc[:, None]).mean())
        xy = TSNE(n_components=2, random_state=args.seed, init="pca",
                  perplexity=30).fit_transform(emb[shown])
        summary.append({"variant": variant, "kendall_tau": tau, "knn_accuracy_gap": gap,
                        "fit_seconds": fit_seconds})
        coords.append(pd.DataFrame({"variant": variant, "arch_index": shown, "x": xy[:, 0],
                                    "y": xy[:, 1], "test_accuracy": acc[shown]}))
        sc = ax.scatter(xy[:, 0], xy[:, 1], c=acc[shown], s=3, cmap="viridis", vmin=70, vmax=95)
        ax.set_title(f"{variant}: tau {tau:.3f}, {args.neighbours}-NN gap {gap:.2f} pp", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        print(f"{variant}: tau {tau:.3f}, knn gap {gap:.3f}, fit {fit_seconds:.0f} s", flush=True)
    fig.colorbar(sc, ax=axes, label="CIFAR-10 test accuracy (%)", shrink=0.8)
    fig.suptitle(f"NAS-Bench-201 embeddings h (trained on {args.train_size} archs, "
                 f"seed {args.seed}; {args.points} archs shown)", fontsize=10)
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    fig.savefig(args.out, dpi=110, bbox_inches="tight")
    stem = osp.splitext(args.out)[0]
    pd.concat(coords).to_csv(stem + ".csv", index=False)
    with open(stem + ".json", "w") as f:
        json.dump({"runs": summary, "train_size": args.train_size, "seed": args.seed,
                   "points": args.points, "neighbours": args.neighbours,
                   "hardware": {**hardware(), "cpu_count": os.cpu_count()}}, f, indent=2)
    print("wrote", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
