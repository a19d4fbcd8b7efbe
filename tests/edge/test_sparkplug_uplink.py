"""uplink.format = "sparkplug": the agent as a Sparkplug B edge node, read by the platform's host."""

from __future__ import annotations

from pathlib import Path

import pytest

from shopfloor.core.errors import ConfigError
from shopfloor.edge.agent import EdgeAgent
from shopfloor.edge.config import load_edge_config
from shopfloor.service import Platform

from .conftest import ASSET, stored, wait_for
from .servers import PlcServer, Proxy


def _config(tmp_path: Path, plc: PlcServer, port: int) -> dict:
    return {
        "agent_id": "line1",  # ASSET = test/edge/line1/press: group test.edge, node line1, device press
        "uplink": {
            "port": port,
            "format": "sparkplug",
            "sparkplug_group": "test.edge",
            "reconnect_max_s": 0.5,
        },
        "buffer": {"path": str(tmp_path / "buffer.db")},
        "modbus": [
            {
                "name": "plc1",
                "port": plc.port,
                "unit_id": 1,
                "poll_interval_s": 0.1,
                "registers": [
                    {"asset": ASSET, "tag": f"t{i}", "address": i, "type": "int16"} for i in range(3)
                ],
            }
        ],
    }


async def test_sparkplug_uplink_reaches_the_store_across_an_outage(
    tmp_path: Path, platform: Platform, plc: PlcServer, proxy: Proxy
) -> None:
    assert platform.sparkplug is not None, "the platform's Sparkplug host is off"
    plc.regs[1][:3] = [1, 2, 3]
    agent = EdgeAgent(load_edge_config(overrides=_config(tmp_path, plc, proxy.port)))
    await agent.start()
    try:
        await wait_for(lambda: stored(platform, "t2"))
        await proxy.cut()
        await wait_for(lambda: agent.health.connectors["uplink"].state == "unavailable")
        polls = agent.pollers[0].polls
        await wait_for(lambda: agent.pollers[0].polls >= polls + 5)
        plc.regs[1][2] = 30
        await wait_for(lambda: agent.latest(ASSET, "t2") == 30)
        await proxy.start()  # a new session: new bdSeq, births, then the buffered rows
        await wait_for(lambda: agent.health.connectors["uplink"].state == "connected")
    finally:
        await agent.stop(drain_s=5)
    assert agent.link.births >= 2 and agent.link.node.bd_seq >= 1
    polls = agent.pollers[0].polls
    rows = await wait_for(lambda: _at_least(platform, "t2", polls), timeout=20)
    ts = [s.ts for s in rows]
    assert ts == sorted(ts) and rows[-1].value == 30
    # original timestamps, to the millisecond Sparkplug carries
    assert all(t % 1_000_000 == 0 for t in ts)


async def _at_least(platform: Platform, tag: str, n: int) -> list | None:
    rows = [s for s in await stored(platform, tag) if s.quality == 192]
    return rows if len(rows) >= n else None


def test_assets_outside_the_node_are_a_config_error(tmp_path: Path) -> None:
    cfg = _config(tmp_path, PlcServer({1: 4}), 1883)
    cfg["modbus"][0]["registers"][0]["asset"] = "elsewhere/line9/press"
    with pytest.raises(ConfigError, match="'elsewhere/line9/press' is not under 'test/edge/line1'"):
        EdgeAgent(load_edge_config(overrides=cfg))
    cfg["uplink"].pop("sparkplug_group")
    with pytest.raises(ConfigError, match=r"needs uplink\.sparkplug_group"):
        load_edge_config(overrides=cfg)
