"""Fast batching of architectures stored in an ``InMemoryDataset``."""
from __future__ import annotations

from typing import Iterator, Optional, Sequence, Union

import torch
from torch import Tensor
from torch.utils.data import BatchSampler, RandomSampler
from torch_geometric.data import Batch, Data, InMemoryDataset
from torch_geometric.data.collate import collate

#: Node-level and edge-level attributes the encoder reads.
NODE_KEYS = ("x", "cell_pos")
EDGE_KEYS = ("edge_index", "rev_edge_index")


def _ranges(starts: Tensor, counts: Tensor) -> Tensor:
    """Concatenated ``arange(s, s + c)`` for every pair, without a Python loop."""
    total = int(counts.sum())
    offsets = torch.repeat_interleave(starts - (torch.cumsum(counts, 0) - counts), counts)
    return torch.arange(total) + offsets


def _is_range(index: Tensor) -> bool:
    """Whether ``index`` is ``i, i + 1, ..., j`` (and not empty)."""
    return index.numel() > 0 and bool((index[1:] - index[:-1]).eq(1).all())


def collate_storage(data: Data, slices: dict[str, Tensor], index: Tensor,
                    graph_keys: Sequence[str] = ("y",),
                    node_keys: Sequence[str] = NODE_KEYS) -> Batch:
    """Gathers the graphs ``index`` of a collated ``(data, slices)`` storage into a batch.

    Only ``node_keys`` (by default the node attributes the encoder reads, ``x`` and
    ``cell_pos``), the edges (``edge_index``, ``rev_edge_index``) and the graph-level
    ``graph_keys`` present in the storage are gathered; node indices are shifted as PyG's
    batching does. A graph-level attribute stored as a list (strings such as ``arch``)
    comes back as the list of the graphs' values, as PyG's batching gives it.
    """
    node_slices, edge_slices = slices["x"], slices["edge_index"]
    n_start, n_count = node_slices[index], node_slices[index + 1] - node_slices[index]
    e_start, e_count = edge_slices[index], edge_slices[index + 1] - edge_slices[index]
    ptr = torch.cat([n_count.new_zeros(1), torch.cumsum(n_count, 0)])
    shift = torch.repeat_interleave(ptr[:-1], e_count)
    if _is_range(index):
        # Consecutive graphs (scoring a whole dataset in order): their nodes and edges are
        # spans of the storage, copied without index lists.
        nodes = slice(int(n_start[0]), int(n_start[-1] + n_count[-1]))
        edges = slice(int(e_start[0]), int(e_start[-1] + e_count[-1]))
        out = {key: data[key][nodes].clone() for key in node_keys}
    else:
        node_ids = _ranges(n_start, n_count)
        edges = _ranges(e_start, e_count)
        out = {key: data[key].index_select(0, node_ids) for key in node_keys}
    out.update((key, data[key][:, edges] + shift) for key in EDGE_KEYS)
    for key in graph_keys:
        if key in slices:
            value = data[key]
            out[key] = ([value[i] for i in index.tolist()] if isinstance(value, (list, tuple))
                        else value[index])
    batch = Batch(**out)
    batch.batch = torch.repeat_interleave(torch.arange(index.numel()), n_count)
    batch.ptr = ptr
    return batch


def collate_in_memory(dataset: InMemoryDataset,
                      index: Optional[Union[Tensor, Sequence[int]]] = None) -> Batch:
    """Builds a :class:`~torch_geometric.data.Batch` of dataset items directly from
    the dataset's concatenated storage.

    Equivalent to ``Batch.from_data_list([dataset[i] for i in index])`` restricted
    to the attributes the encoder reads (``x``, ``cell_pos``, ``edge_index``,
    ``rev_edge_index``, ``y``), but vectorised: batching all 15,625 NAS-Bench-201
    graphs takes milliseconds instead of seconds. Transforms are not applied.

    Args:
        dataset: An in-memory dataset of :class:`~hypernas_pyg.data.ArchData`.
        index: Positions in ``dataset`` (after any subsetting); all when ``None``.
    """
    base = storage_positions(dataset)
    index = base if index is None else base[torch.as_tensor(index, dtype=torch.long).view(-1)]
    return collate_storage(dataset._data, dataset.slices, index)


def storage_positions(dataset: InMemoryDataset) -> Tensor:
    """The position in the dataset's concatenated storage of every item (a subset view's
    items are not the first ones)."""
    if dataset._indices is None:
        return torch.arange(len(dataset))
    return torch.as_tensor(dataset.indices(), dtype=torch.long)


class ShuffledBatches:
    """Shuffled mini-batches of a list of graphs, gathered from one concatenated storage.

    Yields exactly the batches (same graphs, same order, same tensors) that
    ``torch_geometric.loader.DataLoader(data_list, batch_size, shuffle=True,
    generator=generator)`` would, restricted to ``node_keys``, the edges and
    ``graph_keys``, without collating Python objects on every step.

    Args:
        data_list: The graphs (each with the ``graph_keys`` it should carry).
        batch_size: Graphs per batch (the last one may be smaller).
        generator: Random generator of the shuffling, advanced as the loader's.
        graph_keys: Graph-level attributes to carry, e.g. ``("target",)``.
        node_keys: Node-level attributes to carry (see :func:`collate_storage`).
    """

    def __init__(self, data_list: Sequence[Data], batch_size: int, generator: torch.Generator,
                 graph_keys: Sequence[str] = ("target",),
                 node_keys: Sequence[str] = NODE_KEYS) -> None:
        data_list = list(data_list)
        if not data_list:
            raise ValueError("ShuffledBatches needs at least one graph, got an empty list")
        # InMemoryDataset.collate, but with slices for a single graph too.
        self.data, self.slices, _ = collate(type(data_list[0]), data_list, increment=False,
                                            add_batch=False)
        self.num_graphs = len(data_list)
        self.batch_size = batch_size
        self.generator = generator
        self.graph_keys = tuple(graph_keys)
        self.node_keys = tuple(node_keys)

    def __len__(self) -> int:
        return -(-self.num_graphs // self.batch_size)

    def __iter__(self) -> Iterator[Batch]:
        # A DataLoader iterator draws its base seed from the generator first.
        torch.empty((), dtype=torch.int64).random_(generator=self.generator)
        sampler = RandomSampler(range(self.num_graphs), generator=self.generator)
        for index in BatchSampler(sampler, self.batch_size, drop_last=False):
            yield collate_storage(self.data, self.slices, torch.tensor(index), self.graph_keys,
                                  self.node_keys)
