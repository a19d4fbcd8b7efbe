"""Platform side of edge batches: validated, applied once per sequence number, bad rows dead-lettered."""

from __future__ import annotations

from typing import Any

from shopfloor.bus.memory import MemoryBus
from shopfloor.ingest.edge import batch_topic, encode_batch
from shopfloor.ingest.pipeline import Pipeline

from .conftest import ASSET, plant

TS = 1_700_000_000_000_000_000


async def test_repeated_batches_apply_once() -> None:
    bus = MemoryBus()
    got: list[Any] = []
    letters: list[Any] = []
    sub = bus.subscribe("samples", "test")
    dl = bus.subscribe("deadletters", "test")
    pipe = Pipeline(plant(), bus)
    topic = batch_topic("shopfloor/v1", "gw1")
    first = encode_batch("gw1", 5, [(1, ASSET, "t0", TS, 1.0, 192), (2, ASSET, "t1", TS, 2.0, 192)])
    second = encode_batch("gw1", 5, [(2, ASSET, "t1", TS, 2.0, 192), (3, ASSET, "t0", TS + 1, 3.0, 192)])
    r1 = await pipe.handle_mqtt(topic, first)
    r2 = await pipe.handle_mqtt(topic, first)  # a resend after a reconnect
    r3 = await pipe.handle_mqtt(topic, second)  # overlaps the first
    assert (r1.accepted, r2.accepted, r3.accepted) == (2, 0, 1)
    assert pipe.edge.duplicates == 3
    bad = encode_batch("gw1", 5, [(4, ASSET, "nope", TS, 1.0, 192), (5, ASSET, "t0", TS + 2, "x", 192)])
    r4 = await pipe.handle_mqtt(topic, bad)
    assert r4.rejected == 2 and any("no tag 'nope'" in e for e in r4.errors)
    assert (await pipe.handle_mqtt(topic, bad)).rejected == 0  # not dead-lettered twice
    # a new buffer file (new epoch) starts its numbering over
    r5 = await pipe.handle_mqtt(topic, encode_batch("gw1", 6, [(1, ASSET, "t0", TS + 3, 4.0, 192)]))
    assert r5.accepted == 1
    # a batch naming another agent than its topic, and garbage
    r6 = await pipe.handle_mqtt(topic, encode_batch("gw2", 6, [(9, ASSET, "t0", TS + 4, 4.0, 192)]))
    r7 = await pipe.handle_mqtt(topic, b"{not json")
    assert r6.rejected == 1 and "agent 'gw2'" in r6.errors[0]
    assert r7.rejected == 1
    assert (await pipe.handle_mqtt("shopfloor/v1/edge/gw1/status", b"{}")).ignored == 1
    await bus.close()  # the subscriptions drain what they hold, then end
    async for batch in sub:
        got.extend(batch)
    async for batch in dl:
        letters.extend(batch)
    assert [(s.tag, s.value) for s in got] == [("t0", 1.0), ("t1", 2.0), ("t0", 3.0), ("t0", 4.0)]
    assert len(letters) == 4
