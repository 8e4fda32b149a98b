"""Reading and writing TFRecord files without TensorFlow.

A TFRecord file is a sequence of records, each framed as

=========  ===================================================
bytes      content
=========  ===================================================
8          payload length ``n``, unsigned little-endian
4          masked CRC32C of those 8 length bytes, little-endian
``n``      the payload
4          masked CRC32C of the payload, little-endian
=========  ===================================================

where the mask of a CRC32C value ``c`` is
``(((c >> 15) | (c << 17)) + 0xa282ead8) mod 2**32``. Both checksums are
verified on reading. CRC32C comes from the ``google-crc32c`` package (the
``nasbench101`` extra), imported only when a file is read or written.
"""
from __future__ import annotations

import os
import struct
from typing import Callable, Iterable, Iterator, Union

from hypernas_pyg.atomic_file import atomic_file

PathLike = Union[str, "os.PathLike[str]"]

_MASK_DELTA = 0xA282EAD8
_LENGTH = struct.Struct("<Q")
_CRC = struct.Struct("<I")
_HEADER_SIZE = _LENGTH.size + _CRC.size


def _masked_crc_fn() -> Callable[[bytes], int]:
    """The masked CRC32C function (imports ``google_crc32c`` on first use)."""
    try:
        import google_crc32c
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "Reading or writing TFRecord files needs the 'google-crc32c' package: "
            "pip install 'hypernas_pyg[nasbench101]' (or pip install google-crc32c)") from exc
    crc32c = google_crc32c.value

    def masked(data: bytes) -> int:
        crc = crc32c(data)
        return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + _MASK_DELTA) & 0xFFFFFFFF

    return masked


def masked_crc32c(data: bytes) -> int:
    """The masked CRC32C checksum TFRecord framing stores for ``data``.

    Args:
        data: The bytes to checksum.

    Returns:
        ``(((c >> 15) | (c << 17)) + 0xa282ead8) mod 2**32`` of the CRC32C ``c`` of ``data``.
    """
    return _masked_crc_fn()(bytes(data))


def iter_tfrecord(path: PathLike, verify: bool = True) -> Iterator[bytes]:
    """Yields the payload of every record of the TFRecord file ``path``, in order.

    The file is streamed: only one record is held in memory at a time.

    Args:
        path: The TFRecord file (uncompressed).
        verify: Check the CRC32C of every length field and payload.

    Yields:
        Each record's payload bytes.

    Raises:
        FileNotFoundError: when ``path`` does not exist.
        ValueError: for a bad checksum or a truncated record, naming the file,
            the record number (from 0) and the byte offset where the record starts.
    """
    path = os.fspath(path)
    masked = _masked_crc_fn() if verify else None
    with open(path, "rb") as f:
        record = 0
        offset = 0
        while True:
            header = f.read(_HEADER_SIZE)
            if not header:
                return
            where = f"{path}: record {record} at byte offset {offset}"
            if len(header) < _HEADER_SIZE:
                raise ValueError(f"{where} is truncated: {len(header)} header bytes of "
                                 f"{_HEADER_SIZE}")
            length_bytes = header[:_LENGTH.size]
            (length,) = _LENGTH.unpack(length_bytes)
            (length_crc,) = _CRC.unpack_from(header, _LENGTH.size)
            if masked is not None and masked(length_bytes) != length_crc:
                raise ValueError(f"{where} has a bad length checksum (file corrupted or not "
                                 "a TFRecord file)")
            payload = f.read(length)
            if len(payload) < length:
                raise ValueError(f"{where} is truncated: {len(payload)} payload bytes of "
                                 f"{length}")
            footer = f.read(_CRC.size)
            if len(footer) < _CRC.size:
                raise ValueError(f"{where} is truncated: its payload checksum is missing")
            if masked is not None and masked(payload) != _CRC.unpack(footer)[0]:
                raise ValueError(f"{where} has a bad payload checksum (file corrupted)")
            yield payload
            record += 1
            offset += _HEADER_SIZE + length + _CRC.size


def write_tfrecord(path: PathLike, records: Iterable[bytes]) -> int:
    """Writes ``records`` to the TFRecord file ``path``, atomically.

    The output is byte-for-byte what TensorFlow's ``TFRecordWriter`` writes
    (uncompressed). A failure while writing leaves ``path`` as it was.

    Args:
        path: The file to write (its directory is created if needed).
        records: The payloads, each ``bytes``.

    Returns:
        The number of records written.

    Raises:
        ValueError: when a record is not ``bytes``.
    """
    path = os.fspath(path)
    masked = _masked_crc_fn()
    count = 0

    with atomic_file(path) as tmp, open(tmp, "wb") as f:
        for payload in records:
            if not isinstance(payload, (bytes, bytearray, memoryview)):
                raise ValueError(f"TFRecord record {count} must be bytes, got "
                                 f"{type(payload).__name__}")
            payload = bytes(payload)
            length = _LENGTH.pack(len(payload))
            f.write(length)
            f.write(_CRC.pack(masked(length)))
            f.write(payload)
            f.write(_CRC.pack(masked(payload)))
            count += 1
    return count


__all__ = ["iter_tfrecord", "masked_crc32c", "write_tfrecord"]
