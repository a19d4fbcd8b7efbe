"""Samples to Arrow columns and back: the only place that knows how values are encoded.

:func:`encode` turns a batch into one Arrow table (``SCHEMA``): a value is a ``DOUBLE`` (float,
int and bool) or ``text`` (str), with a ``kind`` byte so it comes back with the Python type it
was written with. Backends share this (the PostgreSQL store uses it as is):

>>> table = encode([Sample("a/b", "t", 5, True), Sample("a/b", "s", 6, "on", Quality.BAD)], [1, 2])
>>> table.column("value").to_pylist(), table.column("text").to_pylist(), table.column("kind").to_pylist()
([1.0, None], [None, 'on'], [2, 3])
>>> decode_value(1.0, None, KIND_BOOL), decode_value(3.0, None, KIND_INT), decode_value(None, "on", KIND_STR)
(True, 3, 'on')

The embedded store packs it further (:func:`pack`): kind and quality band share one ``flags``
byte (band in the top two bits, kind in the low two), and str values move to a side table:

>>> packed, texts = pack(table)
>>> packed.column("flags").to_pylist(), texts.to_pylist(), unpack(3)
([194, 3], [{'series_id': 2, 'ts': 6, 'text': 'on'}], (3, <Quality.BAD: 0>))

An asset filter means that asset and its descendants, matched on path segments:

>>> in_subtree("mill/line1/cutter", "mill/line1"), in_subtree("mill/line10", "mill/line1")
(True, False)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from ..core.errors import StoreError
from ..core.sample import Quality, Sample, Value

KIND_FLOAT, KIND_INT, KIND_BOOL, KIND_STR = 0, 1, 2, 3
KIND_MASK, QUALITY_MASK = 0x03, 0xC0
_KINDS: dict[type, int] = {float: KIND_FLOAT, int: KIND_INT, bool: KIND_BOOL, str: KIND_STR}
_GOOD = int(Quality.GOOD)
_QUALITIES = {int(q): q for q in Quality}

SCHEMA = pa.schema(
    [
        ("series_id", pa.int32()),
        ("ts", pa.int64()),
        ("value", pa.float64()),
        ("text", pa.string()),
        ("kind", pa.uint8()),
        ("quality", pa.uint8()),
    ]
)
PACKED_SCHEMA = pa.schema(
    [("series_id", pa.int32()), ("ts", pa.int64()), ("value", pa.float64()), ("flags", pa.uint8())]
)
TEXT_SCHEMA = pa.schema([("series_id", pa.int32()), ("ts", pa.int64()), ("text", pa.string())])


def in_subtree(asset: str, prefix: str | None) -> bool:
    """True if ``asset`` is ``prefix`` or one of its descendants (segment-wise)."""
    if prefix is None:
        return True
    prefix = prefix.rstrip("/")
    return asset == prefix or asset.startswith(prefix + "/")


def kind_of(value: object) -> int:
    """The storage kind of one value; StoreError for types that cannot be stored."""
    kind = _KINDS.get(type(value))
    if kind is not None:
        return kind
    if isinstance(value, bool | np.bool_):
        return KIND_BOOL
    if isinstance(value, int | np.integer):
        return KIND_INT
    if isinstance(value, float | np.floating):
        return KIND_FLOAT
    if isinstance(value, str):
        return KIND_STR
    raise StoreError(f"value of type {type(value).__name__} cannot be stored: use float, int, bool or str")


def _kinds(values: list[Any]) -> np.ndarray:
    types = set(map(type, values))
    if len(types) == 1:
        return np.full(len(values), kind_of(values[0]), dtype=np.uint8)
    return np.fromiter(map(kind_of, values), dtype=np.uint8, count=len(values))


def _qualities(samples: Sequence[Sample]) -> np.ndarray:
    qs = [s.quality for s in samples]
    if qs.count(Quality.GOOD) == len(qs):
        return np.full(len(qs), _GOOD, dtype=np.uint8)
    try:
        return np.fromiter(map(int, qs), dtype=np.uint8, count=len(qs))
    except (TypeError, ValueError, OverflowError) as err:
        raise StoreError(f"quality must be an integer 0..255: {err}") from err


def encode(samples: Sequence[Sample], series_ids: Sequence[int] | np.ndarray) -> pa.Table:
    """One Arrow table (``SCHEMA``) for a batch; ``series_ids`` are the samples' series ids."""
    n = len(samples)
    values = [s.value for s in samples]
    kinds = _kinds(values)
    times = [s.ts for s in samples]
    odd = set(map(type, times)) - {int}
    if odd and not all(issubclass(t, int | np.integer) and t is not bool for t in odd):
        raise StoreError(
            f"sample time must be integer epoch nanoseconds, got {sorted(t.__name__ for t in odd)}"
        )
    try:
        ts = np.array(times, dtype=np.int64)
    except (TypeError, ValueError, OverflowError) as err:
        raise StoreError(f"sample time must fit in 64-bit epoch nanoseconds: {err}") from err
    if not kinds.any():
        value = pa.array(np.asarray(values, dtype=np.float64))
        text = pa.nulls(n, pa.string())
    else:
        is_str = kinds == KIND_STR
        flags = is_str.tolist()
        nums = [0.0 if k else float(v) for v, k in zip(values, flags, strict=True)]
        value = pa.array(np.asarray(nums, dtype=np.float64), mask=is_str)
        text = pa.array([v if k else None for v, k in zip(values, flags, strict=True)], type=pa.string())
    return pa.Table.from_arrays(
        [
            pa.array(np.asarray(series_ids, dtype=np.int32)),
            pa.array(ts),
            value,
            text,
            pa.array(kinds),
            pa.array(_qualities(samples)),
        ],
        schema=SCHEMA,
    )


