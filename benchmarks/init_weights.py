"""Generated initial weights vs random initialisation of a real NAS-Bench-201 network.

A ``hypernas`` predictor is fitted on ``--train-size`` NAS-Bench-201 architectures
(``sample_train_indices(15625, train_size, seed)``) with its default proxy
(``"small"``: C=8, N=1, 16x16 CIFAR-10 images). For ``--num-archs`` held-out
architectures (not in the training set, with an input-output path through the
cell and at least one convolution on it), the real network
``NASBench201Network.from_arch(arch, C=C, N=N)`` (the predictor's network size) is built twice:

- ``generated``: ``load_state_dict(predictor.generate_weights(arch))``;
- ``random``: PyTorch's default initialisation, drawn with ``--seed``.

Both are fine-tuned with the same budget (SGD with Nesterov momentum and a
cosine schedule to 0, augmented batches of the CIFAR-10 ``train`` split, the same image
order and augmentation draws for both), and their accuracy on the CIFAR-10
``heldout`` split (disjoint from ``train``) is measured before fine-tuning and
at every step of ``--eval-steps``.

BatchNorm. The generated weights were trained with batch statistics and come
with fresh running statistics (mean 0, variance 1), so an ``eval()`` network
would normalise with meaningless statistics. For a fair comparison, *both*
inits are scored the same way, on a copy of the network: the running
statistics are reset and re-estimated (cumulative average) over
``--bn-batches`` non-augmented training batches (the same batches for both
inits), then the copy is evaluated in ``eval()`` mode (``heldout_acc``). As a
cross-check, ``heldout_acc_batchstats`` scores the network in training mode
(batch statistics over shuffled held-out batches of ``--batch-size``), the
regime the hypernetwork was trained in.

One row per (arch, init, steps) goes to the CSV; the JSON next to it records
the seeds, sizes, the architectures, the predictor's config and the hardware.

    python benchmarks/init_weights.py --out benchmarks/results/init_weights.csv
"""
from __future__ import annotations

import argparse
import copy
import json
import logging
import math
import os
import os.path as osp
import sys
import time

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from hypernas_pyg import HyperNASPredictor
from hypernas_pyg.datasets import CIFAR10Images, NASBench201
from hypernas_pyg.evaluation import hardware, sample_train_indices
from hypernas_pyg.spaces import NASBench201Network

logger = logging.getLogger("init_weights")
INITS = ("generated", "random")


def fit_or_load(args, dataset: NASBench201,
                train_idx: np.ndarray) -> tuple[HyperNASPredictor, float]:
    """The fitted ``hypernas`` predictor: loaded from ``--predictor`` when it exists, else
    fitted and saved there. Returns the predictor and the fit time (0 when loaded)."""
    if args.predictor and osp.exists(args.predictor):
        predictor = HyperNASPredictor.load(args.predictor)
        params = predictor.get_params()
        if params["variant"] != "hypernas" or params["seed"] != args.predictor_seed:
            raise ValueError(f"{args.predictor} holds a {params['variant']!r} predictor with "
                             f"seed {params['seed']}; expected 'hypernas' with seed "
                             f"{args.predictor_seed}")
        logger.info("loaded the predictor from %s", args.predictor)
        return predictor, 0.0
    predictor = HyperNASPredictor(variant="hypernas", seed=args.predictor_seed,
                                  aux_root=args.cifar_root, progress=False)
    t0 = time.perf_counter()
    predictor.fit(dataset[torch.as_tensor(train_idx)])
    fit_s = time.perf_counter() - t0
    logger.info("fitted in %.1f s; hypernetwork validation accuracy %.4f", fit_s,
                predictor.hyper_val_acc_)
    if args.predictor:
        predictor.save(args.predictor)
        logger.info("saved the predictor to %s", args.predictor)
    return predictor, fit_s


def pick_archs(space, exclude: set[str], num: int, seed: int) -> list[str]:
    """``num`` distinct archs drawn with ``seed``, not in ``exclude``, whose pruned cell has
    an input-output path with at least one convolution on it."""
    rng = np.random.default_rng(seed)
    out: list[str] = []
    for _ in range(1000):
        arch = space.sample(1, rng)[0]
        if arch in exclude or arch in out:
            continue
        cell = space.pruned_cell(arch)
        if cell.edges and any("conv" in op for op in cell.ops):
            out.append(arch)
            if len(out) == num:
                return out
    raise ValueError(f"could not draw {num} held-out architectures with a convolution path")


