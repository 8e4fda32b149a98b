"""``HyperNASPredictor``: the estimator users fit, predict with, save and load."""
from __future__ import annotations

import logging
import os
import os.path as osp
import sys
import tempfile
from typing import Any, Iterator, Optional, Sequence, Union

import numpy as np
import torch
from torch_geometric.data import Batch, Dataset, InMemoryDataset
from torch_geometric.loader import DataLoader
from tqdm.auto import tqdm

from hypernas_pyg.data.arch_data import ArchData, arch_to_data
from hypernas_pyg.data.collate import collate_in_memory
from hypernas_pyg.nn.models.hypernas import HyperNAS
from hypernas_pyg.spaces import SearchSpace, space_resolver

logger = logging.getLogger(__name__)

#: Training variants and the encoder context each implies.
VARIANTS: dict[str, str] = {"np": "none", "hypernas-p": "preceding"}
CHECKPOINT_FORMAT = 1

ArchInput = Union[Dataset, Sequence[ArchData], Sequence[str]]


class HyperNASPredictor:
    """Fits a HyperNAS accuracy predictor on architectures and ranks new ones.

    All hyper-parameters are set here; :meth:`fit` and :meth:`predict` take data only.
    Targets are standardised internally (mean 0, std 1 over the training set)
    and predictions are returned in the original units.

    Args:
        variant: ``"hypernas-p"`` (global cell-sequence encoding, predictor only)
            or ``"np"`` (isolated cells: the NP baseline).
        encoder: Message-passing layer: ``"bigcn"``, ``"gin"`` or ``"transformer"``.
        context: Overrides the encoder context the variant implies
            (``"preceding"``, ``"none"``, ``"positional"``); ``None`` keeps it.
        space: Search space name or instance (used to encode arch strings).
        hidden_channels: Embedding size.
        num_layers: Message-passing layers per cell.
        dropout: Dropout probability.
        epochs: Passes over the training set.
        batch_size: Architectures per optimisation step.
        lr: Adam learning rate.
        weight_decay: Adam weight decay.
        seed: Seed for initialisation, shuffling and dropout.
        device: Torch device, e.g. ``"cpu"`` or ``"cuda"``.
        progress: Show a progress bar (``None``: only when stderr is a terminal).
    """

    def __init__(self, variant: str = "hypernas-p", encoder: str = "bigcn",
                 context: Optional[str] = None, space: Union[str, SearchSpace] = "nasbench201",
                 hidden_channels: int = 32, num_layers: int = 2, dropout: float = 0.0,
                 epochs: int = 300, batch_size: int = 64, lr: float = 1e-2,
                 weight_decay: float = 1e-4, seed: int = 0, device: str = "cpu",
                 progress: Optional[bool] = None) -> None:
        if variant not in VARIANTS:
            raise ValueError(f"Unknown variant {variant!r}; choose one of: {', '.join(VARIANTS)}")
        for name, value in (("hidden_channels", hidden_channels), ("num_layers", num_layers),
                            ("epochs", epochs), ("batch_size", batch_size)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not lr > 0:
            raise ValueError(f"lr must be positive, got {lr!r}")
        if weight_decay < 0:
            raise ValueError(f"weight_decay must be non-negative, got {weight_decay!r}")
        self.variant = variant
        self.encoder = encoder
        self.context = context
        self.space = space_resolver(space)
        self.hidden_channels = hidden_channels
        self.num_layers = num_layers
        self.dropout = dropout
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.seed = seed
        self.device = torch.device(device)
        self.progress = progress
        self.model_: Optional[HyperNAS] = None
        self.y_mean_: float = 0.0
        self.y_std_: float = 1.0
        with torch.random.fork_rng(devices=[]):
            self._build_model()  # validates encoder and context now, not at fit time

    # ------------------------------------------------------------ config
    def get_params(self) -> dict[str, Any]:
        """The constructor arguments (JSON-serialisable)."""
        return {"variant": self.variant, "encoder": self.encoder, "context": self.context,
                "space": self.space.name, "hidden_channels": self.hidden_channels,
                "num_layers": self.num_layers, "dropout": self.dropout, "epochs": self.epochs,
                "batch_size": self.batch_size, "lr": self.lr, "weight_decay": self.weight_decay,
                "seed": self.seed, "device": str(self.device), "progress": self.progress}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{self.__class__.__name__}({args})"

    @property
    def context_(self) -> str:
        return self.context if self.context is not None else VARIANTS[self.variant]

    def _build_model(self) -> HyperNAS:
        return HyperNAS(self.space.num_node_types, self.hidden_channels, self.num_layers,
                        conv=self.encoder, context=self.context_, dropout=self.dropout)

    # ------------------------------------------------------------ data
    def _as_data(self, archs: ArchInput, y: Optional[Sequence[float]] = None) -> list[ArchData]:
        items = list(archs) if not isinstance(archs, Dataset) else archs
        if len(items) == 0:
            raise ValueError("no architectures given")
        if isinstance(items, Dataset):
            data = items
        elif all(isinstance(a, str) for a in items):
            data = [arch_to_data(a, self.space) for a in items]
        elif all(isinstance(a, ArchData) for a in items):
            data = items
        else:
            kinds = sorted({type(a).__name__ for a in items})
            raise TypeError(f"architectures must be all strings or all ArchData, got {kinds}")
        return data

    def _targets(self, data: Any, y: Optional[Sequence[float]]) -> torch.Tensor:
        if y is not None:
            t = torch.as_tensor(np.asarray(y, dtype=np.float32)).view(-1)
            if t.numel() != len(data):
                raise ValueError(f"got {t.numel()} targets for {len(data)} architectures")
        else:
            try:
                t = torch.stack([d.y[0, 0] for d in data]).float()
            except (AttributeError, TypeError):
                raise ValueError("y is required when the architectures carry no 'y'") from None
        if not torch.isfinite(t).all():
            raise ValueError("targets contain NaN or infinite values")
        return t

    def _progress(self) -> bool:
        return self.progress if self.progress is not None else sys.stderr.isatty()

    # ------------------------------------------------------------ fit / predict
    def fit(self, archs: ArchInput, y: Optional[Sequence[float]] = None) -> "HyperNASPredictor":
        """Trains a fresh model.

        Args:
            archs: A PyG dataset or list of :class:`ArchData` (targets from
                ``data.y[:, 0]``, the training target) or a list of arch strings.
            y: Accuracies, one per architecture; required for strings and
                overriding ``data.y`` otherwise.
        """
        data = self._as_data(archs)
        t = self._targets(data, y)
        if len(data) < 2:
            raise ValueError(f"need at least 2 architectures to fit, got {len(data)}")
        self.y_mean_ = float(t.mean())
        self.y_std_ = float(t.std()) or 1.0
        data_list = []
        for d, target in zip(data, t):
            d = d.clone()
            d.target = target.view(1)
            data_list.append(d)

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            model = self._build_model().to(self.device)
            gen = torch.Generator().manual_seed(self.seed)
            loader = DataLoader(data_list, batch_size=min(self.batch_size, len(data_list)),
                                shuffle=True, generator=gen,
                                exclude_keys=["arch", "arch_id", "y"])
            opt = torch.optim.Adam(model.parameters(), lr=self.lr, weight_decay=self.weight_decay)
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=self.epochs)
            model.train()
            bar = tqdm(range(self.epochs), desc="fit", disable=not self._progress(), leave=False)
            for _ in bar:
                total = 0.0
                for batch in loader:
                    batch = batch.to(self.device)
                    opt.zero_grad()
                    target = (batch.target - self.y_mean_) / self.y_std_
                    loss = torch.nn.functional.mse_loss(model(batch), target)
                    loss.backward()
                    opt.step()
                    total += float(loss.detach()) * batch.num_graphs
                sched.step()
                bar.set_postfix(mse=total / len(data_list))
        model.eval()
        self.model_ = model
        logger.info("fitted %s on %d architectures", self.variant, len(data_list))
        return self

    def _check_fitted(self) -> HyperNAS:
        if self.model_ is None:
            raise RuntimeError("this HyperNASPredictor is not fitted yet; call fit() first")
        return self.model_

    def _batches(self, archs: ArchInput, batch_size: int) -> Iterator[Batch]:
        data = self._as_data(archs)
        if isinstance(data, InMemoryDataset) and data.transform is None and \
                all(k in data.slices for k in ("x", "edge_index", "rev_edge_index", "cell_pos")):
            for start in range(0, len(data), batch_size):
                index = torch.arange(start, min(start + batch_size, len(data)))
                yield collate_in_memory(data, index).to(self.device)
        else:
            loader = DataLoader(data, batch_size=batch_size, shuffle=False,
                                exclude_keys=["arch", "arch_id", "y"])
            for batch in loader:
                yield batch.to(self.device)

    @torch.no_grad()
    def predict(self, archs: ArchInput, batch_size: int = 1024) -> np.ndarray:
        """Predicted accuracies (in the units of the training targets), one per architecture."""
        model = self._check_fitted()
        out = [model(batch).cpu() for batch in self._batches(archs, batch_size)]
        return (torch.cat(out) * self.y_std_ + self.y_mean_).numpy()

    @torch.no_grad()
    def embed(self, archs: ArchInput, batch_size: int = 1024) -> np.ndarray:
        """Architecture embeddings ``h`` of shape ``[num_archs, hidden_channels]``."""
        model = self._check_fitted()
        return torch.cat([model.encode(b).graph.cpu()
                          for b in self._batches(archs, batch_size)]).numpy()

    # ------------------------------------------------------------ persistence
    def save(self, path: str) -> None:
        """Writes config, weights and target statistics to ``path`` (atomically)."""
        model = self._check_fitted()
        if not isinstance(self.encoder, str):
            raise ValueError("cannot save a predictor whose encoder is a module instance: "
                             "its config could not rebuild the model; use an encoder name")
        state = {"format": CHECKPOINT_FORMAT, "config": self.get_params(),
                 "state_dict": {k: v.cpu() for k, v in model.state_dict().items()},
                 "y_mean": self.y_mean_, "y_std": self.y_std_}
        directory = osp.dirname(osp.abspath(path))
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix="tmp-ckpt-")
        try:
            with os.fdopen(fd, "wb") as f:
                torch.save(state, f)
            os.replace(tmp, path)
        finally:
            if osp.exists(tmp):
                os.remove(tmp)

    @classmethod
    def load(cls, path: str, device: Optional[str] = None) -> "HyperNASPredictor":
        """Rebuilds a predictor saved with :meth:`save` (optionally onto another device)."""
        state = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"{path} is not a HyperNASPredictor checkpoint "
                             f"(format {CHECKPOINT_FORMAT})")
        config = dict(state["config"])
        if device is not None:
            config["device"] = device
        predictor = cls(**config)
        model = predictor._build_model()
        model.load_state_dict(state["state_dict"])
        predictor.model_ = model.to(predictor.device).eval()
        predictor.y_mean_ = float(state["y_mean"])
        predictor.y_std_ = float(state["y_std"])
        return predictor
