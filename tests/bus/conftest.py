"""Bus fixtures: a factory of NatsBus instances on a real server with a fresh stream prefix."""

from __future__ import annotations

import contextlib
import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import urlsplit

import pytest

from shopfloor.bus.nats import NatsBus

NATS_URL = os.environ.get("SHOPFLOOR_TEST_NATS_URL", "nats://127.0.0.1:4222")


def need_nats() -> None:
    parts = urlsplit(NATS_URL)
    try:
        socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 4222), timeout=2).close()
    except OSError as err:
        message = (
            f"NATS not reachable at {NATS_URL} ({err}); start nats-server -js or set SHOPFLOOR_TEST_NATS_URL"
        )
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)


@contextlib.asynccontextmanager
async def nats_buses() -> AsyncIterator[Callable[..., Any]]:
    """A factory of connected buses sharing one fresh stream prefix; streams deleted after."""
    need_nats()
    prefix = "t" + uuid.uuid4().hex[:10]
    buses: list[NatsBus] = []

    async def make(**kwargs: Any) -> NatsBus:
        bus = NatsBus(NATS_URL, stream_prefix=prefix, **kwargs)
        await bus.connect()
        buses.append(bus)
        return bus

    try:
        yield make
    finally:
        cleaner = NatsBus(NATS_URL, stream_prefix=prefix)
        await cleaner.connect()
        assert cleaner._js is not None
        for stream in await cleaner._js.streams_info():
            if stream.config.name and stream.config.name.startswith(prefix + "_"):
                await cleaner._js.delete_stream(stream.config.name)
        for bus in [*buses, cleaner]:
            await bus.close()


@pytest.fixture
async def make_bus() -> AsyncIterator[Callable[..., Any]]:
    """See :func:`nats_buses`."""
    async with nats_buses() as make:
        yield make
