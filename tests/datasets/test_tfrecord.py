"""TFRecord framing and NAS-Bench-101 record decoding, on fixtures written here."""
import base64
import json
import struct

import numpy as np
import pytest

from hypernas_pyg.datasets.nasbench101_records import (NB101Record, collect_runs, decode_record,
                                                       encode_record, model_metrics_classes,
                                                       read_records, write_records)
from hypernas_pyg.datasets.tfrecord import iter_tfrecord, masked_crc32c, write_tfrecord

CONV3, CONV1, POOL = "conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3"
EPOCHS = (4, 12, 36, 108)


def _mask(crc: int) -> int:
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def test_masked_crc32c_known_value():
    # CRC32C("123456789") = 0xE3069283 (the standard check value), then TFRecord's mask.
    assert masked_crc32c(b"123456789") == _mask(0xE3069283)
    assert masked_crc32c(b"") == _mask(0)


def test_framing_is_tfrecord_layout(tmp_path):
    path = tmp_path / "a.tfrecord"
    assert write_tfrecord(path, [b"hello", b""]) == 2
    raw = path.read_bytes()
    length = struct.pack("<Q", 5)
    assert raw[:8] == length
    assert raw[8:12] == struct.pack("<I", masked_crc32c(length))
    assert raw[12:17] == b"hello"
    assert raw[17:21] == struct.pack("<I", masked_crc32c(b"hello"))
    assert len(raw) == 2 * 16 + 5
    assert list(iter_tfrecord(path)) == [b"hello", b""]
    empty = tmp_path / "empty.tfrecord"
    empty.write_bytes(b"")
    assert list(iter_tfrecord(empty)) == []


def test_iterator_streams(tmp_path):
    path = tmp_path / "s.tfrecord"
    write_tfrecord(path, (bytes([i]) * i for i in range(50)))
    it = iter_tfrecord(path)
    assert next(it) == b"" and next(it) == b"\x01"
    assert sum(1 for _ in it) == 48


@pytest.mark.parametrize("where", ["length", "length_crc", "payload", "payload_crc"])
def test_corrupt_byte_names_file_record_and_offset(tmp_path, where):
    path = tmp_path / "c.tfrecord"
    payloads = [b"a" * 10, b"b" * 20, b"c" * 30]
    write_tfrecord(path, payloads)
    raw = bytearray(path.read_bytes())
    start = 16 + 10  # record 1 starts after record 0
    pos = {"length": start + 1, "length_crc": start + 9, "payload": start + 15,
           "payload_crc": start + 12 + 20 + 2}[where]
    raw[pos] ^= 0x40
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError) as info:
        list(iter_tfrecord(path))
    msg = str(info.value)
    assert str(path) in msg and "record 1" in msg and f"offset {start}" in msg
    # Unchecked reading does not look at the checksums.
    if where in ("payload", "payload_crc", "length_crc"):
        assert len(list(iter_tfrecord(path, verify=False))) == 3


@pytest.mark.parametrize("cut", [3, 12, 20, 29])
def test_truncated_file(tmp_path, cut):
    path = tmp_path / "t.tfrecord"
    write_tfrecord(path, [b"x" * 4, b"y" * 14])
    raw = path.read_bytes()
    path.write_bytes(raw[:20 + cut])  # record 0 is 20 bytes; cut inside record 1
    got = []
    with pytest.raises(ValueError, match=r"record 1 at byte offset 20 is truncated"):
        for payload in iter_tfrecord(path):
            got.append(payload)
    assert got == [b"x" * 4]


def test_writer_rejects_non_bytes_and_leaves_nothing(tmp_path):
    path = tmp_path / "w.tfrecord"
    with pytest.raises(ValueError, match="record 1 must be bytes"):
        write_tfrecord(path, [b"ok", "text"])
    assert not path.exists() and list(tmp_path.iterdir()) == []


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        list(iter_tfrecord(tmp_path / "nope.tfrecord"))


# ------------------------------------------------------------------ NB101 records
def _cells():
    """Five small valid NB101 cells (matrix, ops)."""
    def mat(v, edges):
        m = np.zeros((v, v), dtype=np.int8)
        for s, d in edges:
            m[s, d] = 1
        return m
    return [
        (mat(2, [(0, 1)]), ("input", "output")),
        (mat(3, [(0, 1), (1, 2)]), ("input", CONV3, "output")),
        (mat(3, [(0, 1), (0, 2), (1, 2)]), ("input", POOL, "output")),
        (mat(5, [(0, 1), (0, 2), (1, 3), (2, 3), (3, 4), (0, 4)]),
         ("input", CONV1, CONV3, POOL, "output")),
        (mat(7, [(0, 1), (0, 2), (0, 3), (0, 5), (1, 6), (2, 6), (3, 4), (4, 6), (5, 6)]),
         ("input", CONV1, CONV3, CONV3, CONV3, POOL, "output")),
    ]


def _fixture_records(seed=0):
    rng = np.random.default_rng(seed)
    records = []
    for c, (matrix, ops) in enumerate(_cells()):
        params = int(rng.integers(10_000, 5_000_000))
        for epochs in EPOCHS:
            for run in range(3):
                val, test, train = rng.uniform(0.1, 0.95, 3)
                records.append(NB101Record(
                    module_hash=f"{c:x}" * 32, epochs=epochs, matrix=matrix, ops=ops,
                    trainable_parameters=params, validation_accuracy=float(val),
                    test_accuracy=float(test), train_accuracy=float(train),
                    training_time=float(rng.uniform(100, 3000)),
                    halfway=tuple(float(v) for v in rng.uniform(0, 1, 4))))
    return records


