"""The SQL of the embedded (DuckDB) store: schema and query builders.

Layout, chosen so a one-series query reads a few row groups, not the whole file:

* ``series(id, asset, tag)``: the dictionary; samples refer to a series by a dense integer id.
* ``hot``: where every write lands, appended in arrival order.
* ``samples``: the compacted raw samples. When ``hot`` holds ``hot_rows`` rows they move here
  in one transaction, sorted by ``series_id``, so each row group covers a narrow range of
  series ids and DuckDB's zone maps skip the rest (measured on 10M rows, 10k series: a
  one-series 6-hour rollup ~20 ms unsorted, ~6 ms in 1M-row sorted chunks, ~3 ms fully
  sorted; an ART index on series_id got ~10 ms and halved the write rate). ``hot`` is
  dropped and re-created rather than emptied, so no deleted rows linger to be scanned.
  Compaction costs about a third of the sustained write time.
* Rows are ``series_id, ts, value, flags``: ``flags`` holds the quality band (top two bits)
  and the value's kind (float, int, bool, str; low two bits), see
  :mod:`shopfloor.store.columns`.
* ``texts(series_id, ts, text)``: the values of str samples (their ``value`` is NULL); kept
  apart because an all-NULL text column and separate kind/quality bytes in the big tables
  cost about a third of the write rate. Two str samples of one series at the same
  nanosecond may swap texts in an export.
* ``rollup_1m``: per series and minute ``count, n (numeric count), sum, min, max, first, last``,
  computed from raw rows just before retention deletes them. A (series, minute) may have
  several rows (late data); readers merge them.
* ``meta``: schema version and the raw horizon (raw rows older than it were rolled up).

Raw rows always take part in an aggregate. Rollup rows take part for the range before the
raw horizon when the bucket is a whole number of minutes: every raw row is rolled up once,
in the same transaction that deletes it, so nothing is counted twice.

>>> "ts - ((ts % 60) + 60) % 60" in bucket_expr(60)
True
"""

from __future__ import annotations

from collections.abc import Sequence

from ..core.errors import QueryError
from .base import AGGREGATES

SCHEMA_VERSION = 1
MINUTE_NS = 60_000_000_000

_COLUMNS = "series_id INTEGER, ts BIGINT, value DOUBLE, flags UTINYINT"

HOT_DDL = f"CREATE TABLE hot({_COLUMNS})"
DDL = (
    "CREATE TABLE IF NOT EXISTS meta(key VARCHAR PRIMARY KEY, value VARCHAR)",
    "CREATE TABLE IF NOT EXISTS series(id INTEGER PRIMARY KEY, asset VARCHAR NOT NULL, tag VARCHAR NOT NULL)",
    f"CREATE TABLE IF NOT EXISTS hot({_COLUMNS})",  # = HOT_DDL
    f"CREATE TABLE IF NOT EXISTS samples({_COLUMNS})",
    "CREATE TABLE IF NOT EXISTS texts(series_id INTEGER, ts BIGINT, text VARCHAR)",
    "CREATE TABLE IF NOT EXISTS rollup_1m(series_id INTEGER, ts BIGINT, count BIGINT, n BIGINT,"
    " sum DOUBLE, min DOUBLE, max DOUBLE, first DOUBLE, last DOUBLE)",
)

# Partial aggregates of raw rows and of rollup rows share one shape, merged by _MERGE.
_RAW_PARTS = (
    "SELECT series_id, ts, 1 AS cnt, CAST(value IS NOT NULL AS BIGINT) AS n, value AS s,"
    " value AS mn, value AS mx, value AS fv, value AS lv FROM {table} WHERE {where}"
)
_ROLLUP_PARTS = (
    "SELECT series_id, ts, count AS cnt, n, sum AS s, min AS mn, max AS mx, first AS fv, last AS lv"
    " FROM rollup_1m WHERE {where}"
)
_MERGE = {
    "avg": "sum(s) / nullif(sum(n), 0)",
    "min": "min(mn)",
    "max": "max(mx)",
    "count": "CAST(sum(cnt) AS BIGINT)",
    "first": "arg_min(fv, ts)",
    "last": "arg_max(lv, ts)",
    "sum": "sum(s)",
}
# Raw rows only: plain aggregates are cheaper than the merge form.
_RAW = {
    "avg": "avg(value)",
    "min": "min(value)",
    "max": "max(value)",
    "count": "count(*)",
    "first": "arg_min(value, ts)",
    "last": "arg_max(value, ts)",
    "sum": "sum(value)",
}


