"""Find a good NAS-Bench-201 cell with 100 queries, guided by a HyperNAS predictor.

    HYPERNAS_MIRROR=../shared/data python examples/search_nasbench201.py --budget 100

The benchmark table answers the queries: the search sees each cell's ``cifar10-valid``
validation accuracy and never its CIFAR-10 test accuracy, which is reported at the end.
To search with real training runs instead, wrap your training function in a
``FunctionOracle`` and pass ``executor=client.get_executor()`` of a Dask client (or any
``concurrent.futures`` executor) to ``search``: each round's queries then run in parallel.
"""
from __future__ import annotations

import argparse
import os.path as osp

from hypernas_pyg import HyperNASPredictor
from hypernas_pyg.datasets import NASBench201
from hypernas_pyg.search import (PredictorGuidedEvolution, RandomSearch, RegularizedEvolution,
                                 TableOracle)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=osp.join(osp.expanduser("~"), ".cache",
                                                   "hypernas_pyg", "nasbench201"))
    parser.add_argument("--budget", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", default=None, help="PNG of best accuracy against queries")
    args = parser.parse_args()

    # 1. The oracle: the table, looked up by canonical key (isomorphic cells cost one query).
    oracle = TableOracle(NASBench201(args.root, dataset="cifar10"))
    print(f"{len(oracle)} distinct cells; best test accuracy in the space "
          f"{oracle.best_possible()['test']:.2f}")

    # 2. Three searches with the same budget and seed.
    predictor = HyperNASPredictor(variant="hypernas-p", seed=args.seed, progress=False)
    searches = {"random": RandomSearch(),
                "evolution": RegularizedEvolution(population_size=20, sample_size=5),
                "hypernas-p guided": PredictorGuidedEvolution(predictor, initial_size=10,
                                                              per_round=10)}
    results = {}
    for name, algorithm in searches.items():
        results[name] = r = algorithm.search(oracle, args.budget, seed=args.seed,
                                             progress=True)
        print(f"{name:>18}: best by validation {r.best_val_accuracy:.2f}, its test accuracy "
              f"{r.best_val_test_accuracy:.2f} (best test seen {r.best_test_accuracy:.2f}), "
              f"{r.search_seconds:.0f} s")
    print("cell found by the guided search:", results["hypernas-p guided"].best_val_arch)

    # 3. The history is a table; the curves are one call each.
    print(results["hypernas-p guided"].to_pandas().tail())
    if args.plot:
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(6, 4))
        for name, r in results.items():
            r.plot(ax, label=name)
        fig.savefig(args.plot, dpi=120, bbox_inches="tight")


if __name__ == "__main__":
    main()
