"""The ``hypernas`` command line tool."""
from __future__ import annotations

import argparse
import inspect
import json
import logging
import os
import os.path as osp
import pickle
import sys
from typing import Optional, Sequence

from hypernas_pyg.atomic_file import atomic_file
from hypernas_pyg.datasets import BENCHMARK_ALIASES, BENCHMARKS
from hypernas_pyg.datasets.raw_files import default_root
from hypernas_pyg.nn.conv import CONVS
from hypernas_pyg.nn.models.cell_sequence_encoder import CONTEXTS
from hypernas_pyg.predictor import VARIANTS
from hypernas_pyg.training import AUX_PRESETS

#: Dataset options of ``evaluate`` and the dataset-class argument each sets.
DATASET_OPTIONS = {"dataset": "dataset", "subset": "subset", "prune_cells": "prune_cells"}


def positive_int(text: str) -> int:
    """An argparse type: an integer of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def check_output_paths(**paths: Optional[str]) -> None:
    """Checks, before any work, that every given output path can be written.

    Raises:
        ValueError: naming the option and the path when it is a directory, when its
            parent cannot be created (a file is in the way) or is not writable, or
            when two options name the same file.
    """
    seen: dict[str, str] = {}
    for option, path in paths.items():
        if path is None:
            continue
        flag = "--" + option.replace("_", "-")
        if not path or path.endswith(os.sep):
            raise ValueError(f"{flag} {path!r} is not a file path")
        full = osp.realpath(osp.abspath(osp.expanduser(path)))
        if osp.isdir(full):
            raise ValueError(f"{flag} {path!r} is a directory; give a file path")
        parent = osp.dirname(full)
        existing = parent
        while not osp.exists(existing):
            existing = osp.dirname(existing)
        if not osp.isdir(existing):
            raise ValueError(f"{flag} {path!r}: cannot create directory {parent!r} "
                             f"because {existing!r} is a file")
        if not os.access(existing, os.W_OK | os.X_OK):
            raise ValueError(f"{flag} {path!r}: directory {existing!r} is not writable")
        if osp.exists(full) and not os.access(full, os.W_OK):
            raise ValueError(f"{flag} {path!r}: the file exists and is not writable")
        if full in seen:
            raise ValueError(f"{flag} and {seen[full]} name the same file {path!r}; "
                             "give two different paths")
        seen[full] = flag


def _add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--variant", choices=list(VARIANTS), default="hypernas-p")
    p.add_argument("--encoder", choices=list(CONVS), default="bigcn")
    p.add_argument("--context", choices=list(CONTEXTS), default=None,
                   help="override the encoder context the variant implies")
    p.add_argument("--hidden-channels", type=int, default=None)
    p.add_argument("--num-layers", type=int, default=None)
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--q", type=float, default=None,
                   help="preference coefficient of the hypernas variant's two-task loss "
                   "(default 1.5; 2 is the Liebel & Koerner loss); hypernas only")
    p.add_argument("--proxy", choices=list(AUX_PRESETS), default=None,
                   help="size of the hypernetwork task's networks and images: small (CPU, "
                   "the default) or full (the benchmark network on 32x32 images, for a "
                   "GPU); hypernas(-h) only")
    p.add_argument("--aux-archs", type=int, default=None,
                   help="train the hypernetwork task on batches drawn from this many "
                   "unlabelled architectures sampled from the space (default: on the "
                   "labelled batch); hypernas(-h) only")
    p.add_argument("--aux-root", default=None,
                   help="CIFAR-10 cache directory of the hypernetwork task (default: "
                   "$HYPERNAS_ROOT/cifar10 or ~/.cache/hypernas_pyg/cifar10; the raw file "
                   "is copied from $HYPERNAS_MIRROR when set); hypernas(-h) only")
    p.add_argument("--rank-weight", type=float, default=None,
                   help="weight of a pairwise ranking term added to the MSE (default 0)")
    p.add_argument("--ensemble", type=int, default=None,
                   help="fit this many models from different seeds and average them "
                   "(default 1)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=positive_int, default=None, help="torch CPU threads")


def _add_data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--benchmark", choices=list(BENCHMARKS), default="nasbench201",
                   type=lambda name: BENCHMARK_ALIASES.get(name, name),
                   help="the benchmark table; also "
                   + ", ".join(f"{a} (= {b})" for a, b in BENCHMARK_ALIASES.items()))
    p.add_argument("--dataset", default=None,
                   help="the benchmark's image data set: cifar10 | cifar100 | ImageNet16-120 "
                   "(nasbench201; default cifar10)")
    p.add_argument("--subset", default=None,
                   help="part of the benchmark: all | naslib500 | tfrecord (nasbench101; "
                   "default all)")
    p.add_argument("--prune-cells", action=argparse.BooleanOptionalAction, default=None,
                   help="encode pruned cells (no none ops, no dead ops; the default) or, with "
                   "--no-prune-cells, every node of every cell (nasbench201)")
    p.add_argument("--root", default=None, help="dataset cache directory "
                   "(default: $HYPERNAS_ROOT or ~/.cache/hypernas_pyg)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hypernas", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)

    ev = sub.add_parser("evaluate", help="fit on N sampled architectures, rank the benchmark")
    _add_data_args(ev)
    _add_model_args(ev)
    ev.add_argument("--train-size", type=int, required=True)
    ev.add_argument("--seed", type=int, default=0)
    ev.add_argument("--json", default=None, help="write the results to this JSON file")
    ev.add_argument("--save", default=None, help="save the fitted predictor to this path")

    se = sub.add_parser("search", help="search the benchmark's space with a query budget")
    _add_data_args(se)
    _add_model_args(se)
    se.add_argument("--algorithm", choices=["random", "evolution", "predictor"],
                    default=None, help="default: predictor (guided evolution) on a table; "
                    "evolution when a predictor answers (--oracle predictor): refitting a "
                    "second predictor on the first one's answers would add nothing")
    se.add_argument("--predictor", choices=["hypernas", "gbdt"], default="hypernas",
                    help="the predictor of --algorithm predictor: HyperNASPredictor of "
                    "--variant, or the one-hot GBDT baseline")
    se.add_argument("--oracle", choices=["table", "pool", "predictor"], default=None,
                    help="what answers queries: the benchmark table (every architecture of "
                    "the space must be in it), the table with proposals kept to its "
                    "architectures (pool), or a predictor (--variant, --predictor) fitted on "
                    "the whole table, searching the whole space with no further labels "
                    "(default: table when the table holds the whole space, else predictor)")
    se.add_argument("--budget", type=positive_int, default=None,
                    help="distinct architectures to query (isomorphic repeats are free); "
                    "default 100, or 1000 when a predictor answers (a query is one forward "
                    "pass)")
    se.add_argument("--seed", type=int, default=0)
    se.add_argument("--population-size", type=positive_int, default=None,
                    help="regularised evolution's population (default 20)")
    se.add_argument("--sample-size", type=positive_int, default=None,
                    help="regularised evolution's tournament size (default 5)")
    se.add_argument("--initial-size", type=positive_int, default=None,
                    help="random architectures before the first predictor fit (default 10)")
    se.add_argument("--pool-size", type=positive_int, default=None,
                    help="candidates the predictor ranks per round (default 500)")
    se.add_argument("--per-round", type=positive_int, default=None,
                    help="candidates queried per round (default 10)")
    se.add_argument("--workers", type=positive_int, default=None,
                    help="query in this many processes (default: here, one by one)")
    se.add_argument("--json", default=None, help="write the result and history to this file")
    se.add_argument("--plot", default=None, help="write best accuracy against queries here")
    se.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                    help="progress bar (default: when stderr is a terminal)")

    pr = sub.add_parser("predict", help="score architecture strings with a saved predictor")
    pr.add_argument("checkpoint")
    pr.add_argument("archs", nargs="+", help="architecture strings")
    return parser


def _model_kwargs(args: argparse.Namespace, seed: int) -> dict:
    kwargs = {"variant": args.variant, "encoder": args.encoder, "context": args.context,
              "seed": seed, "device": args.device}
    for name in ("hidden_channels", "num_layers", "epochs", "lr", "q", "aux_root",
                 "aux_archs", "rank_weight", "ensemble"):
        value = getattr(args, name)
        if value is not None:
            kwargs[name] = value
    if args.proxy is not None:
        kwargs["proxy"] = kwargs["aux"] = args.proxy
    return kwargs


def _dataset_kwargs(args: argparse.Namespace) -> dict:
    """The dataset options given on the command line, checked against the benchmark's class."""
    cls = BENCHMARKS[args.benchmark]
    accepted = inspect.signature(cls.__init__).parameters
    kwargs = {}
    for option, argument in DATASET_OPTIONS.items():
        value = getattr(args, option, None)
        if value is None:
            continue
        if argument not in accepted:
            flag = "--" + option.replace("_", "-")
            raise ValueError(f"benchmark {args.benchmark!r} takes no {flag} option")
        kwargs[argument] = value
    return kwargs


