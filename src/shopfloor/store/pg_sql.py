"""The SQL of the PostgreSQL store: schema and query builders (plain SQL, runs on TimescaleDB too).

Layout (all in one schema, default ``shopfloor``; times are epoch nanoseconds in ``bigint``
because ``timestamptz`` only keeps microseconds):

* ``series(id, asset, tag, kind)``: the dictionary; ``kind`` is the value type the series was
  created with (each row still carries its own kind, so mixed series round-trip).
* ``samples``: range-partitioned by day on ``ts`` (``samples_YYYYMMDD``, created on demand),
  primary key ``(series_id, ts)`` per partition (what makes writes idempotent), BRIN on ``ts``.
* ``latest(series_id, ...)``: newest sample per series, upserted with every batch, so other
  processes can read it.
* ``rollup``: per series and minute ``count, n (numeric count), sum, min, max, first, last``
  with the times of first and last; primary key ``(series_id, ts)``, merged on conflict.
* ``meta``: schema version and the raw horizon (raw days before it were rolled up and dropped).

Aggregates merge partial rows of raw samples and (before the horizon, for whole-minute buckets)
of rollups. ``first``/``last`` are found by time (``min(ts)``/``max(ts)`` of numeric rows) and
looked up through the primary keys, since PostgreSQL has no ``arg_min``.

>>> bucket_expr(60)
'(ts - mod(mod(ts, 60) + 60, 60))'
"""

from __future__ import annotations

from collections.abc import Sequence

from .queries import MINUTE_NS

SCHEMA_VERSION = 1
DAY_NS = 86_400 * 10**9

DDL = (
    "CREATE TABLE IF NOT EXISTS meta(key text PRIMARY KEY, value text NOT NULL)",
    "CREATE TABLE IF NOT EXISTS series(id serial PRIMARY KEY, asset text NOT NULL, tag text NOT NULL,"
    " kind smallint NOT NULL DEFAULT 0, UNIQUE (asset, tag))",
    "CREATE TABLE IF NOT EXISTS samples(series_id integer NOT NULL, ts bigint NOT NULL,"
    " value double precision, text text, kind smallint NOT NULL, quality smallint NOT NULL,"
    " PRIMARY KEY (series_id, ts)) PARTITION BY RANGE (ts)",
    "CREATE INDEX IF NOT EXISTS samples_ts_brin ON samples USING brin (ts)",
    "CREATE TABLE IF NOT EXISTS latest(series_id integer PRIMARY KEY, ts bigint NOT NULL,"
    " value double precision, text text, kind smallint NOT NULL, quality smallint NOT NULL)",
    "CREATE TABLE IF NOT EXISTS rollup(series_id integer NOT NULL, ts bigint NOT NULL,"
    " count bigint NOT NULL, n bigint NOT NULL, sum double precision, min double precision,"
    " max double precision, first double precision, last double precision,"
    " first_ts bigint, last_ts bigint, PRIMARY KEY (series_id, ts))",
)

LOCK = "SELECT pg_advisory_xact_lock(hashtext(%s))"
STAGE_DDL = (
    "CREATE TEMP TABLE IF NOT EXISTS stage(series_id integer, ts bigint, value double precision,"
    " text text, kind smallint, quality smallint) ON COMMIT DELETE ROWS"
)
INSERT_STAGED = "INSERT INTO samples SELECT * FROM stage ON CONFLICT DO NOTHING"

UPSERT_LATEST = (
    "INSERT INTO latest SELECT * FROM unnest(%s::integer[], %s::bigint[], %s::float8[], %s::text[],"
    " %s::smallint[], %s::smallint[]) ON CONFLICT (series_id) DO UPDATE SET ts = EXCLUDED.ts,"
    " value = EXCLUDED.value, text = EXCLUDED.text, kind = EXCLUDED.kind, quality = EXCLUDED.quality"
    " WHERE EXCLUDED.ts >= latest.ts"
)

