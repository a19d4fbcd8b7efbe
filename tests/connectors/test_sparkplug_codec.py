"""Sparkplug B codec: every supported datatype round-trips; bad values and bytes fail clearly."""

from __future__ import annotations

import math

import pytest

from shopfloor.connectors.sparkplug import sparkplug_b_pb2 as pb
from shopfloor.connectors.sparkplug.codec import (
    SUPPORTED,
    DataType,
    Metric,
    Payload,
    SparkplugDecodeError,
    SparkplugValueError,
    UnsupportedType,
    decode,
    encode,
    value_of,
)

CASES: list[tuple[DataType, list[object]]] = [
    (DataType.Int8, [-128, -1, 0, 127]),
    (DataType.Int16, [-32768, -2, 0, 32767]),
    (DataType.Int32, [-(2**31), -3, 0, 2**31 - 1]),
    (DataType.Int64, [-(2**63), -4, 0, 2**63 - 1]),
    (DataType.UInt8, [0, 255]),
    (DataType.UInt16, [0, 65535]),
    (DataType.UInt32, [0, 2**32 - 1]),
    (DataType.UInt64, [0, 2**64 - 1]),
    (DataType.Float, [0.0, 1.5, -2.25, math.inf]),
    (DataType.Double, [0.0, 1e300, -1.0 / 3, -math.inf]),
    (DataType.Boolean, [True, False]),
    (DataType.String, ["", "hello", "Grüße ✓"]),
    (DataType.Text, ["a longer text\nwith lines"]),
    (DataType.UUID, ["123e4567-e89b-12d3-a456-426614174000"]),
    (DataType.DateTime, [0, 1_700_000_000_123]),
    (DataType.Bytes, [b"", b"\x00\xff\x10"]),
    (DataType.File, [b"%PDF-1.7 ..."]),
    (DataType.Int8Array, [[-128, 0, 127], []]),
    (DataType.Int16Array, [[-32768, 32767]]),
    (DataType.Int32Array, [[-(2**31), 2**31 - 1]]),
    (DataType.Int64Array, [[-(2**63), 2**63 - 1]]),
    (DataType.UInt8Array, [[0, 255]]),
    (DataType.UInt16Array, [[0, 65535]]),
    (DataType.UInt32Array, [[0, 2**32 - 1]]),
    (DataType.UInt64Array, [[0, 2**64 - 1]]),
    (DataType.FloatArray, [[1.5, -0.25]]),
    (DataType.DoubleArray, [[1e-300, 2.5]]),
    (DataType.DateTimeArray, [[1_700_000_000_000, 0]]),
    (DataType.StringArray, [["a", "", "ü"], []]),
]


def test_cases_cover_every_supported_type() -> None:
    assert {dt for dt, _ in CASES} == set(SUPPORTED)


def test_enum_matches_the_proto() -> None:
    assert {d.name: d.value for d in DataType} == dict(pb.DataType.items())


@pytest.mark.parametrize(("datatype", "values"), CASES, ids=[dt.name for dt, _ in CASES])
def test_round_trip(datatype: DataType, values: list[object]) -> None:
    metrics = [
        Metric(f"m{i}", alias=i + 1, datatype=datatype, value=v, timestamp=1000 + i)
        for i, v in enumerate(values)
    ]
    data = encode(Payload(metrics, timestamp=999, seq=7, uuid="u-1", body=b"x"))
    p = decode(data)
    assert (p.timestamp, p.seq, p.uuid, p.body) == (999, 7, "u-1", b"x")
    assert [m.name for m in p.metrics] == [m.name for m in metrics]
    assert [m.alias for m in p.metrics] == [m.alias for m in metrics]
    assert [m.timestamp for m in p.metrics] == [m.timestamp for m in metrics]
    assert all(m.datatype == datatype for m in p.metrics)
    assert [value_of(m, m.datatype) for m in p.metrics] == values
    # without datatypes on the wire (NDATA), the birth's datatype gives the same values
    bare = decode(encode(Payload(metrics), with_datatypes=False))
    assert all(m.datatype is None for m in bare.metrics)
    assert [value_of(m, datatype) for m in bare.metrics] == values