def check_query(start: int, end: int, bucket_ns: int, aggs: Sequence[str]) -> None:
    """QueryError for an empty range, a non-positive bucket or an unknown aggregate."""
    if start >= end:
        raise QueryError(f"empty time range: start {start} must be before end {end}")
    if bucket_ns <= 0:
        raise QueryError(f"bucket must be a positive number of nanoseconds, got {bucket_ns}")
    if not aggs:
        raise QueryError("no aggregate asked for: use one or more of " + ", ".join(AGGREGATES))
    for agg in aggs:
        if agg not in AGGREGATES:
            raise QueryError(f"unknown aggregate {agg!r}: use one of " + ", ".join(AGGREGATES))


def bucket_expr(bucket_ns: int) -> str:
    """Start of the bucket of ``ts``, aligned to multiples of ``bucket_ns`` (also before 1970)."""
    b = int(bucket_ns)
    return f"ts - ((ts % {b}) + {b}) % {b}"


def raw_union(columns: str, where: str) -> str:
    """``columns`` of the raw rows (both tables) matching ``where``."""
    return f"SELECT {columns} FROM samples WHERE {where} UNION ALL SELECT {columns} FROM hot WHERE {where}"


def aggregate_sql(
    aggs: Sequence[str], bucket_ns: int, series_filter: str, use_rollups: bool, per_series: bool
) -> str:
    """Bucketed aggregates; parameters ``$start``, ``$end`` and (rollups) ``$horizon``.

    ``series_filter`` is a trusted SQL condition on ``series_id`` (built from integers) or
    ``TRUE``. ``per_series`` adds ``series_id`` to the grouping (aggregate_all).
    """
    where = f"{series_filter} AND ts >= $start AND ts < $end"
    key = "series_id, bucket" if per_series else "bucket"
    if not use_rollups:
        select = ", ".join(f"{_RAW[a]} AS {a}" for a in aggs)
        source = raw_union("series_id, ts, value", where)
    else:
        select = ", ".join(f"{_MERGE[a]} AS {a}" for a in aggs)
        rollup_where = f"{series_filter} AND ts >= $start AND ts < least($end, $horizon)"
        source = (
            _RAW_PARTS.format(table="samples", where=where)
            + " UNION ALL "
            + _RAW_PARTS.format(table="hot", where=where)
            + " UNION ALL "
            + _ROLLUP_PARTS.format(where=rollup_where)
        )
    return (
        f"SELECT {key}, {select} FROM (SELECT *, {bucket_expr(bucket_ns)} AS bucket FROM ({source}))"
        f" GROUP BY {key} ORDER BY {key}"
    )


def rollup_insert_sql() -> str:
    """Roll raw rows before ``$cutoff`` up into ``rollup_1m`` (one row per series and minute)."""
    source = raw_union("series_id, ts, value", "ts < $cutoff")
    return (
        "INSERT INTO rollup_1m SELECT series_id, bucket, count(*), count(value), sum(value),"
        " min(value), max(value), arg_min(value, ts), arg_max(value, ts)"
        f" FROM (SELECT *, {bucket_expr(MINUTE_NS)} AS bucket FROM ({source}))"
        " GROUP BY series_id, bucket"
    )


LATEST_SQL = (
    "SELECT r.series_id, r.ts, r.value, t.text, r.flags FROM (SELECT series_id, max(ts) AS ts,"
    " arg_max(value, ts) AS value, arg_max(flags, ts) AS flags FROM (" + raw_union("*", "TRUE") + ")"
    " GROUP BY series_id) r LEFT JOIN (SELECT series_id, arg_max(text, ts) AS text FROM texts"
    " GROUP BY series_id) t ON t.series_id = r.series_id"
)
HISTORY_SQL = (
    "SELECT ts, value, flags FROM ("
    + raw_union("*", "series_id = $sid AND ts >= $start AND ts < $end")
    + ") ORDER BY ts LIMIT $limit"
)
HISTORY_TEXT_SQL = (
    "SELECT ts, text FROM texts WHERE series_id = $sid AND ts >= $start AND ts <= $last ORDER BY ts"
)


def export_sql(series_filter: str, start: int, end: int) -> str:
    """The rows an export writes, oldest first (all literals are integers)."""
    where = f"{series_filter} AND ts >= {int(start)} AND ts < {int(end)}"
    return (
        "SELECT s.asset, s.tag,"
        " strftime(make_timestamp_ns(r.ts), '%Y-%m-%dT%H:%M:%S.%nZ') AS time,"
        " r.value, CAST(r.flags & 192 AS UTINYINT) AS quality, t.text"
        f" FROM ({raw_union('*', where)}) r JOIN series s ON s.id = r.series_id"
        " LEFT JOIN texts t ON (r.flags & 3) = 3 AND t.series_id = r.series_id AND t.ts = r.ts"
        " ORDER BY r.ts, s.asset, s.tag"
    )


def id_filter(ids: Sequence[int]) -> str:
    """A trusted ``series_id IN (...)`` condition from integer ids."""
    if not ids:
        return "FALSE"
    return "series_id IN (" + ", ".join(str(int(i)) for i in ids) + ")"
