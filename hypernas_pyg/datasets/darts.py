"""DARTS-space benchmark tables: 214 genotypes trained for real, 725 with surrogate labels."""
from __future__ import annotations

import json
import os.path as osp
from typing import Callable, Optional

import numpy as np
import torch

from hypernas_pyg.datasets.raw_files import RawFile
from hypernas_pyg.datasets.safe_pickle import load_restricted
from hypernas_pyg.datasets.table_dataset import TableDataset
from hypernas_pyg.spaces.darts import DARTSSpace

_YANG = ("https://raw.githubusercontent.com/antoyang/NAS-Benchmark/"
         "c2758da73192d408aad458768f26d3537dd78c40/Plots/data/modified_search_space/")
_NASLIB = ("https://raw.githubusercontent.com/automl/NASLib/"
           "1bdbd960ee3e08b4b71dfbae57ff4d4e43ec25c1/naslib/data/")
#: sha256 of the raw files (datasets/darts.md).
SHA256 = {
    "214genotypes.pkl": "b8c9d3fec713ba58001166c21d4c23b2d5d3eb5028ca9414438ae047a8a77410",
    "214_random_architectures.npy":
        "f3c7d4a4ab46b208968b09c5c4356dbfcfd2c9ca0096893c80a3db39d00685bc",
    "zc_nasbench301.json": "537e9abd6f0b14fdffdfcb3c07b18a037647b5c80808b3b2cf9a51b1b491aba1",
}


def _check_accuracies(values: np.ndarray, path: str, low: float, high: float) -> None:
    bad = np.flatnonzero(~np.isfinite(values) | (values < low) | (values > high))
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"{path}, row {i}: accuracy {values[i]!r} is not a finite number in "
                         f"[{low}, {high}] ({bad.size} such rows)")


class _DARTSTable(TableDataset):
    """A table of DARTS genotypes, encoded as the ``layers``-cell evaluation network."""

    #: Start of the processed file's name.
    stem = ""
    #: A sample of the DARTS space (about 1e18 genotypes), not the whole of it.
    covers_space = False

    def __init__(self, root: str, layers: int = 20, transform: Optional[Callable] = None,
                 pre_transform: Optional[Callable] = None,
                 pre_filter: Optional[Callable] = None, force_reload: bool = False,
                 log: bool = True) -> None:
        self.space = DARTSSpace(layers)
        super().__init__(root, transform, pre_transform, pre_filter, force_reload, log)

    @property
    def processed_file_names(self) -> list[str]:
        return [f"{self.stem}_L{self.space.layers}_v{self.VERSION}.pt"]

    def _config(self) -> dict:
        return {"layers": self.space.layers}


