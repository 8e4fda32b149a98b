"""Search spaces: each owns everything particular to it (see :class:`SearchSpace`).

:data:`SPACES` is the registry; :func:`space_resolver` builds a space from its
name, from ``{"name": ..., **config}`` (what :func:`space_config` writes), or
passes an instance through.
"""
from __future__ import annotations

from typing import Any, Mapping, Union

from hypernas_pyg.spaces.counting import count_flops
from hypernas_pyg.spaces.darts import DARTSSpace
from hypernas_pyg.spaces.nasbench101 import NASBench101Network, NASBench101Space
from hypernas_pyg.spaces.nasbench201 import NASBench201Network, NASBench201Space
from hypernas_pyg.spaces.search_space import Cell, KernelSlot, NetworkSpace, SearchSpace

#: Registered search spaces by name.
SPACES: dict[str, type[SearchSpace]] = {NASBench201Space.name: NASBench201Space,
                                        NASBench101Space.name: NASBench101Space,
                                        DARTSSpace.name: DARTSSpace}

SpaceLike = Union[str, Mapping[str, Any], SearchSpace]


def space_resolver(space: SpaceLike, **kwargs: Any) -> SearchSpace:
    """Returns ``space`` if it is a :class:`SearchSpace`, else builds it.

    Args:
        space: An instance (returned as it is), a registered name (built with
            ``kwargs``), or a dict ``{"name": name, **constructor arguments}``.

    Raises:
        ValueError: for an unknown name (listing the registered ones) or a bad
            constructor argument.
    """
    if isinstance(space, SearchSpace):
        return space
    if isinstance(space, Mapping):
        config = dict(space)
        name = config.pop("name", None)
        return space_resolver(name, **config, **kwargs) if isinstance(name, str) else \
            _unknown(space)
    if isinstance(space, str) and space.lower() in SPACES:
        cls = SPACES[space.lower()]
        try:
            return cls(**kwargs)
        except TypeError as exc:  # an argument the space does not take
            raise ValueError(f"search space {space!r}: {exc}") from None
    return _unknown(space)


def _unknown(space: Any) -> SearchSpace:
    raise ValueError(f"Unknown search space {space!r}; choose one of: {', '.join(SPACES)} "
                     "(or give a SearchSpace instance, or {'name': ..., **config})")


def space_config(space: SearchSpace) -> dict[str, Any]:
    """``{"name": space.name, **space.get_config()}``: JSON that :func:`space_resolver`
    turns back into an equal space."""
    return {"name": space.name, **space.get_config()}


__all__ = ["Cell", "DARTSSpace", "KernelSlot", "NetworkSpace", "SearchSpace",
           "NASBench101Network", "NASBench101Space", "NASBench201Space", "NASBench201Network",
           "SPACES", "count_flops", "space_config", "space_resolver"]
