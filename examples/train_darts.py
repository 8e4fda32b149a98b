"""Train a DARTS genotype on CIFAR-10 with DARTS's evaluation recipe (GPU; hours).

    HYPERNAS_MIRROR=../shared/data python examples/train_darts.py --genotype best.json \\
        --device cuda --out runs/best
    python examples/train_darts.py --smoke          # a few CPU steps on a subset: does it run?

The defaults are DARTS's CIFAR-10 recipe: 20 cells, 36 initial channels, 600 epochs, batch 96,
SGD (lr 0.025, momentum 0.9, weight decay 3e-4) with a cosine schedule, gradient clipping at
5, cutout 16, drop path rising linearly to 0.2, the auxiliary head weighted 0.4; all 50,000
training images, accuracy on the 10,000 test images. ``--genotype`` takes anything
``DARTSSpace.parse`` reads (DARTS's ``Genotype(...)``, the canonical string, or the JSON that
``hypernas search --benchmark darts214`` writes, whose ``best_val_arch`` it reads).
A checkpoint (``<out>/last.pt``, weights only) is written every epoch and resumed from.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import os.path as osp
import time

import torch
from torch import nn

from hypernas_pyg.datasets import CIFAR10Images
from hypernas_pyg.spaces import DARTSSpace
from hypernas_pyg.spaces.darts import DARTSNetwork
from hypernas_pyg.spaces.darts.network import count_parameters

DARTS_V2 = ("Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), "
            "('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), "
            "('dil_conv_3x3', 2)], normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), "
            "('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), "
            "('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], "
            "reduce_concat=[2, 3, 4, 5])")


def read_genotype(text: str) -> str:
    """A genotype given inline or as a file (a search result JSON, or a text file)."""
    if osp.isfile(text):
        with open(text) as f:
            body = f.read()
        try:
            return json.loads(body)["best_val_arch"]
        except (ValueError, KeyError, TypeError):
            return body.strip()
    return text


def cutout(images: torch.Tensor, size: int, generator: torch.Generator) -> torch.Tensor:
    """Zeroes one ``size`` x ``size`` square per image, centred anywhere (DeVries & Taylor)."""
    n, _, h, w = images.shape
    cy = torch.randint(h, (n,), generator=generator)
    cx = torch.randint(w, (n,), generator=generator)
    ys, xs = torch.arange(h).view(1, h, 1), torch.arange(w).view(1, 1, w)
    lo_y, lo_x = (cy - size // 2).view(n, 1, 1), (cx - size // 2).view(n, 1, 1)
    keep = ~((ys >= lo_y) & (ys < lo_y + size) & (xs >= lo_x) & (xs < lo_x + size))
    return images * keep.unsqueeze(1).to(images.dtype)


def evaluate(model: nn.Module, data: CIFAR10Images, batch_size: int, device: str) -> float:
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for x, y in data.iter_batches(batch_size, device=device, augment=False):
            correct += int((model(x).argmax(1) == y).sum())
            total += len(y)
    return correct / total


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--genotype", default=DARTS_V2, help="genotype or file (default DARTS-V2)")
    p.add_argument("--root", default=osp.join(osp.expanduser("~"), ".cache", "hypernas_pyg",
                                              "cifar10"))
    p.add_argument("--out", default="runs/darts")
    p.add_argument("--epochs", type=int, default=600)
    p.add_argument("--batch-size", type=int, default=96)
    p.add_argument("--lr", type=float, default=0.025)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--weight-decay", type=float, default=3e-4)
    p.add_argument("--grad-clip", type=float, default=5.0)
    p.add_argument("--channels", type=int, default=36)
    p.add_argument("--layers", type=int, default=20)
    p.add_argument("--auxiliary-weight", type=float, default=0.4, help="0 drops the head")
    p.add_argument("--cutout", type=int, default=16, help="0 turns cutout off")
    p.add_argument("--drop-path", type=float, default=0.2)
    p.add_argument("--train-subset", type=int, default=None, help="train on this many images")
    p.add_argument("--test-subset", type=int, default=None)
    p.add_argument("--max-steps", type=int, default=None, help="stop after this many steps")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--smoke", action="store_true",
                   help="CPU check: 8 channels, 5 cells, 2 epochs of 3 steps on 96 images")
    args = p.parse_args(argv)
    if args.smoke:
        args.channels, args.layers, args.epochs, args.batch_size = 8, 5, 2, 32
        args.train_subset, args.test_subset, args.max_steps = 96, 64, 6

    torch.manual_seed(args.seed)
    genotype = DARTSSpace().parse(read_genotype(args.genotype))
    aux = args.auxiliary_weight > 0
    model = DARTSNetwork(genotype, channels=args.channels, layers=args.layers,
                         auxiliary=aux).to(args.device)
    print(f"genotype {DARTSSpace().to_string(genotype)}\n{count_parameters(model):,} parameters "
          f"(without the auxiliary head) at C={args.channels}, {args.layers} cells")
    train = CIFAR10Images(args.root, "train", subset=args.train_subset, seed=args.seed,
                          augment=True, held_out_fraction=0.0)
    test = CIFAR10Images(args.root, "test", subset=args.test_subset, seed=args.seed)
    opt = torch.optim.SGD(model.parameters(), args.lr, momentum=args.momentum,
                          weight_decay=args.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, args.epochs)
    os.makedirs(args.out, exist_ok=True)
    ckpt, start = osp.join(args.out, "last.pt"), 0
    if osp.exists(ckpt):
        state = torch.load(ckpt, map_location=args.device, weights_only=True)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        start = int(state["epoch"])
        print(f"resumed from {ckpt} at epoch {start}")
    gen = torch.Generator().manual_seed(args.seed)
    loss_fn, steps, history = nn.CrossEntropyLoss(), 0, []
    for epoch in range(start, args.epochs):
        model.train()
        model.drop_path_prob = args.drop_path * epoch / args.epochs
        t0, seen, total = time.perf_counter(), 0, 0.0
        for x, y in train.iter_batches(args.batch_size, shuffle=True, generator=gen,
                                       drop_last=True):
            if args.cutout:
                x = cutout(x, args.cutout, gen)
            x, y = x.to(args.device), y.to(args.device)
            out = model(x)
            logits, logits_aux = out if isinstance(out, tuple) else (out, None)
            loss = loss_fn(logits, y)
            if logits_aux is not None:
                loss = loss + args.auxiliary_weight * loss_fn(logits_aux, y)
            value = float(loss.detach())
            if not math.isfinite(value):
                raise FloatingPointError(f"loss {value} at epoch {epoch}; lower --lr")
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), args.grad_clip)
            opt.step()
            total, seen, steps = total + value * len(y), seen + len(y), steps + 1
            if args.max_steps and steps >= args.max_steps:
                break
        sched.step()
        acc = evaluate(model, test, 256, args.device)
        history.append({"epoch": epoch + 1, "train_loss": total / max(seen, 1),
                        "test_accuracy": acc, "seconds": time.perf_counter() - t0})
        print(f"epoch {epoch + 1}/{args.epochs}: loss {history[-1]['train_loss']:.4f}, "
              f"test accuracy {100 * acc:.2f} %")
        tmp = ckpt + ".tmp"
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(),
                    "sched": sched.state_dict(), "epoch": epoch + 1}, tmp)
        os.replace(tmp, ckpt)
        if args.max_steps and steps >= args.max_steps:
            break
    result = {"genotype": DARTSSpace().to_string(genotype), "history": history,
              "parameters": count_parameters(model), "args": vars(args)}
    with open(osp.join(args.out, "result.json"), "w") as f:
        json.dump(result, f, indent=2)
    return result


if __name__ == "__main__":
    main()
