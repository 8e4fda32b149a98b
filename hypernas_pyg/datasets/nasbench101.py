"""The NAS-Bench-101 benchmark as a PyG ``InMemoryDataset``."""
from __future__ import annotations

import json
import logging
import os
import os.path as osp
import shutil
import sys
import tempfile
from typing import Any, Callable, Optional, Sequence, Union

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import InMemoryDataset

from hypernas_pyg.atomic_file import atomic_file
from hypernas_pyg.data.arch_data import ArchData, arch_to_data
from hypernas_pyg.datasets.raw_files import (MIRROR_ENV, RawFile, fetch_raw_files,
                                             sha256_file, verify_raw_files)
from hypernas_pyg.datasets.safe_process import (check_root, checked_process, load_tensors,
                                                write_processed)
from hypernas_pyg.spaces.nasbench101 import NB101_OPS, NASBench101Space, NB101Catalogue
from hypernas_pyg.spaces.nasbench101 import enumerate_cells as _enumerate_cells
from hypernas_pyg.spaces.nasbench101.space import OP_CODES

logger = logging.getLogger(__name__)

_OBFUNAS_URL = ("https://raw.githubusercontent.com/Tongzhou0101/ObfuNAS/"
                "c8d9c7153f098f97fde65e007594fd87202f298d/data/test.npy")
_NASLIB_URL = ("https://raw.githubusercontent.com/automl/NASLib/"
               "1bdbd960ee3e08b4b71dfbae57ff4d4e43ec25c1/naslib/data/zc_nasbench101.json")
_TFRECORD_URL = "https://storage.googleapis.com/nasbench/nasbench_only108.tfrecord"
#: sha256 of the mirrored raw files (datasets/nasbench101.md). ``nb101_specs.csv.gz`` is
#: derived here (and may be regenerated), so it is checked by its cell hashes instead; the
#: TFRecord may be ``nasbench_only108`` or a renamed ``nasbench_full``, so it is not pinned.
SHA256 = {
    "obfunas_test.npy": "b4fef45e66f986cbbdd1dd182a0456438a7e34e3124c2929300c87c0ef25fcc5",
    "zc_nasbench101.json": "c34840bc9af68b6ebaa7f052e42c1749a9a737d7243078be2a5548052bc5a0c2",
}

