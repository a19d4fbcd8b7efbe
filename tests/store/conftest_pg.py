"""Fixtures for the PostgreSQL store tests (imported explicitly by ``test_postgres.py``).

They use a real server: ``SHOPFLOOR_TEST_PG_DSN`` (default the ``test`` database on
127.0.0.1:5432) and a fresh schema per test, dropped afterwards. An unreachable server skips
the tests with the reason, except under ``CI=true``, where it fails them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections.abc import AsyncIterator

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from shopfloor.core.settings import StoreSettings
from shopfloor.store.postgres import PostgresStore

PG_DSN = os.environ.get("SHOPFLOOR_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")


def need_server(host: str, port: int, what: str) -> None:
    """Skip (fail under CI=true) unless something listens on host:port."""
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError as err:
        message = f"{what} not reachable at {host}:{port} ({err}); start it or set the test DSN/URL"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture
def pg_dsn() -> str:
    info = conninfo_to_dict(PG_DSN)
    need_server(str(info.get("host") or "127.0.0.1"), int(info.get("port") or 5432), "PostgreSQL")
    return PG_DSN


@pytest.fixture
async def pg_schema(pg_dsn: str) -> AsyncIterator[str]:
    """A fresh schema name; dropped (with everything in it) after the test."""
    name = "t_" + uuid.uuid4().hex[:12]
    yield name
    async with await psycopg.AsyncConnection.connect(pg_dsn, autocommit=True) as conn:
        await conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")


@pytest.fixture
async def pg_store(pg_dsn: str, pg_schema: str) -> AsyncIterator[PostgresStore]:
    store = PostgresStore(pg_dsn, StoreSettings(), schema=pg_schema)  # type: ignore[call-arg]
    await store.open()
    yield store
    await store.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class TcpProxy:
    """A TCP relay to a server that a test can cut (all connections) and restore."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()
        if server is not None:
            await server.wait_closed()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, up_writer))

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.IncompleteReadError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
