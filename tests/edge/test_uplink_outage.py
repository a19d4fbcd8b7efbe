"""Uplink broker unreachable while polling: every value reaches the platform store once, in order.

Scaled for the shared test machine: 20 tags at 10 Hz, about 2.5 s of outage. The issue's full
version (200 tags at 10 Hz, 60 s of outage) runs with ``SHOPFLOOR_EDGE_FULL=1`` (about 90 s).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path

import pytest

from shopfloor.edge.agent import EdgeAgent
from shopfloor.edge.config import load_edge_config
from shopfloor.service import Platform

from .conftest import ASSET, stored, wait_for
from .servers import PlcServer, Proxy

FULL = os.environ.get("SHOPFLOOR_EDGE_FULL") == "1"
TAGS = 200 if FULL else 20
OUTAGE_POLLS = 600 if FULL else 25  # polls at 10 Hz while the uplink is down


def agent_config(tmp_path: Path, plc_port: int, uplink_port: int, **over: object) -> dict:
    cfg = {
        "agent_id": "gw-test",
        "uplink": {"port": uplink_port, "reconnect_max_s": 0.5, "batch_rows": 500},
        "buffer": {"path": str(tmp_path / "edge" / "buffer.db"), "flush_interval_s": 0.05},
        "health": {"interval_s": 0.5},
        "modbus": [
            {
                "name": "plc1",
                "port": plc_port,
                "unit_id": 1,
                "poll_interval_s": 0.1,
                "timeout_s": 0.5,
                "registers": [
                    {"asset": ASSET, "tag": f"t{i}", "address": i, "type": "uint16"} for i in range(TAGS)
                ],
            }
        ],
    }
    cfg.update(over)
    return cfg


async def _count_up(plc: PlcServer) -> None:
    n = 0
    while True:
        n += 1
        plc.regs[1][:TAGS] = [(n + i) & 0xFFFF for i in range(TAGS)]
        await asyncio.sleep(0.1)


@pytest.mark.timeout(300 if FULL else 120)
async def test_outage_loses_and_duplicates_nothing(
    tmp_path: Path, platform: Platform, plc: PlcServer, proxy: Proxy
) -> None:
    agent = EdgeAgent(load_edge_config(overrides=agent_config(tmp_path, plc.port, proxy.port)))
    ticker = asyncio.create_task(_count_up(plc))
    await agent.start()
    try:
        await wait_for(lambda: stored(platform, "t0"))  # the uplink works
        await proxy.cut()
        await wait_for(lambda: agent.health.connectors["uplink"].state == "unavailable")
        polls_at_cut = agent.pollers[0].polls
        await wait_for(lambda: agent.pollers[0].polls >= polls_at_cut + OUTAGE_POLLS, timeout=OUTAGE_POLLS)
        depth = (await asyncio.to_thread(agent.buffer.stats))["depth"]
        assert depth >= (OUTAGE_POLLS - 5) * TAGS  # held on disk while the uplink is down
        await proxy.start()
        await wait_for(lambda: agent.health.connectors["uplink"].state == "connected")
    finally:
        ticker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticker
        await agent.stop(drain_s=10)
    polls = agent.pollers[0].polls
    assert agent.offered == polls * TAGS
    for i in range(TAGS):
        rows = await wait_for(lambda i=i: _complete(platform, f"t{i}", polls), timeout=60)
        ts = [s.ts for s in rows]
        assert ts == sorted(set(ts)), f"t{i}: duplicated or out of order"
        values = [s.value for s in rows]
        assert values == sorted(values), f"t{i}: values out of order"
    assert platform.pipeline.edge.applied == polls * TAGS


async def _complete(platform: Platform, tag: str, polls: int) -> list | None:
    rows = await stored(platform, tag)
    assert len(rows) <= polls, f"{tag}: {len(rows)} stored for {polls} polls (duplicates)"
    return rows if len(rows) == polls else None