def _load_benchmark(args: argparse.Namespace):
    root = args.root or osp.join(default_root(), args.benchmark)
    return BENCHMARKS[args.benchmark](root, log=False, **_dataset_kwargs(args))


def cmd_evaluate(args: argparse.Namespace) -> int:
    from hypernas_pyg.evaluation import evaluate_ranking, hardware
    from hypernas_pyg.predictor import HyperNASPredictor

    check_output_paths(json=args.json, save=args.save)  # before any work
    predictor = HyperNASPredictor(**_model_kwargs(args, args.seed))
    predictor.validate_params()
    _dataset_kwargs(args)
    dataset = _load_benchmark(args)
    result = evaluate_ranking(predictor, dataset, args.train_size, args.seed)
    result["args"] = {k: v for k, v in vars(args).items() if k != "func"}
    result["config"] = predictor.config()
    result["space"] = {"name": predictor.space_.name, **predictor.space_.get_config()}
    result["hardware"] = hardware()
    print(f"{dataset!r} {args.variant} ({args.encoder}) "
          f"N={args.train_size} seed={args.seed}: Kendall tau {result['kendall_tau']:.4f} "
          f"(held-out {result['kendall_tau_heldout']:.4f}), Spearman {result['spearman']:.4f}, "
          f"fit {result['fit_seconds']:.1f} s, predict {result['predict_seconds']:.2f} s "
          f"for {result['num_archs']} archs")
    if result.get("hyper_val_acc") is not None:
        print(f"hypernetwork validation accuracy {result['hyper_val_acc']:.4f}, "
              f"loss weights {result['loss_weights']}")
    if args.json:
        with atomic_file(args.json) as tmp, open(tmp, "w") as f:
            json.dump(result, f, indent=2)
    if args.save:
        predictor.save(args.save)
    return 0