PARTITIONS = (
    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
    " WHERE i.inhparent = 'samples'::regclass ORDER BY c.relname"
)


def partition_name(day: int) -> str:
    """Name of the partition of day number ``day`` (days since 1970-01-01).

    >>> partition_name(19675)
    'samples_20231114'
    """
    import datetime as dt

    return "samples_" + (dt.date(1970, 1, 1) + dt.timedelta(days=day)).strftime("%Y%m%d")


def day_of_partition(name: str) -> int:
    """Day number of a partition name (inverse of :func:`partition_name`).

    >>> day_of_partition("samples_20231114")
    19675
    """
    import datetime as dt

    return (dt.datetime.strptime(name.removeprefix("samples_"), "%Y%m%d").date() - dt.date(1970, 1, 1)).days


def create_partition_sql(day: int) -> str:
    lo = day * DAY_NS
    return (
        f"CREATE TABLE IF NOT EXISTS {partition_name(day)} PARTITION OF samples"
        f" FOR VALUES FROM ({lo}) TO ({lo + DAY_NS})"
    )


def bucket_expr(bucket_ns: int, col: str = "ts") -> str:
    """Start of the bucket of ``col``, aligned to multiples of ``bucket_ns`` (also before 1970)."""
    b = int(bucket_ns)
    return f"({col} - mod(mod({col}, {b}) + {b}, {b}))"


_RAW_PARTS = (
    "SELECT series_id, {bucket} AS bucket, count(*) AS cnt, count(value) AS n, sum(value) AS s,"
    " min(value) AS mn, max(value) AS mx, min(ts) FILTER (WHERE value IS NOT NULL) AS fts,"
    " max(ts) FILTER (WHERE value IS NOT NULL) AS lts FROM samples WHERE {where} GROUP BY 1, 2"
)
_ROLLUP_PARTS = (
    "SELECT series_id, {bucket}, count, n, sum, min, max, first_ts, last_ts FROM rollup WHERE {where}"
)
_FIRST_LAST = (
    "coalesce((SELECT value FROM samples x WHERE x.series_id = g.series_id AND x.ts = g.{t}),"
    " (SELECT {col} FROM rollup r WHERE r.series_id = g.series_id AND r.ts = {minute}"
    " AND r.{col}_ts = g.{t}))"
)
_SELECT = {
    "avg": "g.s / nullif(g.n, 0)",
    "min": "g.mn",
    "max": "g.mx",
    "count": "g.cnt",
    "sum": "g.s",
    "first": _FIRST_LAST.format(t="fts", col="first", minute=bucket_expr(MINUTE_NS, "g.fts")),
    "last": _FIRST_LAST.format(t="lts", col="last", minute=bucket_expr(MINUTE_NS, "g.lts")),
}


def aggregate_sql(aggs: Sequence[str], bucket_ns: int, series_filter: str, use_rollups: bool) -> str:
    """Rows ``(series_id, bucket, *aggs)``; parameters ``start``, ``end`` (and ``horizon``).

    ``series_filter`` is a trusted condition on ``series_id`` built from integers, or ``TRUE``.
    """
    bucket = bucket_expr(bucket_ns)
    where = f"{series_filter} AND ts >= %(start)s AND ts < %(end)s"
    parts = _RAW_PARTS.format(bucket=bucket, where=where)
    if use_rollups:
        rwhere = f"{series_filter} AND ts >= %(start)s AND ts < least(%(end)s, %(horizon)s)"
        parts += " UNION ALL " + _ROLLUP_PARTS.format(bucket=bucket, where=rwhere)
    select = ", ".join(f"{_SELECT[a]} AS {a}" for a in aggs)
    return (
        f"WITH p AS ({parts}), g AS (SELECT series_id, bucket, sum(cnt)::bigint AS cnt,"
        " sum(n)::bigint AS n, sum(s) AS s, min(mn) AS mn, max(mx) AS mx, min(fts) AS fts,"
        " max(lts) AS lts FROM p GROUP BY 1, 2)"
        f" SELECT g.series_id, g.bucket, {select} FROM g ORDER BY 1, 2"
    )


