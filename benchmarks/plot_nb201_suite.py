"""Plot Kendall tau vs training size from a results CSV of ``nb201_variants.py``.

    python benchmarks/plot_nb201_variants.py benchmarks/results/nb201_variants.csv
"""
from __future__ import annotations

import argparse
import os.path as osp
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.ticker  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

# Reported NAS-Bench-201 Kendall tau (HyperNAS paper, Table: 39/78/156/469 archs).
PAPER = {"NP (paper)": [0.655, 0.626, 0.696, 0.757],
         "PINAT (paper)": [0.494, 0.549, 0.631, 0.706],
         "HyperNAS (paper)": [0.667, 0.677, 0.765, 0.836]}
PAPER_SIZES = [39, 78, 156, 469]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("csv")
    p.add_argument("--out", default=None, help="PNG path (default: next to the CSV)")
    args = p.parse_args(argv)
    df = pd.read_csv(args.csv)
    df["context"] = df["context"].astype(object).fillna("")
    fig, ax = plt.subplots(figsize=(6, 4))
    for (variant, encoder, context), g in df.groupby(["variant", "encoder", "context"]):
        s = g.groupby("train_size")["kendall_tau"].agg(["mean", "std"]).reset_index()
        label = f"{variant} ({encoder}{', ' + context if context else ''}), ours"
        ax.errorbar(s["train_size"], s["mean"], yerr=s["std"], marker="o", capsize=3, label=label)
    for name, values in PAPER.items():
        ax.plot(PAPER_SIZES, values, linestyle="--", marker="x", alpha=0.6, label=name)
    ax.set_xscale("log")
    ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    ax.set_xticks(PAPER_SIZES, [str(s) for s in PAPER_SIZES])
    ax.set_xlabel("training architectures")
    ax.set_ylabel("Kendall tau (all 15,625, CIFAR-10 test)")
    ax.set_title("NAS-Bench-201 ranking quality")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    out = args.out or osp.splitext(args.csv)[0] + ".png"
    fig.savefig(out, dpi=120)
    print("wrote", out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
