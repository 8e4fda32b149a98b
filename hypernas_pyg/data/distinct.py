"""Which graphs of a collated storage are identical, so that each is encoded once.

Many architectures share an encoder graph: NAS-Bench-201's 15,625 cells prune to 9,445
distinct graphs. The encoder is a function of ``x``, ``cell_pos`` and the two edge
indices alone, so identical graphs get identical predictions; scoring the distinct ones
and copying the results back gives the same output with less work.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from hypernas_pyg.data.collate import _ranges

#: Fewer duplicates than this fraction and grouping is not worth a second gather.
MIN_DUPLICATE_FRACTION = 0.05
#: Graphs hashed first in a large storage; no duplicate among them and it is not grouped.
PROBE_SIZE = 2048


def _mix(values: Tensor) -> Tensor:
    """A pseudo-random int64 per entry (a hash, not used for equality): integers, so that
    per-graph sums are exact whatever order they are added in."""
    return (torch.frac(torch.sin(values.double() * 12.9898 + 0.3) * 43758.5453)
            * 2.0 ** 40).long()


def distinct_graphs(data, slices: dict[str, Tensor], index: Tensor,
                    min_fraction: float = MIN_DUPLICATE_FRACTION
                    ) -> Optional[tuple[Tensor, Tensor]]:
    """Groups the graphs ``index`` of a ``(data, slices)`` storage by exact identity.

    A hash of every graph (node features, cell positions, local edge lists) proposes
    the groups; every member is then compared exactly with its group's first graph, and
    a member that differs (a hash collision) becomes a group of its own, so the result
    never merges two different graphs.

    Args:
        data: The collated storage (``x``, ``cell_pos``, ``edge_index``,
            ``rev_edge_index``).
        slices: Its slices.
        index: Storage positions of the graphs to group.
        min_fraction: Return ``None`` when fewer than this fraction of the graphs are
            duplicates.

    Returns:
        ``(first, inverse)``: positions in ``index`` of one graph per group, in order of
        first appearance, and for every graph of ``index`` the position of its group in
        ``first``; or ``None`` (see ``min_fraction``).
    """
    index = torch.as_tensor(index, dtype=torch.long).view(-1)
    num = index.numel()
    if num < 2:
        return None
    if num > 4 * PROBE_SIZE:
        # A random probe first: a storage of distinct graphs (NAS-Bench-101's) is
        # recognised without hashing all of it.
        gen = torch.Generator().manual_seed(0)
        probe = index[torch.randperm(num, generator=gen)[:PROBE_SIZE]]
        group = _hash_groups(data, slices, probe)
        if torch.unique(group).numel() == PROBE_SIZE:
            return None
    group = _hash_groups(data, slices, index)
    n_slices, e_slices = slices["x"], slices["edge_index"]
    n_start, n_count = n_slices[index], n_slices[index + 1] - n_slices[index]
    e_start, e_count = e_slices[index], e_slices[index + 1] - e_slices[index]
    # The first graph of every group, and each graph's candidate twin.
    order = torch.argsort(group * num + torch.arange(num))
    sorted_group = group[order]
    is_first = torch.ones(num, dtype=torch.bool)
    is_first[1:] = sorted_group[1:] != sorted_group[:-1]
    first_of_group = torch.empty(int(group.max()) + 1, dtype=torch.long)
    first_of_group[sorted_group[is_first]] = order[is_first]
    twin = first_of_group[group]
    same = _identical(data, index, twin, n_start, n_count, e_start, e_count)
    twin = torch.where(same, twin, torch.arange(num))
    if 1.0 - torch.unique(twin).numel() / num < min_fraction:
        return None
    firsts, inverse = torch.unique(twin, return_inverse=True)
    # Renumber groups by first appearance (``firsts`` is sorted, and each is its own twin).
    return firsts, inverse


def _hash_groups(data, slices: dict[str, Tensor], index: Tensor) -> Tensor:
    """A group id per graph of ``index`` from a hash of its node features, cell
    positions and edge lists: equal graphs get equal ids (unequal ones almost never)."""
    num = index.numel()
    n_slices, e_slices = slices["x"], slices["edge_index"]
    n_start, n_count = n_slices[index], n_slices[index + 1] - n_slices[index]
    e_start, e_count = e_slices[index], e_slices[index + 1] - e_slices[index]
    whole = num == len(n_slices) - 1 and bool((index == torch.arange(num)).all())
    node_ids = None if whole else _ranges(n_start, n_count)
    edge_ids = None if whole else _ranges(e_start, e_count)

    def nodes(key: str) -> Tensor:
        return data[key] if whole else data[key].index_select(0, node_ids)

    def edges(key: str) -> Tensor:
        return data[key] if whole else data[key][:, edge_ids]

    node_graph = torch.repeat_interleave(torch.arange(num), n_count)
    edge_graph = torch.repeat_interleave(torch.arange(num), e_count)
    x = nodes("x")
    x = x.reshape(x.size(0), -1).float()
    gen = torch.Generator().manual_seed(0)
    proj = torch.rand(x.size(1), generator=gen) + 0.5
    node_local = torch.arange(x.size(0)) - torch.repeat_interleave(
        torch.cumsum(n_count, 0) - n_count, n_count)
    node_val = _mix(x @ proj + 1.618 * nodes("cell_pos").float() + 3.1416 * node_local.float())
    # An InMemoryDataset stores every graph's edges with its own node numbering.
    src, dst = edges("edge_index")
    rsrc, rdst = edges("rev_edge_index")
    edge_val = _mix(src * 7919 + dst * 104729 + rsrc * 1299709 + rdst * 15485863)
    key = torch.zeros(num, dtype=torch.long).index_add_(0, node_graph, node_val)
    key = key * 1000003 + torch.zeros(num, dtype=torch.long).index_add_(0, edge_graph, edge_val)
    key = (key * 1000033 + n_count) * 1000037 + e_count  # int64 arithmetic wraps: still a hash
    return torch.unique(key, return_inverse=True)[1]


def _identical(data, index: Tensor, twin: Tensor, n_start: Tensor, n_count: Tensor,
               e_start: Tensor, e_count: Tensor) -> Tensor:
    """Whether graph ``i`` equals graph ``twin[i]`` exactly (same node and edge counts
    assumed: they are part of the hash key, and are checked here too)."""
    num = index.numel()
    same = (n_count == n_count[twin]) & (e_count == e_count[twin])
    cand = torch.nonzero(same & (twin != torch.arange(num))).view(-1)
    if cand.numel() == 0:
        return same
    other = twin[cand]
    a_nodes = _ranges(n_start[cand], n_count[cand])
    b_nodes = _ranges(n_start[other], n_count[other])
    node_owner = torch.repeat_interleave(torch.arange(cand.numel()), n_count[cand])
    bad = torch.zeros(cand.numel(), dtype=torch.bool)
    for key in ("x", "cell_pos"):
        diff = data[key].index_select(0, a_nodes) != data[key].index_select(0, b_nodes)
        bad |= torch.zeros(cand.numel(), dtype=torch.long).index_add_(
            0, node_owner, diff.reshape(diff.size(0), -1).any(-1).long()) > 0
    a_edges = _ranges(e_start[cand], e_count[cand])
    b_edges = _ranges(e_start[other], e_count[other])
    edge_owner = torch.repeat_interleave(torch.arange(cand.numel()), e_count[cand])
    for key in ("edge_index", "rev_edge_index"):
        diff = data[key][:, a_edges] != data[key][:, b_edges]
        bad |= torch.zeros(cand.numel(), dtype=torch.long).index_add_(
            0, edge_owner, diff.any(0).long()) > 0
    same[cand] = ~bad
    return same
