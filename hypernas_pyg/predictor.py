"""``HyperNASPredictor``: the estimator users fit, predict with, save and load."""
from __future__ import annotations

import logging
import warnings
import os.path as osp
import sys
from typing import Any, Mapping, Optional, Sequence, Union

import numpy as np
import torch
from torch import nn
from torch_geometric.data import Batch, Dataset

from hypernas_pyg.checkpoint import read_checkpoint, write_checkpoint
from hypernas_pyg.data.arch_data import ArchData, arch_to_data
from hypernas_pyg.data.inputs import (as_graphs, distinct_positions, iter_batches, resolve_space,
                                      training_targets)
from hypernas_pyg.datasets.raw_files import default_root
from hypernas_pyg.estimator import NotFittedError, ParamsMixin
from hypernas_pyg.nn.conv import CONVS
from hypernas_pyg.nn.models.cell_sequence_encoder import CONTEXTS
from hypernas_pyg.nn.models.hypernas import HyperNAS
from hypernas_pyg.nn.multi_task_loss import PreferenceWeightedLoss
from hypernas_pyg.spaces import SearchSpace, space_config, space_resolver
from hypernas_pyg.training import (TASKS, AuxiliaryConfig, AuxiliaryTask, TargetScaler,
                                   aux_resolver, fit_multi_task, fit_regression, held_out_archs)
from hypernas_pyg.training.target_scaling import SCALINGS
from hypernas_pyg.validation import check_choice, check_device, check_int, check_real

logger = logging.getLogger(__name__)


def member_seed(seed: int, k: int) -> int:
    """Seed of ensemble member ``k``: ``seed`` for the first, else one drawn from
    ``numpy.random.SeedSequence([seed, k])`` (so members of different seeds do not
    coincide)."""
    if k == 0:
        return seed
    return int(np.random.SeedSequence([seed, k]).generate_state(1)[0])


def restart_seed(seed: int, attempt: int) -> int:
    """Seed of the ``attempt``-th refit after a collapsed fit: ``seed`` for the first fit,
    else one drawn from ``numpy.random.SeedSequence([seed, 0, attempt])``."""
    if attempt == 0:
        return seed
    return int(np.random.SeedSequence([seed, 0, attempt]).generate_state(1)[0])


def _distinct_graphs(data: Any) -> set:
    """The distinct encoder graphs (ops, edges, cell positions) of ``data``."""
    return {(tuple(d.op.tolist()), tuple(d.edge_index.reshape(-1).tolist()),
             tuple(d.cell_pos.tolist())) for d in data}


#: Training variants and the encoder context each implies.
VARIANTS: dict[str, str] = {"np": "none", "hypernas-p": "preceding",
                            "hypernas-h": "preceding", "hypernas": "preceding"}
#: The variants that train the hypernetwork auxiliary task.
HYPERNET_VARIANTS: tuple[str, ...] = ("hypernas-h", "hypernas")
#: Preference coefficient of the ``hypernas`` variant's loss when none is given.
DEFAULT_Q = 1.5

ArchInput = Union[Dataset, Sequence[ArchData], Sequence[str]]


