"""SQL views over the PostgreSQL store that Grafana (or any SQL client) can chart directly.

The store keeps time as bigint epoch nanoseconds and series as ids (see
:mod:`shopfloor.store.pg_sql`); these views give Grafana what its PostgreSQL data source wants:
a ``time`` column of type ``timestamptz`` and readable ``asset``/``tag`` columns. Each view is in
the store's schema; a Grafana query looks like::

    SELECT time, value FROM shopfloor.v_samples
    WHERE asset = 'riverside/packaging/pack1/wrapper' AND tag = 'power' AND $__timeFilter(time)

(``v_samples`` filters on the bigint ``ts`` column too, so add ``AND ts BETWEEN
$__unixEpochFrom()::bigint * 1000000000 AND $__unixEpochTo()::bigint * 1000000000`` on big
tables: that lets PostgreSQL prune day partitions.)

Views:

* ``v_samples``: time, ts, asset, tag, value, text, quality (every raw sample)
* ``v_latest``: asset, tag, time, value, text, quality (one row per series)
* ``v_rollup_1m``: time, asset, tag, avg, min, max, count (the 1-minute rollups kept after
  raw retention)
* ``v_machine_state``: asset, state, reason, time (start), end_time, seconds: one row per state
  period of machines with a ``state`` tag (Grafana's state timeline)
* ``v_energy_hourly``: time (hour), asset, kwh: increase of the ``energy`` meter per hour
* ``v_counts_hourly``: time (hour), asset, good, reject: increase of the count tags per hour
"""

from __future__ import annotations

import re

from ..core.errors import StoreError, StoreUnavailable

VIEWS = ("v_samples", "v_latest", "v_rollup_1m", "v_machine_state", "v_energy_hourly", "v_counts_hourly")
_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_TIME = "to_timestamp({col} / 1e9)"


def _delta_hourly(s: str, tags: str) -> str:
    """Hourly increase of cumulative counters (a reset counts its new value)."""
    return (
        "SELECT date_trunc('hour', to_timestamp(s.ts / 1e9)) AS time, se.asset, se.tag,"
        " CASE WHEN s.value >= lag(s.value) OVER w THEN s.value - lag(s.value) OVER w"
        " WHEN lag(s.value) OVER w IS NULL THEN 0 ELSE s.value END AS delta"
        f" FROM {s}.samples s JOIN {s}.series se ON se.id = s.series_id WHERE se.tag IN ({tags})"
        " WINDOW w AS (PARTITION BY s.series_id ORDER BY s.ts)"
    )


def view_ddl(schema: str) -> list[str]:
    """``CREATE OR REPLACE VIEW`` statements for the store in ``schema``."""
    if not _IDENT.match(schema):
        raise StoreError(f"schema name {schema!r} must match [a-z_][a-z0-9_]*")
    s = schema
    t = _TIME.format(col="s.ts")
    return [
        f"CREATE OR REPLACE VIEW {s}.v_samples AS SELECT {t} AS time, s.ts, se.asset, se.tag, s.value,"
        f" s.text, s.quality FROM {s}.samples s JOIN {s}.series se ON se.id = s.series_id",
        f"CREATE OR REPLACE VIEW {s}.v_latest AS SELECT se.asset, se.tag, {_TIME.format(col='l.ts')} AS time,"
        f" l.value, l.text, l.quality FROM {s}.latest l JOIN {s}.series se ON se.id = l.series_id",
        f"CREATE OR REPLACE VIEW {s}.v_rollup_1m AS SELECT {_TIME.format(col='r.ts')} AS time, se.asset,"
        f" se.tag, r.sum / nullif(r.n, 0) AS avg, r.min, r.max, r.count FROM {s}.rollup r"
        f" JOIN {s}.series se ON se.id = r.series_id",
        f"CREATE OR REPLACE VIEW {s}.v_machine_state AS SELECT asset, state, reason,"
        " to_timestamp(ts / 1e9) AS time, to_timestamp(next_ts / 1e9) AS end_time,"
        " (next_ts - ts) / 1e9 AS seconds FROM ("
        "  SELECT *, lead(ts) OVER (PARTITION BY sid ORDER BY ts) AS next_ts FROM ("
        "   SELECT *, lag(state || '/' || reason) OVER (PARTITION BY sid ORDER BY ts) AS prev FROM ("
        "    SELECT s.series_id AS sid, se.asset, s.ts, s.text AS state, coalesce(rc.text, 'none') AS reason"
        f"    FROM {s}.samples s JOIN {s}.series se ON se.id = s.series_id"
        f"    LEFT JOIN {s}.series rs ON rs.asset = se.asset AND rs.tag = 'reason_code'"
        f"    LEFT JOIN {s}.samples rc ON rc.series_id = rs.id AND rc.ts = s.ts"
        "    WHERE se.tag = 'state') x) y"
        "  WHERE prev IS DISTINCT FROM state || '/' || reason) z",
        f"CREATE OR REPLACE VIEW {s}.v_energy_hourly AS SELECT time, asset, sum(delta) AS kwh FROM ("
        + _delta_hourly(s, "'energy'")
        + ") d GROUP BY time, asset",
        f"CREATE OR REPLACE VIEW {s}.v_counts_hourly AS SELECT time, asset,"
        " sum(delta) FILTER (WHERE tag = 'good_count') AS good,"
        " sum(delta) FILTER (WHERE tag = 'reject_count') AS reject FROM ("
        + _delta_hourly(s, "'good_count', 'reject_count'")
        + ") d GROUP BY time, asset",
    ]


async def create_views(dsn: str, schema: str = "shopfloor") -> list[str]:
    """Create (or replace) the views in the store's schema; returns their names."""
    import psycopg

    statements = view_ddl(schema)
    try:
        async with await psycopg.AsyncConnection.connect(dsn) as conn, conn.transaction():
            for sql in statements:
                await conn.execute(sql)  # type: ignore[arg-type]
    except psycopg.OperationalError as err:
        raise StoreUnavailable(f"cannot reach PostgreSQL to create views: {err}") from err
    except psycopg.Error as err:
        raise StoreError(
            f"creating views in schema {schema!r} failed (is the store's schema there?): {err}"
        ) from err
    return [f"{schema}.{v}" for v in VIEWS]


async def drop_views(dsn: str, schema: str = "shopfloor") -> None:
    import psycopg

    if not _IDENT.match(schema):
        raise StoreError(f"schema name {schema!r} must match [a-z_][a-z0-9_]*")
    async with await psycopg.AsyncConnection.connect(dsn) as conn, conn.transaction():
        for v in VIEWS:
            await conn.execute(f"DROP VIEW IF EXISTS {schema}.{v}")  # type: ignore[arg-type]
