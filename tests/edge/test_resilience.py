"""OPC UA server restart and Modbus failures: recovery without manual action, isolation per device."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from asyncua import Server, ua

from shopfloor.edge.agent import EdgeAgent
from shopfloor.edge.config import load_edge_config

from .conftest import ASSET, wait_for
from .servers import PlcServer, free_port


async def _opc_server(port: int) -> tuple[Server, object]:
    server = Server()
    await server.init()
    server.set_endpoint(f"opc.tcp://127.0.0.1:{port}/edge")
    ns = await server.register_namespace("urn:edge:test")
    var = await server.nodes.objects.add_variable(ua.NodeId("press/speed", ns), "speed", 0.0)
    await server.start()
    return server, var


def _config(tmp_path: Path, **over: object) -> dict:
    cfg: dict = {
        "agent_id": "gw-res",
        "uplink": {"port": free_port(), "reconnect_max_s": 0.5},  # nobody listens: buffering only
        "buffer": {"path": str(tmp_path / "buffer.db"), "flush_interval_s": 0.05},
    }
    cfg.update(over)
    return cfg


async def test_opcua_server_restart_resumes_subscription(tmp_path: Path) -> None:
    port = free_port()
    server, var = await _opc_server(port)
    cfg = _config(
        tmp_path,
        opcua=[
            {
                "name": "opc1",
                "url": f"opc.tcp://127.0.0.1:{port}/edge",
                "namespace_uri": "urn:edge:test",
                "publishing_interval_ms": 50,
                "nodes": [{"node_id": "ns=1;s=press/speed", "asset": ASSET, "tag": "t0"}],
            }
        ],
    )
    agent = EdgeAgent(load_edge_config(overrides=cfg))
    await agent.start()
    try:
        await var.write_value(1.5)  # type: ignore[attr-defined]
        await wait_for(lambda: agent.latest(ASSET, "t0") == 1.5)
        await server.stop()
        await wait_for(lambda: agent.health.connectors["opc1"].state == "unavailable")
        server, var = await _opc_server(port)  # a new server process state: new session needed
        await wait_for(lambda: agent.health.connectors["opc1"].state == "connected", timeout=10)
        for value in (2.5, 3.5):
            await var.write_value(value)  # type: ignore[attr-defined]
            await wait_for(lambda v=value: agent.latest(ASSET, "t0") == v, timeout=10)
        assert agent.opcua[0].connects == 2
    finally:
        await agent.stop(drain_s=0)
        await server.stop()


async def test_modbus_failures_mark_one_device_and_spare_the_other(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    plc = PlcServer({1: 8, 2: 8})
    await plc.start()
    devices = [
        {
            "name": f"dev{u}",
            "port": plc.port,
            "unit_id": u,
            "poll_interval_s": 0.05,
            "timeout_s": 0.3,
            "backoff_min_s": 0.1,
            "backoff_max_s": 0.4,
            "registers": [{"asset": ASSET, "tag": f"t{u}", "address": 0, "type": "int16"}],
        }
        for u in (1, 2)
    ]
    agent = EdgeAgent(load_edge_config(overrides=_config(tmp_path, modbus=devices)))
    caplog.set_level(logging.INFO, logger="shopfloor.edge.poller")
    await agent.start()
    dev1, dev2 = agent.pollers
    try:
        await wait_for(lambda: dev1.polls > 2 and dev2.polls > 2)
        for mode in ("exception", "silent"):
            plc.mode[1] = mode
            await wait_for(lambda: agent.health.connectors["dev1"].state == "unavailable")
            errors = agent.health.connectors["dev1"].counters["errors"]
            healthy_before = dev2.polls
            await wait_for(lambda e=errors: agent.health.connectors["dev1"].counters["errors"] >= e + 2)
            await wait_for(lambda h=healthy_before: dev2.polls >= h + 10)  # dev2 keeps its pace
            assert agent.health.connectors["dev2"].state == "connected"
            plc.mode[1] = "ok"
            await wait_for(lambda: agent.health.connectors["dev1"].state == "connected", timeout=10)
        warnings = [r for r in caplog.records if "dev1 unavailable" in r.getMessage()]
        assert len(warnings) == 2  # once per outage, not once per retry
        assert "exception 0x04 (device failure)" in warnings[0].getMessage()
        assert "timeout" in warnings[1].getMessage()
    finally:
        await agent.stop(drain_s=0)
        await plc.stop()
    await asyncio.sleep(0)


async def test_buffer_write_failure_holds_rows_and_raises_an_alarm(tmp_path: Path) -> None:
    plc = PlcServer({1: 4})
    await plc.start()
    device = {
        "name": "dev1",
        "port": plc.port,
        "unit_id": 1,
        "poll_interval_s": 0.05,
        "registers": [{"asset": ASSET, "tag": "t1", "address": 0, "type": "uint16"}],
    }
    agent = EdgeAgent(load_edge_config(overrides=_config(tmp_path, modbus=[device])))
    await agent.start()
    try:
        await wait_for(lambda: agent.kept > 0)
        db, agent.buffer._db = agent.buffer._db, None  # the disk goes away
        await wait_for(lambda: "buffer_error" in agent.health.alarms)
        polls = agent.pollers[0].polls
        await wait_for(lambda: agent.pollers[0].polls >= polls + 5)  # still polling, rows held
        assert agent.health.snapshot()["ok"] is False
        agent.buffer._db = db  # back
        await wait_for(lambda: "buffer_error" not in agent.health.alarms)
    finally:
        await agent.stop(drain_s=0)
        await plc.stop()
    assert agent.kept == agent.offered  # every value reached the buffer in the end
    assert agent.buffer.stats()["appended"] == agent.offered
