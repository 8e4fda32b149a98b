"""The NAS-Bench-201 benchmark as a PyG ``InMemoryDataset``."""
from __future__ import annotations

import os.path as osp
from typing import Callable, Optional

from hypernas_pyg.datasets.raw_files import RawFile
from hypernas_pyg.datasets.table_dataset import TableDataset
from hypernas_pyg.spaces.nasbench201 import NASBench201Space


_NASGRAPH = ("https://raw.githubusercontent.com/Zhenhan-Huang/NASGraph-Public/"
             "1f8fd621c60a48728fcc890818b6b94eee62e4dc/data/")
_NATS = ("https://raw.githubusercontent.com/v-tao/nats-bench-landscape/"
         "b307ae5fe6e8d7043cd4fe7d1c3532288271adb7/nats_bench.csv")
#: sha256 of the raw files (datasets/nasbench201.md); ``nats_bench.csv`` is accepted as the
#: upstream file or as the mirror's 3-column copy of it.
SHA256 = {
    "nasbench201_cifar10.csv": "c82e70b5ffb0dba0f09d88ecc8df5a6d3ce8da8a99ad223285104f4537314033",
    "nasbench201_cifar100.csv": "87a42005d7005fdb5e4a938ed83dd306d907523f23e70af907dfd276dd5fe35d",
    "nasbench201_ImageNet16-120.csv":
        "f5225573584977b283f473b0ded7fe51ae599a67063b3bd02b18de36b29fcd6b",
    "nats_bench.csv": ("cb5d777ec3368be83c8f9b3aa4d520696051cb0eb8d94b8f85b519f9ea4afa3e",
                       "0aa72be98e0537127fbe3177876c9dee289cbecbdeee811be3cd3cfcc6c66191"),
}


