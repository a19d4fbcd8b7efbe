"""Grafana views over the real PostgreSQL store (fresh schema per test, dropped afterwards)."""

from __future__ import annotations

import psycopg
import pytest

from shopfloor.core.errors import StoreError
from shopfloor.core.sample import Sample
from shopfloor.interop.grafana import VIEWS, create_views, drop_views, view_ddl
from tests.store.conftest_pg import pg_dsn, pg_schema, pg_store  # noqa: F401  (fixtures)

H = 3_600_000_000_000
MIN = 60_000_000_000
T0 = 1_764_000_000 * 1_000_000_000 // H * H  # an hour boundary in Nov 2025
M = "riverside/packaging/pack1/wrapper"


async def test_views_chart_the_store(pg_dsn: str, pg_schema: str, pg_store) -> None:  # noqa: F811
    samples = []
    states = ["running"] * 30 + ["down"] * 10 + ["running"] * 20 + ["idle"] * 10  # one per minute
    reasons = {"running": "none", "down": "jam", "idle": "starved"}
    for i, st in enumerate(states):
        ts = T0 + i * MIN
        samples += [
            Sample(M, "state", ts, st),
            Sample(M, "reason_code", ts, reasons[st]),
            Sample(M, "energy", ts, 100.0 + 0.2 * i if i < 65 else 0.2 * (i - 64)),  # meter reset
            Sample(M, "good_count", ts, 10 * i),
            Sample(M, "reject_count", ts, i // 10),
            Sample(M, "power", ts, 12.0),
        ]
    await pg_store.write(samples)
    names = await create_views(pg_dsn, pg_schema)
    assert names == [f"{pg_schema}.{v}" for v in VIEWS]
    async with await psycopg.AsyncConnection.connect(pg_dsn) as conn:
        rows = await (
            await conn.execute(
                f"SELECT state, reason, seconds FROM {pg_schema}.v_machine_state"
                " WHERE asset = %s ORDER BY time",
                (M,),
            )
        ).fetchall()
        assert rows == [
            ("running", "none", 1800.0),
            ("down", "jam", 600.0),
            ("running", "none", 1200.0),
            ("idle", "starved", None),
        ]
        (n, tmin) = await (
            await conn.execute(f"SELECT count(*), min(time) FROM {pg_schema}.v_samples WHERE tag = 'power'")
        ).fetchone()
        assert n == 70 and int(tmin.timestamp()) * 10**9 == T0
        energy = await (
            await conn.execute(f"SELECT time, kwh FROM {pg_schema}.v_energy_hourly ORDER BY time")
        ).fetchall()
        # first hour: 59 steps of 0.2 kWh; second: 5 steps, a reset (new value 0.2 counts), 4 steps
        assert [round(k, 6) for _, k in energy] == [round(59 * 0.2, 6), round(5 * 0.2 + 0.2 + 4 * 0.2, 6)]
        counts = await (
            await conn.execute(f"SELECT good, reject FROM {pg_schema}.v_counts_hourly ORDER BY time")
        ).fetchall()
        assert counts == [(590.0, 5.0), (100.0, 1.0)]
        latest = await (
            await conn.execute(
                f"SELECT value FROM {pg_schema}.v_latest WHERE asset = %s AND tag = 'good_count'", (M,)
            )
        ).fetchone()
        assert latest == (690.0,)
    await drop_views(pg_dsn, pg_schema)
    async with await psycopg.AsyncConnection.connect(pg_dsn) as conn:
        left = await (
            await conn.execute("SELECT count(*) FROM pg_views WHERE schemaname = %s", (pg_schema,))
        ).fetchone()
        assert left == (0,)


def test_bad_schema_name_is_refused() -> None:
    with pytest.raises(StoreError, match="schema name"):
        view_ddl("x; DROP TABLE samples")