def build(arch: str, init: str, predictor: HyperNASPredictor, seed: int) -> NASBench201Network:
    size = predictor.network_size_
    torch.manual_seed(seed)  # the same draws for both inits (the random one keeps them)
    net = NASBench201Network.from_arch(arch, C=size["C"], N=size["N"])
    if init == "generated":
        net.load_state_dict(predictor.generate_weights(arch))
    return net


@torch.no_grad()
def score(net: nn.Module, bn_batches: list[Tensor], heldout: tuple[Tensor, Tensor],
          batch_size: int) -> tuple[float, float]:
    """(eval-mode accuracy after re-estimating BN statistics, train-mode accuracy)."""
    images, labels = heldout
    probe = copy.deepcopy(net)
    for m in probe.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None  # cumulative average over the calibration batches
    probe.train()
    for x in bn_batches:
        probe(x)
    probe.eval()
    correct = sum(int((probe(x).argmax(1) == y).sum())
                  for x, y in zip(images.split(1000), labels.split(1000)))
    acc_eval = correct / len(labels)
    probe = copy.deepcopy(net).train()  # batch statistics: running stats untouched on a copy
    chunks = math.ceil(len(labels) / batch_size)
    correct = sum(int((probe(x).argmax(1) == y).sum())
                  for x, y in zip(images.tensor_split(chunks), labels.tensor_split(chunks)))
    return acc_eval, correct / len(labels)


def finetune(net: nn.Module, train: CIFAR10Images, args, eval_fn) -> list[dict]:
    """Trains ``net`` for ``args.steps`` steps; returns one record per evaluation step."""
    gen = torch.Generator().manual_seed(args.seed)  # image order and augmentation
    opt = torch.optim.SGD(net.parameters(), lr=args.lr, momentum=args.momentum,
                          weight_decay=args.weight_decay, nesterov=True)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.steps)
    evals = set(args.eval_steps) | {0, args.steps}
    records, losses = [], []
    t0 = time.perf_counter()
    for step in range(args.steps + 1):
        if step in evals:
            acc, acc_bs = eval_fn(net)
            recent = losses[-args.loss_window:]
            records.append({"steps": step, "heldout_acc": acc, "heldout_acc_batchstats": acc_bs,
                            "train_loss": float(np.mean(recent)) if recent else float("nan"),
                            "finetune_seconds": time.perf_counter() - t0})
        if step == args.steps:
            break
        net.train()
        x, y = train.sample_batch(args.batch_size, generator=gen)
        opt.zero_grad()
        loss = F.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
    return records


