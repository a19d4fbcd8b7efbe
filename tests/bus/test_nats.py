"""NatsBus against a real NATS JetStream server (``SHOPFLOOR_TEST_NATS_URL``, default
127.0.0.1:4222): round trips, scale-out over one durable consumer, redelivery after a crash.

Every test uses its own stream prefix and deletes its streams afterwards. An unreachable server
skips the tests with the reason, except under ``CI=true``, where it fails them.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import textwrap
from collections.abc import Callable
from typing import Any

import pytest

from shopfloor.bus.nats import NatsBus
from shopfloor.core.errors import BusClosed, BusError
from shopfloor.core.sample import DeadLetter, Quality, Sample

from .conftest import NATS_URL

T0 = 1_700_000_040_000_000_000


def samples(n: int, start: int = 0) -> list[Sample]:
    return [Sample(f"mill/line1/m{i % 3}", "temp", T0 + i, float(i)) for i in range(start, start + n)]


async def take(sub: Any, count: int, timeout: float = 10.0) -> list[list[Any]]:
    """The next ``count`` batches of ``sub`` (acknowledging all of them)."""
    got: list[list[Any]] = []

    async def run() -> None:
        async for batch in sub:
            got.append(batch)
            if len(got) == count:
                await sub.ack()
                return

    await asyncio.wait_for(run(), timeout)
    return got


async def test_round_trip_of_samples_dead_letters_and_events(make_bus: Callable[..., Any]) -> None:
    bus = await make_bus(chunk_items=1000)
    mixed = [
        Sample("a/b", "f", T0, 1.5),
        Sample("a/b", "i", T0, 7, Quality.UNCERTAIN),
        Sample("a/b", "b", T0, True),
        Sample("a/b", "s", T0 + 1, "run ü", Quality.BAD),
    ]
    big = samples(2500)
    letter = DeadLetter(T0, "mqtt", "shopfloor/v1/x", "malformed", "not JSON", b"\x00\xff{")
    sub = bus.subscribe("samples", "store")
    dead = bus.subscribe("deadletters", "dlq")
    events = bus.subscribe("events", "rules")
    await bus.publish("samples", mixed)
    await bus.publish("samples", big)  # 3 messages of at most 1000 samples
    await bus.publish("deadletters", [letter])
    await bus.publish("events", [{"kind": "alarm", "asset": "a/b", "level": 2}])
    got = await take(sub, 4)
    assert got[0] == mixed and [type(s.value) for s in got[0]] == [float, int, bool, str]
    assert [len(b) for b in got[1:]] == [1000, 1000, 500] and [s for b in got[1:] for s in b] == big
    assert (await take(dead, 1)) == [[letter]]
    assert (await take(events, 1)) == [[{"kind": "alarm", "asset": "a/b", "level": 2}]]
    stats = bus.stats()
    assert stats["published_batches"] == 4 and stats["published_messages"] == 6
    assert stats["subscribers"]["samples:store"]["acked"] == 4


async def test_two_workers_with_one_name_split_the_stream(make_bus: Callable[..., Any]) -> None:
    producer = await make_bus()
    workers = [await make_bus(queue_size=1), await make_bus(queue_size=1)]
    for k in range(40):
        await producer.publish("samples", samples(10, 10 * k))
    subs = [w.subscribe("samples", "writers") for w in workers]
    seen: list[list[Sample]] = [[], []]

    async def work(i: int) -> None:
        async for batch in subs[i]:
            seen[i].extend(batch)
            await asyncio.sleep(0.01)  # "processing", so the other worker gets its share
            if len(seen[0]) + len(seen[1]) >= 400:
                await subs[i].ack()
                return

    done, pending = await asyncio.wait(
        [asyncio.create_task(work(i)) for i in range(2)], timeout=15, return_when=asyncio.FIRST_COMPLETED
    )
    for task in pending:
        task.cancel()
    assert done
    assert seen[0] and seen[1], "both workers should get batches"
    everything = sorted(seen[0] + seen[1], key=lambda s: s.ts)
    assert everything == samples(400)  # each batch once, none lost


async def test_unacked_batch_returns_after_a_crash(make_bus: Callable[..., Any]) -> None:
    bus = await make_bus(ack_wait_s=1.0)
    await bus.publish("samples", samples(5))
    await bus.publish("samples", samples(5, 5))
    code = textwrap.dedent(f"""
        import asyncio, os
        from shopfloor.bus.nats import NatsBus
        async def main():
            bus = NatsBus({NATS_URL!r}, stream_prefix={bus.prefix!r}, queue_size=1, ack_wait_s=1.0)
            await bus.connect()
            async for batch in bus.subscribe("samples", "crashy"):
                print(len(batch), batch[0].ts, flush=True)
                os._exit(3)  # dies while "processing", without acknowledging
        asyncio.run(main())
    """)
    out = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-c", code], capture_output=True, text=True, timeout=30
    )
    assert out.returncode == 3, out.stderr
    assert out.stdout.split() == ["5", str(T0)]
    sub = bus.subscribe("samples", "crashy", queue_size=1)
    got = await take(sub, 2, timeout=15)
    got.sort(key=lambda b: b[0].ts)  # the second comes at once, the first again after ack_wait
    assert got == [samples(5), samples(5, 5)]
    assert sub.stats()["redelivered"] == 1


async def test_close_hands_unacked_batches_back_at_once(make_bus: Callable[..., Any]) -> None:
    first, second = await make_bus(), await make_bus()
    await first.publish("samples", samples(3))
    sub = first.subscribe("samples", "w")
    assert await anext(aiter(sub)) == samples(3)
    await sub.close()  # not acknowledged: negatively acknowledged for prompt redelivery
    assert await take(second.subscribe("samples", "w"), 1, timeout=5) == [samples(3)]


async def test_live_view_drops_the_oldest(make_bus: Callable[..., Any]) -> None:
    bus = await make_bus()
    live = bus.subscribe("samples", "dashboard", queue_size=2, policy="drop_oldest")
    it = aiter(live)
    first = asyncio.create_task(anext(it))  # starts the subscription
    await asyncio.sleep(0.2)
    for k in range(5):
        await bus.publish("samples", samples(1, k))
    assert (await asyncio.wait_for(first, 5))[0].ts in (T0, T0 + 3)
    await asyncio.sleep(0.2)
    stats = live.stats()
    assert stats["dropped"] + stats["delivered"] + stats["buffered"] == 5


async def test_errors_name_the_url(make_bus: Callable[..., Any]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(BusError, match=f"nats://127.0.0.1:{port}"):
        await NatsBus(f"nats://127.0.0.1:{port}").connect()
    with pytest.raises(BusError, match="connect"):
        await NatsBus().publish("samples", samples(1))
    bus = await make_bus()
    with pytest.raises(BusError, match="subject"):
        await bus.publish("bad.subject", samples(1))
    with pytest.raises(BusError, match="cannot be sent"):
        await bus.publish("events", [object()])
    await bus.close()
    with pytest.raises(BusClosed):
        await bus.publish("samples", samples(1))


async def test_coalesced_batches_are_acked_together(make_bus: Callable[..., Any]) -> None:
    bus = await make_bus(coalesce_items=1000)
    for i in range(10):
        await bus.publish("samples", samples(5, start=i * 5))
    sub = bus.subscribe("samples", "coalescer")
    got: list[Any] = []
    batches = 0
    async for batch in sub:
        batches += 1
        got.extend(batch)
        if len(got) >= 50:
            break
    assert [s.ts for s in got] == sorted(s.ts for s in samples(50))
    assert batches < 10  # messages fetched together came as one batch
    assert sub.stats()["acked"] < 10  # the last batch is not acknowledged before it is processed
    await sub.ack()
    assert sub.stats()["acked"] == 10  # every message joined into a batch is acknowledged
    await sub.close()
