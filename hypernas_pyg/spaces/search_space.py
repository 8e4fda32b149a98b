"""The :class:`SearchSpace` interface every NAS search space implements.

A space owns everything particular to it. The rest of the library (encoder,
hypernetwork, training, estimator, search) sees only this interface:

* the **required** side: parse / print / canonicalise architectures, the cell
  sequence the encoder reads, sampling and mutation, a flat feature vector for
  tabular baselines, and the constructor configuration (:meth:`get_config`);
* the **optional network side** used by the hypernetwork variants: the real
  network of an architecture at a given size (:meth:`build_network`), the
  kernels the hypernetwork generates and the encoder node each one comes from
  (:meth:`kernel_slots`), the kernel shapes it must be able to produce
  (:meth:`kernel_shapes`) and the parameters shared by every architecture
  (:meth:`shared_network`, :meth:`shared_names`): the mixin :class:`NetworkSpace`.
  A space without it cannot run the hypernetwork variants, and
  :meth:`SearchSpace.check_network_side` says so.

Architectures travel through the library as their canonical strings
(:meth:`validate`); :meth:`parse` accepts every usual input form of the space.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Mapping, Union

import numpy as np
from torch import nn


@dataclass(frozen=True)
class Cell:
    """One cell of an architecture's cell sequence, ops on nodes.

    Args:
        ops: The op name of every node, in topological order (the first node is
            the cell input, the last the cell output).
        edges: Directed edges ``(src, dst)`` between node positions, ``src < dst``.
        kind: ``"normal"`` for a searched cell, ``"reduction"`` for a fixed block.
        source: For a cell derived from a larger one (e.g. a pruned cell), the
            position of every node in that larger cell; empty when the nodes are
            the cell's own (node ``k`` is node ``k``).
    """

    ops: tuple[str, ...]
    edges: tuple[tuple[int, int], ...]
    kind: str = "normal"
    source: tuple[int, ...] = ()

    def source_index(self, node: int) -> int:
        """Position in this cell of node ``node`` of the larger cell (see ``source``).

        Raises:
            KeyError: when that node was removed from this cell.
        """
        if not self.source:
            return node
        try:
            return self.source.index(node)
        except ValueError:
            raise KeyError(node) from None


@dataclass(frozen=True)
class KernelSlot:
    """One kernel the hypernetwork generates, and the encoder node it comes from.

    Args:
        name: The parameter's name in the network of :meth:`SearchSpace.build_network`
            (a key of ``named_parameters()``).
        cell: Position of the encoder cell (an index into
            :meth:`SearchSpace.cell_sequence`) whose node feeds the kernel.
        node: Index of that node within the cell, in the numbering of
            :meth:`SearchSpace.cell_sequence` (the pruned cell's, for pruned graphs).
        shape: The kernel's shape.
    """

    name: str
    cell: int
    node: int
    shape: tuple[int, ...]


class SearchSpace(ABC):
    """A NAS search space: it alone knows its op names and macro skeleton.

    Subclasses define how an architecture is written (:meth:`parse` /
    :meth:`to_string`), its canonical form, sampling and mutation, and the
    *cell sequence* the encoder reads: every cell of the macro skeleton in
    order, with the fixed reduction blocks represented as cells of their own.
    """

    #: Short registry name, e.g. ``"nasbench201"``.
    name: str = ""
    #: Node-type vocabulary; node features are one-hot over it.
    node_types: tuple[str, ...] = ()
    #: Whether :meth:`cell_sequence` returns pruned cells (spaces that support pruning
    #: take it as a constructor argument).
    prune: bool = False
    # ------------------------------------------------------------ configuration
    @abstractmethod
    def get_config(self) -> dict[str, Any]:
        """The constructor arguments: ``type(self)(**space.get_config())`` is an equal space."""

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.get_config() == self.get_config()

    def __hash__(self) -> int:
        return hash((type(self).__name__, tuple(sorted(self.get_config().items()))))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{self.__class__.__name__}({args})"

    @property
    def num_node_types(self) -> int:
        return len(self.node_types)

    def node_type_index(self, op: str) -> int:
        try:
            return self.node_types.index(op)
        except ValueError:
            raise ValueError(
                f"Unknown node type {op!r} for search space {self.name!r}; "
                f"allowed: {', '.join(self.node_types)}") from None

    # ------------------------------------------------------------ architectures
    @abstractmethod
    def parse(self, arch: Any) -> Any:
        """Validates ``arch`` (any input form the space accepts) and returns the
        space's architecture value (what :meth:`to_string` prints).

        Raises:
            ValueError: naming what is wrong and what is allowed.
        """

    @abstractmethod
    def to_string(self, value: Any) -> str:
        """The canonical string of an architecture value of :meth:`parse`."""

    def validate(self, arch: Any) -> str:
        """Returns the canonical string of ``arch`` or raises ``ValueError``."""
        return self.to_string(self.parse(arch))

    @abstractmethod
    def features(self, arch: Any) -> np.ndarray:
        """A flat float32 feature vector of ``arch`` (the input of tabular baselines
        such as gradient-boosted trees); the same length for every architecture."""

    @abstractmethod
    def canonical_key(self, arch: Any) -> str:
        """A key equal for exactly the architectures that compute the same function."""

    @abstractmethod
    def cell_sequence(self, arch: Any) -> list[Cell]:
        """All cells of the macro skeleton, in the order data flows through them (pruned
        cells when the space was built with ``prune=True``)."""

    @abstractmethod
    def sample(self, num: int, rng: np.random.Generator) -> list[str]:
        """``num`` architectures drawn uniformly at random (with replacement)."""

    @abstractmethod
    def mutate(self, arch: Any, rng: np.random.Generator) -> str:
        """A valid neighbour of ``arch`` that differs in one searched choice."""

    # ------------------------------------------------------------ network side
    @property
    def has_network(self) -> bool:
        """Whether the space implements the network side (:class:`NetworkSpace`), which
        the hypernetwork variants need."""
        return isinstance(self, NetworkSpace)

    def check_network_side(self, purpose: str) -> None:
        """Raises ``ValueError`` naming ``purpose`` when the space has no network side."""
        if not self.has_network:
            raise ValueError(f"{purpose} needs a search space with a network side (real "
                             f"networks the hypernetwork can fill); {self!r} has none")


class NetworkSpace(ABC):
    """The optional network side of a :class:`SearchSpace` (a mixin).

    What the hypernetwork task needs from a space: the real network of an
    architecture at a given size, the kernels the hypernetwork generates with
    the encoder node each comes from, the kernel shapes it must produce, and the
    parameters shared by every architecture's network.
    """

    #: Named sizes (:meth:`build_network` keyword arguments): ``{"small": {...},
    #: "full": {...}}``; ``"small"`` is the default and lists every key.
    network_presets: Mapping[str, Mapping[str, Any]] = {}

    def network_size(self, size: Union[None, str, Mapping[str, Any]]) -> dict[str, Any]:
        """``size`` as the full keyword arguments of :meth:`build_network`.

        Args:
            size: A preset name of :attr:`network_presets`, a dict of some of its
                keys (the others from the ``"small"`` preset), or ``None`` (``"small"``).

        Raises:
            ValueError: for an unknown preset or key (listing the allowed ones), or
                a value the space rejects (:meth:`check_network_size`).
        """
        base = dict(self.network_presets["small"])
        if isinstance(size, str):
            if size not in self.network_presets:
                raise ValueError(f"Unknown network size {size!r} for {self.name}; presets: "
                                 f"{', '.join(self.network_presets)}")
            base = dict(self.network_presets[size])
        elif isinstance(size, Mapping):
            unknown = sorted(set(size) - set(base))
            if unknown:
                raise ValueError(f"Unknown network size key(s) {unknown} for {self.name}; "
                                 f"allowed: {', '.join(base)}")
            base.update(size)
        elif size is not None:
            raise ValueError(f"a network size is a preset name or a dict, got {size!r}")
        self.check_network_size(base)
        return base

    def check_network_size(self, size: Mapping[str, Any]) -> None:
        """Raises ``ValueError`` for a size the space cannot build (default: every value a
        positive integer)."""
        for key, value in size.items():
            check_positive_int(f"network size {key}", value)

    @abstractmethod
    def build_network(self, arch: Any, num_classes: int = 10, in_channels: int = 3,
                      **size: Any) -> nn.Module:
        """The real network of ``arch`` at ``size`` (an ordinary ``nn.Module`` whose every
        parameter :func:`torch.func.functional_call` can supply)."""

    def network_arch(self, arch: Any) -> str:
        """The architecture whose network the hypernetwork task runs for ``arch``: one
        whose every generated kernel has a node in ``arch``'s encoder graph (default:
        ``arch`` itself)."""
        return self.validate(arch)

    @abstractmethod
    def kernel_slots(self, arch: Any, network: nn.Module) -> list[KernelSlot]:
        """The kernels of ``network`` (built by :meth:`build_network` for
        :meth:`network_arch` ``(arch)``, possibly with a shallower skeleton than the
        encoder's) that the hypernetwork generates, each with its encoder node.

        Raises:
            ValueError: when a kernel has no node in ``arch``'s encoder graph.
        """

    @abstractmethod
    def kernel_shapes(self, **size: Any) -> list[tuple[int, ...]]:
        """Every shape a generated kernel of any architecture can have at ``size``
        (sorted; the hypernetwork has one head per shape)."""

    @abstractmethod
    def shared_network(self, num_classes: int = 10, in_channels: int = 3,
                       **size: Any) -> nn.Module:
        """A module holding every non-generated parameter that any architecture's network
        at ``size`` uses (stem, normalisation, classifier), under the names of
        :meth:`shared_names`. The hypernetwork branch trains them for all architectures."""

    def shared_names(self, arch: Any, network: nn.Module) -> dict[str, str]:
        """Maps every parameter of ``network`` that is not a :meth:`kernel_slots` kernel to
        its name in :meth:`shared_network` (default: the same name)."""
        generated = {slot.name for slot in self.kernel_slots(arch, network)}
        return {name: name for name, _ in network.named_parameters() if name not in generated}


def check_positive_int(name: str, value: Any, minimum: int = 1) -> None:
    """Raises ``ValueError`` naming ``name`` unless ``value`` is an int ``>= minimum``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")

