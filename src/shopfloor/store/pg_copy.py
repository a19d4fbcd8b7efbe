"""PostgreSQL binary COPY of encoded sample batches, built with numpy (no Python loop per row).

A batch (the Arrow table of :func:`shopfloor.store.columns.encode`) becomes one buffer in
PostgreSQL's binary COPY format for the columns ``series_id int4, ts int8, value float8,
text text, kind int2, quality int2``. Numeric rows are one fixed-width numpy record each;
rows with a str value (variable length) are packed one by one, which is fine because they
are rare in plant data.

>>> from shopfloor.store.columns import encode
>>> buf = copy_buffer(encode([Sample("a", "t", 5, 1.5), Sample("a", "s", 6, "on")], [1, 2]))
>>> buf[:11] == HEADER[:11], buf[-2:] == TRAILER, len(buf)  # 19 + 50 + 44 + 2
(True, True, 115)
"""

from __future__ import annotations

import struct

import numpy as np
import pyarrow as pa

from ..core.sample import Sample  # noqa: F401  (used by the doctest)
from .columns import KIND_STR

COLUMNS = "series_id, ts, value, text, kind, quality"
HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)
TRAILER = struct.pack("!h", -1)

# One numeric row: field count, then (length, value) per field; text is NULL (length -1).
_ROW = np.dtype(
    [
        ("nf", ">i2"),
        ("l_sid", ">i4"),
        ("sid", ">i4"),
        ("l_ts", ">i4"),
        ("ts", ">i8"),
        ("l_val", ">i4"),
        ("val", ">f8"),
        ("l_text", ">i4"),
        ("l_kind", ">i4"),
        ("kind", ">i2"),
        ("l_q", ">i4"),
        ("q", ">i2"),
    ]
)
_CONST = {"nf": 6, "l_sid": 4, "l_ts": 8, "l_val": 8, "l_text": -1, "l_kind": 2, "l_q": 2}


def _numeric_rows(
    sid: np.ndarray, ts: np.ndarray, val: np.ndarray, kind: np.ndarray, quality: np.ndarray
) -> bytes:
    rows = np.empty(len(ts), dtype=_ROW)
    for name, const in _CONST.items():
        rows[name] = const
    rows["sid"] = sid
    rows["ts"] = ts
    rows["val"] = val
    rows["kind"] = kind
    rows["q"] = quality
    return rows.tobytes()


def _text_row(sid: int, ts: int, text: str, kind: int, quality: int) -> bytes:
    raw = text.encode("utf-8")
    return struct.pack(f"!hiiiqii{len(raw)}sihih", 6, 4, sid, 8, ts, -1, len(raw), raw, 2, kind, 2, quality)


def copy_buffer(table: pa.Table) -> bytes:
    """The whole binary COPY stream (header, rows, trailer) of one encoded batch."""
    sid = table.column("series_id").to_numpy()
    ts = table.column("ts").to_numpy()
    kind = table.column("kind").to_numpy()
    quality = table.column("quality").to_numpy()
    is_str = kind == KIND_STR
    if not is_str.any():
        val = table.column("value").to_numpy(zero_copy_only=False)
        return HEADER + _numeric_rows(sid, ts, val, kind, quality) + TRAILER
    num = ~is_str
    val = table.column("value").fill_null(0.0).to_numpy(zero_copy_only=False)
    parts = [HEADER, _numeric_rows(sid[num], ts[num], val[num], kind[num], quality[num])]
    text = table.column("text").to_pylist()
    for row in np.flatnonzero(is_str).tolist():
        parts.append(
            _text_row(int(sid[row]), int(ts[row]), text[row] or "", int(kind[row]), int(quality[row]))
        )
    parts.append(TRAILER)
    return b"".join(parts)
