import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from shopfloor.core.assets import Plant
from shopfloor.core.settings import load_settings
from shopfloor.service import Platform, run_platform

PLANT = {
    "plant": {"enterprise": "acme", "name": "Test mill"},
    "asset": [
        {
            "path": "mill/converting/line1/cutter",
            "kind": "cutter",
            "tag": [
                {"name": "force", "unit": "N", "low": 0, "high": 5000},
                {"name": "temp", "unit": "degC", "low": -20, "high": 120},
                {"name": "cuts", "type": "int"},
                {"name": "state", "type": "str"},
                {"name": "running", "type": "bool"},
            ],
        },
        {"path": "mill/converting/line10/press", "tag": [{"name": "force", "unit": "kN"}]},
    ],
}


RULES = """
[[rule]]
id = "force_high"
asset = "mill/converting/line1/cutter"
tag = "force"
kind = "high"
limit = 3000
deadband = 10
priority = "high"
message = "{asset}: force {value:.0f} N above {limit:.0f} N"
"""


def make_platform(data_dir: Path) -> Platform:
    data_dir.mkdir(parents=True, exist_ok=True)
    rules = data_dir.parent / "rules.toml"
    rules.write_text(RULES)
    settings = load_settings(
        overrides={
            "data_dir": data_dir,
            "rules": rules,
            "api": {"port": 0},
            "mqtt": {"port": 0},
            "store": {"flush_interval_s": 0.1},
            "security": {"profile": "demo"},
        }
    )
    return Platform(settings, plant=Plant.from_dict(PLANT))


@contextlib.asynccontextmanager
async def serving(platform: Platform) -> AsyncIterator[Platform]:
    """Run ``platform`` with its HTTP server until the block ends."""
    stop = asyncio.Event()
    task = asyncio.create_task(run_platform(platform, stop=stop))
    for _ in range(200):
        if platform.http_port or "api" not in platform.roles:
            break
        if task.done():
            await task
        await asyncio.sleep(0.05)
    assert platform.http_port or "api" not in platform.roles, "platform did not start"
    try:
        yield platform
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


@contextlib.asynccontextmanager
async def running(data_dir: Path) -> AsyncIterator[Platform]:
    async with serving(make_platform(data_dir)) as p:
        yield p


@pytest.fixture
async def platform(tmp_path: Path) -> AsyncIterator[Platform]:
    async with running(tmp_path / "data") as p:
        yield p
