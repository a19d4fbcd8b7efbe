"""Fixtures for the edge agent tests: real Modbus/OPC UA servers, the platform, an uplink proxy."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from shopfloor.core.assets import Plant
from shopfloor.core.settings import load_settings
from shopfloor.service import Platform

from .servers import PlcServer, Proxy

ASSET = "test/edge/line1/press"


def plant(tags: int = 200, extra: list[dict[str, Any]] | None = None) -> Plant:
    tag_defs = [{"name": f"t{i}", "unit": ""} for i in range(tags)] + (extra or [])
    return Plant.from_dict(
        {"plant": {"enterprise": "acme", "name": "edge test"}, "asset": [{"path": ASSET, "tag": tag_defs}]}
    )


@pytest.fixture
async def platform(tmp_path: Path) -> AsyncIterator[Platform]:
    """The whole embedded platform (broker, ingest, store) on free ports."""
    settings = load_settings(
        overrides={
            "data_dir": tmp_path / "platform",
            "api": {"port": 0},
            "mqtt": {"port": 0},
            "store": {"flush_interval_s": 0.05},
            "security": {"profile": "demo"},
        }
    )
    p = Platform(settings, plant=plant(extra=[{"name": "sp", "unit": ""}, {"name": "mode", "unit": ""}]))
    await p.start()
    yield p
    await p.stop()


@pytest.fixture
async def plc() -> AsyncIterator[PlcServer]:
    server = PlcServer({1: 256, 2: 64})
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def proxy(platform: Platform) -> AsyncIterator[Proxy]:
    assert platform.mqtt_port
    p = Proxy(platform.mqtt_port)
    await p.start()
    yield p
    await p.cut()


async def wait_for(cond: Callable[[], Any], timeout: float = 20.0, every: float = 0.05) -> Any:
    """Poll ``cond`` (sync or async) until truthy; fail the test with a message after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        out = cond()
        if asyncio.iscoroutine(out):
            out = await out
        if out:
            return out
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(every)


async def stored(p: Platform, tag: str) -> list[Any]:
    """Every stored sample of one tag, in time order."""
    return await p.store.history(ASSET, tag, 0, 2**62)
