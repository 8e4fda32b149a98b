"""The ranking protocol: train on N sampled architectures, rank the whole benchmark."""
from __future__ import annotations

import platform
import time
from typing import Any

import numpy as np
import torch
from torch_geometric.data import InMemoryDataset

from hypernas_pyg.metrics import kendall_tau, precision_at_k, spearman_rho
from hypernas_pyg.estimator import Predictor


def sample_train_indices(num_archs: int, train_size: int, seed: int) -> np.ndarray:
    """``train_size`` distinct indices out of ``num_archs``, drawn with ``seed``."""
    if not 2 <= train_size < num_archs:
        raise ValueError(f"train_size must be in 2..{num_archs - 1}, got {train_size}")
    return np.sort(np.random.default_rng(seed).choice(num_archs, train_size, replace=False))


def hardware() -> dict[str, Any]:
    """A short description of the machine, for result files."""
    return {"machine": platform.machine(), "processor": platform.processor() or "unknown",
            "python": platform.python_version(), "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(),
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}


def evaluate_ranking(predictor: Predictor, dataset: InMemoryDataset, train_size: int,
                     seed: int, top_k: tuple[int, ...] = (10, 50, 100),
                     score_sample: int | None = None) -> dict[str, Any]:
    """Fits ``predictor`` on ``train_size`` architectures sampled with ``seed`` and ranks all.

    The predictor is trained on the dataset's training target (``y[:, 0]``) and
    judged against its evaluation target (``y[:, 1]``) over every architecture
    and over the held-out ones (those not trained on).

    ``score_sample`` ranks a fixed uniform sample of that many architectures instead of
    all of them (the same sample for every seed and predictor; for quick tuning runs).

    Returns:
        A dict with ``kendall_tau``, ``kendall_tau_heldout``, ``spearman``,
        ``precision_at_<k>``, ``fit_seconds``, ``predict_seconds``, ``num_archs``,
        ``train_size``, ``hyper_val_acc`` (the hypernetwork validation accuracy,
        ``None`` for the predictor-only variants) and ``loss_weights`` (the learned
        task weights ``{"predictor": w, "hypernet": w}`` of the ``hypernas``
        variant, else ``None``).
    """
    train_idx = sample_train_indices(len(dataset), train_size, seed)
    t0 = time.perf_counter()
    predictor.fit(dataset[torch.as_tensor(train_idx)])
    fit_seconds = time.perf_counter() - t0
    scored = np.arange(len(dataset))
    if score_sample is not None:
        if not train_size < score_sample <= len(dataset):
            raise ValueError(f"score_sample must be in {train_size + 1}..{len(dataset)}, "
                             f"got {score_sample}")
        scored = np.sort(np.random.default_rng(2**31 - 1).choice(
            len(dataset), score_sample, replace=False))
    ranked = dataset if score_sample is None else dataset[torch.as_tensor(scored)]
    t0 = time.perf_counter()
    pred = predictor.predict(ranked)
    predict_seconds = time.perf_counter() - t0
    target = ranked.y[:, 1].numpy() if hasattr(ranked, "y") else np.array(
        [float(d.y[0, 1]) for d in ranked])
    heldout = ~np.isin(scored, train_idx)
    out = {"kendall_tau": kendall_tau(pred, target),
           "kendall_tau_heldout": kendall_tau(pred[heldout], target[heldout]),
           "spearman": spearman_rho(pred, target)}
    for k in top_k:
        out[f"precision_at_{k}"] = precision_at_k(pred, target, k)
    out.update(fit_seconds=fit_seconds, predict_seconds=predict_seconds,
               num_archs=len(scored), train_size=train_size,
               hyper_val_acc=getattr(predictor, "hyper_val_acc_", None),
               loss_weights=getattr(predictor, "loss_weights_", None))
    return out
