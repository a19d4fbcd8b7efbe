"""Fixtures for the broker tests: an embedded broker on a free port, with its hook collected."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from shopfloor.broker.embedded import EmbeddedBroker


async def eventually(cond, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def paho_client(port: int, name: str) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=name)
    client.connect("127.0.0.1", port)
    client.loop_start()
    await eventually(client.is_connected)
    return client


async def publish(client: mqtt.Client, topic: str, payload: str | bytes) -> None:
    """QoS 1, waiting for the broker's ack in a thread (an embedded broker runs on this loop)."""
    info = client.publish(topic, payload, qos=1)
    await asyncio.to_thread(info.wait_for_publish, 5)
    assert info.is_published()


class Received:
    def __init__(self) -> None:
        self.messages: list[tuple[str, bytes]] = []

    async def __call__(self, batch: list[tuple[str, bytes]]) -> None:
        self.messages.extend(batch)


@pytest.fixture
def received() -> Received:
    return Received()


@pytest.fixture
async def broker(received: Received) -> AsyncIterator[EmbeddedBroker]:
    b = EmbeddedBroker("127.0.0.1", 0, on_batch=received)
    await b.start()
    yield b
    await b.stop()