def rollup_sql(partition: str) -> str:
    """Roll one partition up into ``rollup``, merging with minutes rolled up before."""
    minute = bucket_expr(MINUTE_NS)
    return (
        f"WITH g AS (SELECT series_id, {minute} AS ts, count(*) AS cnt, count(value) AS n,"
        " sum(value) AS s, min(value) AS mn, max(value) AS mx,"
        " min(ts) FILTER (WHERE value IS NOT NULL) AS fts, max(ts) FILTER (WHERE value IS NOT NULL) AS lts"
        f" FROM {partition} GROUP BY 1, 2)"
        " INSERT INTO rollup SELECT g.series_id, g.ts, g.cnt, g.n, g.s, g.mn, g.mx, f.value, l.value,"
        f" g.fts, g.lts FROM g LEFT JOIN {partition} f ON f.series_id = g.series_id AND f.ts = g.fts"
        f" LEFT JOIN {partition} l ON l.series_id = g.series_id AND l.ts = g.lts"
        " ON CONFLICT (series_id, ts) DO UPDATE SET count = rollup.count + EXCLUDED.count,"
        " n = rollup.n + EXCLUDED.n,"
        " sum = CASE WHEN EXCLUDED.n = 0 THEN rollup.sum WHEN rollup.n = 0 THEN EXCLUDED.sum"
        " ELSE rollup.sum + EXCLUDED.sum END,"
        " min = least(rollup.min, EXCLUDED.min), max = greatest(rollup.max, EXCLUDED.max),"
        " first = CASE WHEN rollup.first_ts IS NULL OR EXCLUDED.first_ts < rollup.first_ts"
        " THEN EXCLUDED.first ELSE rollup.first END,"
        " first_ts = least(rollup.first_ts, EXCLUDED.first_ts),"
        " last = CASE WHEN rollup.last_ts IS NULL OR EXCLUDED.last_ts > rollup.last_ts"
        " THEN EXCLUDED.last ELSE rollup.last END,"
        " last_ts = greatest(rollup.last_ts, EXCLUDED.last_ts)"
    )


HISTORY = (
    "SELECT ts, value, text, kind, quality FROM samples WHERE series_id = %s AND ts >= %s AND ts < %s"
    " ORDER BY ts LIMIT %s"
)

EXPORT = (
    "SELECT s.asset, s.tag, r.ts, r.value, r.quality, r.text FROM samples r JOIN series s"
    " ON s.id = r.series_id WHERE {where} AND r.ts >= %(start)s AND r.ts < %(end)s"
    " ORDER BY r.ts, s.asset, s.tag"
)

SERIES_IN_USE = (
    "SELECT s.asset, s.tag FROM series s WHERE EXISTS (SELECT 1 FROM latest l WHERE l.series_id = s.id)"
    " OR EXISTS (SELECT 1 FROM rollup r WHERE r.series_id = s.id) ORDER BY 1, 2"
)

STATS = (
    "SELECT (SELECT count(*) FROM series), (SELECT count(*) FROM samples), (SELECT count(*) FROM rollup),"
    " (SELECT count(*) FROM pg_inherits WHERE inhparent = 'samples'::regclass),"
    " (SELECT coalesce(sum(pg_total_relation_size(inhrelid)), 0) FROM pg_inherits"
    " WHERE inhparent = 'samples'::regclass) + pg_total_relation_size('rollup')"
    " + pg_total_relation_size('latest') + pg_total_relation_size('series')"
)


def id_filter(ids: Sequence[int], column: str = "series_id") -> str:
    """A trusted ``series_id = ANY(...)`` condition from integer ids."""
    if not ids:
        return "FALSE"
    return f"{column} IN (" + ", ".join(str(int(i)) for i in ids) + ")"