class HyperNASPredictor(ParamsMixin):
    """Fits a HyperNAS accuracy predictor on architectures and ranks new ones.

    The estimator follows scikit-learn's conventions: the constructor stores its
    arguments unchanged, :meth:`fit` validates them (:meth:`validate_params`)
    and creates the fitted attributes (``space_``, ``members_``, ``scaler_``,
    ``q_``, ...), and :meth:`get_params` / :meth:`set_params` round-trip. Targets
    are rescaled internally (``target_scaling``) and predictions are mapped back
    to the original units. Nothing here knows a particular search space: the
    space comes from ``space`` or from the dataset given to :meth:`fit`.

    Variants (:data:`VARIANTS`):

    - ``"np"``: isolated cells, predictor only (the NP baseline);
    - ``"hypernas-p"``: global cell-sequence encoding, predictor only;
    - ``"hypernas-h"``: the encoder and the hypernetwork are trained on the
      auxiliary task only (cross-entropy of generated networks on the auxiliary
      images); then the regressor is fitted, for the same number of epochs, on
      the frozen embeddings so that the predictor can still rank;
    - ``"hypernas"``: both tasks at once, combined by
      :class:`~hypernas_pyg.nn.PreferenceWeightedLoss` with preference ``q``.

    In every training step of the hypernetwork variants the predictor's
    mini-batch of architectures is encoded once; for each of ``aux.aux_steps``
    image batches one architecture of the mini-batch is drawn at random and its
    network (built by the space, :meth:`~hypernas_pyg.spaces.NetworkSpace.build_network`,
    at size ``proxy``), with kernels generated from its node features,
    classifies the batch. The branch is off at prediction time: :meth:`predict`
    and :meth:`embed` use the encoder and regressor only, and need no image
    data. After fitting, :attr:`hyper_val_acc_` is the accuracy on held-out
    images of the networks generated for ``aux.val_archs`` architectures outside
    the training set (:attr:`hyper_val_archs_`), and :attr:`loss_weights_` the
    learned task weights (``hypernas`` only).

    Args:
        variant: ``"np"``, ``"hypernas-p"``, ``"hypernas-h"`` or ``"hypernas"``.
        encoder: Message-passing layer: ``"bigcn"``, ``"gin"`` or ``"transformer"``.
        context: Overrides the encoder context the variant implies
            (``"preceding"``, ``"none"``, ``"positional"``, or ``"preceding2"``, which
            injects the two preceding cells' features, as a DARTS cell reads two
            previous cells); ``None`` keeps it.
        space: Search space: a registered name, ``{"name": ..., **config}`` or an
            instance. ``None`` takes the space of the dataset given to
            :meth:`fit` (architecture strings then need an explicit space). A
            dataset passed to :meth:`fit` / :meth:`predict` must have been built
            with an equal space (e.g. the same ``prune`` choice).
        hidden_channels: Embedding size (64 and ``num_layers=2`` were chosen on
            NAS-Bench-201 seeds 0-4 over 32 and one layer; ``benchmarks/README.md``).
        num_layers: Message-passing layers per cell.
        dropout: Dropout probability.
        epochs: Passes over the training set (200 reaches the Kendall tau of 300 on
            NAS-Bench-201 seeds 0-4 at 78 and 469 within 0.005; README, "Speed").
        batch_size: Architectures per optimisation step.
        lr: Adam learning rate.
        weight_decay: Adam weight decay.
        target_scaling: ``"quantile"`` (normal scores of the targets' ranks, robust
            to diverged architectures) or ``"standard"`` (z-scores); see
            :class:`~hypernas_pyg.training.TargetScaler`.
        seed: Seed for initialisation, shuffling and dropout.
        device: Torch device, e.g. ``"cpu"`` or ``"cuda"``.
        progress: Show a progress bar (``None``: only when stderr is a terminal).
        q: Preference coefficient of the ``hypernas`` variant's multi-task loss
            (``None``: 1.5, the paper's best; ``2`` is the Liebel & Koerner loss).
            Only the ``hypernas`` variant combines two losses, so any other
            variant rejects a ``q``.
        proxy: Size of the networks the hypernetwork task generates: a preset name
            of the space (``"small"``, the CPU default, or ``"full"``, the
            benchmark network) or a dict of its keys (e.g. ``{"C": 8, "N": 1}`` for
            NAS-Bench-201); ``None`` is ``"small"``. Rejected by the
            predictor-only variants.
        aux: The auxiliary image data and its schedule: an
            :class:`~hypernas_pyg.training.AuxiliaryConfig`, a dict of its
            fields or a preset name (``"small"``, the CPU default: 16x16 images, 64
            per step; ``"full"``: 32x32, 256 per step); ``None`` is ``"small"``.
            Rejected by the predictor-only variants.
        aux_root: Cache directory of the auxiliary images (``None``:
            ``$HYPERNAS_ROOT/<dataset>``, else ``~/.cache/hypernas_pyg/<dataset>``);
            the raw file is taken from there or from the ``$HYPERNAS_MIRROR``
            mirror. Only read by :meth:`fit`. Rejected by the predictor-only variants.
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

    A fitted member that gives one output for every training architecture (its regressor's
    units died, so no gradient flows; training architectures with different graphs and
    targets) is refitted from another seed (:func:`restart_seed`), up to
    :attr:`COLLAPSE_RESTARTS` times; :attr:`restarts_` holds the refits of each member,
    and a fit still collapsed after them warns. ``hypernas-h`` warns itself instead.
    """

    #: Refits from other seeds of a member whose fit collapsed to one output.
    COLLAPSE_RESTARTS = 2

    def __init__(self, variant: str = "hypernas-p", encoder: Union[str, nn.Module] = "bigcn",
                 context: Optional[str] = None,
                 space: Union[None, str, Mapping[str, Any], SearchSpace] = None,
                 hidden_channels: int = 64, num_layers: int = 2, dropout: float = 0.0,
                 epochs: int = 200, batch_size: int = 64, lr: float = 1e-2,
                 weight_decay: float = 1e-4, target_scaling: str = "quantile", seed: int = 0,
                 device: Union[str, torch.device] = "cpu", progress: Optional[bool] = None,
                 q: Optional[float] = None,
                 proxy: Union[None, str, Mapping[str, Any]] = None,
                 aux: Union[None, str, Mapping[str, Any], AuxiliaryConfig] = None,
                 aux_root: Optional[str] = None, aux_archs: Optional[int] = None,
                 rank_weight: float = 0.0, ensemble: int = 1) -> None:
        self.variant = variant
        self.encoder = encoder
        self.context = context
        self.space = space
        self.hidden_channels = hidden_channels
        self.num_layers = num_layers
        self.dropout = dropout
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.target_scaling = target_scaling
        self.seed = seed
        self.device = device
        self.progress = progress
        self.q = q
        self.proxy = proxy
        self.aux = aux
        self.aux_root = aux_root
        self.aux_archs = aux_archs
        self.rank_weight = rank_weight
        self.ensemble = ensemble

    # ------------------------------------------------------------ config
    def validate_params(self) -> None:
        """Checks every constructor argument (what :meth:`fit` does first).

        Raises:
            ValueError: naming the first bad argument, its value and what is allowed.
        """
        check_choice("variant", self.variant, VARIANTS)
        if not isinstance(self.encoder, nn.Module):
            check_choice("encoder", self.encoder, CONVS, " (or pass a module)")
        if self.context is not None:
            check_choice("context", self.context, CONTEXTS, " (or None)")
        hyper = self.variant in HYPERNET_VARIANTS
        if self.q is not None and self.variant != "hypernas":
            raise ValueError(f"q is the preference coefficient of the 'hypernas' variant's "
                             f"two-task loss; variant {self.variant!r} trains no such loss, so "
                             f"leave q=None")
        if not hyper:
            for name in ("proxy", "aux", "aux_root", "aux_archs"):
                if getattr(self, name) is not None:
                    raise ValueError(
                        f"{name} configures the hypernetwork task of the variants "
                        f"{', '.join(HYPERNET_VARIANTS)}; variant {self.variant!r} has none, "
                        f"so leave {name}=None")
        for name in ("hidden_channels", "num_layers", "epochs", "batch_size", "ensemble"):
            check_int(name, getattr(self, name))
        check_int("seed", self.seed, minimum=0)
        check_int("aux_archs", self.aux_archs, minimum=2, allow_none=True)
        check_real("lr", self.lr, strict=True)
        check_real("q", self.q, strict=True, allow_none=True)
        check_real("weight_decay", self.weight_decay)
        check_real("rank_weight", self.rank_weight)
        check_real("dropout", self.dropout, maximum=1.0)
        check_choice("target_scaling", self.target_scaling, SCALINGS)
        if self.progress is not None and not isinstance(self.progress, bool):
            raise ValueError(f"progress must be True, False or None, got {self.progress!r}")
        check_device("device", self.device)
        if self.aux_root is not None and not isinstance(self.aux_root, str):
            raise ValueError(f"aux_root must be a directory path or None, got {self.aux_root!r}")
        if hyper:
            aux_resolver(self.aux)
        if self.space is not None:
            space = space_resolver(self.space)
            if hyper:
                space.check_network_side(f"variant {self.variant!r}")
                space.network_size(self.proxy)

    def config(self) -> dict[str, Any]:
        """:meth:`get_params` as JSON-serialisable values (a space instance as
        ``{"name": ..., **config}``, an :class:`AuxiliaryConfig` as a dict), which
        :meth:`from_config` turns back into an equal estimator."""
        params = self.get_params()
        if isinstance(params["space"], SearchSpace):
            params["space"] = space_config(params["space"])
        if isinstance(params["aux"], AuxiliaryConfig):
            params["aux"] = params["aux"].to_dict()
        if isinstance(params["device"], torch.device):
            params["device"] = str(params["device"])
        if isinstance(params["encoder"], nn.Module):
            raise ValueError("a predictor whose encoder is a module instance has no JSON "
                             "config (its config could not rebuild the model); use an "
                             "encoder name")
        return params

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "HyperNASPredictor":
        """The estimator of a :meth:`config` (a space dict becomes the space itself)."""
        params = dict(config)
        if isinstance(params.get("space"), Mapping):
            params["space"] = space_resolver(params["space"])
        return cls(**params)

    @property
    def context_(self) -> str:
        """The encoder context used: ``context`` or the one the variant implies."""
        return self.context if self.context is not None else VARIANTS[self.variant]

    @property
    def aux_root_(self) -> str:
        """The image cache directory :meth:`fit` reads (see ``aux_root``)."""
        if self.aux_root is not None:
            return self.aux_root
        return osp.join(default_root(), aux_resolver(self.aux).dataset)

    @property
    def model_(self) -> HyperNAS:
        """The first ensemble member: :meth:`embed`, :meth:`generate_weights` and the
        hypernetwork statistics are this model's."""
        return self._check_fitted()

    def _check_fitted(self) -> HyperNAS:
        members = self.__dict__.get("members_")
        if not members:
            raise NotFittedError("this HyperNASPredictor is not fitted yet; call fit() first")
        return members[0]

    def _build_model(self, space: SearchSpace, num_classes: int = 10) -> HyperNAS:
        hyper = self.variant in HYPERNET_VARIANTS
        return HyperNAS(space.num_node_types, self.hidden_channels, self.num_layers,
                        conv=self.encoder, context=self.context_, dropout=self.dropout,
                        space=space if hyper else None,
                        network_size=self.proxy if hyper else None, num_classes=num_classes)

    # ------------------------------------------------------------ data
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

        Raises:
            ValueError: for a bad constructor argument (:meth:`validate_params`),
                bad architectures or targets.
        """
        self.validate_params()
        # A failed (e.g. diverged) refit must not leave the old models beside new statistics.
        self.__dict__.pop("members_", None)
        space = resolve_space(self.space, archs)
        data = as_graphs(archs, space)
        t = torch.as_tensor(training_targets(data, len(data), y), dtype=torch.float32)
        if len(data) < 2:
            raise ValueError(f"need at least 2 architectures to fit, got {len(data)}")
        hyper = self.variant in HYPERNET_VARIANTS
        if hyper:
            space.check_network_side(f"variant {self.variant!r}")
        scaler = TargetScaler(self.target_scaling)
        scaled = torch.as_tensor(scaler.fit_transform(t.numpy()), dtype=torch.float)
        data_list = []
        for d, target in zip(data, scaled):
            d = d.clone()
            d.target = target.view(1)
            data_list.append(d)
        self._set_fitted_config(space)
        self.scaler_ = scaler
        if hyper:
            self._check_hypernet_data(data_list)
        distinct = len(_distinct_graphs(data)) > 1 and np.ptp(t.numpy()) > 0
        members, self.restarts_ = [], []
        for k in range(self.ensemble):
            for attempt in range(self.COLLAPSE_RESTARTS + 1):
                seed = restart_seed(member_seed(self.seed, k), attempt)
                model = (self._fit_with_hypernet(data_list, seed, report=k == 0) if hyper
                         else self._fit_regression(data_list, seed))
                if (not distinct or self.variant == "hypernas-h"
                        or not self._member_collapsed(model, data_list)):
                    break
                logger.info("member %d (seed %d) predicts one value for every training "
                            "architecture: a collapsed fit; refitting", k, seed)
            self.restarts_.append(attempt)
            members.append(model)
        self.members_ = [_flush_subnormal(m) for m in members]
        self._warn_if_collapsed(data, t.numpy())
        return self

    @torch.inference_mode()
    def _member_collapsed(self, model: HyperNAS, data_list: list[ArchData]) -> bool:
        """Whether ``model`` gives one output for all of ``data_list``: its regressor's units
        died (seen with lr 1e-2 on DARTS214 and in some NB201 search refits); no gradient
        then flows, so more epochs cannot help, but another initialisation does."""
        model.eval()
        with torch.random.fork_rng(devices=[]):  # batching draws a seed from the global RNG
            out = torch.cat([model(b) for b in iter_batches(data_list, 1024, self.device_)])
        return bool((out.max() - out.min()) == 0)

    def _warn_if_collapsed(self, data: Any, target: np.ndarray) -> None:
        """A fit that predicts one value for training architectures whose graphs differ ranks
        nothing; it is finite, so it is not an error, but it must not pass unnoticed."""
        if np.ptp(target) == 0 or self.variant == "hypernas-h":  # hypernas-h warns itself
            return
        with torch.random.fork_rng(devices=[]):  # batching draws a seed from the global RNG
            pred = self.predict(data)
        if np.ptp(pred) != 0:
            return
        graphs = _distinct_graphs(data)
        if len(graphs) > 1:
            warnings.warn(
                f"the fitted {self.variant!r} predictor gives one value ({pred[0]:.6g}) for "
                f"all {len(pred)} training architectures, whose {len(graphs)} distinct graphs "
                f"it should tell apart: the fit collapsed and ranks nothing (also after "
                f"{self.COLLAPSE_RESTARTS} refits from other seeds). Try another "
                f"seed, a lower lr (now {self.lr}) or fewer epochs (now {self.epochs})",
                RuntimeWarning, stacklevel=3)

    def _fit_kwargs(self) -> dict[str, Any]:
        return dict(epochs=self.epochs, batch_size=self.batch_size, lr=self.lr,
                    weight_decay=self.weight_decay, device=self.device_,
                    progress=self._progress(), rank_weight=self.rank_weight)

    def _fit_regression(self, data_list: list[ArchData], seed: int) -> HyperNAS:
        """The fit of ``np`` and ``hypernas-p``: one model on the regression loss."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = self._build_model(self.space_).to(self.device_)
            fit_regression(model, data_list, seed=seed, **self._fit_kwargs())
        logger.info("fitted %s on %d architectures (seed %d)", self.variant, len(data_list), seed)
        return model

    def _check_hypernet_data(self, data_list: list[ArchData]) -> None:
        for d in data_list:
            if not isinstance(getattr(d, "arch", None), str) or not d.arch:
                raise ValueError(f"variant {self.variant!r} needs every architecture's string "
                                 "('arch' attribute) to build its network")
            cells = len(self.space_.cell_sequence(d.arch))
            if d.num_cells != cells:
                raise ValueError(
                    f"architecture {d.arch} has {d.num_cells} cells, but the predictor's space "
                    f"{self.space_!r} gives it {cells}; build the graphs with the same space")

    def _fit_with_hypernet(self, data_list: list[ArchData], seed: int,
                           report: bool) -> HyperNAS:
        """The fit of ``hypernas`` and ``hypernas-h`` (see the class docstring); with
        ``report`` the loss, its weights and the hypernetwork validation accuracy are kept."""
        aux = AuxiliaryTask(self.aux_root_, self.aux_, seed=seed, device=self.device_)
        aux_pool = None
        if self.aux_archs is not None:
            rng = np.random.default_rng([seed, 2])
            aux_pool = [arch_to_data(a, self.space_)
                        for a in self.space_.sample(self.aux_archs, rng)]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = self._build_model(self.space_, aux.num_classes).to(self.device_)
            loss = fit_multi_task(model, data_list, aux, joint=self.variant == "hypernas",
                                  q=self.q_, seed=seed, aux_pool=aux_pool, **self._fit_kwargs())
            val_archs = held_out_archs(self.space_, [d.arch for d in data_list],
                                       self.aux_.val_archs, seed)
            val_acc = aux.accuracy(model, val_archs, self.space_)
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
        """A ``state_dict`` of ``arch``'s network, kernels generated by the hypernetwork.

        The keys are those of ``space_.build_network(arch, **network_size_)``:
        every kernel the space lists (:meth:`~hypernas_pyg.spaces.NetworkSpace.kernel_slots`)
        is generated from the encoder's node features of ``arch``; the stem,
        normalisation and classifier parameters are the shared ones learned
        with the hypernetwork. BatchNorm running statistics are a fresh
        network's (the networks train with batch statistics): use the network in
        training mode or re-estimate them before ``eval()``. Kernels of ops that
        the space's :meth:`~hypernas_pyg.spaces.NetworkSpace.network_arch`
        drops (e.g. ops pruned from the graph) keep a freshly initialised
        network's values.

        Raises:
            ValueError: for a variant without a hypernetwork, or an invalid ``arch``.
            NotFittedError: when the predictor is not fitted.
        """
        model = self._check_fitted()
        if model.hypernet is None:
            raise ValueError(f"variant {self.variant!r} has no hypernetwork; generate_weights "
                             f"needs one of: {', '.join(HYPERNET_VARIANTS)}")
        data = arch_to_data(arch, self.space_)
        batch = Batch.from_data_list([data]).to(self.device_)
        node = model.encode(batch).node
        return model.hypernet.network_state_dict(data.arch, node, batch.cell_pos, batch.op)

    @torch.inference_mode()
    def predict(self, archs: ArchInput, batch_size: int = 1024) -> np.ndarray:
        """Predicted accuracies (in the units of the training targets), one per architecture.

        ``batch_size`` sets speed and memory only: an architecture's prediction does
        not depend on the batch it is scored in.

        Raises:
            ValueError: for a bad ``archs`` or ``batch_size``.
            FloatingPointError: when a prediction is NaN or infinite (a diverged model).
        """
        self._check_fitted()
        check_int("batch_size", batch_size)
        out = []
        graphs = as_graphs(archs, self.space_)
        # Identical encoder graphs get identical predictions: score each distinct one once.
        distinct = distinct_positions(graphs)
        positions, inverse = distinct if distinct is not None else (None, None)
        for batch in iter_batches(graphs, batch_size, self.device_, positions):
            scaled = self.members_[0](batch)
            for member in self.members_[1:]:
                scaled = scaled + member(batch)
            out.append((scaled / len(self.members_)).cpu())
        scaled = torch.cat(out) if inverse is None else torch.cat(out)[inverse]
        pred = self.scaler_.inverse_transform(scaled.numpy()).astype(np.float32)
        bad = np.flatnonzero(~np.isfinite(pred))
        if bad.size:
            raise FloatingPointError(
                f"{bad.size} of {pred.size} predictions are NaN or infinite (the first, "
                f"architecture {int(bad[0])}, is {pred.reshape(-1)[bad[0]]}): the model's "
                "weights or target statistics are not finite; refit with a smaller lr")
        return pred

    @torch.inference_mode()
    def embed(self, archs: ArchInput, batch_size: int = 512) -> np.ndarray:
        """Architecture embeddings ``h`` of shape ``[num_archs, hidden_channels]`` (of the
        first ensemble member)."""
        model = self._check_fitted()
        return torch.cat([model.encode(b, return_node=False).graph.cpu()
                          for b in iter_batches(as_graphs(archs, self.space_), batch_size,
                                               self.device_)]).numpy()

    # ------------------------------------------------------------ persistence
    def _set_fitted_config(self, space: SearchSpace) -> None:
        """The resolved settings a fitted predictor keeps (``space_``, ``device_``, ``q_``
        and, with the hypernetwork task, ``network_size_`` and ``aux_``)."""
        self.space_ = space
        self.device_ = torch.device(self.device)
        self.q_ = (float(self.q) if self.q is not None else DEFAULT_Q) \
            if self.variant == "hypernas" else None
        if self.variant in HYPERNET_VARIANTS:
            self.network_size_ = space.network_size(self.proxy)
            self.aux_ = aux_resolver(self.aux)
        self.loss_ = self.hyper_val_acc_ = self.hyper_val_archs_ = self.loss_weights_ = None

    def save(self, path: str) -> None:
        """Writes config, fitted space, weights and target statistics to ``path``
        (atomically: a failed write leaves no file).

        Raises:
            FloatingPointError: when a weight is NaN or infinite (nothing is written).
        """
        self._check_fitted()
        for k, member in enumerate(self.members_):
            for name, value in member.state_dict().items():
                if value.is_floating_point() and not bool(torch.isfinite(value).all()):
                    raise FloatingPointError(
                        f"refusing to save {path}: ensemble member {k}'s {name!r} holds NaN "
                        "or infinite values (a diverged fit); refit with a smaller lr")
        state = {"config": self.config(), "space": space_config(self.space_),
                 "state_dicts": [{k: v.cpu() for k, v in m.state_dict().items()}
                                 for m in self.members_],
                 "target_scaler": self.scaler_.state_dict()}
        if self.variant in HYPERNET_VARIANTS:
            state["hypernet"] = {
                "loss_state_dict": ({k: v.cpu() for k, v in self.loss_.state_dict().items()}
                                    if self.loss_ is not None else None),
                "hyper_val_acc": self.hyper_val_acc_, "hyper_val_archs": self.hyper_val_archs_,
                "loss_weights": self.loss_weights_}
        write_checkpoint(path, state)

    @classmethod
    def load(cls, path: str, device: Optional[str] = None) -> "HyperNASPredictor":
        """Rebuilds a predictor saved with :meth:`save` (optionally onto another device);
        checkpoints of the first format are read too (:mod:`hypernas_pyg.checkpoint`).

        Raises:
            FileNotFoundError: when ``path`` does not exist.
            ValueError: when ``path`` is not a readable checkpoint of this class (its
                content is never unpickled beyond tensors and plain values).
        """
        state = read_checkpoint(path)
        missing = [k for k in ("config", "space", "state_dicts", "target_scaler")
                   if k not in state]
        if missing:
            raise ValueError(f"{path} is not a complete HyperNASPredictor checkpoint: it "
                             f"lacks {missing}")
        config = dict(state["config"])
        if device is not None:
            config["device"] = device
        predictor = cls.from_config(config)
        predictor.validate_params()
        predictor._set_fitted_config(space_resolver(state["space"]))
        if len(state["state_dicts"]) != predictor.ensemble:
            raise ValueError(f"{path} holds {len(state['state_dicts'])} ensemble members, but "
                             f"its config says ensemble={predictor.ensemble}")
        members = []
        for member_state in state["state_dicts"]:
            with torch.random.fork_rng(devices=[]):
                model = predictor._build_model(predictor.space_)
            try:
                model.load_state_dict(member_state)
            except (RuntimeError, TypeError, AttributeError) as exc:
                first = (str(exc).strip().splitlines() or [""])[0][:300]
                raise ValueError(f"{path}: the weights do not fit the model its config "
                                 f"builds ({first})") from exc
            members.append(model.to(predictor.device_).eval())
        predictor.members_ = [_flush_subnormal(m) for m in members]
        predictor.scaler_ = TargetScaler.from_state_dict(state["target_scaler"])
        extra = state.get("hypernet")
        if extra is not None:
            if extra["loss_state_dict"] is not None:
                predictor.loss_ = PreferenceWeightedLoss(len(TASKS), predictor.q_)
                predictor.loss_.load_state_dict(extra["loss_state_dict"])
                predictor.loss_.to(predictor.device_)
            predictor.hyper_val_acc_ = extra["hyper_val_acc"]
            predictor.hyper_val_archs_ = extra["hyper_val_archs"]
            predictor.loss_weights_ = extra["loss_weights"]
        return predictor


@torch.no_grad()
def _flush_subnormal(model: torch.nn.Module) -> torch.nn.Module:
    """Sets the subnormal (denormal) weights of a fitted ``model`` to 0, in place.

    Weight decay leaves weights that no architecture's input moves (e.g. of node
    types a training set lacks) decaying towards 0 until they are subnormal floats,
    which CPUs multiply many times more slowly: a NAS-Bench-101 model fitted on 424
    cells for 300 epochs scored 5,000 cells in 8.2 s with them and in 0.55 s
    without. Their size (below 1.2e-38) is far under the rounding of any output.
    """
    for p in model.parameters():
        if p.is_floating_point():
            p.masked_fill_(p.abs() < torch.finfo(p.dtype).tiny, 0.0)
    return model