def test_float_is_single_precision_on_the_wire() -> None:
    m = decode(encode(Payload([Metric("f", datatype=DataType.Float, value=0.1)]))).metrics[0]
    assert value_of(m, DataType.Float) == pytest.approx(0.1, rel=1e-7)
    assert m.wire == "float_value"


def test_null_and_flags() -> None:
    m = Metric("n", datatype=DataType.Double, value=None, is_historical=True, is_transient=True)
    out = decode(encode(Payload([m]))).metrics[0]
    assert out.is_null and out.is_historical and out.is_transient
    assert value_of(out, DataType.Double) is None


def test_signed_ints_use_twos_complement_like_tahu() -> None:
    msg = pb.Payload()
    msg.ParseFromString(encode(Payload([Metric("x", datatype=DataType.Int8, value=-1)])))
    assert msg.metrics[0].int_value == 0xFFFFFFFF
    msg.ParseFromString(encode(Payload([Metric("x", datatype=DataType.Int64, value=-1)])))
    assert msg.metrics[0].long_value == 2**64 - 1


@pytest.mark.parametrize(
    ("datatype", "value", "needle"),
    [
        (DataType.Int8, 128, "outside -128..127"),
        (DataType.UInt16, -1, "outside 0..65535"),
        (DataType.Int32, 1.5, "needs an int"),
        (DataType.Int32, True, "needs an int"),
        (DataType.Double, "1", "needs a number"),
        (DataType.Boolean, 1, "needs a bool"),
        (DataType.String, b"x", "needs a str"),
        (DataType.Bytes, "x", "needs bytes"),
        (DataType.UInt8Array, [256], "UInt8Array"),
        (DataType.StringArray, ["a\0b"], "NUL"),
    ],
)
def test_encode_rejects_values_that_do_not_fit(datatype: DataType, value: object, needle: str) -> None:
    with pytest.raises(SparkplugValueError, match=needle):
        encode(Payload([Metric("bad", datatype=datatype, value=value)]))


def test_encode_needs_a_datatype() -> None:
    with pytest.raises(SparkplugValueError, match="datatype is needed"):
        encode(Payload([Metric("x", value=1)]))


def test_unsupported_types() -> None:
    with pytest.raises(UnsupportedType):
        encode(Payload([Metric("ds", datatype=DataType.DataSet, value=[1])]))
    msg = pb.Payload()
    m = msg.metrics.add()
    m.name, m.datatype = "ds", DataType.DataSet
    m.dataset_value.num_of_columns = 1
    out = decode(msg.SerializeToString()).metrics[0]
    with pytest.raises(UnsupportedType, match="DataSet"):
        value_of(out, out.datatype)


def test_decode_checks_the_wire_value_against_the_datatype() -> None:
    m = decode(encode(Payload([Metric("x", datatype=DataType.UInt32, value=300)]))).metrics[0]
    with pytest.raises(SparkplugValueError, match=r"outside 0\.\.255"):
        value_of(m, DataType.UInt8)
    s = decode(encode(Payload([Metric("s", datatype=DataType.String, value="a")]))).metrics[0]
    with pytest.raises(SparkplugValueError, match="carries string_value"):
        value_of(s, DataType.Double)
    with pytest.raises(SparkplugValueError, match="no datatype"):
        value_of(s, None)
    arr = decode(encode(Payload([Metric("a", datatype=DataType.Bytes, value=b"abc")]))).metrics[0]
    with pytest.raises(SparkplugValueError, match="whole number"):
        value_of(arr, DataType.Int16Array)
    with pytest.raises(SparkplugValueError, match="NUL-terminated"):
        value_of(arr, DataType.StringArray)


@pytest.mark.parametrize(
    "data", [b"\xff", b"\x12\x05\x0a\x03ab", b"\x0a", b"\x08\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80"]
)
def test_malformed_bytes(data: bytes) -> None:
    with pytest.raises(SparkplugDecodeError, match="not a Sparkplug B payload") as info:
        decode(data)
    assert info.value.reason == "malformed"


def test_invalid_utf8_in_a_string_field() -> None:
    # field 2 (metrics), a Metric with field 1 (name) holding invalid UTF-8
    data = b"\x12\x04\x0a\x02\xff\xfe"
    with pytest.raises(SparkplugDecodeError):
        decode(data)