def test_runtime_protobuf_matches_nasbench_proto():
    metrics_cls, eval_cls = model_metrics_classes()
    assert metrics_cls.DESCRIPTOR.full_name == "nasbench.ModelMetrics"
    fields = {f.name: (f.number, f.type) for f in metrics_cls.DESCRIPTOR.fields}
    t = metrics_cls.DESCRIPTOR.fields[0]
    assert fields == {"evaluation_data": (1, t.TYPE_MESSAGE),
                      "trainable_parameters": (2, t.TYPE_INT32), "total_time": (3, t.TYPE_DOUBLE)}
    assert [(f.name, f.number) for f in eval_cls.DESCRIPTOR.fields] == [
        ("current_epoch", 1), ("training_time", 2), ("train_accuracy", 3),
        ("validation_accuracy", 4), ("test_accuracy", 5), ("checkpoint_path", 6)]
    # Wire bytes by hand: field 2 varint 300, field 1 message {field 5 double 0.5}.
    blob = bytes([0x10, 0xAC, 0x02, 0x0A, 0x09, 0x29]) + struct.pack("<d", 0.5)
    m = metrics_cls.FromString(blob)
    assert m.trainable_parameters == 300 and m.evaluation_data[0].test_accuracy == 0.5


def test_record_roundtrip_and_payload_format():
    record = _fixture_records()[-1]
    payload = encode_record(record)
    row = json.loads(payload)
    assert row[0] == record.module_hash and row[1] == record.epochs
    assert row[2] == "".join(str(v) for v in record.matrix.reshape(-1))
    assert row[3] == ",".join(record.ops)
    metrics = model_metrics_classes()[0].FromString(base64.b64decode(row[4]))
    assert len(metrics.evaluation_data) == 3
    assert metrics.evaluation_data[2].validation_accuracy == record.validation_accuracy
    assert decode_record(payload) == record


def test_fixture_file_reads_back(tmp_path):
    records = _fixture_records()
    path = tmp_path / "nb101.tfrecord"
    assert write_records(path, records) == 5 * 4 * 3
    assert list(read_records(path)) == records
    only108 = list(read_records(path, epochs=108))
    assert len(only108) == 15 and all(r.epochs == 108 for r in only108)

    runs = collect_runs(read_records(path), epochs=108)
    assert len(runs) == 5 and runs.hashes == sorted(runs.hashes)
    expected = [r for r in records if r.epochs == 108]
    for n, h in enumerate(runs.hashes):
        mine = [r for r in expected if r.module_hash == h]
        np.testing.assert_array_equal(runs.validation_accuracy[n],
                                      [r.validation_accuracy for r in mine])
        np.testing.assert_array_equal(runs.test_accuracy[n], [r.test_accuracy for r in mine])
        np.testing.assert_array_equal(runs.training_time[n], [r.training_time for r in mine])
        assert runs.trainable_parameters[n] == mine[0].trainable_parameters
        assert runs.ops[n] == mine[0].ops
        np.testing.assert_array_equal(runs.matrices[n], mine[0].matrix)


def test_corrupt_record_file_names_record(tmp_path):
    path = tmp_path / "nb101.tfrecord"
    write_records(path, _fixture_records())
    raw = bytearray(path.read_bytes())
    # Flip a byte inside the payload of record 7.
    offset = 0
    for _ in range(7):
        (length,) = struct.unpack_from("<Q", raw, offset)
        offset += 16 + length
    raw[offset + 12 + 5] ^= 0x01
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match=rf"record 7 at byte offset {offset}"):
        list(read_records(path))


def test_truncated_record_file(tmp_path):
    path = tmp_path / "nb101.tfrecord"
    write_records(path, _fixture_records())
    raw = path.read_bytes()
    path.write_bytes(raw[:-7])
    with pytest.raises(ValueError, match=r"record 59 .* truncated"):
        list(read_records(path))


def test_malformed_payloads_are_named(tmp_path):
    good = json.loads(encode_record(_fixture_records()[0]))
    bad = {
        "not a JSON record": b"\xff\xfe",
        "expected a JSON list": json.dumps(good[:4]).encode(),
        "32 hex digits": json.dumps(["abc"] + good[1:]).encode(),
        "not a square": json.dumps(good[:2] + ["010"] + good[3:]).encode(),
        "operations": json.dumps(good[:3] + ["input"] + good[4:]).encode(),
        "base64": json.dumps(good[:4] + ["***"]).encode(),
        "ModelMetrics": json.dumps(good[:4] + [base64.b64encode(b"\x0a\xff").decode()]).encode(),
    }
    for message, payload in bad.items():
        with pytest.raises(ValueError, match=message):
            decode_record(payload)
    path = tmp_path / "bad.tfrecord"
    write_tfrecord(path, [json.dumps(good).encode(), bad["base64"]])
    with pytest.raises(ValueError, match=rf"{path}: record 1: .*base64"):
        list(read_records(path))


def test_collect_runs_checks_run_count_and_consistency():
    records = [r for r in _fixture_records() if r.epochs == 108]
    with pytest.raises(ValueError, match="has 2 runs at 108 epochs; expected 3"):
        collect_runs(records[1:])
    changed = list(records)
    r = changed[1]
    changed[1] = NB101Record(**{**r.__dict__, "trainable_parameters": r.trainable_parameters + 1})
    with pytest.raises(ValueError, match="disagree"):
        collect_runs(changed)
    with pytest.raises(ValueError, match="no 36-epoch record"):
        collect_runs(records, epochs=36)