class DARTS214(_DARTSTable):
    """214 random DARTS genotypes, each trained once for 600 epochs on CIFAR-10.

    From Yang et al., *NAS evaluation is frustratingly hard* (ICLR 2020): 20 cells, 36
    initial channels, cutout, auxiliary head, drop path, on the 50k training images; the
    accuracy is on the 10k test images (the best epoch of the curve). Both the training
    and the evaluation target are that **test** accuracy (one run: no validation accuracy
    exists). :attr:`curves` holds the 600 per-epoch test accuracies (``[214, 600]``, %).
    The pickle of genotypes is read with a restricted unpickler (numpy scalars only).

    Args:
        root: Root directory (``raw/`` and ``processed/`` below it).
        layers: Cells of the encoded evaluation network (20, as trained).
        transform, pre_transform, pre_filter, force_reload, log: As in PyG.
    """

    url = _YANG
    num_archs = 214
    stem = "darts214"

    @property
    def _raw_specs(self) -> list[RawFile]:
        return [RawFile(name, f"darts_random214/{name}", self.url + name if self.url else None,
                        SHA256[name] if self.verify_sha256 else None)
                for name in ("214genotypes.pkl", "214_random_architectures.npy")]

    def _read_raw(self) -> tuple[list[str], np.ndarray, np.ndarray]:
        pkl, npy = (osp.join(self.raw_dir, f.name) for f in self._raw_specs)
        rows = load_restricted(pkl)
        if not isinstance(rows, list) or len(rows) != self.num_archs or not all(
                isinstance(r, tuple) and len(r) == 2 and isinstance(r[0], str) for r in rows):
            raise ValueError(f"{pkl} does not hold a list of {self.num_archs} (genotype string, "
                             "accuracy) pairs")
        archs = []
        for i, (text, _) in enumerate(rows):
            try:
                archs.append(self.space.validate(text))
            except ValueError as exc:
                raise ValueError(f"{pkl}, row {i}: {exc}") from None
        keys = [self.space.canonical_key(a) for a in archs]
        if len(set(keys)) != len(keys):
            dup = next(i for i, k in enumerate(keys) if keys.index(k) != i)
            raise ValueError(f"{pkl}, row {dup}: the genotype repeats row {keys.index(keys[dup])}")
        acc = np.array([float(r[1]) for r in rows], dtype=np.float64)
        _check_accuracies(acc, pkl, 0.0, 100.0)
        try:
            curves = np.load(npy, allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise ValueError(f"{npy} is not a readable .npy array ({exc}); delete it so that "
                             "it is fetched again") from None
        if curves.shape != (self.num_archs, 600):
            raise ValueError(f"{npy} has shape {curves.shape}; expected ({self.num_archs}, 600)")
        _check_accuracies(curves.reshape(-1), npy, 0.0, 100.0)
        off = np.flatnonzero(np.abs(curves.max(1) - acc) > 1e-6)
        if off.size:
            i = int(off[0])
            raise ValueError(f"{npy}, row {i}: the curve's best epoch {curves[i].max()} is not "
                             f"the pickle's accuracy {acc[i]}")
        return archs, acc, curves

    def _read(self):
        archs, acc, _ = self._read_raw()
        return archs, acc, acc

    def _after_load(self) -> None:
        npy = osp.join(self.raw_dir, "214_random_architectures.npy")
        self._curves = torch.from_numpy(np.load(npy, allow_pickle=False)).float()

    @property
    def curves(self) -> torch.Tensor:
        """Test accuracy (%) after each of the 600 epochs, one row per item."""
        return self._curves if self._indices is None else self._curves[self.indices()]

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({len(self)}, layers={self.space.layers})"


class NASBench301Surrogate(_DARTSTable):
    """725 DARTS genotypes with **NAS-Bench-301 surrogate predictions** as labels.

    NASLib's ``zc_nasbench301.json``: its ``val_accuracy`` is what the NB301 v1.0 surrogate
    ensemble predicts for the genotype, not a measurement. Both targets are that value;
    use it to exercise a pipeline, never as ground truth (every result should say so).
    :attr:`params` holds NASLib's parameter counts (millions): DARTS's network at 32
    channels and 8 cells without affine BN inside the ops.

    Args:
        root: Root directory.
        layers: Cells of the encoded evaluation network (20).
        transform, pre_transform, pre_filter, force_reload, log: As in PyG.
    """

    url = _NASLIB
    num_archs = 725
    stem = "nb301_surrogate"
    labels = "NAS-Bench-301 v1.0 surrogate predictions (not measured)"

    @property
    def _raw_specs(self) -> list[RawFile]:
        name = "zc_nasbench301.json"
        return [RawFile(name, f"darts_nb301/{name}", self.url + name if self.url else None,
                        SHA256[name] if self.verify_sha256 else None)]

    def _table(self) -> tuple[list[str], np.ndarray, np.ndarray]:
        path = self.raw_paths[0]
        try:
            with open(path) as f:
                table = json.load(f)["cifar10"]
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
            raise ValueError(f"{path} is not NASLib's NB301 table ({exc!r}); delete it so that "
                             "it is fetched again") from None
        if len(table) != self.num_archs:
            raise ValueError(f"{path} has {len(table)} genotypes; expected {self.num_archs}")
        archs, acc, params = [], [], []
        for i, (key, row) in enumerate(table.items()):
            try:
                archs.append(self.space.validate(key))
                acc.append(float(row["val_accuracy"]))
                params.append(float(row["params"]["score"]))
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"{path}, row {i} ({key}): {exc}") from None
        if len({self.space.canonical_key(a) for a in archs}) != len(archs):
            raise ValueError(f"{path}: some genotypes compute the same function")
        acc = np.array(acc)
        _check_accuracies(acc, path, 0.0, 100.0)
        return archs, acc, np.array(params)

    def _read(self):
        archs, acc, _ = self._table()
        return archs, acc, acc

    def _after_load(self) -> None:
        self._params = torch.from_numpy(self._table()[2]).float()

    @property
    def params(self) -> torch.Tensor:
        """NASLib's parameter count of each item, in millions."""
        return self._params if self._indices is None else self._params[self.indices()]

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({len(self)}, layers={self.space.layers}, "
                f"labels='surrogate')")
