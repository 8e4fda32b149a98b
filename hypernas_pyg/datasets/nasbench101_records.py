"""Decoding the records of the official NAS-Bench-101 TFRecord files.

Each record of ``nasbench_only108.tfrecord`` (and ``nasbench_full.tfrecord``) is
one training run of one cell at one epoch budget: a UTF-8 JSON list

    ``[module_hash, epochs, raw_adjacency, raw_operations, raw_metrics]``

(see nasbench ``api.py``): ``raw_adjacency`` is the flattened square adjacency
matrix as a string of ``0``/``1`` digits, ``raw_operations`` the comma-separated
op of every vertex, and ``raw_metrics`` a base64 ``nasbench.ModelMetrics``
protobuf (nasbench ``lib/model_metrics.proto``, proto2)::

    message ModelMetrics {
      repeated EvaluationData evaluation_data = 1;
      optional int32 trainable_parameters = 2;
      optional double total_time = 3;
    }
    message EvaluationData {
      optional double current_epoch = 1;
      optional double training_time = 2;
      optional double train_accuracy = 3;
      optional double validation_accuracy = 4;
      optional double test_accuracy = 5;
      optional string checkpoint_path = 6;
    }

``evaluation_data`` holds the evaluations at the start, half-way and end of
training; the official API reads the final one (index 2). The message classes
are built at run time from a descriptor made here (no ``protoc``, no generated
``_pb2`` module); ``protobuf`` is the ``nasbench101`` extra, imported lazily.
"""
from __future__ import annotations

import base64
import binascii
import json
import math
import os
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable, Iterator, Optional, Sequence

import numpy as np

from hypernas_pyg.datasets.tfrecord import PathLike, iter_tfrecord, write_tfrecord

#: The proto package and file name the message classes are registered under.
_PROTO_PACKAGE = "nasbench"
_PROTO_FILE = "hypernas_pyg/nasbench101/model_metrics.proto"


@lru_cache(maxsize=1)
def model_metrics_classes() -> tuple[type, type]:
    """The ``ModelMetrics`` and ``EvaluationData`` protobuf message classes.

    Built once from a ``FileDescriptorProto`` equal to nasbench's
    ``model_metrics.proto`` in a private descriptor pool (so they never clash
    with a generated ``model_metrics_pb2`` imported elsewhere in the process).

    Returns:
        ``(ModelMetrics, EvaluationData)``.

    Raises:
        ImportError: when ``protobuf`` is not installed (naming the extra).
    """
    try:
        from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "Decoding NAS-Bench-101 records needs the 'protobuf' package: "
            "pip install 'hypernas_pyg[nasbench101]' (or pip install protobuf)") from exc
    fdp = descriptor_pb2.FieldDescriptorProto
    file_proto = descriptor_pb2.FileDescriptorProto(
        name=_PROTO_FILE, package=_PROTO_PACKAGE, syntax="proto2")

    def add_message(name: str, fields: Sequence[tuple[str, int, int, int, str]]) -> None:
        message = file_proto.message_type.add(name=name)
        for field_name, number, label, kind, type_name in fields:
            field = message.field.add(name=field_name, number=number, label=label, type=kind)
            if type_name:
                field.type_name = type_name

    optional, repeated = fdp.LABEL_OPTIONAL, fdp.LABEL_REPEATED
    add_message("ModelMetrics", [
        ("evaluation_data", 1, repeated, fdp.TYPE_MESSAGE, f".{_PROTO_PACKAGE}.EvaluationData"),
        ("trainable_parameters", 2, optional, fdp.TYPE_INT32, ""),
        ("total_time", 3, optional, fdp.TYPE_DOUBLE, ""),
    ])
    add_message("EvaluationData", [
        ("current_epoch", 1, optional, fdp.TYPE_DOUBLE, ""),
        ("training_time", 2, optional, fdp.TYPE_DOUBLE, ""),
        ("train_accuracy", 3, optional, fdp.TYPE_DOUBLE, ""),
        ("validation_accuracy", 4, optional, fdp.TYPE_DOUBLE, ""),
        ("test_accuracy", 5, optional, fdp.TYPE_DOUBLE, ""),
        ("checkpoint_path", 6, optional, fdp.TYPE_STRING, ""),
    ])
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file_proto)
    get = getattr(message_factory, "GetMessageClass", None)
    if get is None:  # protobuf < 4.22
        get = message_factory.MessageFactory(pool).GetPrototype
    return (get(pool.FindMessageTypeByName(f"{_PROTO_PACKAGE}.ModelMetrics")),
            get(pool.FindMessageTypeByName(f"{_PROTO_PACKAGE}.EvaluationData")))


