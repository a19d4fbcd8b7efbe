"""Device credentials and topic ACLs with real MQTT clients: the embedded broker and Mosquitto."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from shopfloor.broker.embedded import EmbeddedBroker
from shopfloor.security.audit import AuditLog
from shopfloor.security.broker_acl import DeviceAuthorizer
from shopfloor.security.db import SecurityDB
from shopfloor.security.devices import DeviceRegistry

from ..broker.conftest import Received, eventually

CUTTER = "shopfloor/v1/mill/converting/line1/cutter"
PRESS = "shopfloor/v1/mill/converting/line10/press"


def connect(port: int, username: str | None, password: str | None, name: str) -> tuple[mqtt.Client, Any]:
    """Connect and wait for CONNACK; returns the client and the reason code."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=name)
    if username is not None:
        client.username_pw_set(username, password)
    result: dict[str, Any] = {}
    client.on_connect = lambda c, u, flags, rc, props: result.setdefault("rc", rc)
    client.connect("127.0.0.1", port)
    client.loop_start()
    deadline = time.monotonic() + 10
    while "rc" not in result and time.monotonic() < deadline:
        time.sleep(0.01)
    return client, result.get("rc")


def refused(port: int, username: str | None, password: str | None, name: str) -> bool:
    """Whether the broker refuses this CONNECT (driven without paho's network thread: fast)."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=name)
    if username is not None:
        client.username_pw_set(username, password)
    result: dict[str, Any] = {}
    client.on_connect = lambda c, u, flags, rc, props: result.setdefault("rc", rc)
    client.connect("127.0.0.1", port)
    deadline = time.monotonic() + 10
    while "rc" not in result and time.monotonic() < deadline:
        client.loop(0.05)
    client.disconnect()
    assert "rc" in result, "no CONNACK"
    return bool(result["rc"].is_failure)


def stop(client: mqtt.Client) -> None:
    client.disconnect()
    client.loop_stop()


@pytest.fixture
def registry(tmp_path: Path) -> DeviceRegistry:
    db = SecurityDB(tmp_path / "security.db")
    db.open_sync()
    return DeviceRegistry(db, AuditLog(db))


@pytest.fixture
async def acl_broker(
    registry: DeviceRegistry,
) -> AsyncIterator[tuple[EmbeddedBroker, Received, DeviceAuthorizer]]:
    received = Received()
    seen: list[dict[str, Any]] = []
    authorizer = DeviceAuthorizer(registry, cache_s=0.2, on_violation=seen.append)
    broker = EmbeddedBroker("127.0.0.1", 0, on_batch=received, authorizer=authorizer)
    await broker.start()
    authorizer.seen = seen  # type: ignore[attr-defined]
    yield broker, received, authorizer
    await broker.stop()


async def test_embedded_broker_enforces_credentials_and_topics(
    acl_broker: tuple[EmbeddedBroker, Received, DeviceAuthorizer], registry: DeviceRegistry
) -> None:
    broker, received, authorizer = acl_broker
    port = broker.port
    token = await asyncio.to_thread(registry.provision, "cutter-1", CUTTER)
    await asyncio.to_thread(registry.provision, "press-1", PRESS)

    assert await asyncio.to_thread(refused, port, None, None, "anon"), "an anonymous client was accepted"
    assert await asyncio.to_thread(refused, port, "cutter-1", "sfd_wrong", "wrong")
    assert await asyncio.to_thread(refused, port, "press-1", token, "impostor")  # the cutter's token

    dev, rc = await asyncio.to_thread(connect, port, "cutter-1", token, "cutter-1")
    assert rc is not None and not rc.is_failure, rc
    try:
        # refused publishes get no PUBACK from amqtt (MQTT 3.1.1 cannot say no): QoS 0 here
        dev.publish(f"{PRESS}/data", b'{"force": 1}', qos=0)  # another machine's topic
        dev.publish("shopfloor/v1/mill/data", b'{"x": 1}', qos=0)  # above its subtree
        dev.publish(f"{CUTTER}/data", b'{"force": 2}', qos=1).wait_for_publish(5)  # its own
        await eventually(lambda: len(received.messages) >= 1)
        await asyncio.sleep(0.2)
        assert [t for t, _ in received.messages] == [f"{CUTTER}/data"]
        kinds = [(v["kind"], v.get("topic")) for v in authorizer.seen]  # type: ignore[attr-defined]
        assert ("publish", f"{PRESS}/data") in kinds and ("publish", "shopfloor/v1/mill/data") in kinds
        # subscriptions: only its command subtree
        granted: list[Any] = []
        dev.on_subscribe = lambda c, u, mid, codes, props: granted.extend(codes)
        dev.subscribe("shopfloor/v1/#", qos=1)
        dev.subscribe("shopfloor/v1/cmd/mill/converting/line1/cutter/#", qos=1)
        await eventually(lambda: len(granted) == 2)
        assert granted[0].is_failure and not granted[1].is_failure
        # revocation: the next publish after the cache expires is refused, no restart
        await asyncio.to_thread(registry.revoke, "cutter-1")
        await asyncio.sleep(0.3)
        dev.publish(f"{CUTTER}/data", b'{"force": 3}', qos=0)
        seen = authorizer.seen  # type: ignore[attr-defined]
        await eventually(lambda: any(v.get("revoked") for v in seen))
        assert len(received.messages) == 1
    finally:
        stop(dev)
    assert await asyncio.to_thread(refused, port, "cutter-1", token, "again"), "a revoked device reconnected"
    assert authorizer.stats()["refused_connects"] >= 4


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.skipif(shutil.which("mosquitto") is None, reason="mosquitto is not installed")
async def test_generated_mosquitto_acl_is_enforced_by_mosquitto(
    registry: DeviceRegistry, tmp_path: Path
) -> None:
    token = await asyncio.to_thread(registry.provision, "cutter-1", CUTTER)
    await asyncio.to_thread(registry.provision, "gone", PRESS)
    await asyncio.to_thread(registry.revoke, "gone")
    acl = tmp_path / "acl"
    # an observer that may read everything, to see what the broker let through
    acl.write_text(registry.mosquitto_acl() + "\nuser observer\ntopic read shopfloor/#\n")
    assert "user gone" not in acl.read_text() and "user cutter-1" in acl.read_text()
    passwd = tmp_path / "passwd"
    lines = [
        registry.mosquitto_password_line("cutter-1", token),
        registry.mosquitto_password_line("observer", "look"),
    ]
    passwd.write_text("\n".join(lines) + "\n")
    passwd.chmod(0o600)
    port = _free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {passwd}\nacl_file {acl}\n"
        "persistence false\n" + ("user root\n" if os.geteuid() == 0 else "")  # else it drops to 'mosquitto'
    )
    proc = subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            await asyncio.sleep(0.05)
        observer, rc = await asyncio.to_thread(connect, port, "observer", "look", "observer")
        assert rc is not None and not rc.is_failure, rc
        got: list[str] = []
        observer.on_message = lambda c, u, m: got.append(m.topic)
        subscribed: list[Any] = []
        observer.on_subscribe = lambda c, u, mid, codes, props: subscribed.extend(codes)
        observer.subscribe("shopfloor/#", qos=1)
        await eventually(lambda: bool(subscribed))
        assert await asyncio.to_thread(refused, port, None, None, "anon")
        assert await asyncio.to_thread(refused, port, "cutter-1", "sfd_wrong", "bad")
        assert await asyncio.to_thread(refused, port, "gone", "x", "gone")
        dev, rc = await asyncio.to_thread(connect, port, "cutter-1", token, "dev")
        assert not rc.is_failure
        dev.publish(f"{PRESS}/data", b"{}", qos=1).wait_for_publish(5)
        dev.publish("shopfloor/v1/cmd/mill/converting/line1/cutter/set", b"1", qos=1).wait_for_publish(5)
        dev.publish(f"{CUTTER}/data", json.dumps({"force": 1}), qos=1).wait_for_publish(5)
        await eventually(lambda: bool(got))
        await asyncio.sleep(0.2)
        assert got == [f"{CUTTER}/data"], got
        stop(dev)
        stop(observer)
    finally:
        proc.terminate()
        proc.wait(5)
