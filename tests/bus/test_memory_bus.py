"""The in-process bus: fan-out, back-pressure, drop_oldest counting, bounded memory, close."""

from __future__ import annotations

import asyncio
import logging

import pytest

from shopfloor.bus.memory import MemoryBus
from shopfloor.core.errors import BusClosed, BusError


async def test_every_subscriber_gets_every_batch_in_order() -> None:
    bus = MemoryBus(queue_size=100)
    a, b = bus.subscribe("samples", "a"), bus.subscribe("samples", "b")
    other = bus.subscribe("events", "c")
    for i in range(10):
        await bus.publish("samples", [i, i])
    await bus.close()
    assert [x async for x in a] == [[i, i] for i in range(10)]
    assert [x async for x in b] == [[i, i] for i in range(10)]
    assert [x async for x in other] == []
    stats = bus.stats()["subscribers"]["samples/a"]
    assert stats["delivered_batches"] == 10 and stats["delivered_items"] == 20 and stats["depth"] == 0


async def test_block_policy_applies_back_pressure(caplog: pytest.LogCaptureFixture) -> None:
    bus = MemoryBus(queue_size=3, policy="block")
    sub = bus.subscribe("samples", "slow")
    for i in range(3):
        await bus.publish("samples", [i])
    with caplog.at_level(logging.WARNING, logger="shopfloor.bus.memory"):
        blocked = asyncio.create_task(bus.publish("samples", [3]))
        await asyncio.sleep(0.05)
        assert not blocked.done()  # the publisher waits: queue full
        assert sub.depth == 3  # memory stays bounded
        it = aiter(sub)
        assert await anext(it) == [0]
        await asyncio.wait_for(blocked, 1)
        more = asyncio.create_task(bus.publish("samples", [4]))
        await asyncio.sleep(0.02)
        assert await anext(it) == [1]
        await asyncio.wait_for(more, 1)
    assert sum("policy block" in r.message for r in caplog.records) == 1  # logged once
    stats = bus.stats()["subscribers"]["samples/slow"]
    assert stats["blocked_s"] >= 0.04 and stats["dropped_batches"] == 0 and stats["depth"] == 3
    await bus.close()
    assert [b async for b in it] == [[2], [3], [4]]  # drains, then ends


async def test_drop_oldest_counts_and_never_blocks(caplog: pytest.LogCaptureFixture) -> None:
    bus = MemoryBus(queue_size=10)
    live = bus.subscribe("samples", "live", queue_size=4, policy="drop_oldest")
    with caplog.at_level(logging.WARNING, logger="shopfloor.bus.memory"):
        for i in range(1000):
            await asyncio.wait_for(bus.publish("samples", [i, i]), 0.5)
    assert live.depth == 4
    stats = bus.stats()["subscribers"]["samples/live"]
    assert stats["dropped_batches"] == 996 and stats["dropped_items"] == 1992
    assert sum("drop_oldest" in r.message for r in caplog.records) == 1
    await bus.close()
    assert [b[0] async for b in live] == [996, 997, 998, 999]


async def test_slow_consumer_keeps_memory_bounded_under_load() -> None:
    bus = MemoryBus(queue_size=50)
    sub = bus.subscribe("samples", "slow")
    got: list[int] = []

    async def consume() -> None:
        async for batch in sub:
            got.extend(batch)
            await asyncio.sleep(0.0005)

    task = asyncio.create_task(consume())
    for i in range(2000):
        await bus.publish("samples", [i])
        assert sub.depth <= 50
    await bus.close()
    await asyncio.wait_for(task, 10)
    assert got == list(range(2000))
    assert bus.stats()["subscribers"]["samples/slow"]["max_depth"] <= 50


async def test_closed_bus_and_closed_subscription() -> None:
    bus = MemoryBus()
    sub = bus.subscribe("samples", "a")
    await bus.publish("samples", [1])
    await sub.close()
    assert [b async for b in sub] == []
    await bus.publish("samples", [2])  # no subscribers left: fine
    await bus.close()
    with pytest.raises(BusClosed):
        await bus.publish("samples", [3])
    with pytest.raises(BusClosed):
        bus.subscribe("samples", "late")
    with pytest.raises(BusError):
        MemoryBus(policy="newest")  # type: ignore[arg-type]


async def test_blocked_publisher_is_released_when_subscriber_closes() -> None:
    bus = MemoryBus(queue_size=1)
    sub = bus.subscribe("samples", "gone")
    await bus.publish("samples", [1])
    blocked = asyncio.create_task(bus.publish("samples", [2]))
    await asyncio.sleep(0.01)
    await sub.close()
    await asyncio.wait_for(blocked, 1)
