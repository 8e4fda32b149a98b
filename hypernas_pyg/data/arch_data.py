"""``ArchData``: an architecture's whole cell sequence as one PyG graph."""
from __future__ import annotations

from typing import Any, Optional, Sequence

import torch
from torch_geometric.data import Data
from torch_geometric.data.data import DataEdgeAttr, DataTensorAttr
from torch_geometric.data.storage import GlobalStorage

from hypernas_pyg.spaces.search_space import Cell, SearchSpace


class ArchData(Data):
    r"""A PyG :class:`~torch_geometric.data.Data` holding every cell of an architecture.

    The nodes of all cells are stored one after the other; edges stay inside
    their cell. Attributes:

    * ``x`` (float ``[num_nodes, num_node_types]``): one-hot node type.
    * ``op`` (long ``[num_nodes]``): node type index into the space's ``node_types``.
    * ``edge_index`` (long ``[2, num_edges]``): forward edges (data flow direction).
    * ``rev_edge_index`` (long ``[2, num_edges]``): the same edges reversed. Its name
      contains ``index``, so PyG shifts it by ``num_nodes`` when batching.
    * ``cell_pos`` (long ``[num_nodes]``): position of the node's cell in the
      sequence. Deliberately *not* named ``*_index``: it must not be shifted.
    * ``y`` (float ``[1, T]``): graph-level accuracies (see the dataset's ``target_names``).
    * ``arch`` (str): the architecture string; ``arch_id`` (long ``[1]``): its
      benchmark index (``-1`` when unknown). Not named ``*_index`` either.

    Construct with no arguments (as PyG requires) or with :meth:`from_cells`.
    """

    @classmethod
    def from_cells(cls, cells: Sequence[Cell], space: SearchSpace, arch: str = "",
                   y: Optional[Sequence[float]] = None, arch_id: int = -1) -> "ArchData":
        """Builds the graph of a cell sequence.

        Args:
            cells: The cells in data-flow order (e.g. ``space.cell_sequence(arch)``).
            space: The search space whose ``node_types`` index the ops.
            arch: The architecture string, kept for reference.
            y: Graph-level targets, stored as ``[1, T]``.
            arch_id: Benchmark index of the architecture.
        """
        ops: list[int] = []
        pos: list[int] = []
        src: list[int] = []
        dst: list[int] = []
        offset = 0
        for i, cell in enumerate(cells):
            ops.extend(space.node_type_index(op) for op in cell.ops)
            pos.extend([i] * len(cell.ops))
            for s, d in cell.edges:
                src.append(s + offset)
                dst.append(d + offset)
            offset += len(cell.ops)
        op = torch.tensor(ops, dtype=torch.long)
        edge_index = torch.tensor([src, dst], dtype=torch.long).view(2, -1)
        data = cls(
            x=torch.nn.functional.one_hot(op, space.num_node_types).float(),
            op=op,
            edge_index=edge_index,
            rev_edge_index=edge_index.flip(0),
            cell_pos=torch.tensor(pos, dtype=torch.long),
            arch=arch,
            arch_id=torch.tensor([arch_id], dtype=torch.long),
        )
        if y is not None:
            data.y = torch.as_tensor(y, dtype=torch.float).view(1, -1)
        return data

    @property
    def num_cells(self) -> int:
        """Number of cells (the largest ``cell_pos`` plus one)."""
        return int(self.cell_pos.max()) + 1 if self.cell_pos.numel() else 0

    def __inc__(self, key: str, value: Any, *args: Any, **kwargs: Any) -> Any:
        if key in ("cell_pos", "arch_id"):
            return 0
        return super().__inc__(key, value, *args, **kwargs)


def arch_to_data(arch: str, space: SearchSpace, y: Optional[Sequence[float]] = None,
                 arch_id: int = -1) -> ArchData:
    """Validates ``arch`` in ``space`` and returns its :class:`ArchData`."""
    arch = space.validate(arch)
    return ArchData.from_cells(space.cell_sequence(arch), space, arch=arch, y=y, arch_id=arch_id)


# Let ``torch.load(weights_only=True)`` rebuild ArchData objects and PyG's storages.
torch.serialization.add_safe_globals([ArchData, DataEdgeAttr, DataTensorAttr, GlobalStorage])
