"""The behaviour monitor's detectors, and broker refusals becoming audited security events."""

from __future__ import annotations

import asyncio
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from shopfloor.security.monitor import NS, BehaviourMonitor

from .conftest import Secured
from .test_broker_acl import CUTTER, PRESS, connect, refused, stop

T0 = 1_700_000_000 * NS  # 2023-11-14 22:13:20 UTC


def kinds(events) -> list[str]:  # type: ignore[no-untyped-def]
    return [e.kind for e in events]


def test_rate_spike_after_a_learnt_baseline() -> None:
    m = BehaviourMonitor(rate_window_s=10, rate_factor=5, rate_min_count=20)
    events = []
    t = 0.0
    for _window in range(5):  # 10 messages per 10 s window: the normal rate
        for _ in range(10):
            events += m.observe_message("gw1", now_s=t)
            t += 1.0
    assert events == []
    for _ in range(200):  # 200 in the next window
        events += m.observe_message("gw1", now_s=t)
        t += 0.04
    events += m.observe_message("gw1", now_s=t + 10)  # the window closes
    assert kinds(events) == ["rate_spike"]
    assert events[0].evidence["count"] > 100 and events[0].evidence["baseline"] < 15
    assert m.observe_message("gw2", now_s=0) == []  # other sources have their own baseline


def test_impossible_values() -> None:
    m = BehaviourMonitor()
    assert kinds(m.observe_value("m", "temp", -300.0, T0, unit="degC")) == ["impossible_value"]
    assert m.observe_value("m", "temp", 20.0, T0, unit="degC", low=-20, high=120) == []
    far = m.observe_value("m", "temp", 500.0, T0 + NS, unit="degC", low=-20, high=120)
    assert kinds(far) == ["impossible_value"] and "outside its range" in far[0].message
    assert m.observe_value("m", "temp", 25.0, T0 + 2 * NS, unit="degC", low=-20, high=120) == []
    jump = m.observe_value("m", "temp", 119.0, T0 + 2 * NS + NS // 100, unit="degC", low=-20, high=120)
    assert kinds(jump) == ["impossible_value"] and "jumped" in jump[0].message
    assert kinds(m.observe_value("m", "x", float("nan"), T0)) == ["impossible_value"]
    assert m.observe_value("m", "running", True, T0) == []  # type: ignore[arg-type]


def test_replay_and_out_of_order_with_and_without_wrap() -> None:
    m = BehaviourMonitor()
    assert m.observe_sequence("a", 1) == [] and m.observe_sequence("a", 2) == []
    assert kinds(m.observe_sequence("a", 2)) == ["replay"]
    assert m.observe_sequence("a", 5) == []  # a gap is lost messages, not an attack
    assert kinds(m.observe_sequence("a", 3)) == ["out_of_order"]
    for seq in (250, 251, 252, 253, 254, 255, 0, 1):  # Sparkplug wraps at 256
        assert m.observe_sequence("spb", seq, modulo=256) == [], seq
    assert kinds(m.observe_sequence("spb", 254, modulo=256)) == ["replay"]
    assert kinds(m.observe_sequence("spb", 200, modulo=256)) == ["out_of_order"]
    m.reset("spb")
    assert m.observe_sequence("spb", 0, modulo=256) == []


def test_commands_outside_working_hours() -> None:
    m = BehaviourMonitor(working_hours="06:00-22:00", tz="UTC")
    late = m.observe_command("eve", "mill/pm1/speed", T0)  # 22:13 UTC
    assert kinds(late) == ["off_hours_command"] and late[0].evidence["target"] == "mill/pm1/speed"
    assert m.observe_command("eve", "mill/pm1/speed", T0 - 4 * 3600 * NS) == []  # 18:13
    night = BehaviourMonitor(working_hours="22:00-06:00", tz="Europe/Berlin")  # a night shift
    assert night.observe_command("x", "y", T0) == []  # 23:13 in Berlin
    assert m.counts == {"off_hours_command": 1}


async def test_broker_refusals_become_audited_events(tmp_path: Path, secured: Secured) -> None:
    p = secured.platform
    assert p.security.mqtt_acl and p.broker is not None
    port = p.mqtt_port
    token = await asyncio.to_thread(p.security.devices.provision, "cutter-1", CUTTER)
    assert await asyncio.to_thread(refused, port, "ghost", "x", "ghost")
    dev, rc = await asyncio.to_thread(connect, port, "cutter-1", token, "cutter-1")
    assert not rc.is_failure
    dev.publish(f"{PRESS}/data", b'{"force": 1}', qos=0)
    info = dev.publish(f"{CUTTER}/data", b'{"values": {"force": 2}}', qos=1)
    await asyncio.to_thread(info.wait_for_publish, 5)
    stop(dev)
    for _ in range(100):
        if p.security.monitor.counts.get("topic_violation"):
            break
        await asyncio.sleep(0.05)
    assert p.security.monitor.counts == {"unknown_device": 1, "topic_violation": 1}
    audit = await asyncio.to_thread(p.audit.records, 20)
    actions = {r["action"] for r in audit}
    assert {"security.unknown_device", "security.topic_violation", "device.provision"} <= actions
    import httpx

    async with httpx.AsyncClient(base_url=secured.base, headers=secured.auth("admin")) as c:
        body = (await c.get("/api/v1/security/events")).json()
        assert body["counts"]["topic_violation"] == 1
        assert body["events"][0]["evidence"]["topic"] == f"{PRESS}/data"
        assert (await c.get("/api/v1/security/events", headers=secured.auth("engineer"))).status_code == 403
        # the allowed message was ingested
        for _ in range(100):
            latest = (await c.get("/api/v1/latest", params={"asset": "mill/converting/line1/cutter"})).json()
            if latest:
                break
            await asyncio.sleep(0.05)
        assert [(s["tag"], s["value"]) for s in latest] == [("force", 2.0)]
    assert mqtt and CallbackAPIVersion  # real paho clients above


async def test_ingested_samples_feed_the_monitor(tmp_path: Path) -> None:
    import httpx

    from ..api.conftest import serving
    from .conftest import secure_platform

    async with serving(secure_platform(tmp_path / "data", monitor_samples=True)) as p:
        _, admin = await asyncio.to_thread(p.security.identity.new_token_sync, "a", "t", "admin")
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{p.http_port}/api/v1", headers={"Authorization": f"Bearer {admin}"}
        ) as c:
            body = [
                {"asset": "mill/converting/line1/cutter", "tag": "temp", "value": v} for v in (20.0, 1000.0)
            ]
            await c.post("/ingest", json=body[:1])
            await c.post("/ingest", json=body[1:])
            for _ in range(100):
                if p.security.monitor.counts.get("impossible_value"):
                    break
                await asyncio.sleep(0.05)
            events = (await c.get("/security/events", params={"kind": "impossible_value"})).json()["events"]
        assert events and events[0]["subject"] == "mill/converting/line1/cutter/temp"
        assert events[0]["evidence"]["value"] == 1000.0
