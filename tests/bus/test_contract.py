"""One contract for every bus backend: the in-process MemoryBus and NATS JetStream.

What the platform relies on, whatever the backend: items arrive complete and in publish order
(batches may be split or merged on the way), every named subscriber gets every item, a
subscriber can stop, publishing to a closed bus fails with ``BusClosed``, and ``stats()``
names the subscribers.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from shopfloor.bus.base import Bus, Subscription
from shopfloor.bus.memory import MemoryBus
from shopfloor.core.errors import BusClosed
from shopfloor.core.sample import DeadLetter, Quality, Sample

from .conftest import nats_buses

T0 = 1_700_000_050_000_000_000


@pytest.fixture(params=["memory", "nats"])
async def new_bus(request: pytest.FixtureRequest) -> AsyncIterator[Callable[..., Any]]:
    """A factory of connected buses of one backend (NATS: one fresh stream prefix, cleaned up)."""
    if request.param == "memory":
        buses: list[MemoryBus] = []

        async def make_memory(**kwargs: Any) -> Bus:
            bus = MemoryBus(**kwargs)
            buses.append(bus)
            return bus

        yield make_memory
        for bus in buses:
            await bus.close()
    else:
        async with nats_buses() as make_nats:
            yield make_nats


async def collect(sub: Subscription, count: int, timeout: float = 15.0) -> list[Any]:
    """Items from ``sub`` until ``count`` have arrived (flattening batches)."""
    items: list[Any] = []

    async def run() -> None:
        async for batch in sub:
            items.extend(batch)
            if len(items) >= count:
                ack = getattr(sub, "ack", None)
                if ack is not None:
                    await ack()
                return

    await asyncio.wait_for(run(), timeout)
    return items


def samples(n: int, start: int = 0) -> list[Sample]:
    return [Sample(f"plant/line1/m{i % 4}", "temp", T0 + i, float(i)) for i in range(start, start + n)]


async def test_items_arrive_complete_and_in_order(new_bus: Callable[..., Any]) -> None:
    bus = await new_bus()
    sub = bus.subscribe("samples", "writer")
    consumer = asyncio.create_task(collect(sub, 3_000))
    await asyncio.sleep(0)
    for k in range(30):
        await bus.publish("samples", samples(100, k * 100))
    got = await consumer
    assert got == samples(3_000)
    await sub.close()


async def test_every_kind_of_item_survives_the_trip(new_bus: Callable[..., Any]) -> None:
    bus = await new_bus()
    subs = {s: bus.subscribe(s, "reader") for s in ("samples", "deadletters", "events")}
    tasks = {s: asyncio.create_task(collect(sub, 2 if s == "samples" else 1)) for s, sub in subs.items()}
    await asyncio.sleep(0)
    sample = [Sample("a/b", "state", T0, "running ü", Quality.UNCERTAIN), Sample("a/b", "on", T0 + 1, True)]
    letter = [DeadLetter(T0, "mqtt", "shopfloor/v1/x", "malformed", "not JSON", b"\x00\xff{")]
    event = [{"kind": "alarm", "asset": "a/b", "state": "unack", "value": 3.5}]
    await bus.publish("samples", sample)
    await bus.publish("deadletters", letter)
    await bus.publish("events", event)
    assert await tasks["samples"] == sample
    assert await tasks["deadletters"] == letter
    assert await tasks["events"] == event
    for sub in subs.values():
        await sub.close()


async def test_each_named_subscriber_gets_everything(new_bus: Callable[..., Any]) -> None:
    bus = await new_bus()
    first, second = bus.subscribe("samples", "store"), bus.subscribe("samples", "rules")
    tasks = [asyncio.create_task(collect(s, 500)) for s in (first, second)]
    await asyncio.sleep(0)
    for k in range(5):
        await bus.publish("samples", samples(100, k * 100))
    one, two = await asyncio.gather(*tasks)
    assert one == two == samples(500)
    names = str(bus.stats())
    assert "store" in names and "rules" in names
    await first.close()
    await second.close()


async def test_closed_subscription_ends_its_loop(new_bus: Callable[..., Any]) -> None:
    bus = await new_bus()
    sub = bus.subscribe("samples", "closer")
    seen: list[Any] = []

    async def loop() -> None:
        async for batch in sub:
            seen.extend(batch)

    task = asyncio.create_task(loop())
    await bus.publish("samples", samples(10))
    for _ in range(200):
        if len(seen) >= 10:
            break
        await asyncio.sleep(0.02)
    await sub.close()
    await asyncio.wait_for(task, 10)
    assert seen == samples(10)


async def test_publish_after_close_fails_clearly(new_bus: Callable[..., Any]) -> None:
    bus = await new_bus()
    await bus.close()
    with pytest.raises(BusClosed):
        await bus.publish("samples", samples(1))