#: Algorithm options of ``search`` and the algorithms that take them.
SEARCH_OPTIONS = {"population_size": "evolution", "sample_size": "evolution",
                  "initial_size": "predictor", "pool_size": "predictor",
                  "per_round": "predictor"}


def _search_defaults(args: argparse.Namespace) -> None:
    """Fills ``--oracle``, ``--algorithm`` and ``--budget`` left unset: a table that holds
    the whole space answers itself; a sample of a space (e.g. 214 trained genotypes) fits a
    predictor that answers, searched by evolution with a larger budget."""
    if args.oracle is None:
        covers = getattr(BENCHMARKS[args.benchmark], "covers_space", True)
        args.oracle = "table" if covers and args.subset in (None, "all") else "predictor"
    if args.algorithm is None:
        args.algorithm = "evolution" if args.oracle == "predictor" else "predictor"
    if args.budget is None:
        args.budget = 1000 if args.oracle == "predictor" else 100


def _search_algorithm(args: argparse.Namespace):
    from hypernas_pyg.search import ALGORITHMS

    kwargs = {}
    for option, algorithm in SEARCH_OPTIONS.items():
        value = getattr(args, option)
        if value is None:
            continue
        if algorithm != args.algorithm:
            raise ValueError(f"--{option.replace('_', '-')} is an option of --algorithm "
                             f"{algorithm}, not {args.algorithm}")
        kwargs[option] = value
    if args.algorithm != "predictor":
        return ALGORITHMS[args.algorithm](**kwargs)
    return ALGORITHMS["predictor"](_search_predictor(args), **kwargs)


def _search_predictor(args: argparse.Namespace):
    """The predictor of ``--predictor`` (and ``--variant`` ...), checked, unfitted."""
    if args.predictor == "gbdt":
        from hypernas_pyg.baselines import OneHotGBDTPredictor
        return OneHotGBDTPredictor(seed=args.seed)
    from hypernas_pyg.predictor import HyperNASPredictor
    predictor = HyperNASPredictor(**_model_kwargs(args, args.seed), progress=False)
    predictor.validate_params()
    return predictor


def _search_oracle(args: argparse.Namespace, dataset):
    from hypernas_pyg.search import PoolSpace, PredictorOracle, TableOracle

    if args.oracle == "table":
        return TableOracle(dataset)
    if args.oracle == "pool":
        oracle = TableOracle(dataset)
        oracle.space = PoolSpace(dataset.space, dataset.archs)
        return oracle
    predictor = _search_predictor(args).fit(dataset)
    return PredictorOracle(dataset.space, predictor,
                           f"{type(predictor).__name__} fitted on all of {dataset!r}")


