"""Store writer and dead-letter writer: flush on interval, on size and on stop; retry, never drop."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from shopfloor.bus.memory import MemoryBus
from shopfloor.core.sample import DeadLetter, Sample
from shopfloor.ingest.writer import DeadLetterWriter, StoreWriter
from shopfloor.store.embedded import EmbeddedStore
from shopfloor.store.state import StateStore

ASSET = "s/a/l/m"
T0 = 1_700_000_000_000_000_000


def batch(n: int, start: int = 0) -> list[Sample]:
    return [Sample(ASSET, "t", T0 + (start + i) * 1000, float(i)) for i in range(n)]


async def wait_for(cond, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def test_flushes_on_interval(tmp_path: Path) -> None:
    bus, store = MemoryBus(), EmbeddedStore(tmp_path / "ts.duckdb")
    await store.open()
    writer = StoreWriter(bus, store, flush_interval_s=0.05, flush_rows=1_000_000)
    await writer.start()
    await bus.publish("samples", batch(10))
    await wait_for(lambda: writer.written == 10, 2.0)
    assert len(await store.history(ASSET, "t", T0, T0 + 10**9)) == 10
    await bus.publish("samples", batch(5, 10))
    await wait_for(lambda: writer.written == 15, 2.0)
    await writer.stop()
    await store.close()
    assert writer.stats()["write_errors"] == 0 and writer.stats()["flushes"] == 2


async def test_flushes_on_size_and_on_stop(tmp_path: Path) -> None:
    bus, store = MemoryBus(), EmbeddedStore(tmp_path / "ts.duckdb")
    await store.open()
    writer = StoreWriter(bus, store, flush_interval_s=3600, flush_rows=100)
    await writer.start()
    for i in range(5):
        await bus.publish("samples", batch(30, i * 30))
    await wait_for(lambda: writer.written >= 120, 2.0)  # two flushes of >= 100 rows, interval not reached
    assert writer.buffered == 150 - writer.written
    await bus.publish("samples", batch(7, 150))
    await writer.stop()  # writes what is queued and buffered
    assert writer.written == 157 and writer.buffered == 0
    assert len(await store.history(ASSET, "t", T0, T0 + 10**9)) == 157
    await store.close()


async def test_store_errors_are_retried_not_dropped(tmp_path: Path) -> None:
    bus = MemoryBus()
    store = EmbeddedStore(tmp_path / "ts.duckdb")  # not open yet: writes fail with StoreUnavailable
    writer = StoreWriter(bus, store, flush_interval_s=0.02, flush_rows=1_000_000)
    await writer.start()
    await bus.publish("samples", batch(20))
    await wait_for(lambda: writer.write_errors >= 2, 3.0)
    assert writer.written == 0 and writer.buffered == 20
    assert "not open" in (writer.stats()["last_error"] or "")
    await store.open()  # the store comes back
    await wait_for(lambda: writer.written == 20, 5.0)
    await writer.stop()
    assert len(await store.history(ASSET, "t", T0, T0 + 10**9)) == 20
    await store.close()


async def test_failing_store_holds_back_the_bus_instead_of_growing(tmp_path: Path) -> None:
    bus = MemoryBus(queue_size=5)
    store = EmbeddedStore(tmp_path / "ts.duckdb")
    writer = StoreWriter(bus, store, flush_interval_s=0.01, flush_rows=10, max_buffer_rows=50)
    await writer.start()
    publisher = asyncio.create_task(_publish_many(bus, 100))
    await asyncio.sleep(0.5)
    assert not publisher.done()  # back-pressure reached the publisher
    assert writer.buffered <= 60
    await store.open()
    await asyncio.wait_for(publisher, 20)
    await writer.stop()
    assert writer.written == 1000
    await store.close()


async def _publish_many(bus: MemoryBus, n: int) -> None:
    for i in range(n):
        await bus.publish("samples", batch(10, i * 10))


async def test_dead_letter_writer(tmp_path: Path) -> None:
    bus, state = MemoryBus(), StateStore(tmp_path / "state.db")
    await state.open()
    writer = DeadLetterWriter(bus, state, flush_interval_s=0.05)
    await writer.start()
    letters = [
        DeadLetter(T0 + i, "mqtt", "shopfloor/v1/x/data", "malformed", f"bad {i}", b"{oops") for i in range(3)
    ]
    await bus.publish("deadletters", letters)
    await wait_for(lambda: writer.written == 3, 2.0)
    await bus.publish("deadletters", letters[:1])
    await writer.stop()
    rows = await state.dead_letters(limit=10)
    assert len(rows) == 4 and {r["reason"] for r in rows} == {"malformed"}
    assert rows[-1]["topic"] == "shopfloor/v1/x/data"
    await state.close()