@dataclass(frozen=True)
class NB101Record:
    """One training run of one NAS-Bench-101 cell, as stored in the official TFRecord.

    Args:
        module_hash: The cell's NB101 module hash (32 hex digits).
        epochs: The epoch budget of the run (4, 12, 36 or 108).
        matrix: The cell's ``[V, V]`` upper-triangular 0/1 adjacency (int8).
        ops: The op of every vertex (``"input"`` first, ``"output"`` last).
        trainable_parameters: Parameter count of the network.
        validation_accuracy: Final validation accuracy (fraction).
        test_accuracy: Final test accuracy (fraction).
        train_accuracy: Final accuracy on the fixed training subset (fraction).
        training_time: Training time in seconds at the end of training.
        halfway: ``(training_time, train_accuracy, validation_accuracy,
            test_accuracy)`` at the half-way evaluation, ``None`` when absent.
    """

    module_hash: str
    epochs: int
    matrix: np.ndarray
    ops: tuple[str, ...]
    trainable_parameters: int
    validation_accuracy: float
    test_accuracy: float
    train_accuracy: float
    training_time: float
    halfway: Optional[tuple[float, float, float, float]] = None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, NB101Record):
            return NotImplemented
        return all(
            np.array_equal(getattr(self, k), getattr(other, k)) if k == "matrix"
            else getattr(self, k) == getattr(other, k)
            for k in self.__dataclass_fields__)

    __hash__ = None  # type: ignore[assignment]  # holds an array


def encode_record(record: NB101Record) -> bytes:
    """The TFRecord payload of ``record``, in the official format.

    ``evaluation_data`` gets three entries (epoch 0 with zero accuracies, the
    half-way one from ``record.halfway`` or zeros, the final one), as the
    official files have. Used to write test fixtures.

    Raises:
        ValueError: when the matrix is not square 0/1 or does not match ``ops``.
    """
    matrix = np.asarray(record.matrix)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or \
            not np.isin(matrix, (0, 1)).all():
        raise ValueError(f"a NAS-Bench-101 matrix must be a square 0/1 array, got {matrix!r}")
    if len(record.ops) != matrix.shape[0]:
        raise ValueError(f"{len(record.ops)} ops for a {matrix.shape[0]}-vertex matrix")
    metrics_cls, _ = model_metrics_classes()
    metrics = metrics_cls(trainable_parameters=int(record.trainable_parameters),
                          total_time=float(record.training_time))
    metrics.evaluation_data.add(current_epoch=0.0)
    half = record.halfway or (0.0, 0.0, 0.0, 0.0)
    metrics.evaluation_data.add(current_epoch=record.epochs / 2, training_time=half[0],
                                train_accuracy=half[1], validation_accuracy=half[2],
                                test_accuracy=half[3])
    metrics.evaluation_data.add(current_epoch=float(record.epochs),
                                training_time=float(record.training_time),
                                train_accuracy=float(record.train_accuracy),
                                validation_accuracy=float(record.validation_accuracy),
                                test_accuracy=float(record.test_accuracy))
    row = [record.module_hash, int(record.epochs),
           "".join(str(int(v)) for v in matrix.reshape(-1)), ",".join(record.ops),
           base64.b64encode(metrics.SerializeToString()).decode("ascii")]
    return json.dumps(row).encode("utf-8")


