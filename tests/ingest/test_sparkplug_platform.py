"""A real Sparkplug B edge node (paho + EdgeNode) against the embedded broker of a running Platform."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from shopfloor.connectors.sparkplug.codec import DataType
from shopfloor.connectors.sparkplug.node import Command, EdgeNode
from shopfloor.core.assets import Plant
from shopfloor.core.sample import Quality
from shopfloor.core.settings import load_settings
from shopfloor.service import Platform

CUTTER = "mill/converting/line1/cutter"
PLANT = {
    "plant": {"enterprise": "acme"},
    "asset": [
        {
            "path": CUTTER,
            "tag": [
                {"name": "force", "unit": "N", "low": 0, "high": 5000},
                {"name": "running", "type": "bool"},
                {"name": "cuts", "type": "int"},
            ],
        }
    ],
}


@pytest.fixture(params=["amqtt", "rumqttd"])
async def platform(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Platform]:
    """amqtt feeds the host through its ingest hook; with rumqttd the host subscribes itself."""
    settings = load_settings(
        overrides={
            "data_dir": tmp_path / "data",
            "api": {"port": 0},
            "mqtt": {"port": 0, "broker": request.param},
            "store": {"flush_interval_s": 0.05},
            "security": {"profile": "demo"},
        }
    )
    p = Platform(settings, plant=Plant.from_dict(PLANT))
    await p.start()
    try:
        yield p
    finally:
        await p.stop()


class EdgeClient:
    """An edge node on paho: births on connect, answers rebirth requests from the host."""

    def __init__(self, port: int) -> None:
        self.node = EdgeNode("mill.converting", "line1")  # -> asset mill/converting/line1/cutter
        self.node.define("force", DataType.Double, device="cutter", value=800.0)
        self.node.define("running", DataType.Boolean, device="cutter", value=True)
        self.node.define("cuts", DataType.UInt32, device="cutter", value=0)
        self.port = port
        self.lock = threading.Lock()
        self.commands: list[Command] = []
        self.subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"edge-{uuid.uuid4().hex[:8]}")
        will_topic, will = self.node.will()
        self.client.will_set(will_topic, will, qos=1)
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *a: self.subscribed.set()

    def start(self) -> None:
        self.client.connect("127.0.0.1", self.port)
        self.client.subscribe(f"spBv1.0/{self.node.group}/NCMD/{self.node.node}", qos=1)
        self.client.loop_start()
        assert self.subscribed.wait(10), "no SUBACK from the embedded broker"
        with self.lock:
            for topic, payload in self.node.birth():
                self.client.publish(topic, payload, qos=1)

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        if "/NCMD/" not in msg.topic:  # amqtt also hands out unrelated retained messages
            return
        with self.lock:
            cmd = self.node.command(msg.topic, msg.payload)
            self.commands.append(cmd)
            for topic, payload in cmd.replies:
                client.publish(topic, payload, qos=1)

    def data(self, values: dict[str, Any], *, publish: bool = True) -> None:
        with self.lock:
            topic, payload = self.node.data(values, device="cutter")
            if publish:
                self.client.publish(topic, payload, qos=1)

    def crash(self) -> None:
        """Drop the TCP connection without DISCONNECT: the broker publishes the will (NDEATH)."""
        self.client.loop_stop()
        sock = self.client.socket()
        assert sock is not None
        sock.close()

    def stop(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


async def until(check: Callable[[], Awaitable[bool]], what: str, timeout_s: float = 15.0) -> None:
    for _ in range(int(timeout_s / 0.05)):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def test_edge_node_end_to_end(platform: Platform) -> None:
    host = platform.sparkplug
    assert host is not None and platform.mqtt_port
    edge = EdgeClient(platform.mqtt_port)
    await asyncio.to_thread(edge.start)
    try:
        store = platform.store

        async def latest() -> dict[str, Any]:
            return {s.tag: s for s in await store.latest(CUTTER)}

        # births reach the store
        await until(lambda: _has(latest, "force", 800.0), "the DBIRTH values in the store")
        assert host.stats()["births"] == 2

        # data reaches the store, by alias
        edge.data({"force": 812.5, "cuts": 3})
        await until(lambda: _has(latest, "force", 812.5), "DDATA in the store")
        assert (await latest())["cuts"].value == 3

        # a lost message (seq gap) -> the host asks for a rebirth, the node answers with births
        edge.data({"force": 1.0}, publish=False)
        edge.data({"force": 900.0})
        await until(lambda: _true(bool(edge.commands)), "a rebirth request (NCMD)")
        assert edge.commands[0].rebirth and edge.commands[0].replies
        await until(lambda: _true(host.stats()["births"] == 4), "the rebirth's NBIRTH and DBIRTH")
        assert host.stats()["seq_gaps"] == 1 and host.stats()["rebirth_requests"] == 1
        await until(lambda: _has(latest, "force", 900.0), "data after the gap in the store")

        # a malformed protobuf payload -> a dead letter with the reason, nothing else lost
        edge.client.publish(f"spBv1.0/mill.converting/DDATA/{edge.node.node}/cutter", b"\xff\xfenot protobuf")

        async def dead() -> bool:
            return bool(await platform.state.dead_letters(reason="malformed"))

        await until(dead, "the malformed payload's dead letter")
        (letter,) = await platform.state.dead_letters(reason="malformed")
        assert letter["source"] == "sparkplug" and "not a Sparkplug B payload" in letter["error"]

        # the node dies (will = NDEATH): its tags are marked stale
        await asyncio.to_thread(edge.crash)

        async def stale() -> bool:
            got = await latest()
            return all(got[t].quality == Quality.BAD for t in ("force", "running", "cuts"))

        await until(stale, "stale (BAD) samples after the NDEATH will")
        assert (await latest())["force"].value == 900.0  # the last value, flagged stale
        assert host.stale_tags() == {(CUTTER, "force"), (CUTTER, "running"), (CUTTER, "cuts")}
        assert host.nodes()[f"mill.converting/{edge.node.node}"]["online"] is False
        health = await platform.health()
        assert health["sparkplug"]["deaths"] == 1
    finally:
        await asyncio.to_thread(edge.stop)


async def _has(latest: Callable[[], Awaitable[dict[str, Any]]], tag: str, value: object) -> bool:
    s = (await latest()).get(tag)
    return s is not None and s.value == value


async def _true(value: bool) -> bool:
    return value


async def test_host_on_an_external_broker_subscribes_and_publishes_state(tmp_path: Path) -> None:
    """Without the embedded hook (Mosquitto, rumqttd) the host subscribes to spBv1.0/# itself."""
    from shopfloor.broker.embedded import EmbeddedBroker
    from shopfloor.bus.memory import MemoryBus
    from shopfloor.connectors.sparkplug.config import SparkplugHostConfig
    from shopfloor.ingest.sparkplug import SparkplugHost

    from .ingest_helpers import Collector

    broker = EmbeddedBroker("127.0.0.1", 0)  # no hook: like any external broker
    await broker.start()
    bus = MemoryBus(queue_size=1000)
    samples = Collector(bus, "samples")
    host_id = f"sftest-{uuid.uuid4().hex[:8]}"
    config = SparkplugHostConfig(host_id=host_id)  # type: ignore[call-arg]
    host = SparkplugHost(Plant.from_dict(PLANT), bus, config)
    await host.start("127.0.0.1", broker.port, subscribe=True, client_id=f"{host_id}-host")
    states: list[bytes] = []
    watcher = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{host_id}-watch")
    watcher.on_message = lambda c, u, m: states.append(bytes(m.payload))
    edge = EdgeClient(broker.port)
    try:
        await asyncio.to_thread(watcher.connect, "127.0.0.1", broker.port)
        watcher.subscribe(f"spBv1.0/STATE/{host_id}", qos=1)
        watcher.loop_start()
        await until(lambda: _true(bool(states)), "the host's retained STATE")
        assert b'"online": true' in states[0]
        await asyncio.to_thread(edge.start)
        edge.data({"force": 1.0}, publish=False)  # lost: the next one is a gap
        edge.data({"force": 2.0})
        await until(lambda: _true(bool(edge.commands)), "a rebirth request over the external broker")
        await until(lambda: _true(host.stats()["births"] == 4), "the births answering it")

        async def got() -> bool:
            return any(s.value == 2.0 for s in await samples.get())

        await until(got, "samples from the subscribed host")
    finally:
        await asyncio.to_thread(edge.stop)
        await host.stop()
        await until(lambda: _true(b'"online": false' in states[-1]), "the host's offline STATE")
        watcher.loop_stop()
        watcher.disconnect()
        await bus.close()
        await broker.stop()
