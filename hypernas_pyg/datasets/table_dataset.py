"""What every benchmark table dataset shares: raw files with checksums, a processed file that
is checked before it is trusted, and items that are ``ArchData`` graphs of one space.

A subclass names its space, its raw files (:attr:`_raw_specs`), its processed file name and
the settings that change the processed file (:meth:`_config`), and reads its tables
(:meth:`_read`); loading, rebuilding and the compact storage are here.
"""
from __future__ import annotations

import json
import logging
import os
from typing import Any, Callable, Optional, Sequence

import torch
from torch_geometric.data import InMemoryDataset

from hypernas_pyg.data.arch_data import ArchData, arch_to_data
from hypernas_pyg.datasets.raw_files import (RawFile, fetch_raw_files, sha256_file,
                                             verify_raw_files)
from hypernas_pyg.datasets.safe_process import (check_root, checked_process, load_tensors,
                                                write_processed)

logger = logging.getLogger(__name__)


class TableDataset(InMemoryDataset):
    """A benchmark table as a PyG ``InMemoryDataset`` of ``ArchData`` graphs.

    Items have ``y = [[train_target, eval_target]]``. The processed file carries a JSON
    fingerprint (version, settings, sha256 of every raw file, pre-transform and filter):
    a stale, corrupted or foreign processed file is rebuilt, never unpickled.

    Subclasses set :attr:`space` before calling ``super().__init__`` and implement
    :attr:`_raw_specs`, :attr:`processed_file_names`, :meth:`_config` and :meth:`_read`.
    """

    #: Bump when the graph encoding changes.
    VERSION = 1
    target_names = ("train_target", "eval_target")
    #: Check raw files against their published sha256; ``False`` on a subclass for
    #: home-made tables under the same names.
    verify_sha256 = True
    #: Whether the table holds every architecture of its space (a table oracle can then
    #: answer any proposal); ``False`` for a sample of a larger space.
    covers_space = True
    space: Any

    def __init__(self, root: str, transform: Optional[Callable] = None,
                 pre_transform: Optional[Callable] = None,
                 pre_filter: Optional[Callable] = None, force_reload: bool = False,
                 log: bool = True) -> None:
        root = check_root(root)
        super().__init__(root, transform, pre_transform, pre_filter,
                         force_reload=force_reload, log=log)
        if not self._try_load():
            logger.warning("Processed file %s is stale or unreadable; rebuilding it.",
                           self.processed_paths[0])
            self.process()
            if not self._try_load():
                raise RuntimeError(f"Could not load freshly processed {self.processed_paths[0]}")

    # ------------------------------------------------------ what a subclass gives
    @property
    def _raw_specs(self) -> list[RawFile]:
        raise NotImplementedError

    def _config(self) -> dict[str, Any]:
        """Settings that change the processed file (part of its fingerprint)."""
        raise NotImplementedError

    def _read(self) -> tuple[Sequence[Any], Sequence[float], Sequence[float]]:
        """Architectures (any form the space parses), training and evaluation targets, read
        and validated from the raw files (``ValueError`` naming the file, row and value)."""
        raise NotImplementedError

    # ------------------------------------------------------------------ files
    @property
    def raw_file_names(self) -> list[str]:
        return [f.name for f in self._raw_specs]

    @property
    def _meta_path(self) -> str:
        return self.processed_paths[0] + ".json"

    def download(self) -> None:
        fetch_raw_files(self._raw_specs, self.raw_dir)

    def _download(self) -> None:
        if self.force_reload:  # re-copy what the mirror has, even over present files
            os.makedirs(self.raw_dir, exist_ok=True)
            fetch_raw_files(self._raw_specs, self.raw_dir, refresh=True)
        super()._download()

    def _fingerprint(self) -> dict:
        out = {"version": self.VERSION, **self._config(),
               "pre_transform": repr(self.pre_transform), "pre_filter": repr(self.pre_filter)}
        for path in self.raw_paths:
            out[os.path.basename(path)] = sha256_file(path)
        return out

    def _process(self) -> None:
        # PyG's own reads processed/pre_transform.pt with full unpickling.
        checked_process(self, self._meta_path)

    def _load_processed(self, path: str) -> None:
        """Reads the processed file with ``weights_only=True`` (never PyG's
        ``fs.torch_load``, which falls back to full unpickling)."""
        out = load_tensors(path)
        if not (isinstance(out, tuple) and len(out) == 3 and isinstance(out[0], dict)
                and isinstance(out[1], dict) and out[2] is ArchData):
            raise ValueError(f"{path} does not hold (data dict, slices, ArchData)")
        self._data = ArchData.from_dict(out[0])
        self.slices = out[1]
        self._data_list = None

    def _try_load(self) -> bool:
        try:
            with open(self._meta_path) as f:
                if json.load(f) != self._fingerprint():
                    return False
            self._load_processed(self.processed_paths[0])
            self._expand()
            self._after_load()
        except Exception as exc:  # corrupted or unreadable files are rebuilt
            logger.debug("Cannot use processed file: %s", exc)
            return False
        return True

    def _after_load(self) -> None:
        """Hook: side tables a subclass keeps beside the graphs (read from the raw files)."""

    # ------------------------------------------------------------- processing
    def process(self) -> None:
        verify_raw_files(self._raw_specs, self.raw_dir)
        archs, train_target, eval_target = self._read()
        data_list = []
        for i, (a, v, t) in enumerate(zip(archs, train_target, eval_target)):
            try:
                data_list.append(arch_to_data(a, self.space, y=[v, t], arch_id=i))
            except ValueError as exc:
                raise ValueError(f"{self.raw_paths[0]}, row {i}: architecture {a!r} is not "
                                 f"valid: {exc}") from None
        if self.pre_filter is not None:
            data_list = [d for d in data_list if self.pre_filter(d)]
        if self.pre_transform is not None:
            data_list = [self.pre_transform(d) for d in data_list]
        write_processed(self.processed_paths[0], self._meta_path,
                        lambda tmp: self._save_compact(data_list, tmp), self._fingerprint)

    # Derived attributes (one-hot ``x`` and ``rev_edge_index``) are not written to
    # disk and integer attributes are stored in the smallest dtype that holds them:
    # NAS-Bench-201's processed file shrinks from ~200 MB to ~10 MB and loads in well
    # under a second.
    _DERIVED = {"x": "op", "rev_edge_index": "edge_index"}
    _SMALL_INTS = ("op", "cell_pos", "edge_index")

    def _save_compact(self, data_list: list[ArchData], path: str) -> None:
        data, slices = self.collate(data_list)
        num_types = self.space.num_node_types
        if torch.equal(data.x, torch.nn.functional.one_hot(data.op, num_types).float()):
            del data.x, slices["x"]
        if torch.equal(data.rev_edge_index, data.edge_index.flip(0)):
            del data.rev_edge_index, slices["rev_edge_index"]
        for key in self._SMALL_INTS:
            value = data[key]
            if value.numel() and 0 <= int(value.min()) and int(value.max()) < 256:
                data[key] = value.to(torch.uint8)
        with open(path, "wb") as f:
            torch.save((data.to_dict(), slices, ArchData), f)

    def _expand(self) -> None:
        data, slices = self._data, self.slices
        for key in self._SMALL_INTS:
            data[key] = data[key].long()
        if "x" not in slices:
            data.x = torch.nn.functional.one_hot(data.op, self.space.num_node_types).float()
            slices["x"] = slices["op"]
        if "rev_edge_index" not in slices:
            data.rev_edge_index = data.edge_index.flip(0)
            slices["rev_edge_index"] = slices["edge_index"]

    @property
    def archs(self) -> list[str]:
        """Architecture strings of the items, in order."""
        return list(self._data.arch) if self._indices is None else [d.arch for d in self]