#: Op of each index of the NASLib 56-tuple keys (``zc_nasbench101.json``).
NASLIB_OPS = ("input", "output", "maxpool3x3", "conv1x1-bn-relu", "conv3x3-bn-relu")
#: Vertices of a NAS-Bench-101 cell at most; interior vertices at most.
_MAX_V = 7
_MAX_INTERIOR = _MAX_V - 2
#: Edge slots of a 7-vertex upper triangle in row-major order (``NB101Cell.edges`` order)
#: and the ``edge_bits`` bit of each (bit ``i + j (j - 1) / 2`` is the edge ``i -> j``).
_PAIRS = [(i, j) for i in range(_MAX_V) for j in range(i + 1, _MAX_V)]
_PAIR_BIT = np.array([i + j * (j - 1) // 2 for i, j in _PAIRS], dtype=np.int64)
_PAIR_SRC = np.array([i for i, _ in _PAIRS], dtype=np.int64)
_PAIR_DST = np.array([j for _, j in _PAIRS], dtype=np.int64)


class NASBench101(InMemoryDataset):
    r"""NAS-Bench-101 architectures with their accuracies.

    Every item is an :class:`~hypernas_pyg.data.ArchData` of the whole cell
    sequence of :class:`~hypernas_pyg.spaces.NASBench101Space` (11 cells: 3 stacks
    of 3 copies of the pruned cell with a downsampling block between stacks) with
    ``y = [[train_target, eval_target]]`` in %. ``dataset[i]`` equals
    ``arch_to_data(dataset.archs[i], dataset.space, y=..., arch_id=...)``.
    Three sources (``subset``), whose targets differ in kind (see
    :attr:`target_kind`):

    * ``"all"`` (default): every one of the 423,624 unique cells. **Both targets
      are the same number**, the CIFAR-10 *test* accuracy of a single training run
      (the first of three) at 108 epochs: this public source has no validation
      accuracy and no 3-run mean. Raw files: ``obfunas_test.npy`` (ObfuNAS; row
      ``i`` is the cell with the ``i``-th smallest module hash, fractions) and
      ``nb101_specs.csv.gz`` (``hash,num_vertices,edge_bits,ops``, the cell of every
      row, same order). The latter has no public source: when it is neither in the
      raw directory nor in the mirror it is generated once from the space's own
      enumeration (:func:`~hypernas_pyg.spaces.nasbench101.enumerate_cells`) and
      written into the raw directory. Item ``i`` is row ``i`` (``arch_id = i``).
    * ``"naslib500"``: the 500 architectures of NASLib's ``zc_nasbench101.json``.
      Both targets are its ``val_accuracy`` (%, one run at 108 epochs, no test
      accuracy); the raw (unpruned) matrices are pruned by the space. Items keep
      ``params`` (millions) and ``flops`` (MFLOPs) as graph attributes;
      ``arch_id`` is the position in the file.
    * ``"tfrecord"``: the official ``nasbench_only108.tfrecord`` (or
      ``nasbench_full.tfrecord`` renamed; only the 108-epoch runs are read),
      supplied by the user: download it from
      ``https://storage.googleapis.com/nasbench/nasbench_only108.tfrecord`` into
      ``<root>/raw/`` or ``$HYPERNAS_MIRROR/nasbench101/``. The training target is
      the mean *validation* accuracy of the 3 runs, the evaluation target the mean
      *test* accuracy. Items keep ``params`` (trainable parameters) and
      ``training_time`` (mean seconds); :attr:`runs` gives every run. Rows are in
      ascending module-hash order, as for ``"all"``.

    For the full tables the space gets the catalogue of cells
    (:meth:`NASBench101Space.set_catalogue`), so ``dataset.space.parse(<module
    hash>)`` and ``dataset.space.sample`` work without enumerating the space.

    The raw tables are checked (row count, sorted unique hashes, finite values in
    range, valid pruned cells, and for ``verify_hashes`` rows that the cell hashes
    to its row's module hash); errors name the file, the row and the value. Only
    compact per-architecture arrays are written to the processed file (its name
    carries :attr:`VERSION`; a fingerprint of the raw files is checked on load); the
    collated PyG storage is rebuilt from them, vectorised, when loading. In that
    storage ``edge_index`` and ``rev_edge_index`` are two views of one ``[3, E]``
    buffer (``[dst; src; dst]``): do not modify them in place. For the 423,624
    architectures (28.6M nodes, 35.0M edges) that storage takes about 2 GB and is
    rebuilt in a few seconds. :attr:`hashes` gives the items' module hashes.

    Args:
        root: Root directory (``raw/`` and ``processed/`` are created below it).
        subset: ``"all"``, ``"naslib500"`` or ``"tfrecord"``.
        transform, pre_transform, pre_filter: As in PyG. With ``pre_transform`` or
            ``pre_filter`` the processed file holds the collated items (slower).
        force_reload: Rebuild the processed file.
        log: Print progress messages.
        expected_rows: Rows the raw table must have; ``None`` for the benchmark's
            own count (423,624, or 500 for ``"naslib500"``). Setting it is only
            meant for partial tables (test fixtures, a truncated download); it is
            part of the processed file's fingerprint.
        verify_hashes: How many rows (drawn at random with a fixed seed, plus the
            first and the last) to check against their module hash, or ``"all"``.

    Raises:
        ValueError: for an unknown subset or a bad argument, or raw files that fail
            the checks above.
        FileNotFoundError: when a raw file can be neither found nor downloaded
            (listing it, where it comes from, and the raw directory to put it in).
    """

    SUBSETS = ("all", "naslib500", "tfrecord")
    #: Bump when the graph encoding or the processed format changes.
    VERSION = 1
    #: Unique cells of NAS-Bench-101.
    NUM_ARCHS = 423_624
    #: Architectures of the NASLib subset.
    NUM_NASLIB = 500
    #: Runs per cell at 108 epochs in the official TFRecord.
    NUM_RUNS = 3
    target_names = ("train_target", "eval_target")
    #: What the two targets are, per subset.
    TARGET_KINDS = {
        "all": ("CIFAR-10 test accuracy, one run, 108 epochs (no validation accuracy in "
                "this source)", "CIFAR-10 test accuracy, one run, 108 epochs"),
        "naslib500": ("CIFAR-10 validation accuracy (NASLib), one run, 108 epochs",
                      "CIFAR-10 validation accuracy (NASLib), one run, 108 epochs (no test "
                      "accuracy in this source)"),
        "tfrecord": ("CIFAR-10 validation accuracy, mean of 3 runs, 108 epochs",
                     "CIFAR-10 test accuracy, mean of 3 runs, 108 epochs"),
    }
    url_obfunas = _OBFUNAS_URL
    url_naslib = _NASLIB_URL
    url_tfrecord = _TFRECORD_URL
    #: Check the raw files of full tables against their published sha256 (:data:`SHA256`;
    #: partial tables, ``expected_rows`` set, are not checked).
    verify_sha256 = True
    #: Graph-level extra attributes of each subset.
    EXTRAS = {"all": (), "naslib500": ("params", "flops"),
              "tfrecord": ("params", "training_time")}

    def __init__(self, root: str, subset: str = "all", transform: Optional[Callable] = None,
                 pre_transform: Optional[Callable] = None,
                 pre_filter: Optional[Callable] = None, force_reload: bool = False,
                 log: bool = True, *, expected_rows: Optional[int] = None,
                 verify_hashes: Union[int, str] = 2048) -> None:
        root = check_root(root)
        #: Every cell of the space is in the table ("all"), or a sample of them.
        self.covers_space = subset == "all"
        if subset not in self.SUBSETS:
            raise ValueError(f"Unknown NAS-Bench-101 subset {subset!r}; choose one of: "
                             f"{', '.join(self.SUBSETS)}")
        if expected_rows is not None and (isinstance(expected_rows, bool) or
                                          not isinstance(expected_rows, int) or
                                          expected_rows < 1):
            raise ValueError(f"expected_rows must be None or a positive integer, got "
                             f"{expected_rows!r}")
        if verify_hashes != "all" and (isinstance(verify_hashes, bool) or
                                       not isinstance(verify_hashes, int) or verify_hashes < 0):
            raise ValueError(f"verify_hashes must be a non-negative integer or 'all', got "
                             f"{verify_hashes!r}")
        self.subset = subset
        self.expected_rows = expected_rows
        self.verify_hashes = verify_hashes
        self.space = NASBench101Space()
        self.target_kind = self.TARGET_KINDS[subset]
        self._hashes = np.empty(0, dtype="S32")
        self._runs: dict[str, np.ndarray] = {}
        super().__init__(root, transform, pre_transform, pre_filter,
                         force_reload=force_reload, log=log)
        if not self._try_load():
            logger.warning("Processed file %s is stale or unreadable; rebuilding it.",
                           self.processed_paths[0])
            self.process()
            if not self._try_load(raise_errors=True):
                raise RuntimeError(f"Could not load freshly processed {self.processed_paths[0]}")

    # ----------------------------------------------------------------- files
    @property
    def num_rows(self) -> int:
        """The row count the raw table must have (see ``expected_rows``)."""
        if self.expected_rows is not None:
            return self.expected_rows
        return self.NUM_NASLIB if self.subset == "naslib500" else self.NUM_ARCHS

    @property
    def _raw_specs(self) -> list[RawFile]:
        def digest(name: str):
            return SHA256.get(name) if self.verify_sha256 and self.expected_rows is None \
                else None

        if self.subset == "all":
            return [RawFile("obfunas_test.npy", "nasbench101/obfunas_test.npy",
                            self.url_obfunas or None, digest("obfunas_test.npy")),
                    RawFile("nb101_specs.csv.gz", "nasbench101/nb101_specs.csv.gz", None)]
        if self.subset == "naslib500":
            return [RawFile("zc_nasbench101.json", "nasbench101/zc_nasbench101.json",
                            self.url_naslib or None, digest("zc_nasbench101.json"))]
        return [RawFile("nasbench_only108.tfrecord", "nasbench101/nasbench_only108.tfrecord",
                        None, digest("nasbench_only108.tfrecord"))]

    @property
    def raw_file_names(self) -> list[str]:
        return [f.name for f in self._raw_specs]

    @property
    def processed_file_names(self) -> list[str]:
        rows = "" if self.expected_rows is None else f"_rows{self.expected_rows}"
        return [f"nb101_{self.subset}{rows}_v{self.VERSION}.pt"]

    @property
    def _meta_path(self) -> str:
        return self.processed_paths[0] + ".json"

    def _download(self) -> None:
        if self.force_reload:  # re-copy what the mirror has, even over present files
            os.makedirs(self.raw_dir, exist_ok=True)
            mirror = os.environ.get(MIRROR_ENV)
            fetch_raw_files([f for f in self._raw_specs if mirror and
                             osp.isfile(osp.join(mirror, f.mirror_path))],
                            self.raw_dir, refresh=True)
        super()._download()

    def download(self) -> None:
        specs = self._raw_specs
        if self.subset == "tfrecord":
            try:
                fetch_raw_files(specs, self.raw_dir)
            except FileNotFoundError as exc:
                raise FileNotFoundError(
                    f"{exc}\nThe official NAS-Bench-101 file is not downloaded automatically "
                    f"(about 0.5 GB): get it from {self.url_tfrecord} and put it in "
                    f"{osp.abspath(self.raw_dir)} (or in $"
                    f"{MIRROR_ENV}/nasbench101/).") from None
            return
        if self.subset == "naslib500":
            fetch_raw_files(specs, self.raw_dir)
            return
        fetch_raw_files(specs[:1], self.raw_dir)  # the accuracies: mirror or GitHub
        try:
            fetch_raw_files(specs[1:], self.raw_dir)  # the cells: mirror only
        except FileNotFoundError:
            self._generate_specs(osp.join(self.raw_dir, specs[1].name))

    def _generate_specs(self, path: str) -> None:
        """Writes ``nb101_specs.csv.gz`` from the space's own enumeration (once, atomically)."""
        logger.info("nb101_specs.csv.gz has no public source; enumerating the "
                    "NAS-Bench-101 cells to write %s", path)
        progress = None if self.log else False
        catalogue = _enumerate_cells(progress=progress)
        os.makedirs(osp.dirname(path), exist_ok=True)
        with atomic_file(path) as tmp:
            with tempfile.TemporaryDirectory(dir=osp.dirname(path)) as scratch:
                out = osp.join(scratch, osp.basename(path))  # keeps the .gz suffix
                catalogue.to_csv(out)
                shutil.move(out, tmp)

    def _fingerprint(self) -> dict:
        out = {"version": self.VERSION, "subset": self.subset,
               "expected_rows": self.expected_rows, "space": self.space.get_config(),
               "pre_transform": repr(self.pre_transform), "pre_filter": repr(self.pre_filter)}
        for path in self.raw_paths:
            out[osp.basename(path)] = sha256_file(path)
        return out

    # ------------------------------------------------------------- processing
    def process(self) -> None:
        readers = {"all": self._read_all, "naslib500": self._read_naslib,
                   "tfrecord": self._read_tfrecord}
        verify_raw_files(self._raw_specs, self.raw_dir)
        table = readers[self.subset]()
        arrays = table.to_arrays()
        if self.pre_filter is not None or self.pre_transform is not None:
            arrays = self._pre_process(arrays)
        write_processed(self.processed_paths[0], self._meta_path, lambda tmp: torch.save(arrays, tmp),
                        self._fingerprint)

    def _pre_process(self, arrays: dict[str, Any]) -> dict[str, Any]:
        """Applies ``pre_filter`` / ``pre_transform`` and keeps the collated items."""
        from torch_geometric.data.separate import separate

        data, slices = _expand(arrays, self.space)
        data = ArchData.from_dict(data)
        items, rows = [], []
        for i in range(len(arrays["arch_id"])):
            item = separate(cls=ArchData, batch=data, idx=i, slice_dict=slices,
                            decrement=False).clone()  # no views into the shared buffers
            if self.pre_filter is not None and not self.pre_filter(item):
                continue
            if self.pre_transform is not None:
                item = self.pre_transform(item)
            items.append(item)
            rows.append(i)
        if not items:
            raise ValueError("pre_filter rejected every architecture")
        collated, collated_slices = self.collate(items)
        return {**arrays, "collated": {"data": collated.to_dict(), "slices": collated_slices},
                "rows": torch.as_tensor(rows, dtype=torch.long)}

    # ---- "all"
    def _read_all(self) -> "_Table":
        npy_path = osp.join(self.raw_dir, "obfunas_test.npy")
        csv_path = osp.join(self.raw_dir, "nb101_specs.csv.gz")
        values = _load_npy(npy_path, self.num_rows)
        cells = _read_specs(csv_path, self.num_rows)
        _check_fractions(values, npy_path)
        cells.verify_hashes(self.verify_hashes, csv_path)
        y = np.repeat((values * 100.0)[:, None], 2, axis=1)
        return _Table(cells, y, np.arange(len(values), dtype=np.int64))

    # ---- "naslib500"
    def _read_naslib(self) -> "_Table":
        path = osp.join(self.raw_dir, "zc_nasbench101.json")
        with open(path) as f:
            try:
                content = json.load(f)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path} is not valid JSON: {exc}") from None
        try:
            entries = content["nasbench101"]["cifar10"]
        except (KeyError, TypeError):
            raise ValueError(f"{path} lacks the 'nasbench101' -> 'cifar10' table") from None
        if not isinstance(entries, dict) or len(entries) != self.num_rows:
            raise ValueError(f"{path} has {len(entries)} architectures; expected "
                             f"{self.num_rows}")
        cells, y, params, flops = [], [], [], []
        for row, (key, info) in enumerate(entries.items()):
            where = f"{path}: architecture {row} ({key[:40]}...)"
            matrix, ops = _parse_naslib_key(key, where)
            try:
                cells.append(self.space.parse((matrix, ops)))
            except ValueError as exc:
                raise ValueError(f"{where}: {exc}") from None
            if not isinstance(info, dict):
                raise ValueError(f"{where}: expected a dict of metrics, got {info!r}")
            for name, out, low, high in (("val_accuracy", y, 0.0, 100.0),
                                         ("params", params, 0.0, np.inf),
                                         ("flops", flops, 0.0, np.inf)):
                value = info.get(name)
                if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                        not np.isfinite(value) or not low <= value <= high:
                    raise ValueError(f"{where}: {name} must be a finite number in "
                                     f"[{low}, {high}], got {value!r}")
                out.append(float(value))
        table = _Cells.from_cells(cells)
        table.verify_hashes(self.verify_hashes, path, given=False)
        acc = np.asarray(y, dtype=np.float64)
        return _Table(table, np.stack([acc, acc], axis=1), np.arange(len(acc), dtype=np.int64),
                      extras={"params": np.asarray(params), "flops": np.asarray(flops)})

    # ---- "tfrecord"
    def _read_tfrecord(self) -> "_Table":
        from hypernas_pyg.datasets.nasbench101_records import collect_runs, read_records

        path = osp.join(self.raw_dir, "nasbench_only108.tfrecord")
        records = read_records(path, epochs=108)
        if self.log and sys.stderr.isatty():
            from tqdm.auto import tqdm
            records = tqdm(records, desc="nasbench_only108.tfrecord", unit=" runs")
        runs = collect_runs(records, epochs=108, num_runs=self.NUM_RUNS, source=path)
        if len(runs) != self.num_rows:
            raise ValueError(f"{path} holds {len(runs)} cells at 108 epochs; expected "
                             f"{self.num_rows}")
        cells = _Cells.from_matrices(runs.hashes, runs.matrices, runs.ops, path)
        cells.verify_hashes(self.verify_hashes, path)
        for name in ("validation_accuracy", "test_accuracy", "train_accuracy"):
            _check_fractions(getattr(runs, name), f"{path} ({name})")
        y = np.stack([runs.validation_accuracy.mean(1), runs.test_accuracy.mean(1)], 1) * 100
        side = {"validation_accuracy": runs.validation_accuracy * 100,
                "test_accuracy": runs.test_accuracy * 100,
                "train_accuracy": runs.train_accuracy * 100,
                "training_time": runs.training_time}
        return _Table(cells, y, np.arange(len(runs), dtype=np.int64),
                      extras={"params": runs.trainable_parameters,
                              "training_time": runs.training_time.mean(1)},
                      runs=side)

    # ----------------------------------------------------------------- loading
    def _process(self) -> None:
        # PyG's own reads processed/pre_transform.pt with full unpickling.
        checked_process(self, self._meta_path)

    def _try_load(self, raise_errors: bool = False) -> bool:
        try:
            with open(self._meta_path) as f:
                if json.load(f) != self._fingerprint():
                    return False
            arrays = load_tensors(self.processed_paths[0])
            self._install(arrays)
        except Exception as exc:  # corrupted or unreadable files are rebuilt
            if raise_errors:
                raise
            logger.debug("Cannot use processed file: %s", exc)
            return False
        return True

    def _install(self, arrays: dict[str, Any]) -> None:
        hashes = arrays["hash"].numpy().view("S32").reshape(-1)
        rows: Union[slice, np.ndarray] = slice(None)
        if "collated" in arrays:  # items of pre_filter / pre_transform
            data = ArchData.from_dict(arrays["collated"]["data"])
            slices = arrays["collated"]["slices"]
            rows = arrays["rows"].numpy()
        else:
            data, slices = _expand(arrays, self.space)
            data = ArchData.from_dict(data)
        self._data, self.slices = data, slices
        self._data_list = None
        self._hashes = hashes[rows]
        self._runs = {key[4:]: value.numpy()[rows] for key, value in arrays.items()
                      if key.startswith("run.")}
        if "collated" not in arrays:
            self._check_items()
        if self.subset != "naslib500":  # a full table: the space's catalogue of cells
            self.space.set_catalogue(NB101Catalogue(
                hashes.astype(str), arrays["num_vertices"].numpy(),
                arrays["edge_bits"].numpy(), arrays["op_labels"].numpy()))

    def _check_items(self) -> None:
        """Compares a few items with :func:`arch_to_data` (guards the vectorised build)."""
        n = len(self._hashes)
        for i in sorted({0, n // 3, (2 * n) // 3, n - 1}):
            item = self.get(i)
            ref = arch_to_data(item.arch, self.space, y=item.y[0].tolist(),
                               arch_id=int(item.arch_id))
            if ref.arch != item.arch:
                raise RuntimeError(f"item {i}: arch {item.arch!r} is not canonical "
                                   f"({ref.arch!r})")
            for key in ("x", "op", "edge_index", "rev_edge_index", "cell_pos", "arch_id"):
                if not torch.equal(item[key], ref[key]):
                    raise RuntimeError(f"item {i}: {key} differs from arch_to_data")
        self._data_list = None

    # ----------------------------------------------------------------- access
    def _positions(self) -> Union[slice, np.ndarray]:
        if self._indices is None:
            return slice(None)
        return np.asarray(list(self.indices()), dtype=np.int64)

    @property
    def archs(self) -> list[str]:
        """Canonical architecture strings of the items, in order."""
        arch = self._data.arch
        if self._indices is None:
            return list(arch)
        return [arch[i] for i in self.indices()]

    @property
    def hashes(self) -> list[str]:
        """NAS-Bench-101 module hashes of the items, in order."""
        return self._hashes[self._positions()].astype(str).tolist()

    @property
    def canonical_keys(self) -> list[str]:
        """The space's canonical key of each item (its module hash), without rehashing."""
        return self.hashes

    @property
    def runs(self) -> dict[str, np.ndarray]:
        """Every run of the items (``"tfrecord"`` only; empty otherwise): ``[N, 3]``
        arrays ``validation_accuracy``, ``test_accuracy``, ``train_accuracy`` (%) and
        ``training_time`` (seconds), runs in file order."""
        pos = self._positions()
        return {key: value[pos] for key, value in self._runs.items()}

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({len(self)}, subset={self.subset!r})"


# ------------------------------------------------------------------ raw tables
class _Cells:
    """Compact cells: hashes (``S32``), vertex counts, edge masks, interior op labels."""

    def __init__(self, hashes: np.ndarray, num_vertices: np.ndarray, edge_bits: np.ndarray,
                 op_labels: np.ndarray) -> None:
        self.hashes = hashes
        self.num_vertices = num_vertices.astype(np.int64)
        self.edge_bits = edge_bits.astype(np.int64)
        self.op_labels = op_labels.astype(np.int64)

    def __len__(self) -> int:
        return len(self.hashes)

    @classmethod
    def from_cells(cls, cells: Sequence[Any]) -> "_Cells":
        labels = np.full((len(cells), _MAX_INTERIOR), -1, dtype=np.int64)
        for k, cell in enumerate(cells):
            labels[k, :cell.num_vertices - 2] = cell.labels[1:-1]
        hashes = np.asarray([c.module_hash() for c in cells], dtype="S32")
        return cls(hashes, np.asarray([c.num_vertices for c in cells]),
                   np.asarray([c.edge_bits for c in cells]), labels)

    @classmethod
    def from_matrices(cls, hashes: Sequence[str], matrices: Sequence[np.ndarray],
                      ops: Sequence[Sequence[str]], source: str) -> "_Cells":
        """Cells given as ``(matrix, ops)`` pairs (already pruned), checked."""
        n = len(hashes)
        keys = _check_hashes(np.asarray(hashes, dtype=str), source)
        num_vertices = np.asarray([len(m) for m in matrices], dtype=np.int64)
        bits = np.zeros(n, dtype=np.int64)
        labels = np.full((n, _MAX_INTERIOR), -1, dtype=np.int64)
        codes = {op: k for k, op in enumerate(NB101_OPS)}
        for v in np.unique(num_vertices).tolist():
            rows = np.flatnonzero(num_vertices == v)
            if not 2 <= v <= _MAX_V:
                raise ValueError(f"{source}: row {rows[0]} ({keys[rows[0]].decode()}) has "
                                 f"{v} vertices; NAS-Bench-101 cells have 2..{_MAX_V}")
            stack = np.stack([matrices[r] for r in rows.tolist()]).astype(np.int64)
            lower = np.tril(np.ones((v, v), dtype=bool))
            bad = np.flatnonzero((stack[:, lower] != 0).any(1))
            if len(bad):
                r = rows[bad[0]]
                raise ValueError(f"{source}: row {r} ({keys[r].decode()}): the matrix is not "
                                 "strictly upper-triangular")
            for i, j in ((i, j) for j in range(1, v) for i in range(j)):
                bits[rows] |= stack[:, i, j] << (i + j * (j - 1) // 2)
        for r, row_ops in enumerate(ops):
            v = len(row_ops)
            if row_ops[0] != "input" or row_ops[-1] != "output":
                raise ValueError(f"{source}: row {r} ({keys[r].decode()}): ops must start "
                                 f"with 'input' and end with 'output', got {list(row_ops)}")
            try:
                labels[r, :v - 2] = [codes[op] for op in row_ops[1:-1]]
            except KeyError as err:
                raise ValueError(f"{source}: row {r} ({keys[r].decode()}): unknown op "
                                 f"{err.args[0]!r}; allowed: {', '.join(NB101_OPS)}") from None
        cells = cls(keys, num_vertices, bits, labels)
        cells.check(source)
        return cells

    def check(self, source: str) -> None:
        """Valid pruned cells of at most 7 vertices and 9 edges, ops in range."""
        v, bits = self.num_vertices, self.edge_bits

        def fail(rows: np.ndarray, what: str) -> None:
            r = int(rows[0])
            raise ValueError(f"{source}: row {r} ({self.hashes[r].decode()}): {what} "
                             f"(num_vertices={int(v[r])}, edge_bits={int(bits[r])}, "
                             f"op labels={self.op_labels[r].tolist()})")

        bad = np.flatnonzero((v < 2) | (v > _MAX_V))
        if len(bad):
            fail(bad, f"num_vertices must lie in 2..{_MAX_V}")
        bad = np.flatnonzero((bits < 0) | (bits >> (v * (v - 1) // 2) != 0))
        if len(bad):
            fail(bad, "edge_bits has bits outside the upper triangle of num_vertices vertices")
        edges = np.zeros(len(bits), dtype=np.int64)
        for bit in range(len(_PAIRS)):
            edges += (bits >> bit) & 1
        bad = np.flatnonzero(edges > 9)
        if len(bad):
            fail(bad, "more than 9 edges")
        slot = np.arange(_MAX_INTERIOR)[None, :]
        interior = slot < (v - 2)[:, None]
        labels = self.op_labels
        bad = np.flatnonzero((interior & ((labels < 0) | (labels >= len(NB101_OPS)))).any(1)
                             | (~interior & (labels != -1)).any(1))
        if len(bad):
            fail(bad, f"needs num_vertices - 2 interior ops out of {', '.join(NB101_OPS)}")
        # Pruned: every vertex but the output has an out-edge, every one but the input
        # an in-edge (then every vertex lies on an input -> output path).
        for u in range(_MAX_V):
            out_mask = sum(1 << int(b) for b, (i, _) in zip(_PAIR_BIT, _PAIRS) if i == u)
            in_mask = sum(1 << int(b) for b, (_, j) in zip(_PAIR_BIT, _PAIRS) if j == u)
            lacks_out = (u < v - 1) & ((bits & out_mask) == 0)
            lacks_in = (u > 0) & (u < v) & ((bits & in_mask) == 0)
            bad = np.flatnonzero(lacks_out | lacks_in)
            if len(bad):
                fail(bad, f"vertex {u} is not on an input -> output path (the cell is not "
                          "pruned)")

    def catalogue(self) -> NB101Catalogue:
        return NB101Catalogue(self.hashes.astype(str), self.num_vertices, self.edge_bits,
                              self.op_labels)

    def verify_hashes(self, count: Union[int, str], source: str, given: bool = True) -> None:
        """Checks that ``count`` rows (or ``"all"``) hash to their module hash."""
        n = len(self)
        if not given or n == 0 or count == 0:
            return
        if count == "all" or count >= n:
            rows = np.arange(n)
        else:
            rng = np.random.default_rng(0)
            rows = np.unique(np.concatenate([[0, n - 1], rng.choice(n, count, replace=False)]))
        catalogue = self.catalogue()  # same (sorted) order
        for r in rows.tolist():
            got = catalogue.cell(r).module_hash()
            if got != catalogue.hash(r):
                raise ValueError(f"{source}: row {r}: the cell "
                                 f"{NASBench101Space().to_string(catalogue.cell(r))} hashes to "
                                 f"{got}, not to the row's hash {catalogue.hash(r)}")


class _Table:
    """A processed table: cells, ``y`` (%), ``arch_id``, graph extras, per-run arrays."""

    def __init__(self, cells: _Cells, y: np.ndarray, arch_id: np.ndarray,
                 extras: Optional[dict[str, np.ndarray]] = None,
                 runs: Optional[dict[str, np.ndarray]] = None) -> None:
        self.cells, self.y, self.arch_id = cells, y, arch_id
        self.extras = extras or {}
        self.runs = runs or {}

    def to_arrays(self) -> dict[str, Tensor]:
        """The compact processed arrays (plain tensors; ``torch.load(weights_only=True)``)."""
        c = self.cells
        strings = _arch_strings(c.num_vertices, c.edge_bits, c.op_labels)
        width = max(len(s) for s in strings)
        raw = np.asarray(strings, dtype=f"S{width}")
        out = {
            "hash": torch.from_numpy(c.hashes.view(np.uint8).reshape(-1, 32).copy()),
            "num_vertices": torch.from_numpy(c.num_vertices.astype(np.uint8)),
            "edge_bits": torch.from_numpy(c.edge_bits.astype(np.int32)),
            "op_labels": torch.from_numpy(c.op_labels.astype(np.int8)),
            "arch": torch.from_numpy(raw.view(np.uint8).reshape(len(raw), width).copy()),
            # float32 of the float64 percentages: what arch_to_data(y=[...]) stores.
            "y": torch.from_numpy(self.y.astype(np.float32)),
            "arch_id": torch.from_numpy(self.arch_id.astype(np.int64)),
        }
        for key, value in self.extras.items():
            value = np.asarray(value)
            out[f"extra.{key}"] = torch.from_numpy(
                value.astype(np.int64 if value.dtype.kind in "iu" else np.float32))
        for key, value in self.runs.items():
            out[f"run.{key}"] = torch.from_numpy(np.asarray(value, dtype=np.float64))
        return out


def _load_npy(path: str, rows: int) -> np.ndarray:
    try:
        values = np.load(path, allow_pickle=False)
    except ValueError as exc:
        raise ValueError(f"{path} is not a plain numpy array file ({exc})") from None
    if values.ndim != 1 or values.dtype.kind != "f":
        raise ValueError(f"{path} must hold a 1-D float array, got {values.dtype} "
                         f"{values.shape}")
    if len(values) != rows:
        raise ValueError(f"{path} has {len(values)} rows; expected {rows}")
    return values.astype(np.float64)


def _check_fractions(values: np.ndarray, source: str) -> None:
    """Raises ``ValueError`` naming the first row whose value is not finite in [0, 1]."""
    bad = ~np.isfinite(values) | (values < 0) | (values > 1)
    if bad.any():
        row = int(np.flatnonzero(bad.reshape(len(values), -1).any(1))[0])
        raise ValueError(f"{source}: row {row} has value {values[row].tolist()!r}; "
                         "accuracies must be finite fractions in [0, 1]")


def _check_hashes(hashes: np.ndarray, source: str) -> np.ndarray:
    """32 lower-case hex digits each, strictly ascending; returns them as ``S32``."""
    text = np.asarray(hashes, dtype=str)
    if len(text) == 0:
        return np.empty(0, dtype="S32")
    lengths = np.char.str_len(text)
    bad = np.flatnonzero(lengths != 32)
    if not len(bad):
        try:
            keys = text.astype("S32")
        except UnicodeEncodeError:
            bad = np.array([next(k for k, h in enumerate(text.tolist()) if not h.isascii())])
        else:
            hexdigit = np.zeros(256, dtype=bool)
            hexdigit[list(b"0123456789abcdef")] = True
            bad = np.flatnonzero(~hexdigit[keys.view(np.uint8).reshape(-1, 32)].all(axis=1))
    if len(bad):
        r = int(bad[0])
        raise ValueError(f"{source}: row {r} has hash {str(text[r])!r}; module hashes are "
                         "32 lower-case hex digits")
    unsorted = np.flatnonzero(keys[1:] <= keys[:-1])
    if len(unsorted):
        r = int(unsorted[0]) + 1
        what = "repeats" if keys[r] == keys[r - 1] else "is smaller than"
        raise ValueError(f"{source}: row {r} has hash {keys[r].decode()}, which {what} "
                         f"the hash of row {r - 1} ({keys[r - 1].decode()}); rows must be in "
                         "strictly ascending hash order (unique, sorted)")
    return keys


def _read_specs(path: str, rows: int) -> _Cells:
    """Reads and checks ``nb101_specs.csv.gz`` (``hash,num_vertices,edge_bits,ops``)."""
    import pandas as pd

    header = "hash,num_vertices,edge_bits,ops"
    try:
        frame = pd.read_csv(path, dtype={"hash": str, "ops": str}, keep_default_na=False)
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise ValueError(f"{path} cannot be read as a CSV table: {exc}") from None
    if list(frame.columns) != header.split(","):
        raise ValueError(f"{path} must have the header {header!r}, got "
                         f"{','.join(map(str, frame.columns))!r}")
    if len(frame) != rows:
        raise ValueError(f"{path} has {len(frame)} rows; expected {rows}")
    numbers = {}
    for column in ("num_vertices", "edge_bits"):
        values = pd.to_numeric(frame[column], errors="coerce")
        bad = np.flatnonzero(values.isna().to_numpy() |
                             (values.to_numpy(dtype=np.float64) % 1 != 0))
        if len(bad):
            r = int(bad[0])
            raise ValueError(f"{path}: row {r} has {column} {frame[column].iloc[r]!r}; "
                             "expected an integer")
        numbers[column] = values.to_numpy(dtype=np.int64)
    keys = _check_hashes(frame["hash"].to_numpy(dtype=str), path)
    split = frame["ops"].str.split("|", expand=True) if len(frame) else pd.DataFrame()
    split = split.reindex(columns=range(max(split.shape[1], _MAX_INTERIOR)))
    codes = {op: k for k, op in enumerate(NB101_OPS)}
    codes[""] = -1  # an empty ops field (2-vertex cell)
    labels = np.full((len(frame), split.shape[1]), -1, dtype=np.int64)
    for k in range(split.shape[1]):
        column = split[k].astype(object).fillna("")
        mapped = column.map(codes)
        bad = np.flatnonzero(mapped.isna().to_numpy())
        if len(bad):
            r = int(bad[0])
            raise ValueError(f"{path}: row {r} has unknown op {column.iloc[r]!r} in ops "
                             f"{frame['ops'].iloc[r]!r}; allowed: {', '.join(NB101_OPS)}")
        labels[:, k] = mapped.to_numpy(dtype=np.int64)
    if labels.shape[1] > _MAX_INTERIOR:
        bad = np.flatnonzero((labels[:, _MAX_INTERIOR:] != -1).any(1))
        if len(bad):
            r = int(bad[0])
            raise ValueError(f"{path}: row {r} lists more than {_MAX_INTERIOR} interior ops")
        labels = labels[:, :_MAX_INTERIOR]
    cells = _Cells(keys, numbers["num_vertices"], numbers["edge_bits"], labels)
    cells.check(path)
    return cells


def _parse_naslib_key(key: str, where: str) -> tuple[np.ndarray, list[str]]:
    """The raw ``(matrix, ops)`` of a NASLib 56-tuple key."""
    body = key.strip()
    if not (body.startswith("(") and body.endswith(")")):
        raise ValueError(f"{where}: the key must be a 56-tuple '(0, 1, ...)'")
    try:
        numbers = [int(t) for t in body[1:-1].split(",")]
    except ValueError:
        raise ValueError(f"{where}: the key must be a tuple of integers") from None
    if len(numbers) != 56:
        raise ValueError(f"{where}: the key has {len(numbers)} entries; expected 56 "
                         "(49 adjacency entries and 7 op indices)")
    ops_idx = numbers[49:]
    if any(not 0 <= k < len(NASLIB_OPS) for k in ops_idx):
        raise ValueError(f"{where}: op indices must lie in 0..{len(NASLIB_OPS) - 1} "
                         f"({', '.join(NASLIB_OPS)}), got {ops_idx}")
    return np.asarray(numbers[:49]).reshape(7, 7), [NASLIB_OPS[k] for k in ops_idx]


def _arch_strings(num_vertices: np.ndarray, edge_bits: np.ndarray,
                  op_labels: np.ndarray) -> list[str]:
    """The space's canonical strings (``NASBench101Space.to_string``) of compact cells."""
    op_code = [OP_CODES[op] for op in NB101_OPS]
    matrix_cache: dict[tuple[int, int], str] = {}
    out = []
    for v, bits, labels in zip(num_vertices.tolist(), edge_bits.tolist(), op_labels.tolist()):
        rows = matrix_cache.get((v, bits))
        if rows is None:
            rows = ".".join("".join("1" if i < j and bits >> (i + j * (j - 1) // 2) & 1 else "0"
                                    for j in range(v)) for i in range(v))
            matrix_cache[(v, bits)] = rows
        ops = "-".join([OP_CODES["input"], *(op_code[k] for k in labels[:v - 2]),
                        OP_CODES["output"]])
        out.append(f"{ops}:{rows}")
    return out


# ------------------------------------------------------------------ expansion
def _layout(space: NASBench101Space) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    """Which cell positions hold the searched cell, and the fixed cells' node types / edges."""
    probe = space.cell_sequence("in-out:01.00")
    normal = np.array([c.kind == "normal" for c in probe], dtype=bool)
    fixed = []
    for c in probe:
        ops = np.array([space.node_type_index(op) for op in c.ops], dtype=np.int64)
        edges = np.array(c.edges, dtype=np.int64).reshape(-1, 2)
        fixed.append((ops, edges))
    return normal, fixed


def _expand(arrays: dict[str, Tensor], space: NASBench101Space,
            chunk: int = 1 << 15) -> tuple[dict[str, Any], dict[str, Tensor]]:
    """The collated ``ArchData`` storage of compact cells, built without Python loops
    over architectures.

    Equal to ``InMemoryDataset.collate([arch_to_data(...) for every row])``: node
    order is cell by cell, vertex order inside a cell (``NB101Cell.ops``), edges
    cell by cell in row-major ``(i, j)`` order (``NB101Cell.edges``), indices local to
    each graph (``InMemoryDataset`` does not increment them). Each chunk of
    architectures is laid out as padded ``[archs, cells, slots]`` int8 arrays whose
    masked entries, read in row-major order, are exactly that sequence.
    """
    num_vertices = arrays["num_vertices"].numpy().astype(np.int64)
    bits = arrays["edge_bits"].numpy().astype(np.int64)
    labels = arrays["op_labels"].numpy().astype(np.int64)
    n = len(num_vertices)
    normal, fixed = _layout(space)
    num_cells = len(normal)
    offset_type = space.node_type_index(NB101_OPS[0])  # interior label k -> node type
    if any(space.node_type_index(op) != offset_type + k for k, op in enumerate(NB101_OPS)):
        raise RuntimeError("the space's node types do not list NB101_OPS consecutively")
    t_in, t_out = space.node_type_index("input"), space.node_type_index("output")

    fixed_sizes = np.array([len(ops) for ops, _ in fixed], dtype=np.int64)
    fixed_edges = np.array([len(e) for _, e in fixed], dtype=np.int64)
    popcount = np.zeros(n, dtype=np.int64)
    for bit in range(len(_PAIRS)):
        popcount += (bits >> bit) & 1
    nodes_per = normal.sum() * num_vertices + fixed_sizes[~normal].sum()
    edges_per = normal.sum() * popcount + fixed_edges[~normal].sum()
    node_ptr = np.concatenate([[0], np.cumsum(nodes_per)])
    edge_ptr = np.concatenate([[0], np.cumsum(edges_per)])
    total_nodes, total_edges = int(node_ptr[-1]), int(edge_ptr[-1])

    # Templates [C, S] (int8: every local index is below 128): node types of the fixed
    # cells, and the edge slots of every cell position.
    slots = max(_MAX_V, int(fixed_sizes.max()))
    eslots = max(len(_PAIRS), int(fixed_edges.max()))
    if num_cells * slots > 127:
        raise RuntimeError(f"{num_cells} cells of up to {slots} nodes overflow int8 indices")
    is_normal = normal[None, :, None]
    fixed_ops = np.zeros((num_cells, slots), dtype=np.int8)
    fixed_src = np.zeros((num_cells, eslots), dtype=np.int8)
    fixed_dst = np.zeros((num_cells, eslots), dtype=np.int8)
    fixed_emask = np.zeros((num_cells, eslots), dtype=bool)
    for c, (ops, edges) in enumerate(fixed):
        fixed_ops[c, :len(ops)] = ops
        fixed_src[c, :len(edges)] = edges[:, 0]
        fixed_dst[c, :len(edges)] = edges[:, 1]
        fixed_emask[c, :len(edges)] = True
    src_template = np.where(is_normal[0], np.pad(_PAIR_SRC, (0, eslots - len(_PAIRS)))[None, :],
                            fixed_src).astype(np.int8)
    dst_template = np.where(is_normal[0], np.pad(_PAIR_DST, (0, eslots - len(_PAIRS)))[None, :],
                            fixed_dst).astype(np.int8)
    cell_index = np.broadcast_to(np.arange(num_cells, dtype=np.int8)[None, :, None],
                                 (1, num_cells, slots))
    pair_bit = np.pad(_PAIR_BIT, (0, eslots - len(_PAIRS)))

    op = torch.empty(total_nodes, dtype=torch.long)
    cell_pos = torch.empty(total_nodes, dtype=torch.long)
    edges_buf = torch.empty((3, total_edges), dtype=torch.long)  # [dst; src; dst]
    op_np, pos_np, edge_np = op.numpy(), cell_pos.numpy(), edges_buf.numpy()
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        v = num_vertices[start:stop]
        m = stop - start
        # Node types of the searched cell padded to ``slots``: input, interior, output.
        cell_ops = np.full((m, slots), t_out, dtype=np.int8)
        cell_ops[:, 0] = t_in
        cell_ops[:, 1:1 + _MAX_INTERIOR] = np.where(
            np.arange(_MAX_INTERIOR)[None, :] < (v - 2)[:, None],
            labels[start:stop] + offset_type, t_out)
        sizes = np.where(normal[None, :], v[:, None], fixed_sizes[None, :])  # [m, C]
        node_mask = np.arange(slots)[None, None, :] < sizes[:, :, None]
        padded = np.where(is_normal, cell_ops[:, None, :], fixed_ops[None, :, :])
        a, b = node_ptr[start], node_ptr[stop]
        op_np[a:b] = padded[node_mask]
        pos_np[a:b] = np.broadcast_to(cell_index, padded.shape)[node_mask]
        # Edges, local to the architecture's graph: slot templates shifted by the
        # cell's first node.
        offsets = (np.cumsum(sizes, axis=1) - sizes).astype(np.int8)[:, :, None]  # [m, C, 1]
        present = ((bits[start:stop, None] >> pair_bit[None, :]) & 1).astype(bool)
        present[:, len(_PAIRS):] = False
        edge_mask = np.where(is_normal, present[:, None, :], fixed_emask[None, :, :])
        a, b = edge_ptr[start], edge_ptr[stop]
        edge_np[1, a:b] = (src_template[None] + offsets)[edge_mask]
        dst = (dst_template[None] + offsets)[edge_mask]
        edge_np[0, a:b] = dst
        edge_np[2, a:b] = dst

    x = torch.eye(space.num_node_types).index_select(0, op)
    raw_arch = arrays["arch"].numpy()
    arch = raw_arch.view(f"S{raw_arch.shape[1]}").reshape(-1).astype(str).tolist()
    data: dict[str, Any] = {
        "x": x, "edge_index": edges_buf[1:3], "op": op, "rev_edge_index": edges_buf[0:2],
        "cell_pos": cell_pos, "arch": arch, "arch_id": arrays["arch_id"].long(),
        "y": arrays["y"].float(),
    }
    node_slices = torch.from_numpy(node_ptr)
    edge_slices = torch.from_numpy(edge_ptr)
    graph_slices = torch.arange(n + 1, dtype=torch.long)
    slices = {"x": node_slices, "edge_index": edge_slices, "op": node_slices.clone(),
              "rev_edge_index": edge_slices.clone(), "cell_pos": node_slices.clone(),
              "arch": graph_slices, "arch_id": graph_slices.clone(),
              "y": graph_slices.clone()}
    for key, value in arrays.items():
        if key.startswith("extra."):
            data[key[6:]] = value
            slices[key[6:]] = graph_slices.clone()
    return data, slices


__all__ = ["NASBench101", "NASLIB_OPS"]
