"""The README's headline table: our default methods next to the paper, from ``nb201_suite.csv``.

    python benchmarks/headline_table.py benchmarks/results/nb201_suite.csv \\
        --out benchmarks/results/nb201_headline.md --readme README.md
    python benchmarks/headline_table.py benchmarks/results/nb201_final.csv \\
        --seeds 10 11 12 13 14 15 16 17 18 19 --out benchmarks/results/nb201_final_headline.md \\
        --readme README.md --marker final

Rows are the default configuration of each method (BiGCN encoder, the
variant's own cell context, q = 1.5) and the baselines; cells are Kendall tau
mean ± std over the seeds found (their count in brackets when fewer than asked; runs
whose predictions did not rank count as 0 and are counted in brackets), blank where a size
has not been run. The paper's NAS-Bench-201 figures follow.
"""
from __future__ import annotations

import argparse
import os.path as osp
import sys

import pandas as pd

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from nb201_suite import SIZES, read_results, stock_mask  # noqa: E402
from plot_nb201_suite import DEFAULT_Q, PAPER, PAPER_SIZES  # noqa: E402

NAMES = {"hypernas": "HyperNAS, ours", "hypernas-p": "HyperNAS-P, ours",
         "hypernas-h": "HyperNAS-H, ours", "np": "NP, ours",
         "gbdt": "GBDT on one-hot ops, ours", "random": "random ranking"}


def headline(df: pd.DataFrame, seeds: list[int]) -> str:
    default = (stock_mask(df) & df["encoder"].isin(["bigcn", ""]) & (df["context"] == "")
               & (df["q"].isna() | (df["q"] == DEFAULT_Q)) & df["seed"].isin(seeds))
    df = df[default]
    sizes = [s for s in SIZES if s in set(df["train_size"])]
    lines = ["| N train | " + " | ".join(str(s) for s in sizes) + " |",
             "|---|" + "---|" * len(sizes)]
    for variant, name in NAMES.items():
        g = df[df["variant"] == variant]
        if g.empty:
            continue
        cells = []
        for s in sizes:
            runs = g[g["train_size"] == s]
            t = runs["kendall_tau"]
            if t.empty:
                cells.append("")
                continue
            notes = [] if len(t) == len(seeds) else [f"{len(t)} seeds"]
            flat = int(runs["no_ranking"].sum())
            if flat:  # counted as 0 (see nb201_suite.read_results)
                notes.append(f"{flat} without ranking")
            n = f" ({', '.join(notes)})" if notes else ""
            cells.append(f"{t.mean():.3f} ± {t.std():.3f}{n}" if len(t) > 1
                         else f"{t.mean():.3f}{n}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    for name, values in PAPER.items():
        paper = dict(zip(PAPER_SIZES, values))
        lines.append(f"| {name} | " + " | ".join(f"{paper[s]:.3f}" if s in paper else ""
                                                   for s in sizes) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("csv")
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    p.add_argument("--out", default=None, help="markdown file (default: print only)")
    p.add_argument("--readme", default=None,
                   help="also replace the table between the markers of this file")
    p.add_argument("--marker", default="headline",
                   help="the markers are <!-- MARKER:start --> and <!-- MARKER:end -->")
    args = p.parse_args(argv)
    table = headline(read_results(args.csv), args.seeds)
    if args.out:
        with open(args.out, "w") as f:
            f.write(table)
    if args.readme:
        with open(args.readme) as f:
            text = f.read()
        markers = (f"<!-- {args.marker}:start -->", f"<!-- {args.marker}:end -->")
        start, end = text.find(markers[0]), text.find(markers[1])
        if start < 0 or end < start:
            raise SystemExit(f"{args.readme} lacks the markers {markers[0]} ... {markers[1]}")
        text = text[:start + len(markers[0])] + "\n" + table + text[end:]
        with open(args.readme, "w") as f:
            f.write(text)
    print(table, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
