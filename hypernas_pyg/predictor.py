"""``HyperNASPredictor``: the estimator users fit, predict with, save and load."""
from __future__ import annotations

import logging
import os.path as osp
import sys
from typing import Any, Iterator, Optional, Sequence, Union

import numpy as np
import torch
from torch_geometric.data import Batch, Dataset, InMemoryDataset
from torch_geometric.loader import DataLoader
from tqdm.auto import tqdm

from hypernas_pyg.atomic_file import atomic_file
from hypernas_pyg.auxiliary_task import AuxiliaryTask, held_out_archs
from hypernas_pyg.data.arch_data import ArchData, arch_to_data
from hypernas_pyg.data.collate import ShuffledBatches, collate_in_memory
from hypernas_pyg.data.inputs import training_targets
from hypernas_pyg.datasets.raw_files import default_root
from hypernas_pyg.nn.models.hypernas import HyperNAS
from hypernas_pyg.multi_task_training import TASKS, fit_multi_task
from hypernas_pyg.nn.multi_task_loss import PreferenceWeightedLoss
from hypernas_pyg.nn.regression_loss import regression_loss
from hypernas_pyg.spaces import NASBench201Space, SearchSpace, space_resolver
from hypernas_pyg.target.proxy import ProxyConfig, proxy_resolver
from hypernas_pyg.target_scaling import TargetScaler

logger = logging.getLogger(__name__)


def member_seed(seed: int, k: int) -> int:
    """Seed of ensemble member ``k``: ``seed`` for the first, else one drawn from
    ``numpy.random.SeedSequence([seed, k])`` (so members of different seeds do not
    coincide)."""
    if k == 0:
        return seed
    return int(np.random.SeedSequence([seed, k]).generate_state(1)[0])

#: Training variants and the encoder context each implies.
VARIANTS: dict[str, str] = {"np": "none", "hypernas-p": "preceding",
                            "hypernas-h": "preceding", "hypernas": "preceding"}
#: The variants that train the hypernetwork auxiliary task.
HYPERNET_VARIANTS: tuple[str, ...] = ("hypernas-h", "hypernas")
#: Preference coefficient of the ``hypernas`` variant's loss when none is given.
DEFAULT_Q = 1.5
CHECKPOINT_FORMAT = 1

ArchInput = Union[Dataset, Sequence[ArchData], Sequence[str]]