def summarise(df: pd.DataFrame) -> str:
    g = df.groupby(["steps", "init"])
    t = g.agg(acc=("heldout_acc", "mean"), acc_std=("heldout_acc", "std"),
              acc_bs=("heldout_acc_batchstats", "mean"), archs=("arch", "nunique"),
              loss=("train_loss", "mean")).reset_index()
    lines = ["| steps | init | held-out acc (BN re-estimated) | held-out acc (batch stats) | "
             "train loss | archs |", "|---|---|---|---|---|---|"]
    for r in t.itertuples():
        loss = "-" if np.isnan(r.loss) else f"{r.loss:.3f}"
        lines.append(f"| {r.steps} | {r.init} | {r.acc:.4f} ± {r.acc_std:.4f} | "
                     f"{r.acc_bs:.4f} | {loss} | {r.archs} |")
    lines += ["", "| arch | steps | generated | random |", "|---|---|---|---|"]
    wide = df.pivot_table(index=["arch", "steps"], columns="init", values="heldout_acc")
    for (arch, steps), r in wide.iterrows():
        name = arch.replace("|", "\\|")  # a bare pipe would split the markdown cell
        lines.append(f"| `{name}` | {steps} | {r['generated']:.4f} | {r['random']:.4f} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="benchmarks/results/init_weights.csv")
    p.add_argument("--root", default=osp.join(osp.expanduser("~"), ".cache", "hypernas_pyg",
                                              "nasbench201"), help="NAS-Bench-201 root")
    p.add_argument("--cifar-root", default=osp.join(osp.expanduser("~"), ".cache",
                                                    "hypernas_pyg", "cifar10"))
    p.add_argument("--predictor", default="",
                   help="checkpoint path: loaded when it exists, else the fit is saved there")
    p.add_argument("--train-size", type=int, default=78)
    p.add_argument("--predictor-seed", type=int, default=0)
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the held-out archs, random init and image order")
    p.add_argument("--num-archs", type=int, default=4)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--eval-steps", nargs="*", type=int, default=[50])
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--weight-decay", type=float, default=5e-4)
    p.add_argument("--heldout-images", type=int, default=2000)
    p.add_argument("--bn-batches", type=int, default=20,
                   help="non-augmented training batches that re-estimate BN statistics")
    p.add_argument("--loss-window", type=int, default=25,
                   help="training steps averaged into train_loss")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    if args.steps < 1 or any(not 0 <= s <= args.steps for s in args.eval_steps):
        raise SystemExit("--steps must be positive and every --eval-steps in 0..--steps")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(args.threads)
    start = time.perf_counter()

    dataset = NASBench201(args.root, log=False)
    train_idx = sample_train_indices(len(dataset), args.train_size, args.predictor_seed)
    predictor, fit_s = fit_or_load(args, dataset, train_idx)
    size, image_size = predictor.network_size_, predictor.aux_.image_size
    train_archs = {dataset.archs[i] for i in train_idx}
    archs = pick_archs(predictor.space_, train_archs, args.num_archs, args.seed)

    train = CIFAR10Images(args.cifar_root, split="train", image_size=image_size,
                          augment=True, log=False)
    heldout_ds = CIFAR10Images(args.cifar_root, split="heldout", subset=args.heldout_images,
                               seed=args.seed, image_size=image_size, log=False)
    order = torch.randperm(len(heldout_ds), generator=torch.Generator().manual_seed(args.seed))
    heldout = (heldout_ds.transform_batch(heldout_ds.images[order], augment=False),
               heldout_ds.labels[order])
    g = torch.Generator().manual_seed(args.seed + 1)
    bn_batches = [train.sample_batch(args.batch_size, generator=g, augment=False)[0]
                  for _ in range(args.bn_batches)]

    def eval_fn(net):
        return score(net, bn_batches, heldout, args.batch_size)

    config = {"train_size": args.train_size, "predictor_seed": args.predictor_seed,
              "C": size["C"], "N": size["N"], "image_size": image_size,
              "batch_size": args.batch_size, "lr": args.lr, "momentum": args.momentum,
              "nesterov": True, "schedule": "cosine", "augment": True,
              "weight_decay": args.weight_decay, "budget": args.steps,
              "heldout_images": len(heldout[1]), "bn_batches": args.bn_batches}
    rows = []
    for arch in archs:
        for init in INITS:
            net = build(arch, init, predictor, args.seed)
            for rec in finetune(net, train, args, eval_fn):
                row = {"arch": arch, "init": init, **rec, "seed": args.seed, **config}
                rows.append(row)
                logger.info("%s %-9s step %3d  acc %.4f  (batch stats %.4f)", arch, init,
                            rec["steps"], rec["heldout_acc"], rec["heldout_acc_batchstats"])
    df = pd.DataFrame(rows)
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    df.to_csv(args.out, index=False)
    summary = summarise(df)
    stem = osp.splitext(args.out)[0]
    with open(stem + ".md", "w") as f:
        f.write(summary)
    runtime = time.perf_counter() - start
    meta = {"seed": args.seed, "predictor_seed": args.predictor_seed,
            "train_size": args.train_size, "num_archs": args.num_archs, "archs": archs,
            "steps": args.steps, "eval_steps": sorted(set(args.eval_steps) | {0, args.steps}),
            "config": config, "predictor": predictor.get_params(),
            "predictor_checkpoint": args.predictor or None,
            "hyper_val_acc": predictor.hyper_val_acc_, "fit_seconds": fit_s,
            "runtime_seconds": runtime,
            "bn_protocol": "running stats reset and re-estimated (cumulative) on bn_batches "
                           "non-augmented train batches for both inits, then eval(); "
                           "heldout_acc_batchstats: train-mode batch statistics",
            "hardware": {**hardware(), "cpu_count": os.cpu_count()}}
    with open(stem + ".json", "w") as f:
        json.dump(meta, f, indent=2)
    print(summary)
    print(f"runtime {runtime:.1f} s (fit {fit_s:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
