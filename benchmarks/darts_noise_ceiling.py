"""How far can any predictor rank DARTS214 by single-run accuracies? A ceiling from the curves
and from DARTS's published seed spread.

    python benchmarks/darts_noise_ceiling.py --out benchmarks/results/darts_noise_ceiling.json

Each of the 214 genotypes was trained once; its label is the best epoch of one 600-epoch
test-accuracy curve, so it is the network's true (seed-mean) accuracy plus seed noise of
standard deviation ``sigma``. A perfect predictor of the true accuracy, judged against these
labels, reaches a Kendall tau below 1. The script:

* measures the within-run noise: the standard deviation of each curve's last 50 epochs
  around a straight line (a lower bound of ``sigma``: a new seed also changes the weights,
  not only the epoch), and the tau between the label and the mean of the last 10 epochs;
* simulates the ceiling for several ``sigma``: true accuracies ``mu`` are the labels shrunk
  towards their mean so that ``var(mu) = var(y) - sigma^2``; a draw adds noise of ``sigma``
  to ``mu``; the ceiling is the mean tau(mu, mu + noise) over ``--draws`` draws. Published
  seed spreads: DARTS-V2 2.76 ± 0.09 % test error (Liu et al., 2019, 4 runs); Yang et al.
  report about 0.1-0.2 points for DARTS-space networks.
"""
from __future__ import annotations

import argparse
import json
import os.path as osp
import sys

import numpy as np

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from nb201_suite import write_json  # noqa: E402

#: Seed standard deviations (accuracy points) the ceiling is simulated for.
SIGMAS = (0.05, 0.09, 0.12, 0.15, 0.2)


def simulated_ceiling(y: np.ndarray, sigma: float, draws: int, seed: int) -> dict:
    """Mean and std of tau(mu, mu + N(0, sigma^2)) with ``mu`` the labels shrunk so that
    ``var(mu) = var(y) - sigma^2`` (``None`` when sigma exceeds the labels' spread)."""
    from hypernas_pyg.metrics import kendall_tau
    var = y.var()
    if sigma ** 2 >= var:
        return {"sigma": sigma, "tau_mean": None, "tau_std": None}
    mu = y.mean() + np.sqrt(1 - sigma ** 2 / var) * (y - y.mean())
    rng = np.random.default_rng(seed)
    taus = [kendall_tau(mu, mu + rng.normal(0, sigma, len(mu))) for _ in range(draws)]
    return {"sigma": sigma, "tau_mean": float(np.mean(taus)), "tau_std": float(np.std(taus)),
            "tau_gaussian": float(2 / np.pi * np.arcsin(np.sqrt(1 - sigma ** 2 / var)))}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", default=osp.join(osp.expanduser("~"), ".cache", "hypernas_pyg",
                                              "darts214"))
    p.add_argument("--out", default="benchmarks/results/darts_noise_ceiling.json")
    p.add_argument("--draws", type=int, default=500)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    from hypernas_pyg.datasets import DARTS214
    from hypernas_pyg.metrics import kendall_tau

    dataset = DARTS214(args.root, log=False)
    curves = dataset.curves.numpy().astype(np.float64)
    y = dataset.y[:, 1].numpy().astype(np.float64)
    tail = curves[:, -50:]
    epochs = np.arange(tail.shape[1])
    residual_sd = np.array([np.std(r - np.polyval(np.polyfit(epochs, r, 1), epochs), ddof=2)
                            for r in tail])
    result = {
        "archs": len(y), "label": "best epoch of one 600-epoch CIFAR-10 test curve (%)",
        "label_std": float(y.std()), "label_range": [float(y.min()), float(y.max())],
        "best_epoch_percentiles_5_50_95": np.percentile(curves.argmax(1), [5, 50, 95]).tolist(),
        "within_run_sd_last50_median": float(np.median(residual_sd)),
        "tau_label_vs_mean_last10": kendall_tau(y, curves[:, -10:].mean(1)),
        "tau_label_vs_last_epoch": kendall_tau(y, curves[:, -1]),
        "ceiling": [simulated_ceiling(y, s, args.draws, args.seed) for s in SIGMAS],
        "draws": args.draws, "seed": args.seed,
    }
    write_json(args.out, result)
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