def encode_columns(
    series_index: np.ndarray, ts: np.ndarray, values: np.ndarray, quality: np.ndarray | None
) -> pa.Table:
    """One Arrow table (``SCHEMA``) for numeric columns (see ``EmbeddedStore.write_columns``)."""
    n = len(ts)
    qual = np.full(n, _GOOD, dtype=np.uint8) if quality is None else np.asarray(quality, dtype=np.uint8)
    vals = np.asarray(values)
    if vals.dtype == np.bool_:
        kind = KIND_BOOL
    elif np.issubdtype(vals.dtype, np.integer):
        kind = KIND_INT
    else:
        kind = KIND_FLOAT
    return pa.Table.from_arrays(
        [
            pa.array(np.asarray(series_index, dtype=np.int32)),
            pa.array(np.asarray(ts, dtype=np.int64)),
            pa.array(vals.astype(np.float64, copy=False)),
            pa.nulls(n, pa.string()),
            pa.array(np.full(n, kind, dtype=np.uint8)),
            pa.array(qual),
        ],
        schema=SCHEMA,
    )


def band(quality: np.ndarray) -> np.ndarray:
    """OPC quality bytes to their band (as Quality.parse): >= 192 good, >= 64 uncertain, else 0."""
    q = np.asarray(quality)
    return np.where(q >= 192, 192, np.where(q >= 64, 64, 0)).astype(np.uint8)


def pack(table: pa.Table) -> tuple[pa.Table, pa.Table | None]:
    """``SCHEMA`` to the embedded layout: ``PACKED_SCHEMA`` plus ``TEXT_SCHEMA`` rows (or None)."""
    kinds = table.column("kind").to_numpy()
    quality = table.column("quality").to_numpy()
    flags = kinds | (quality if bool((quality == _GOOD).all()) else band(quality))
    packed = pa.Table.from_arrays(
        [table.column("series_id"), table.column("ts"), table.column("value"), pa.array(flags)],
        schema=PACKED_SCHEMA,
    )
    if not (kinds == KIND_STR).any():
        return packed, None
    rows = pa.array(np.flatnonzero(kinds == KIND_STR))
    texts = table.select(["series_id", "ts", "text"]).take(rows)
    return packed, texts.cast(TEXT_SCHEMA)


def unpack(flags: int) -> tuple[int, Quality]:
    """(kind, quality) of a stored flags byte."""
    return flags & KIND_MASK, _QUALITIES[flags & QUALITY_MASK]


def decode_value(value: float | None, text: str | None, kind: int) -> Value:
    """The Python value of one stored row."""
    if kind == KIND_FLOAT:
        return float("nan") if value is None else value
    if kind == KIND_STR:
        return text if text is not None else ""
    if value is None:
        return float("nan")
    if kind == KIND_INT:
        return int(value)
    return bool(value)


def quality_of(raw: int) -> Quality:
    """The Quality of a stored byte (unknown bytes map to their OPC band)."""
    known = _QUALITIES.get(raw)
    return known if known is not None else Quality.parse(int(raw))


def last_per_series(series_ids: np.ndarray, ts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row index of the newest row of each series in a batch: ``(series_ids, rows)``.

    >>> last_per_series(np.array([3, 1, 3, 1]), np.array([5, 9, 7, 2]))
    (array([1, 3]), array([1, 2]))
    """
    if len(ts) < 2 or bool((ts[1:] >= ts[:-1]).all()):
        # in time order already: the last row of a series is its newest (no sort needed)
        last = np.full(int(series_ids.max()) + 1 if len(ts) else 0, -1, dtype=np.int64)
        np.maximum.at(last, series_ids, np.arange(len(ts)))
        ids = np.flatnonzero(last >= 0)
        return ids, last[ids]
    order = np.lexsort((ts, series_ids))
    sorted_ids = series_ids[order]
    last = np.flatnonzero(np.append(sorted_ids[1:] != sorted_ids[:-1], True))
    return sorted_ids[last], order[last]
