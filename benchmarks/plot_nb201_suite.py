"""Figures of ``nb201_suite.py`` results: Kendall tau vs training size per method.

    python benchmarks/plot_nb201_suite.py benchmarks/results/nb201_suite.csv

Writes ``<stem>_methods.png`` (the variants, the baselines and the paper's
numbers) and ``<stem>_ablations.png`` (pruned vs full cell graphs, encoders, q,
positional encoding), each point the mean over seeds with the standard deviation
as error bar.
"""
from __future__ import annotations

import argparse
import os.path as osp
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import pandas as pd  # noqa: E402

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from nb201_suite import config_difference, read_results, stock_configs  # noqa: E402

# Reported NAS-Bench-201 Kendall tau (HyperNAS paper; 39/78/156/469 training archs).
PAPER = {"NP (paper)": [0.655, 0.626, 0.696, 0.757],
         "PINAT (paper)": [0.494, 0.549, 0.631, 0.706],
         "HyperNAS (paper)": [0.667, 0.677, 0.765, 0.836]}
PAPER_SIZES = [39, 78, 156, 469]
DEFAULT_Q = 1.5


def _label(r) -> str:
    parts = [r.variant]
    if r.encoder and r.encoder != "bigcn":
        parts.append(r.encoder)
    if r.context:
        parts.append(r.context)
    if r.variant == "hypernas" and not pd.isna(r.q) and r.q != DEFAULT_Q:
        parts.append(f"q={r.q:g}")
    return " / ".join(parts)


def _curves(ax, df: pd.DataFrame, paper: bool) -> None:
    df = df.assign(label=[_label(r) for r in df.itertuples()])
    for label, g in df.groupby("label", sort=True):
        s = g.groupby("train_size")["kendall_tau"].agg(["mean", "std"]).reset_index()
        ax.errorbar(s["train_size"], s["mean"], yerr=s["std"].fillna(0), marker="o", capsize=3,
                    label=label)
    if paper:
        for name, values in PAPER.items():
            ax.plot(PAPER_SIZES, values, linestyle="--", marker="x", alpha=0.6, label=name)
    sizes = sorted(set(df["train_size"]) | (set(PAPER_SIZES) if paper else set()))
    ax.set_xscale("log")
    ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    ax.set_xticks(sizes, [str(s) for s in sizes])
    ax.set_xlabel("training architectures")
    ax.set_ylabel("Kendall tau (all 15,625)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("csv")
    args = p.parse_args(argv)
    df = read_results(args.csv)
    diffs = pd.Series([config_difference(c, e) for c, e in zip(df["config"], stock_configs(df))],
                      index=df.index)
    # Runs with the library defaults apart from the studied switch; the full-graph runs
    # differ in prune_cells alone.
    full = df[diffs == "prune_cells=false"]
    df = df[diffs == ""]
    stem = osp.splitext(args.csv)[0]

    def plain(frame):
        return (frame["encoder"].isin(["bigcn", ""]) & (frame["context"] == "")
                & (frame["q"].isna() | (frame["q"] == DEFAULT_Q)))
    default = plain(df)

    fig, ax = plt.subplots(figsize=(7, 4.5))
    _curves(ax, df[default], paper=True)
    ax.set_title("NAS-Bench-201: predictor variants and baselines")
    fig.tight_layout()
    fig.savefig(stem + "_methods.png", dpi=120)
    print("wrote", stem + "_methods.png")

    neural = ["np", "hypernas-p", "hypernas"]
    cells = pd.concat([df[default & df["variant"].isin(neural)],
                       full[plain(full) & full["variant"].isin(neural)].assign(
                           context="full cells")])
    # Each ablation panel: its title and the runs it plots.
    studies = {
        "cell graph (pruned by default)": cells,
        "encoder": df[df["variant"].isin(["hypernas-p", "hypernas"]) & (df["context"] == "")
                      & (df["q"].isna() | (df["q"] == DEFAULT_Q))],
        "q (hypernas)": df[(df["variant"] == "hypernas") & (df["encoder"] == "bigcn")
                           & (df["context"] == "")],
        "cell context": df[df["variant"].isin(["hypernas-p", "hypernas"])
                           & (df["encoder"] == "bigcn")
                           & (df["q"].isna() | (df["q"] == DEFAULT_Q))],
    }
    fig, axes = plt.subplots(1, len(studies), figsize=(6 * len(studies), 4.5))
    for ax, (title, runs) in zip(axes, studies.items()):
        if len(runs):
            _curves(ax, runs, paper=False)
        ax.set_title(f"Ablation: {title}")
    fig.tight_layout()
    fig.savefig(stem + "_ablations.png", dpi=120)
    print("wrote", stem + "_ablations.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