def cmd_search(args: argparse.Namespace) -> int:
    check_output_paths(json=args.json, plot=args.plot)  # before any work
    if args.plot:
        try:
            import matplotlib
            matplotlib.use("Agg")  # files only, no display
        except ImportError:
            raise ValueError("--plot needs matplotlib: pip install 'hypernas_pyg[benchmarks]'"
                             ) from None
    if args.seed < 0:
        raise ValueError(f"--seed must be a non-negative integer, got {args.seed}")
    _search_defaults(args)
    algorithm = _search_algorithm(args)
    algorithm.validate_params()
    dataset = _load_benchmark(args)
    oracle = _search_oracle(args, dataset)
    progress = sys.stderr.isatty() if args.progress is None else args.progress
    executor = None
    if args.workers:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor
        executor = ProcessPoolExecutor(args.workers,
                                       mp_context=multiprocessing.get_context("spawn"))
    try:
        result = algorithm.search(oracle, args.budget, args.seed, executor, progress)
    finally:
        if executor is not None:
            executor.shutdown()
    note = " (validation = test: the table has one accuracy)" if result.validation_is_test \
        else ""
    test = ("" if result.best_val_test_accuracy is None else
            f" (test {result.best_val_test_accuracy:.2f}){note}, best test "
            f"{result.best_test_accuracy:.2f}")
    optimum = oracle.best_possible()
    print(f"{dataset!r} {result.algorithm['name']} on {args.oracle} budget={args.budget} "
          f"seed={args.seed}: best by validation {result.best_val_accuracy:.2f}{test}, "
          f"{result.num_queries} queries, {result.search_seconds:.1f} s"
          + (f"; optimum {optimum}" if optimum else ""))
    print(f"best architecture by validation: {result.best_val_arch}")
    extra = {}
    if args.oracle == "predictor":
        from hypernas_pyg.data.inputs import training_targets
        labels = training_targets(dataset, len(dataset), None)
        extra["fitted_label_range"] = [float(labels.min()), float(labels.max())]
        print(f"predicted {result.best_val_accuracy:.2f}; the {len(labels)} labels it was fitted "
              f"on span {labels.min():.2f} to {labels.max():.2f}"
              + (" (a prediction above them is an extrapolation)"
                 if result.best_val_accuracy > labels.max() else ""))
    genotype = getattr(oracle.space, "genotype", None)
    if callable(genotype) and hasattr(genotype(result.best_val_arch), "to_darts"):
        extra["best_val_genotype"] = genotype(result.best_val_arch).to_darts()
        print(extra["best_val_genotype"])
    if oracle.space.has_network:
        size = oracle.space.network_size("full")
        net = oracle.space.build_network(result.best_val_arch, **size)
        extra["best_val_params_full"] = sum(p.numel() for p in net.parameters())
        print(f"its network at the full size {size}: {extra['best_val_params_full']:,} "
              "parameters")
    if args.json:
        result.to_json(args.json, args={k: v for k, v in vars(args).items() if k != "func"},
                       optimum=oracle.best_possible(), **extra)
    if args.plot:
        ax = result.plot()
        if oracle.best_possible():
            ax.axhline(oracle.best_possible()["test"], color="grey", lw=0.8, ls=":")
        with atomic_file(args.plot) as tmp:
            ax.figure.savefig(tmp, dpi=120, bbox_inches="tight",
                              format=osp.splitext(args.plot)[1][1:] or "png")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from hypernas_pyg.predictor import HyperNASPredictor

    predictor = HyperNASPredictor.load(args.checkpoint)
    for arch, acc in zip(args.archs, predictor.predict(args.archs)):
        print(f"{acc:.4f}\t{arch}")
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING)
    if getattr(args, "threads", None):
        import torch
        torch.set_num_threads(args.threads)
    try:
        return {"evaluate": cmd_evaluate, "search": cmd_search,
                "predict": cmd_predict}[args.command](args)
    # User errors: bad arguments or files (OSError covers FileNotFoundError and
    # unreadable paths), foreign pickles, and diverged fits. Anything else is a bug
    # and keeps its traceback.
    except (ValueError, OSError, pickle.UnpicklingError, FloatingPointError) as exc:
        print(f"hypernas: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
