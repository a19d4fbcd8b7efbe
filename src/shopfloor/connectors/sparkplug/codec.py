"""Sparkplug B payloads <-> plain Python: the only module that imports the generated protobuf code.

A :class:`Payload` holds ``timestamp`` (epoch ms), ``seq`` and a list of :class:`Metric`
(``name``, ``alias``, ``datatype``, ``value``, ``timestamp``, ``is_null``, ...). :func:`encode`
turns it into the standard wire bytes (``sparkplug_b.proto``); :func:`decode` reads bytes back and
raises :class:`SparkplugDecodeError` (an ingest ``malformed`` error) if they are not a Sparkplug
payload. A decoded metric keeps its raw wire value (``wire`` names the protobuf field); turn it
into a Python value with :func:`value_of` and the metric's datatype (from the metric itself, or for
alias-only data messages from the birth certificate).

Supported datatypes and their Python values: Int8..Int64 and UInt8..UInt64 (``int``, range
checked; signed values travel as two's complement), Float/Double (``float``), Boolean (``bool``),
String/Text/UUID (``str``), DateTime (``int`` epoch ms), Bytes/File (``bytes``), the numeric and
DateTime arrays (``list``, packed little-endian in ``bytes_value`` as in Sparkplug 3.0) and
StringArray (``list[str]``, NUL-terminated). DataSet, Template, PropertySet and BooleanArray
values are not supported: :func:`value_of` raises :class:`UnsupportedType` for them.

>>> data = encode(Payload([Metric("temp", alias=1, datatype=DataType.Double, value=21.5)], 1000, seq=3))
>>> p = decode(data)
>>> p.seq, p.metrics[0].name, value_of(p.metrics[0], p.metrics[0].datatype)
(3, 'temp', 21.5)
>>> value_of(decode(encode(Payload([Metric(alias=2, datatype=DataType.Int8, value=-5)]))).metrics[0],
...          DataType.Int8)
-5
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from google.protobuf.message import DecodeError as _PbDecodeError
from google.protobuf.message import EncodeError as _PbEncodeError

from ...core.errors import DecodeError, TypeMismatch
from . import sparkplug_b_pb2 as _pb2

pb: Any = _pb2  # generated code: no type stubs


class SparkplugDecodeError(DecodeError):
    """Bytes that are not a Sparkplug B payload (reason ``malformed``)."""


class SparkplugValueError(TypeMismatch):
    """A metric value does not fit its datatype (reason ``wrong_type``)."""


class UnsupportedType(TypeMismatch):
    """A datatype shopfloor does not turn into values (DataSet, Template, ...)."""

    reason = "unsupported_type"


class DataType(IntEnum):
    """The Sparkplug B datatypes (enum ``DataType`` of ``sparkplug_b.proto``)."""

    Unknown = 0
    Int8 = 1
    Int16 = 2
    Int32 = 3
    Int64 = 4
    UInt8 = 5
    UInt16 = 6
    UInt32 = 7
    UInt64 = 8
    Float = 9
    Double = 10
    Boolean = 11
    String = 12
    DateTime = 13
    Text = 14
    UUID = 15
    DataSet = 16
    Bytes = 17
    File = 18
    Template = 19
    PropertySet = 20
    PropertySetList = 21
    Int8Array = 22
    Int16Array = 23
    Int32Array = 24
    Int64Array = 25
    UInt8Array = 26
    UInt16Array = 27
    UInt32Array = 28
    UInt64Array = 29
    FloatArray = 30
    DoubleArray = 31
    BooleanArray = 32
    StringArray = 33
    DateTimeArray = 34


@dataclass(slots=True)
class Metric:
    """One metric. ``timestamp`` is epoch ms; ``value=None`` is sent as ``is_null``.

    After :func:`decode`, ``value`` is the raw wire value and ``wire`` the protobuf field it
    came in (``None`` when the metric had no value); use :func:`value_of`.
    """

    name: str | None = None
    alias: int | None = None
    datatype: int | None = None
    value: Any = None
    timestamp: int | None = None
    is_null: bool = False
    is_historical: bool = False
    is_transient: bool = False
    wire: str | None = None


@dataclass(slots=True)
class Payload:
    """One Sparkplug B payload: metrics, payload ``timestamp`` (epoch ms), ``seq`` (0-255)."""

    metrics: list[Metric] = field(default_factory=list)
    timestamp: int | None = None
    seq: int | None = None
    uuid: str | None = None
    body: bytes | None = None


# -- datatype rules -------------------------------------------------------------------------------

_INT_RANGE: dict[int, tuple[int, int]] = {
    DataType.Int8: (-(2**7), 2**7 - 1),
    DataType.Int16: (-(2**15), 2**15 - 1),
    DataType.Int32: (-(2**31), 2**31 - 1),
    DataType.Int64: (-(2**63), 2**63 - 1),
    DataType.UInt8: (0, 2**8 - 1),
    DataType.UInt16: (0, 2**16 - 1),
    DataType.UInt32: (0, 2**32 - 1),
    DataType.UInt64: (0, 2**64 - 1),
    DataType.DateTime: (0, 2**63 - 1),
}
_LONG = frozenset({DataType.Int64, DataType.UInt64, DataType.DateTime})
_SIGNED = frozenset({DataType.Int8, DataType.Int16, DataType.Int32, DataType.Int64})
_STRINGS = frozenset({DataType.String, DataType.Text, DataType.UUID})
_BYTES = frozenset({DataType.Bytes, DataType.File})
_ARRAYS: dict[int, str] = {
    DataType.Int8Array: "b",
    DataType.Int16Array: "h",
    DataType.Int32Array: "i",
    DataType.Int64Array: "q",
    DataType.UInt8Array: "B",
    DataType.UInt16Array: "H",
    DataType.UInt32Array: "I",
    DataType.UInt64Array: "Q",
    DataType.FloatArray: "f",
    DataType.DoubleArray: "d",
    DataType.DateTimeArray: "q",
}
SUPPORTED: frozenset[int] = frozenset(
    {*_INT_RANGE, DataType.Float, DataType.Double, DataType.Boolean, *_STRINGS, *_BYTES, *_ARRAYS}
    | {DataType.StringArray}
)
"""Datatypes :func:`encode` and :func:`value_of` handle."""


def type_name(datatype: int | None) -> str:
    try:
        return DataType(datatype).name if datatype is not None else "no datatype"
    except ValueError:
        return f"datatype {datatype}"


# -- encoding -------------------------------------------------------------------------------------


def encode(payload: Payload, *, with_datatypes: bool = True) -> bytes:
    """Wire bytes of ``payload``; each metric needs a ``datatype`` to pick its wire field.

    ``with_datatypes=False`` leaves the datatype off the wire (what NDATA/DDATA/NCMD should do:
    the receiver knows it from the birth). :class:`SparkplugValueError` if a value does not fit.
    """
    msg = pb.Payload()
    if payload.timestamp is not None:
        msg.timestamp = payload.timestamp
    if payload.seq is not None:
        msg.seq = payload.seq
    if payload.uuid is not None:
        msg.uuid = payload.uuid
    if payload.body is not None:
        msg.body = payload.body
    for metric in payload.metrics:
        m = msg.metrics.add()
        if metric.name is not None:
            m.name = metric.name
        if metric.alias is not None:
            m.alias = metric.alias
        if metric.timestamp is not None:
            m.timestamp = metric.timestamp
        if metric.is_historical:
            m.is_historical = True
        if metric.is_transient:
            m.is_transient = True
        dt = metric.datatype
        if dt is None:
            raise SparkplugValueError(f"metric {_label(metric)}: a datatype is needed to encode it")
        if with_datatypes:
            m.datatype = int(dt)
        if metric.value is None or metric.is_null:
            m.is_null = True
            continue
        _set_value(m, dt, metric.value, metric)
    try:
        return msg.SerializeToString()
    except _PbEncodeError as err:  # pragma: no cover - every field we set is optional
        raise SparkplugValueError(f"payload could not be encoded: {err}") from err


def _set_value(m: Any, dt: int, value: Any, metric: Metric) -> None:
    if dt == DataType.Double and type(value) is float:  # the common case first
        m.double_value = value
        return
    bad = _Bad(metric, dt)
    if dt in _INT_RANGE:
        if type(value) is not int:
            raise SparkplugValueError(f"{bad}: needs an int, got {type(value).__name__} {value!r}")
        lo, hi = _INT_RANGE[dt]
        if not lo <= value <= hi:
            raise SparkplugValueError(f"{bad}: {value} is outside {lo}..{hi}")
        if dt in _LONG:
            m.long_value = value & 0xFFFF_FFFF_FFFF_FFFF
        else:
            m.int_value = value & 0xFFFF_FFFF
    elif dt == DataType.Float or dt == DataType.Double:
        if type(value) not in (float, int):
            raise SparkplugValueError(f"{bad}: needs a number, got {type(value).__name__} {value!r}")
        if dt == DataType.Float:
            m.float_value = float(value)
        else:
            m.double_value = float(value)
    elif dt == DataType.Boolean:
        if type(value) is not bool:
            raise SparkplugValueError(f"{bad}: needs a bool, got {type(value).__name__} {value!r}")
        m.boolean_value = value
    elif dt in _STRINGS:
        if type(value) is not str:
            raise SparkplugValueError(f"{bad}: needs a str, got {type(value).__name__} {value!r}")
        m.string_value = value
    elif dt in _BYTES:
        if not isinstance(value, (bytes, bytearray)):
            raise SparkplugValueError(f"{bad}: needs bytes, got {type(value).__name__}")
        m.bytes_value = bytes(value)
    elif dt in _ARRAYS:
        try:
            m.bytes_value = struct.pack(f"<{len(value)}{_ARRAYS[dt]}", *value)
        except (struct.error, TypeError) as err:
            raise SparkplugValueError(f"{bad}: {err}") from None
    elif dt == DataType.StringArray:
        if not all(type(s) is str and "\0" not in s for s in value):
            raise SparkplugValueError(f"{bad}: needs strings without NUL characters")
        m.bytes_value = b"".join(s.encode() + b"\0" for s in value)
    else:
        raise UnsupportedType(f"{bad}: shopfloor does not encode {type_name(dt)} values")


# -- decoding -------------------------------------------------------------------------------------


def decode(data: bytes) -> Payload:
    """Parse wire bytes; :class:`SparkplugDecodeError` (naming what is wrong) if they are not valid."""
    msg = pb.Payload()
    try:
        msg.ParseFromString(data)
        return Payload(
            [_metric(m) for m in msg.metrics],
            msg.timestamp if msg.HasField("timestamp") else None,
            msg.seq if msg.HasField("seq") else None,
            _text(msg.uuid, "the payload uuid") if msg.HasField("uuid") else None,
            msg.body if msg.HasField("body") else None,
        )
    except _PbDecodeError as err:
        raise SparkplugDecodeError(f"not a Sparkplug B payload ({len(data)} bytes): {err}") from None
    except (UnicodeDecodeError, ValueError) as err:
        raise SparkplugDecodeError(f"Sparkplug B payload has an invalid field: {err}") from None


def _metric(m: Any) -> Metric:
    wire = m.WhichOneof("value")
    value = getattr(m, wire) if wire is not None else None
    if wire == "string_value":
        value = _text(value, "a metric's string value")
    return Metric(
        _text(m.name, "a metric name") if m.HasField("name") else None,
        m.alias if m.HasField("alias") else None,
        m.datatype if m.HasField("datatype") else None,
        value,
        m.timestamp if m.HasField("timestamp") else None,
        m.is_null,
        m.is_historical,
        m.is_transient,
        wire,
    )


def _text(value: Any, what: str) -> str:
    """proto2 strings are not checked for UTF-8 by upb, which then hands back bytes."""
    if type(value) is str:
        return value
    raise SparkplugDecodeError(f"Sparkplug B payload: {what} is not valid UTF-8")


def value_of(metric: Metric, datatype: int | None) -> Any:
    """The Python value of a decoded metric of ``datatype`` (``None`` if it is null).

    :class:`SparkplugValueError` if the wire value does not fit the datatype;
    :class:`UnsupportedType` for DataSet, Template and the other types listed in the module doc.
    """
    wire, raw = metric.wire, metric.value
    if metric.is_null or wire is None:
        return None
    if datatype is None:
        raise SparkplugValueError(f"metric {_label(metric)} has no datatype (and none from a birth)")
    if datatype == DataType.Double and wire == "double_value":  # the common case first
        return raw
    bad = _Bad(metric, datatype)
    if datatype in _INT_RANGE:
        if wire == "int_value":
            value = raw - 2**32 if datatype in _SIGNED and raw >= 2**31 else raw
        elif wire == "long_value":
            value = raw - 2**64 if datatype in _SIGNED and raw >= 2**63 else raw
        else:
            raise SparkplugValueError(f"{bad} but carries {wire}")
        lo, hi = _INT_RANGE[datatype]
        if not lo <= value <= hi:
            raise SparkplugValueError(f"{bad}: {value} is outside {lo}..{hi}")
        return value
    if datatype == DataType.Float or datatype == DataType.Double:
        if wire in ("float_value", "double_value"):
            return raw
        raise SparkplugValueError(f"{bad} but carries {wire}")
    if datatype == DataType.Boolean:
        if wire == "boolean_value":
            return raw
        raise SparkplugValueError(f"{bad} but carries {wire}")
    if datatype in _STRINGS:
        if wire == "string_value":
            return raw
        raise SparkplugValueError(f"{bad} but carries {wire}")
    if datatype in _BYTES or datatype in _ARRAYS or datatype == DataType.StringArray:
        if wire != "bytes_value":
            raise SparkplugValueError(f"{bad} but carries {wire}")
        if datatype in _BYTES:
            return raw
        if datatype == DataType.StringArray:
            if raw and not raw.endswith(b"\0"):
                raise SparkplugValueError(f"{bad}: the last string is not NUL-terminated")
            try:
                return [s.decode() for s in raw.split(b"\0")[:-1]]
            except UnicodeDecodeError as err:
                raise SparkplugValueError(f"{bad}: a string is not UTF-8 ({err})") from None
        code = _ARRAYS[datatype]
        size = struct.calcsize(code)
        if len(raw) % size:
            raise SparkplugValueError(f"{bad}: {len(raw)} bytes is not a whole number of {size}-byte items")
        return list(struct.unpack(f"<{len(raw) // size}{code}", raw))
    raise UnsupportedType(f"{bad}: shopfloor does not turn {type_name(datatype)} values into samples")


class _Bad:
    """``metric 'x' is Int8``, formatted only when an error message needs it."""

    __slots__ = ("datatype", "metric")

    def __init__(self, metric: Metric, datatype: int) -> None:
        self.metric = metric
        self.datatype = datatype

    def __format__(self, spec: str) -> str:
        return f"metric {_label(self.metric)} is {type_name(self.datatype)}"


def _label(metric: Metric) -> str:
    if metric.name is not None:
        return repr(metric.name)
    return f"alias {metric.alias}" if metric.alias is not None else "(no name, no alias)"
