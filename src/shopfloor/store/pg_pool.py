"""The PostgreSQL store's connections: schema set-up, a psycopg pool, and error translation.

Every psycopg or pool error leaves through :meth:`PgPool.conn` as a shopfloor error:
unreachable, refused, gone away or no pooled connection in ``timeout_s`` raise
:class:`StoreUnavailable`, bad SQL input :class:`QueryError`, anything else
:class:`StoreError`; each names ``host:port/database`` (never the password).
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from ..core.errors import QueryError, StoreError, StoreUnavailable
from . import pg_sql as q

log = logging.getLogger(__name__)
_IDENT = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def describe_dsn(dsn: str) -> str:
    """``host:port/database`` of a DSN, for error messages (never the password).

    >>> describe_dsn("postgresql://u:secret@db.local:6543/plant")
    'db.local:6543/plant'
    """
    try:
        info = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return "<invalid DSN>"
    host = info.get("host") or "localhost"
    return f"{host}:{info.get('port') or 5432}/{info.get('dbname') or info.get('user') or 'postgres'}"


def first_line(err: BaseException) -> str:
    """The first line of an error's message (psycopg adds detail lines)."""
    return (str(err).strip().splitlines() or [type(err).__name__])[0]


class PgPool:
    """A pool of connections whose ``search_path`` is ``schema``; :meth:`open` creates the tables."""

    def __init__(self, dsn: str, schema: str, pool_size: int, timeout_s: float) -> None:
        if not _IDENT.fullmatch(schema):
            raise StoreError(f"schema name {schema!r} must match [a-z_][a-z0-9_]* (at most 63 characters)")
        self.dsn = dsn
        self.schema = schema
        self.where = describe_dsn(dsn)
        self.pool_size = pool_size
        self.timeout_s = timeout_s
        self._pool: AsyncConnectionPool | None = None

    async def open(self) -> None:
        """Create the schema and its tables if needed (under an advisory lock), open the pool."""
        connect_timeout = max(1, round(self.timeout_s))
        try:
            conn = await psycopg.AsyncConnection.connect(
                self.dsn, connect_timeout=connect_timeout, autocommit=True
            )
        except psycopg.Error as err:
            raise StoreUnavailable(f"cannot reach PostgreSQL at {self.where}: {first_line(err)}") from err
        async with conn:
            try:
                async with conn.transaction():
                    await conn.execute(q.LOCK, (f"{self.schema}.ddl",))
                    await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {self.schema}")
                    await conn.execute(f"SET LOCAL search_path TO {self.schema}")
                    for ddl in q.DDL:
                        await conn.execute(ddl)
                    await conn.execute(
                        "INSERT INTO meta VALUES ('schema_version', %s) ON CONFLICT DO NOTHING",
                        (str(q.SCHEMA_VERSION),),
                    )
            except psycopg.Error as err:
                raise StoreUnavailable(
                    f"cannot set up schema {self.schema!r} at {self.where}: {err}"
                ) from err
        pool = AsyncConnectionPool(
            self.dsn,
            min_size=1,
            max_size=self.pool_size,
            open=False,
            configure=self._configure,
            check=AsyncConnectionPool.check_connection,
            timeout=self.timeout_s,
            kwargs={"connect_timeout": connect_timeout},
            name=f"shopfloor-{self.schema}",
        )
        try:
            await pool.open(wait=True, timeout=self.timeout_s)
        except PoolTimeout as err:
            await pool.close()
            raise StoreUnavailable(f"cannot reach PostgreSQL at {self.where}: no connection") from err
        self._pool = pool

    async def _configure(self, conn: psycopg.AsyncConnection[Any]) -> None:
        await conn.execute(f"SET search_path TO {self.schema}")
        await conn.execute(q.STAGE_DDL)
        await conn.commit()

    async def close(self) -> None:
        """Close the pool; safe to call twice."""
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    @asynccontextmanager
    async def conn(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """A pooled connection; psycopg and pool errors become shopfloor errors."""
        if self._pool is None:
            raise StoreUnavailable(f"PostgreSQL store {self.where} schema {self.schema} is not open")
        try:
            async with self._pool.connection() as conn:
                yield conn
        except PoolTimeout as err:
            raise StoreUnavailable(
                f"PostgreSQL at {self.where} unavailable: no connection within {self.timeout_s} s"
            ) from err
        except psycopg.OperationalError as err:
            raise StoreUnavailable(f"PostgreSQL at {self.where} unavailable: {first_line(err)}") from err
        except (psycopg.DataError, psycopg.ProgrammingError) as err:
            raise QueryError(f"PostgreSQL at {self.where} refused a query: {first_line(err)}") from err
        except psycopg.Error as err:
            raise StoreError(f"PostgreSQL at {self.where}: {first_line(err)}") from err

    async def fetch(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        """All rows of one statement."""
        async with self.conn() as conn:
            cur = await conn.execute(sql, params)
            return await cur.fetchall()
