"""Search the DARTS space with a HyperNAS predictor fitted on 214 trained genotypes.

    HYPERNAS_MIRROR=../shared/data python examples/darts.py --out best_genotype.json
    python examples/train_darts.py --genotype best_genotype.json --device cuda   # then train it

No further labels: the predictor, fitted once on all 214 genotypes of ``DARTS214`` (each
trained for 600 epochs, one run), answers every query of a regularised evolution over the
whole space (about 1e18 genotypes). The genotype it returns is printed in DARTS's own
``Genotype(...)`` form and written as JSON with its predicted accuracy and its parameter
count at the evaluation size (20 cells, 36 channels). Its real accuracy takes a 600-epoch
training run (``examples/train_darts.py``). To let a real training run answer instead, wrap it
in a ``FunctionOracle`` and pass a ``concurrent.futures`` executor (e.g. a Dask client's) to
``search``.
"""
from __future__ import annotations

import argparse
import json
import os.path as osp

from hypernas_pyg import HyperNASPredictor
from hypernas_pyg.datasets import DARTS214
from hypernas_pyg.search import PredictorOracle, RegularizedEvolution


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=osp.join(osp.expanduser("~"), ".cache",
                                                   "hypernas_pyg", "darts214"))
    parser.add_argument("--variant", default="hypernas-p")
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--budget", type=int, default=1000,
                        help="genotypes the evolution asks the predictor about")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="JSON of the genotype found")
    args = parser.parse_args(argv)

    # 1. The labelled set and a predictor fitted on all of it.
    dataset = DARTS214(args.root)
    predictor = HyperNASPredictor(variant=args.variant, epochs=args.epochs, seed=args.seed,
                                  progress=False).fit(dataset)
    print(f"fitted {args.variant} on {len(dataset)} genotypes "
          f"(measured test accuracy {float(dataset.y[:, 1].min()):.2f}-"
          f"{float(dataset.y[:, 1].max()):.2f} %)")

    # 2. Evolution over the whole space, the predictor answering every query.
    space = dataset.space
    oracle = PredictorOracle(space, predictor, f"{args.variant} fitted on {dataset!r}")
    result = RegularizedEvolution().search(oracle, args.budget, seed=args.seed, progress=True)
    best = result.best_val_arch
    genotype = space.genotype(best).to_darts()
    network = space.build_network(best, **space.network_size("full"))
    params = sum(p.numel() for p in network.parameters())
    print(f"best of {result.num_queries} genotypes, predicted accuracy "
          f"{result.best_val_accuracy:.2f} % ({result.search_seconds:.0f} s):\n{genotype}\n"
          f"{params:,} parameters at 20 cells, 36 channels (without the auxiliary head)")

    # 3. The genotype for examples/train_darts.py (which reads best_val_arch).
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"best_val_arch": best, "genotype": genotype,
                       "predicted_accuracy": result.best_val_accuracy, "params": params,
                       "seed": args.seed, "variant": args.variant, "budget": args.budget}, f,
                      indent=2)


if __name__ == "__main__":
    main()
