"""The embedded broker: real clients (mosquitto_pub, paho) connect, publish and subscribe."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from shopfloor.broker.embedded import EmbeddedBroker
from shopfloor.broker.rumqtt import RumqttBroker
from shopfloor.bus.memory import MemoryBus
from shopfloor.core.assets import Plant
from shopfloor.core.errors import BrokerError
from shopfloor.ingest.pipeline import Pipeline

from .conftest import eventually, paho_client, publish


@pytest.mark.skipif(shutil.which("mosquitto_pub") is None, reason="mosquitto_pub is not installed")
async def test_mosquitto_pub_reaches_the_hook(broker: EmbeddedBroker, received) -> None:  # type: ignore[no-untyped-def]
    cmd = [
        "mosquitto_pub",
        "-h",
        "127.0.0.1",
        "-p",
        str(broker.port),
        "-q",
        "1",
        "-t",
        "shopfloor/v1/s/a/l/m/data/temp",
        "-m",
        "21.5",
    ]
    proc = await asyncio.to_thread(subprocess.run, cmd, capture_output=True, timeout=20)
    assert proc.returncode == 0, proc.stderr
    await eventually(lambda: received.messages)
    assert received.messages == [("shopfloor/v1/s/a/l/m/data/temp", b"21.5")]
    assert broker.stats()["received"] == 1


async def test_paho_clients_publish_and_subscribe(broker: EmbeddedBroker, received) -> None:  # type: ignore[no-untyped-def]
    got: list[tuple[str, bytes]] = []
    sub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="test-sub")
    sub.on_message = lambda c, u, m: got.append((m.topic, m.payload))
    subscribed = []
    sub.on_subscribe = lambda *a: subscribed.append(1)
    sub.connect("127.0.0.1", broker.port)
    sub.loop_start()
    sub.subscribe("shopfloor/v1/#", qos=1)
    await eventually(lambda: subscribed)
    pub = await paho_client(broker.port, "test-pub")
    for i in range(20):
        await publish(pub, "shopfloor/v1/s/a/l/m/data/count", str(i))
    await eventually(lambda: len(got) == 20 and len(received.messages) == 20)
    assert [p for _, p in got] == [str(i).encode() for i in range(20)]  # routed in order
    assert [p for _, p in received.messages] == [str(i).encode() for i in range(20)]
    for c in (pub, sub):
        c.disconnect()
        c.loop_stop()


async def test_port_in_use_names_the_port(broker: EmbeddedBroker) -> None:
    other = EmbeddedBroker("127.0.0.1", broker.port)
    with pytest.raises(BrokerError, match=f"port {broker.port} .*in use"):
        await other.start()


async def test_stop_frees_the_port() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for _ in range(2):
        b = EmbeddedBroker("127.0.0.1", port)
        await b.start()
        assert b.port == port
        await b.stop()
    with pytest.raises(BrokerError, match="not started"):
        _ = EmbeddedBroker().port


@pytest.mark.parametrize("broker_class", [EmbeddedBroker, RumqttBroker], ids=["amqtt", "rumqttd"])
async def test_broker_to_pipeline_end_to_end(broker_class: type) -> None:
    plant = Plant.from_dict(
        {
            "asset": [
                {"path": "s/a/l/m", "tag": [{"name": "temp", "unit": "degC"}, {"name": "on", "type": "bool"}]}
            ]
        }
    )
    bus = MemoryBus()
    samples = bus.subscribe("samples", "t")
    dead = bus.subscribe("deadletters", "t")
    pipeline = Pipeline(plant, bus)
    async with broker_class("127.0.0.1", 0, on_message=pipeline.handle_mqtt) as broker:
        pub = await paho_client(broker.port, f"dev-{broker_class.__name__}")
        body = {"values": {"temp": {"value": 212, "unit": "degF"}, "on": True}}
        await publish(pub, "shopfloor/v1/s/a/l/m/data", json.dumps(body))
        await publish(pub, "shopfloor/v1/s/a/l/m/data/temp", b"not json")
        await publish(pub, "shopfloor/v1/cmd/s/a/l/m/reset", b"1")
        await eventually(lambda: samples.depth and dead.depth)
        pub.disconnect()
        pub.loop_stop()
    await bus.close()
    got = [s async for b in samples for s in b]
    assert {s.tag: s.value for s in got} == {"temp": pytest.approx(100.0), "on": True}
    [letter] = [d async for b in dead for d in b]
    assert letter.reason == "malformed" and letter.payload == b"not json"
    assert pipeline.stats()["ignored"] == 1
