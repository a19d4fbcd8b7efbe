"""Production mode against the real Mosquitto, NATS JetStream and PostgreSQL on this machine.

Every test gets fresh names (topic root, stream prefix, schema) and removes them afterwards.
"""

import asyncio
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from ..store.conftest_pg import need_server

PG = os.environ.get("SHOPFLOOR_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
NATS = os.environ.get("SHOPFLOOR_TEST_NATS_URL", "nats://127.0.0.1:4222")

PLANT_TOML = """
[plant]
enterprise = "acme"
name = "Production test mill"

[[asset]]
path = "mill/converting/line1/cutter"
[[asset.tag]]
name = "force"
unit = "N"
[[asset.tag]]
name = "seq"
type = "int"
"""


@dataclass
class Names:
    suffix: str
    topic_root: str
    prefix: str
    schema: str
    config: Path

    def env(self, **extra: str) -> dict[str, str]:
        return {**os.environ, **extra}


async def _cleanup(names: Names) -> None:
    import nats

    async with await psycopg.AsyncConnection.connect(PG, autocommit=True) as conn:
        await conn.execute(f"DROP SCHEMA IF EXISTS {names.schema} CASCADE")
    nc = await nats.connect(NATS)
    try:
        js = nc.jetstream()
        for kind in ("samples", "deadletters", "events"):
            try:
                await js.delete_stream(f"{names.prefix}_{kind}")
            except Exception:  # noqa: BLE001 - the stream may never have been created
                pass
    finally:
        await nc.close()


@pytest.fixture
def names(tmp_path: Path) -> Iterator[Names]:
    need_server("127.0.0.1", 1883, "Mosquitto")
    need_server("127.0.0.1", 4222, "NATS")
    need_server("127.0.0.1", 5432, "PostgreSQL")
    suffix = uuid.uuid4().hex[:8]
    plant = tmp_path / "plant.toml"
    plant.write_text(PLANT_TOML)
    config = tmp_path / "prod.toml"
    n = Names(suffix, f"sftest-{suffix}/v1", f"sftest_{suffix}", f"sftest_{suffix}", config)
    config.write_text(
        f'mode = "production"\nplant = "{plant}"\ndata_dir = "{tmp_path / "data"}"\n'
        f'[mqtt]\nembedded = false\nhost = "127.0.0.1"\nport = 1883\ntopic_root = "{n.topic_root}"\n'
        f'shared_group = "g{suffix}"\nclient_id = "sftest-{suffix}"\n'
        f'[bus]\nnats_url = "{NATS}"\nstream_prefix = "{n.prefix}"\nack_wait_s = 3\n'
        f'[store]\nbackend = "postgres"\npostgres_dsn = "{PG}"\npostgres_schema = "{n.schema}"\n'
        f"flush_interval_s = 0.2\n"
        f"[api]\nport = 0\n"
    )
    yield n
    asyncio.run(_cleanup(n))


async def stored_count(schema: str) -> int:
    async with await psycopg.AsyncConnection.connect(PG) as conn:
        try:
            cur = await conn.execute(f"SELECT count(*) FROM {schema}.samples")
        except psycopg.errors.UndefinedTable:
            return 0
        row = await cur.fetchone()
        return int(row[0]) if row else 0


async def distinct_count(schema: str) -> int:
    async with await psycopg.AsyncConnection.connect(PG) as conn:
        cur = await conn.execute(f"SELECT count(DISTINCT (series_id, ts)) FROM {schema}.samples")
        row = await cur.fetchone()
        return int(row[0]) if row else 0


async def wait_count(schema: str, expected: int, timeout: float = 30.0) -> int:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    n = 0
    while loop.time() < deadline:
        n = await stored_count(schema)
        if n >= expected:
            return n
        await asyncio.sleep(0.2)
    return n