def decode_record(payload: bytes) -> NB101Record:
    """Decodes one record payload of an official NAS-Bench-101 TFRecord file.

    Raises:
        ValueError: naming what is malformed (JSON, field types, matrix size,
            base64, protobuf, missing evaluations).
    """
    try:
        row = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not a JSON record: {exc}") from None
    if not isinstance(row, list) or len(row) != 5:
        raise ValueError("expected a JSON list [module_hash, epochs, raw_adjacency, "
                         f"raw_operations, raw_metrics], got {str(row)[:80]!r}")
    module_hash, epochs, raw_adjacency, raw_operations, raw_metrics = row
    if not isinstance(module_hash, str) or len(module_hash) != 32:
        raise ValueError(f"module hash must be 32 hex digits, got {module_hash!r}")
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs <= 0:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    if not isinstance(raw_adjacency, str) or set(raw_adjacency) - {"0", "1"}:
        raise ValueError(f"raw adjacency must be a string of 0/1 digits, got {raw_adjacency!r}")
    dim = math.isqrt(len(raw_adjacency))
    if dim < 2 or dim * dim != len(raw_adjacency):
        raise ValueError(f"raw adjacency of length {len(raw_adjacency)} is not a square "
                         "matrix of at least 2 vertices")
    matrix = (np.frombuffer(raw_adjacency.encode("ascii"), dtype=np.uint8) - ord("0")) \
        .astype(np.int8).reshape(dim, dim)
    if not isinstance(raw_operations, str):
        raise ValueError(f"raw operations must be a string, got {raw_operations!r}")
    ops = tuple(raw_operations.split(","))
    if len(ops) != dim:
        raise ValueError(f"{len(ops)} operations {raw_operations!r} for a {dim}-vertex matrix")
    if not isinstance(raw_metrics, str):
        raise ValueError(f"raw metrics must be a base64 string, got {type(raw_metrics).__name__}")
    try:
        blob = base64.b64decode(raw_metrics, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"raw metrics are not valid base64: {exc}") from None
    metrics_cls, _ = model_metrics_classes()
    try:
        metrics = metrics_cls.FromString(blob)
    except Exception as exc:  # protobuf's DecodeError
        raise ValueError(f"raw metrics are not a ModelMetrics protobuf: {exc}") from None
    evaluations = metrics.evaluation_data
    if not evaluations:
        raise ValueError(f"record of {module_hash} has no evaluation data")
    final = evaluations[-1]
    halfway = None
    if len(evaluations) >= 3:
        h = evaluations[1]
        halfway = (h.training_time, h.train_accuracy, h.validation_accuracy, h.test_accuracy)
    return NB101Record(
        module_hash=module_hash, epochs=epochs, matrix=matrix, ops=ops,
        trainable_parameters=int(metrics.trainable_parameters),
        validation_accuracy=float(final.validation_accuracy),
        test_accuracy=float(final.test_accuracy),
        train_accuracy=float(final.train_accuracy),
        training_time=float(final.training_time), halfway=halfway)


def read_records(path: PathLike, epochs: Optional[int] = None,
                 verify: bool = True) -> Iterator[NB101Record]:
    """Streams the decoded records of an official NAS-Bench-101 TFRecord file.

    Args:
        path: ``nasbench_only108.tfrecord`` or ``nasbench_full.tfrecord``.
        epochs: Yield only the runs of this epoch budget (all when ``None``).
        verify: Check the TFRecord checksums.

    Raises:
        ValueError: for a corrupted, truncated or malformed record, naming the
            file and the record number.
    """
    path = os.fspath(path)
    for number, payload in enumerate(iter_tfrecord(path, verify=verify)):
        try:
            record = decode_record(payload)
        except ValueError as exc:
            raise ValueError(f"{path}: record {number}: {exc}") from None
        if epochs is None or record.epochs == epochs:
            yield record


