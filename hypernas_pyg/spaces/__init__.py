"""Search spaces: parse, validate, canonicalise, sample and mutate architectures."""
from __future__ import annotations

from typing import Any, Union

from hypernas_pyg.spaces.nasbench201 import NASBench201Space
from hypernas_pyg.spaces.search_space import Cell, SearchSpace

#: Registered search spaces by name.
SPACES: dict[str, type[SearchSpace]] = {NASBench201Space.name: NASBench201Space}


def space_resolver(space: Union[str, SearchSpace], **kwargs: Any) -> SearchSpace:
    """Returns ``space`` if it is a :class:`SearchSpace`, else builds it by name.

    Raises:
        ValueError: for an unknown name, listing the registered ones.
    """
    if isinstance(space, SearchSpace):
        return space
    if isinstance(space, str) and space.lower() in SPACES:
        return SPACES[space.lower()](**kwargs)
    raise ValueError(f"Unknown search space {space!r}; choose one of: {', '.join(SPACES)}")


__all__ = ["Cell", "SearchSpace", "NASBench201Space", "SPACES", "space_resolver"]
