"""A real Mosquitto that drops messages (a client's queue is full): the ingest source sees the
broker's ``$SYS`` drop counter grow, logs it, counts it and calls back, so the platform can raise
an alarm. Mosquitto runs as a private instance on a free port with a tiny queue limit."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from shopfloor.connectors.mqtt.client import MqttSource
from shopfloor.connectors.mqtt.config import MqttSourceConfig

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def tiny_queue_mosquitto(tmp_path: Path) -> Iterator[int]:
    if not Path(MOSQUITTO).exists():
        pytest.skip("mosquitto is not installed (apt-get install mosquitto)")
    port = free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\nsys_interval 1\n"
        "max_queued_messages 5\nmax_inflight_messages 1\npersistence false\n"
    )
    proc = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    try:
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


async def test_broker_drops_are_seen_counted_and_reported(tiny_queue_mosquitto: int) -> None:
    port = tiny_queue_mosquitto
    received: list[tuple[str, bytes]] = []
    drops: list[tuple[int, int]] = []

    async def on_batch(batch: list[tuple[str, bytes]]) -> None:
        received.extend(batch)

    source = MqttSource(
        MqttSourceConfig(port=port, topics=["shopfloor/v1/#"], client_id="ingest-under-test", watch_sys=True),
        on_batch,
        on_drop=lambda new, total: drops.append((new, total)),
    )
    await source.start()
    # a subscriber that stops reading: QoS 1 with one message in flight, so its queue fills
    stalled = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="stalled")
    stalled.connect("127.0.0.1", port)
    stalled.subscribe("shopfloor/v1/#", qos=1)
    stalled.loop(timeout=1.0)
    stalled.loop(timeout=0.5)  # the SUBACK; from now on nobody reads this socket
    publisher = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="device")
    publisher.connect("127.0.0.1", port)
    publisher.loop_start()
    try:
        for i in range(200):
            publisher.publish(
                "shopfloor/v1/site/area/line/m1/data/temp", f'{{"value": {i}}}', qos=1
            ).wait_for_publish(5)
        for _ in range(100):  # $SYS is published every second
            if drops:
                break
            await asyncio.sleep(0.1)
    finally:
        publisher.loop_stop()
        publisher.disconnect()
        stalled.socket().close() if stalled.socket() else None
        await source.stop()
    assert drops, f"no drop reported; broker counters seen: {source.broker}"
    assert source.broker_dropped == sum(n for n, _ in drops) > 0
    assert source.stats()["broker"]["dropped"] >= source.broker_dropped
    # with a 5-message queue the ingest subscriber loses messages too: what it missed is in
    # the broker's drop count, so the loss is visible instead of silent
    data = [t for t, _ in received if t.startswith("shopfloor/v1/")]
    assert 0 < len(data) <= 200
    if len(data) < 200:
        assert source.broker_dropped >= 200 - len(data)