class NASBench201(TableDataset):
    r"""All 15,625 NAS-Bench-201 architectures with their accuracies.

    Every item is an :class:`~hypernas_pyg.data.ArchData` of the whole cell
    sequence (pruned cells by default, see ``prune_cells``) with
    ``y = [[train_target, eval_target]]`` (in %):

    * ``dataset="cifar10"``: the training target is the ``cifar10-valid``
      validation accuracy (``nasbench201_cifar10.csv``, trained on 25k images)
      and the evaluation target the CIFAR-10 test accuracy of the 50k-image
      run (``nats_bench.csv``, column ``CIFAR10TestAccuracy200Epochs``). This is
      the usual predictor protocol (TNASP, PINAT, HyperNAS).
    * ``dataset="cifar100"`` / ``"ImageNet16-120"``: ``nasbench201_<dataset>.csv``
      gives both, ``validation accuracy`` as the training target and
      ``test accuracy`` as the evaluation target.

    Item ``i`` is the benchmark's architecture index ``i`` (``arch_id``).

    Raw files are copied from ``$HYPERNAS_MIRROR/nasbench201/`` when that
    variable is set, else downloaded from their public GitHub sources. The
    processed file name carries :attr:`VERSION`, and a fingerprint of the raw
    files is checked on load: a stale or corrupted processed file is rebuilt.

    Args:
        root: Root directory (``raw/`` and ``processed/`` are created below it).
        dataset: ``"cifar10"``, ``"cifar100"`` or ``"ImageNet16-120"``.
        cells_per_stage: Cells per stage of the macro skeleton encoded in each graph.
        prune_cells: Encode pruned normal cells (no ``none`` ops, no ops off every
            input-output path; see :meth:`NASBench201Space.pruned_cell`). ``False``
            keeps all 8 nodes of every cell. Each choice has its own processed file.
        transform, pre_transform, pre_filter: As in PyG.
        force_reload: Rebuild the processed file.
        log: Print PyG's progress messages.
    """

    DATASETS = ("cifar10", "cifar100", "ImageNet16-120")
    url_nasgraph = _NASGRAPH
    url_nats = _NATS

    def __init__(self, root: str, dataset: str = "cifar10", cells_per_stage: int = 5,
                 prune_cells: bool = True, transform: Optional[Callable] = None,
                 pre_transform: Optional[Callable] = None,
                 pre_filter: Optional[Callable] = None, force_reload: bool = False,
                 log: bool = True) -> None:
        if dataset not in self.DATASETS:
            raise ValueError(
                f"Unknown NAS-Bench-201 dataset {dataset!r}; choose one of: {', '.join(self.DATASETS)}")
        self.dataset = dataset
        self.space = NASBench201Space(cells_per_stage, prune=prune_cells)
        super().__init__(root, transform, pre_transform, pre_filter, force_reload, log)

    # ----------------------------------------------------------------- files
    @property
    def _raw_specs(self) -> list[RawFile]:
        def digest(name: str):
            return SHA256.get(name) if self.verify_sha256 else None

        def nasgraph(name: str) -> RawFile:
            url = self.url_nasgraph + name if self.url_nasgraph else None
            return RawFile(name, f"nasbench201/{name}", url, digest(name))

        if self.dataset == "cifar10":
            return [nasgraph("nasbench201_cifar10.csv"),
                    RawFile("nats_bench.csv", "nasbench201/nats_bench.csv", self.url_nats or None,
                            digest("nats_bench.csv"))]
        return [nasgraph(f"nasbench201_{self.dataset}.csv")]

    @property
    def processed_file_names(self) -> list[str]:
        graph = "_pruned" if self.space.prune else ""
        return [f"{self.dataset}_N{self.space.cells_per_stage}{graph}_v{self.VERSION}.pt"]

    def _config(self) -> dict:
        return {"dataset": self.dataset, "cells_per_stage": self.space.cells_per_stage,
                "prune_cells": self.space.prune}

    # ------------------------------------------------------------- processing
    def _read(self) -> tuple[list[str], list[float], list[float]]:
        import pandas as pd

        def read(name: str, columns: list[str]) -> "pd.DataFrame":
            path = osp.join(self.raw_dir, name)
            try:
                # Nothing is turned into NaN quietly: 'n/a' or an empty cell is reported.
                table = pd.read_csv(path, keep_default_na=False)
            except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError,
                    ValueError) as exc:
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
                raise ValueError(f"{path} is not a readable CSV table ({first}); delete it so "
                                 "that it is fetched again") from None
            missing = [c for c in columns if c not in table.columns]
            if missing:
                raise ValueError(f"{path} lacks column(s) {missing}; found {list(table.columns)}")
            if len(table) != self.space.num_archs:
                raise ValueError(
                    f"{path} has {len(table)} rows; NAS-Bench-201 has {self.space.num_archs}")
            arch_col, value_cols = columns[0], columns[1:]
            _check_table(table, path, arch_col, value_cols)
            return table

        if self.dataset == "cifar10":
            valid = read("nasbench201_cifar10.csv", ["arch str", "validation accuracy"])
            test = read("nats_bench.csv", ["ArchitectureString", "CIFAR10TestAccuracy200Epochs"])
            if not (valid["arch str"].values == test["ArchitectureString"].values).all():
                raise ValueError("nasbench201_cifar10.csv and nats_bench.csv list architectures "
                                 "in different orders")
            return (list(valid["arch str"]), list(valid["validation accuracy"]),
                    list(test["CIFAR10TestAccuracy200Epochs"]))
        name = f"nasbench201_{self.dataset}.csv"
        table = read(name, ["arch str", "validation accuracy", "test accuracy"])
        return (list(table["arch str"]), list(table["validation accuracy"]),
                list(table["test accuracy"]))

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({len(self)}, dataset={self.dataset!r}, "
                f"prune_cells={self.space.prune})")


def _check_table(table, path: str, arch_col: str, value_cols: list[str]) -> None:
    """Checks a NAS-Bench-201 table: architecture strings present and unique, accuracies
    numbers in [0, 100].

    Raises:
        ValueError: naming the file, the row (= architecture index) and the value.
    """
    import numpy as np
    import pandas as pd

    arch = table[arch_col]
    bad = np.flatnonzero(~arch.map(lambda a: isinstance(a, str) and bool(a.strip())).values)
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"{path}, row {i}: column {arch_col!r} must hold an architecture "
                         f"string, got {arch.iloc[i]!r}")
    dup = np.flatnonzero(arch.duplicated(keep=False).values)
    if dup.size:
        first = arch.iloc[int(dup[0])]
        rows = np.flatnonzero((arch == first).values).tolist()
        raise ValueError(f"{path}: architecture {first!r} appears in rows {rows}; every "
                         "architecture must appear once")
    for col in value_cols:
        raw = table[col]
        values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64)
        with np.errstate(invalid="ignore"):
            bad = np.flatnonzero(~(np.isfinite(values) & (values >= 0) & (values <= 100)))
        if bad.size:
            i = int(bad[0])
            value = raw.iloc[i]
            value = value.item() if isinstance(value, np.generic) else value
            raise ValueError(f"{path}, row {i} ({arch.iloc[i]}): column {col!r} must be an "
                             f"accuracy in [0, 100] (%), got {value!r}"
                             + (f" ({bad.size} bad rows)" if bad.size > 1 else ""))