class HyperNASPredictor:
    """Fits a HyperNAS accuracy predictor on architectures and ranks new ones.

    All hyper-parameters are set here; :meth:`fit` and :meth:`predict` take data only.
    Targets are rescaled internally (``target_scaling``) and predictions are
    mapped back to the original units.

    Variants (:data:`VARIANTS`):

    - ``"np"``: isolated cells, predictor only (the NP baseline);
    - ``"hypernas-p"``: global cell-sequence encoding, predictor only;
    - ``"hypernas-h"``: the encoder and the hypernetwork are trained on the
      auxiliary task only (cross-entropy of generated proxy networks on
      CIFAR-10); then the regressor is fitted, for the same number of epochs,
      on the frozen embeddings so that the predictor can still rank;
    - ``"hypernas"``: both tasks at once, combined by
      :class:`~hypernas_pyg.nn.PreferenceWeightedLoss` with preference ``q``.

    In every training step of the hypernetwork variants the predictor's
    mini-batch of architectures is encoded once; for each of
    ``proxy.aux_steps`` image batches one architecture of the mini-batch is
    drawn at random and its proxy network, with kernels generated from its
    node features, classifies the batch. The branch is off at prediction time:
    :meth:`predict` and :meth:`embed` use the encoder and regressor only, and
    need no image data. After fitting, :attr:`hyper_val_acc_` is the accuracy
    on held-out CIFAR-10 images of the networks generated for
    ``proxy.val_archs`` architectures outside the training set
    (:attr:`hyper_val_archs_`), and :attr:`loss_weights_` the learned task
    weights (``hypernas`` only).

    Args:
        variant: ``"np"``, ``"hypernas-p"``, ``"hypernas-h"`` or ``"hypernas"``.
        encoder: Message-passing layer: ``"bigcn"``, ``"gin"`` or ``"transformer"``.
        context: Overrides the encoder context the variant implies
            (``"preceding"``, ``"none"``, ``"positional"``); ``None`` keeps it.
        space: Search space name or instance (used to encode arch strings).
        prune_cells: Encode pruned cells: ``none`` ops and ops off every
            input-output path are dropped from the graph, so a predictor need
            not learn that they change nothing (chosen on NAS-Bench-201 seeds
            0-4; ``benchmarks/README.md``). A ``space`` instance must agree, and
            so must a dataset passed to :meth:`fit` / :meth:`predict`
            (``NASBench201(root, prune_cells=...)``).
        hidden_channels: Embedding size (64 and ``num_layers=2`` were chosen on
            NAS-Bench-201 seeds 0-4 over 32 and one layer; ``benchmarks/README.md``).
        num_layers: Message-passing layers per cell.
        dropout: Dropout probability.
        epochs: Passes over the training set.
        batch_size: Architectures per optimisation step.
        lr: Adam learning rate.
        weight_decay: Adam weight decay.
        target_scaling: ``"quantile"`` (normal scores of the targets' ranks, robust
            to diverged architectures) or ``"standard"`` (z-scores); see
            :class:`~hypernas_pyg.target_scaling.TargetScaler`.
        seed: Seed for initialisation, shuffling and dropout.
        device: Torch device, e.g. ``"cpu"`` or ``"cuda"``.
        progress: Show a progress bar (``None``: only when stderr is a terminal).
        q: Preference coefficient of the ``hypernas`` variant's multi-task loss
            (``None``: 1.5, the paper's best; ``2`` is the Liebel & Koerner loss).
            Only the ``hypernas`` variant combines two losses, so any other
            variant rejects a ``q``.
        proxy: Proxy target network and auxiliary data of the hypernetwork
            variants: a :class:`~hypernas_pyg.target.ProxyConfig`, a dict of
            its fields or a preset name (``"small"``, the CPU default, or
            ``"full"``, the benchmark-size network for a GPU); ``None`` is
            ``"small"``. Rejected by the predictor-only variants.
        aux_root: Cache directory of the CIFAR-10 images of the auxiliary task
            (``None``: ``$HYPERNAS_ROOT/cifar10``, else
            ``~/.cache/hypernas_pyg/cifar10``); the raw file is taken from
            there or from the ``$HYPERNAS_MIRROR`` mirror. Only read by
            :meth:`fit`. Rejected by the predictor-only variants.
        aux_archs: Which architectures the hypernetwork task trains on.
            ``None`` (the paper's setting): the labelled mini-batch of every
            step. An integer ``M`` (our extension, semi-supervised): ``M``
            architectures sampled uniformly from the search space once per
            fit (seeded by ``seed``; no accuracies needed), from which every
            step draws its own batch for the cross-entropy while the
            regression loss stays on the labelled batch. Rejected by the
            predictor-only variants.
        rank_weight: Weight of a pairwise logistic ranking term added to the
            regression loss (``0``: MSE alone); see
            :func:`~hypernas_pyg.nn.regression_loss.regression_loss`.
        ensemble: Number of models fitted on the same data from different
            initialisations and shuffles (member ``k`` uses seed
            ``member_seed(seed, k)``; member 0 uses ``seed`` itself); :meth:`predict`
            averages their scaled outputs. Fit and scoring time grow linearly.
    """

    def __init__(self, variant: str = "hypernas-p", encoder: str = "bigcn",
                 context: Optional[str] = None, space: Union[str, SearchSpace] = "nasbench201",
                 prune_cells: bool = True,
                 hidden_channels: int = 64, num_layers: int = 2, dropout: float = 0.0,
                 epochs: int = 300, batch_size: int = 64, lr: float = 1e-2,
                 weight_decay: float = 1e-4, target_scaling: str = "quantile", seed: int = 0,
                 device: str = "cpu", progress: Optional[bool] = None,
                 q: Optional[float] = None, proxy: Union[None, str, dict, ProxyConfig] = None,
                 aux_root: Optional[str] = None, aux_archs: Optional[int] = None,
                 rank_weight: float = 0.0, ensemble: int = 1) -> None:
        if variant not in VARIANTS:
            raise ValueError(f"Unknown variant {variant!r}; choose one of: {', '.join(VARIANTS)}")
        hyper = variant in HYPERNET_VARIANTS
        if q is not None and variant != "hypernas":
            raise ValueError(f"q is the preference coefficient of the 'hypernas' variant's "
                             f"two-task loss; variant {variant!r} trains no such loss, so leave "
                             f"q=None")
        if not hyper:
            for name, value in (("proxy", proxy), ("aux_root", aux_root),
                                ("aux_archs", aux_archs)):
                if value is not None:
                    raise ValueError(
                        f"{name} configures the hypernetwork task of the variants "
                        f"{', '.join(HYPERNET_VARIANTS)}; variant {variant!r} has none, so "
                        f"leave {name}=None")
        for name, value in (("hidden_channels", hidden_channels), ("num_layers", num_layers),
                            ("epochs", epochs), ("batch_size", batch_size),
                            ("ensemble", ensemble)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not lr > 0:
            raise ValueError(f"lr must be positive, got {lr!r}")
        if weight_decay < 0:
            raise ValueError(f"weight_decay must be non-negative, got {weight_decay!r}")
        self.variant = variant
        self.encoder = encoder
        self.context = context
        if not isinstance(prune_cells, bool):
            raise ValueError(f"prune_cells must be True or False, got {prune_cells!r}")
        self.prune_cells = prune_cells
        self.space = space_resolver(space, prune=prune_cells)  # kwargs apply to a name only
        if self.space.prune != prune_cells:
            raise ValueError(f"prune_cells={prune_cells} disagrees with the given space "
                             f"{self.space!r}; pass a space built with prune={prune_cells}")
        self.hidden_channels = hidden_channels
        self.num_layers = num_layers
        self.dropout = dropout
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.target_scaling = target_scaling
        self.seed = seed
        self.device = torch.device(device)
        self.progress = progress
        self.q = q if q is not None or variant != "hypernas" else DEFAULT_Q
        if self.q is not None:
            if isinstance(self.q, bool) or not isinstance(self.q, (int, float)) \
                    or not np.isfinite(self.q) or self.q <= 0:
                raise ValueError(f"q must be a finite positive number, got {q!r}")
            self.q = float(self.q)
        self.proxy: Optional[ProxyConfig] = proxy_resolver(proxy) if hyper else None
        if aux_root is not None and not isinstance(aux_root, str):
            raise ValueError(f"aux_root must be a directory path or None, got {aux_root!r}")
        self.aux_root = aux_root
        if aux_archs is not None and (isinstance(aux_archs, bool) or not isinstance(
                aux_archs, int) or aux_archs < 2):
            raise ValueError(f"aux_archs must be None or an integer of at least 2, "
                             f"got {aux_archs!r}")
        self.aux_archs = aux_archs
        if isinstance(rank_weight, bool) or not isinstance(rank_weight, (int, float)) \
                or not np.isfinite(rank_weight) or rank_weight < 0:
            raise ValueError(f"rank_weight must be a finite non-negative number, "
                             f"got {rank_weight!r}")
        self.rank_weight = float(rank_weight)
        self.ensemble = ensemble
        if hyper:
            if not isinstance(self.space, NASBench201Space):
                raise ValueError(f"variant {variant!r} needs a search space with proxy target "
                                 f"networks (nasbench201), got {self.space.name!r}")
            if self.proxy.N > self.space.cells_per_stage:
                raise ValueError(
                    f"proxy.N={self.proxy.N} exceeds the cells per stage of the encoder graphs "
                    f"(space.cells_per_stage={self.space.cells_per_stage})")
        #: Learned multi-task loss (``hypernas`` only), set by :meth:`fit`.
        self.loss_: Optional[PreferenceWeightedLoss] = None
        #: Hypernetwork validation accuracy (hypernetwork variants), set by :meth:`fit`.
        self.hyper_val_acc_: Optional[float] = None
        #: The held-out architectures behind :attr:`hyper_val_acc_`.
        self.hyper_val_archs_: Optional[list[str]] = None
        #: Learned task weights ``{"predictor": w, "hypernet": w}`` (``hypernas`` only).
        self.loss_weights_: Optional[dict[str, float]] = None
        #: The fitted models, ``ensemble`` of them; :meth:`predict` averages them.
        self.members_: list[HyperNAS] = []
        self.scaler_ = TargetScaler(target_scaling)  # validates the name
        with torch.random.fork_rng(devices=[]):
            self._build_model()  # validates encoder and context now, not at fit time

    # ------------------------------------------------------------ config
    def get_params(self) -> dict[str, Any]:
        """The constructor arguments (JSON-serialisable)."""
        return {"variant": self.variant, "encoder": self.encoder, "context": self.context,
                "space": self.space.name, "prune_cells": self.prune_cells,
                "hidden_channels": self.hidden_channels,
                "num_layers": self.num_layers, "dropout": self.dropout, "epochs": self.epochs,
                "batch_size": self.batch_size, "lr": self.lr, "weight_decay": self.weight_decay,
                "target_scaling": self.target_scaling, "seed": self.seed,
                "device": str(self.device), "progress": self.progress,
                "q": self.q, "proxy": self.proxy.to_dict() if self.proxy is not None else None,
                "aux_root": self.aux_root, "aux_archs": self.aux_archs,
                "rank_weight": self.rank_weight, "ensemble": self.ensemble}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{self.__class__.__name__}({args})"

    @property
    def model_(self) -> Optional[HyperNAS]:
        """The first ensemble member (``None`` before :meth:`fit`): :meth:`embed`,
        :meth:`generate_weights` and the hypernetwork statistics are this model's."""
        return self.members_[0] if self.members_ else None

    @property
    def context_(self) -> str:
        return self.context if self.context is not None else VARIANTS[self.variant]

    def _build_model(self) -> HyperNAS:
        if self.proxy is not None:
            return HyperNAS(self.space.num_node_types, self.hidden_channels, self.num_layers,
                            conv=self.encoder, context=self.context_, dropout=self.dropout,
                            proxy=self.proxy, prune_cells=self.prune_cells)
        return HyperNAS(self.space.num_node_types, self.hidden_channels, self.num_layers,
                        conv=self.encoder, context=self.context_, dropout=self.dropout)

    @property
    def aux_root_(self) -> str:
        """The CIFAR-10 cache directory :meth:`fit` reads (see ``aux_root``)."""
        return self.aux_root if self.aux_root is not None else osp.join(default_root(),
                                                                         "cifar10")

    # ------------------------------------------------------------ data
    def _as_data(self, archs: ArchInput) -> list[ArchData]:
        items = list(archs) if not isinstance(archs, Dataset) else archs
        if len(items) == 0:
            raise ValueError("no architectures given")
        if isinstance(items, Dataset):
            space = getattr(items, "space", None)
            if getattr(space, "prune", self.prune_cells) != self.prune_cells:
                raise ValueError(
                    f"the dataset's graphs were built with prune_cells={space.prune}, but this "
                    f"predictor encodes prune_cells={self.prune_cells}; load the dataset with "
                    f"prune_cells={self.prune_cells}")
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
        return torch.as_tensor(training_targets(data, len(data), y), dtype=torch.float32)

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
        self.scaler_ = TargetScaler(self.target_scaling)
        scaled = torch.as_tensor(self.scaler_.fit_transform(t.numpy()), dtype=torch.float)
        data_list = []
        for d, target in zip(data, scaled):
            d = d.clone()
            d.target = target.view(1)
            data_list.append(d)
        self.loss_ = self.hyper_val_acc_ = self.hyper_val_archs_ = self.loss_weights_ = None
        if self.proxy is not None:
            self._check_hypernet_data(data_list)
        members = []
        for k in range(self.ensemble):
            seed = member_seed(self.seed, k)
            members.append(self._fit_regression(data_list, seed) if self.proxy is None
                           else self._fit_with_hypernet(data_list, seed, report=k == 0))
        self.members_ = members
        return self

    def _fit_regression(self, data_list: list[ArchData], seed: int) -> HyperNAS:
        """The fit of ``np`` and ``hypernas-p``: one model on the regression loss."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = self._build_model().to(self.device)
            gen = torch.Generator().manual_seed(seed)
            loader = ShuffledBatches(data_list, min(self.batch_size, len(data_list)), gen)
            opt = torch.optim.Adam(model.parameters(), lr=self.lr, weight_decay=self.weight_decay)
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=self.epochs)
            model.train()
            bar = tqdm(range(self.epochs), desc="fit", disable=not self._progress(), leave=False)
            for _ in bar:
                total = 0.0
                for batch in loader:
                    batch = batch.to(self.device)
                    opt.zero_grad()
                    loss = regression_loss(model(batch), batch.target, self.rank_weight)
                    loss.backward()
                    opt.step()
                    total += float(loss.detach()) * batch.num_graphs
                sched.step()
                bar.set_postfix(mse=total / len(data_list))
        model.eval()
        logger.info("fitted %s on %d architectures (seed %d)", self.variant, len(data_list), seed)
        return model

    def _check_hypernet_data(self, data_list: list[ArchData]) -> None:
        cells = 3 * self.space.cells_per_stage + 2
        for d in data_list:
            if not isinstance(getattr(d, "arch", None), str) or not d.arch:
                raise ValueError(f"variant {self.variant!r} needs every architecture's string "
                                 "('arch' attribute) to build its proxy network")
            if d.num_cells != cells:
                raise ValueError(
                    f"architecture {d.arch} has {d.num_cells} cells, but the encoder graphs of "
                    f"the predictor's space have {cells} (cells_per_stage="
                    f"{self.space.cells_per_stage}); build the graphs with the same space")

    def _fit_with_hypernet(self, data_list: list[ArchData], seed: int,
                           report: bool) -> HyperNAS:
        """The fit of ``hypernas`` and ``hypernas-h`` (see the class docstring); with
        ``report`` the loss, its weights and the hypernetwork validation accuracy are kept."""
        aux = AuxiliaryTask(self.aux_root_, self.proxy, seed=seed, device=self.device)
        aux_pool = None
        if self.aux_archs is not None:
            rng = np.random.default_rng([seed, 2])
            aux_pool = [arch_to_data(a, self.space)
                        for a in self.space.sample(self.aux_archs, rng)]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = self._build_model().to(self.device)
            loss = fit_multi_task(model, data_list, aux, joint=self.variant == "hypernas",
                                  q=self.q, epochs=self.epochs, batch_size=self.batch_size,
                                  lr=self.lr, weight_decay=self.weight_decay, seed=seed,
                                  device=self.device, progress=self._progress(),
                                  aux_pool=aux_pool, rank_weight=self.rank_weight)
            val_archs = held_out_archs(self.space, [d.arch for d in data_list],
                                       self.proxy.val_archs, seed)
            val_acc = aux.accuracy(model, val_archs, self.space)
        model.eval()
        weights = ({t: float(w) for t, w in zip(TASKS, loss.weights)} if loss is not None
                   else None)
        if report:
            self.hyper_val_acc_, self.hyper_val_archs_, self.loss_ = val_acc, val_archs, loss
            self.loss_weights_ = weights
        logger.info("fitted %s on %d architectures (seed %d); hypernetwork validation accuracy "
                    "%.4f on %d held-out architectures; loss weights %s", self.variant,
                    len(data_list), seed, val_acc, len(val_archs), weights)
        return model

    @torch.inference_mode()
    def generate_weights(self, arch: str) -> dict[str, torch.Tensor]:
        """A ``state_dict`` of ``arch``'s proxy network, kernels generated by the hypernetwork.

        The keys are those of ``NASBench201Network.from_arch(arch, C=proxy.C,
        N=proxy.N)``: every convolution kernel of a cell or reduction block is
        generated from the encoder's node features of ``arch``; the stem,
        BatchNorm affine and classifier parameters are the shared ones learned
        with the hypernetwork. BatchNorm running statistics are a fresh
        network's (the proxy networks train with batch statistics): use the
        network in training mode or re-estimate them before ``eval()``. With
        ``prune_cells=True`` the kernels of ops that pruning drops keep a
        freshly initialised network's values: the hypernetwork was trained on
        the pruned network, where those ops are ``none``.

        Raises:
            ValueError: for a variant without a hypernetwork, or an invalid ``arch``.
            RuntimeError: when the predictor is not fitted.
        """
        model = self._check_fitted()
        if model.hypernet is None:
            raise ValueError(f"variant {self.variant!r} has no hypernetwork; generate_weights "
                             f"needs one of: {', '.join(HYPERNET_VARIANTS)}")
        data = arch_to_data(arch, self.space)
        batch = Batch.from_data_list([data]).to(self.device)
        node = model.encode(batch).node
        return model.hypernet.network_state_dict(data.arch, node, batch.cell_pos, batch.op)

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

    @torch.inference_mode()
    def predict(self, archs: ArchInput, batch_size: int = 1024) -> np.ndarray:
        """Predicted accuracies (in the units of the training targets), one per architecture."""
        self._check_fitted()
        out = []
        for batch in self._batches(archs, batch_size):
            scaled = self.members_[0](batch)
            for member in self.members_[1:]:
                scaled = scaled + member(batch)
            out.append((scaled / len(self.members_)).cpu())
        return self.scaler_.inverse_transform(torch.cat(out).numpy()).astype(np.float32)

    @torch.inference_mode()
    def embed(self, archs: ArchInput, batch_size: int = 1024) -> np.ndarray:
        """Architecture embeddings ``h`` of shape ``[num_archs, hidden_channels]`` (of the
        first ensemble member)."""
        model = self._check_fitted()
        return torch.cat([model.encode(b, return_node=False).graph.cpu()
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
                 "member_state_dicts": [{k: v.cpu() for k, v in m.state_dict().items()}
                                        for m in self.members_[1:]],
                 "target_scaler": self.scaler_.state_dict()}
        if self.proxy is not None:
            state["hypernet"] = {
                "loss_state_dict": ({k: v.cpu() for k, v in self.loss_.state_dict().items()}
                                    if self.loss_ is not None else None),
                "hyper_val_acc": self.hyper_val_acc_, "hyper_val_archs": self.hyper_val_archs_,
                "loss_weights": self.loss_weights_}
        with atomic_file(path) as tmp, open(tmp, "wb") as f:
            torch.save(state, f)

    @classmethod
    def load(cls, path: str, device: Optional[str] = None) -> "HyperNASPredictor":
        """Rebuilds a predictor saved with :meth:`save` (optionally onto another device)."""
        state = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"{path} is not a HyperNASPredictor checkpoint "
                             f"(format {CHECKPOINT_FORMAT})")
        config = dict(state["config"])
        config.setdefault("prune_cells", False)  # checkpoints made before the option existed
        if device is not None:
            config["device"] = device
        predictor = cls(**config)
        model = predictor._build_model()
        model.load_state_dict(state["state_dict"])
        members = [model]
        for member_state in state.get("member_state_dicts", []):
            members.append(predictor._build_model())
            members[-1].load_state_dict(member_state)
        if len(members) != predictor.ensemble:
            raise ValueError(f"{path} holds {len(members)} ensemble members, but its config "
                             f"says ensemble={predictor.ensemble}")
        predictor.members_ = [m.to(predictor.device).eval() for m in members]
        predictor.scaler_ = TargetScaler.from_state_dict(state["target_scaler"])
        extra = state.get("hypernet")
        if extra is not None:
            if extra["loss_state_dict"] is not None:
                predictor.loss_ = PreferenceWeightedLoss(len(TASKS), predictor.q)
                predictor.loss_.load_state_dict(extra["loss_state_dict"])
                predictor.loss_.to(predictor.device)
            predictor.hyper_val_acc_ = extra["hyper_val_acc"]
            predictor.hyper_val_archs_ = extra["hyper_val_archs"]
            predictor.loss_weights_ = extra["loss_weights"]
        return predictor