def write_records(path: PathLike, records: Iterable[NB101Record]) -> int:
    """Writes ``records`` as an official-format NAS-Bench-101 TFRecord file (atomically).

    Returns:
        The number of records written.
    """
    return write_tfrecord(path, (encode_record(r) for r in records))


@dataclass
class NB101Runs:
    """Every cell's runs at one epoch budget, gathered from the records.

    Rows are the cells in ascending module-hash order (the order of
    ``obfunas_test.npy`` and ``nb101_specs.csv.gz``).

    Args:
        hashes: Module hashes, ``[N]`` (sorted).
        matrices: Adjacency of every cell as the file gives it.
        ops: Vertex ops of every cell as the file gives them.
        trainable_parameters: ``int64 [N]``.
        validation_accuracy, test_accuracy, train_accuracy, training_time:
            ``float64 [N, R]``, run ``r`` of cell ``n`` in file order.
    """

    hashes: list[str]
    matrices: list[np.ndarray]
    ops: list[tuple[str, ...]]
    trainable_parameters: np.ndarray
    validation_accuracy: np.ndarray
    test_accuracy: np.ndarray
    train_accuracy: np.ndarray
    training_time: np.ndarray

    def __len__(self) -> int:
        return len(self.hashes)


def collect_runs(records: Iterable[NB101Record], epochs: int = 108, num_runs: int = 3,
                 source: str = "records") -> NB101Runs:
    """Groups the runs of ``records`` at ``epochs`` by cell.

    Args:
        records: Decoded records (e.g. :func:`read_records`); others epochs are skipped.
        epochs: The epoch budget to keep.
        num_runs: Runs every cell must have at that budget (3 in NAS-Bench-101).
        source: Name of the records' origin, used in error messages.

    Raises:
        ValueError: when a cell has another number of runs, when its runs
            disagree on the matrix, ops or parameter count, or when no record
            has ``epochs``.
    """
    index: dict[str, int] = {}
    fixed: list[tuple[np.ndarray, tuple[str, ...], int]] = []
    runs: list[list[tuple[float, float, float, float]]] = []
    for record in records:
        if record.epochs != epochs:
            continue
        row = index.get(record.module_hash)
        if row is None:
            row = index[record.module_hash] = len(fixed)
            fixed.append((record.matrix, record.ops, record.trainable_parameters))
            runs.append([])
        else:
            matrix, ops, params = fixed[row]
            if not (np.array_equal(matrix, record.matrix) and ops == record.ops
                    and params == record.trainable_parameters):
                raise ValueError(f"{source}: the {epochs}-epoch runs of {record.module_hash} "
                                 "disagree on the cell or its parameter count")
        runs[row].append((record.validation_accuracy, record.test_accuracy,
                          record.train_accuracy, record.training_time))
    if not fixed:
        raise ValueError(f"{source} holds no {epochs}-epoch record")
    for module_hash, row in index.items():
        if len(runs[row]) != num_runs:
            raise ValueError(f"{source}: {module_hash} has {len(runs[row])} runs at "
                             f"{epochs} epochs; expected {num_runs}")
    order = sorted(index)
    rows = [index[h] for h in order]
    values = np.asarray([runs[r] for r in rows], dtype=np.float64)  # [N, R, 4]
    return NB101Runs(
        hashes=order, matrices=[fixed[r][0] for r in rows], ops=[fixed[r][1] for r in rows],
        trainable_parameters=np.asarray([fixed[r][2] for r in rows], dtype=np.int64),
        validation_accuracy=values[:, :, 0], test_accuracy=values[:, :, 1],
        train_accuracy=values[:, :, 2], training_time=values[:, :, 3])


__all__ = ["NB101Record", "NB101Runs", "collect_runs", "decode_record", "encode_record",
           "model_metrics_classes", "read_records", "write_records"]
