"""The Sparkplug B host application on a memory bus: births, data, deaths, gaps, dead letters."""

from __future__ import annotations

import pytest

from shopfloor.bus.memory import MemoryBus
from shopfloor.connectors.sparkplug.codec import DataType, Metric, Payload, decode, encode, value_of
from shopfloor.connectors.sparkplug.config import SparkplugHostConfig
from shopfloor.connectors.sparkplug.converter import REBIRTH
from shopfloor.connectors.sparkplug.node import EdgeNode
from shopfloor.core.assets import Plant
from shopfloor.core.clock import ManualClock
from shopfloor.core.sample import Quality
from shopfloor.core.settings import IngestSettings
from shopfloor.ingest.sparkplug import SparkplugHost

from .ingest_helpers import COMPONENT, MACHINE, NOW, Collector

NOW_MS = NOW // 1_000_000


class Harness:
    def __init__(self, plant: Plant, bus: MemoryBus, clock: ManualClock, interval: float = 0.0) -> None:
        self.sent: list[tuple[str, bytes]] = []
        self.host = SparkplugHost(
            plant,
            bus,
            SparkplugHostConfig(rebirth_interval_s=interval),  # type: ignore[call-arg]
            IngestSettings(max_payload_bytes=4096, max_future_s=60),  # type: ignore[call-arg]
            publish=lambda t, p: self.sent.append((t, p)),
            clock=clock,
        )
        self.node = EdgeNode("mill.converting", "line1", clock_ms=lambda: clock.now_ns() // 1_000_000)
        self.node.define("cutting_force", DataType.Double, device="cutter", value=800.0)
        self.node.define("running", DataType.Boolean, device="cutter", value=True)
        self.node.define("count", DataType.UInt32, device="cutter")
        self.node.define("spindle/speed", DataType.Float, device="cutter", value=1000.0)
        self.node.define("not_modelled", DataType.Int32, device="cutter")
        self.will = self.node.will()

    async def send(self, *msgs: tuple[str, bytes]) -> dict[str, int]:
        return await self.host.handle_batch(list(msgs))

    async def born(self) -> None:
        await self.send(*self.node.birth())

    def rebirth_requests(self) -> list[str]:
        out = []
        for t, p in self.sent:
            (m,) = decode(p).metrics
            assert m.name == REBIRTH and value_of(m, m.datatype) is True
            out.append(t)
        return out


@pytest.fixture
def h(plant: Plant, bus: MemoryBus, clock: ManualClock) -> Harness:
    return Harness(plant, bus, clock)


async def test_birth_and_data_become_samples(h: Harness, samples: Collector, letters: Collector) -> None:
    await h.born()
    got = await samples.get()
    assert {(s.asset, s.tag, s.value) for s in got} == {
        (MACHINE, "cutting_force", 800.0),
        (MACHINE, "running", True),
        (COMPONENT, "speed", 1000.0),
    }
    assert all(s.ts == NOW for s in got)
    await h.send(h.node.data({"cutting_force": 812.5, "count": 7}, device="cutter", ts_ms=NOW_MS - 1000))
    new = (await samples.get())[3:]
    assert [(s.asset, s.tag, s.ts, s.value, s.quality) for s in new] == [
        (MACHINE, "cutting_force", NOW - 1_000_000_000, 812.5, Quality.GOOD),
        (MACHINE, "count", NOW - 1_000_000_000, 7, Quality.GOOD),
    ]
    assert await letters.get() == []
    assert h.sent == []
    assert h.host.nodes()["mill.converting/line1"]["devices"] == ["cutter"]
    stats = h.host.stats()
    assert stats["births"] == 2 and stats["accepted"] == 5 and stats["nodes_online"] == 1


async def test_unmodelled_metric_is_dead_lettered_and_the_rest_kept(
    h: Harness, samples: Collector, letters: Collector
) -> None:
    await h.born()
    topic, data = h.node.data({"not_modelled": 3, "cutting_force": 900.0}, device="cutter")
    await h.send((topic, data))
    (letter,) = await letters.get()
    assert letter.reason == "unknown_tag" and letter.source == "sparkplug"
    assert "'not_modelled'" in letter.error and topic in letter.error
    assert letter.payload == data
    assert (await samples.get())[-1].value == 900.0


async def test_wrong_type_and_limits_are_checked_like_the_json_path(
    h: Harness, samples: Collector, letters: Collector
) -> None:
    h.node.define("state", DataType.Double, device="cutter")  # the plant says str
    await h.born()
    await h.send(h.node.data({"state": 1.0, "cutting_force": 6000.0}, device="cutter"))
    (letter,) = await letters.get()
    assert letter.reason == "wrong_type" and "'state'" in letter.error
    assert (await samples.get())[-1].quality == Quality.BAD  # over the tag's high limit


async def test_data_before_birth_requests_a_rebirth(h: Harness, letters: Collector) -> None:
    h.node.birth()  # published while the host was not listening
    _, data = h.node.data({"cutting_force": 1.0}, device="cutter")
    await h.send(("spBv1.0/mill.converting/DDATA/line1/cutter", data))
    (letter,) = await letters.get()
    assert letter.reason == "no_birth" and letter.payload == data
    assert h.rebirth_requests() == ["spBv1.0/mill.converting/NCMD/line1"]


async def test_sequence_gap_requests_a_rebirth_and_keeps_the_data(
    plant: Plant, bus: MemoryBus, clock: ManualClock, samples: Collector
) -> None:
    h = Harness(plant, bus, clock, interval=3600.0)
    await h.born()
    await h.send(h.node.data({"cutting_force": 1.0}, device="cutter"))
    assert h.sent == []
    h.node.data({"cutting_force": 2.0}, device="cutter")  # lost on the way
    await h.send(h.node.data({"cutting_force": 3.0}, device="cutter"))
    assert h.rebirth_requests() == ["spBv1.0/mill.converting/NCMD/line1"]
    assert (await samples.get())[-1].value == 3.0
    h.node.data({"cutting_force": 4.0}, device="cutter")  # another loss: throttled, no second request
    await h.send(h.node.data({"cutting_force": 5.0}, device="cutter"))
    assert len(h.sent) == 1 and h.host.stats()["seq_gaps"] == 2
    await h.born()  # the node answers; the sequence starts again
    await h.send(h.node.data({"cutting_force": 6.0}, device="cutter"))
    assert h.host.stats()["seq_gaps"] == 2


async def test_death_marks_tags_stale_until_rebirth(
    h: Harness, samples: Collector, clock: ManualClock
) -> None:
    await h.born()
    await h.send(h.node.data({"cutting_force": 850.0}, device="cutter"))
    clock.advance(10**9)
    await h.send(h.will)  # the broker publishes the will: the node is gone
    stale = [s for s in await samples.get() if s.quality == Quality.BAD]
    assert {(s.asset, s.tag, s.value) for s in stale} == {
        (MACHINE, "cutting_force", 850.0),
        (MACHINE, "running", True),
        (COMPONENT, "speed", 1000.0),
    }
    assert all(s.ts == NOW + 10**9 for s in stale)
    assert h.host.stale_tags() == {(MACHINE, "cutting_force"), (MACHINE, "running"), (COMPONENT, "speed")}
    assert h.host.nodes()["mill.converting/line1"]["online"] is False
    h.will = h.node.will()
    await h.born()
    assert h.host.stale_tags() == set()


async def test_a_stale_will_from_an_older_session_is_ignored(h: Harness, samples: Collector) -> None:
    old_will = h.will
    h.will = h.node.will()  # reconnected: new bdSeq
    await h.born()
    n = len(await samples.get())
    await h.send(old_will)
    assert len(await samples.get()) == n
    assert h.host.stats()["stale_deaths"] == 1
    assert h.host.nodes()["mill.converting/line1"]["online"] is True


async def test_device_death_marks_only_that_device(h: Harness, samples: Collector) -> None:
    h.node.define("speed", DataType.Float, device="press")  # another device, never reported
    await h.born()
    await h.send(h.node.device_death("press"))
    assert [s for s in await samples.get() if s.quality == Quality.BAD] == []
    assert h.host.nodes()["mill.converting/line1"]["devices"] == ["cutter"]
    await h.send(h.node.device_death("cutter"))
    assert len([s for s in await samples.get() if s.quality == Quality.BAD]) == 3
    assert h.host.nodes()["mill.converting/line1"]["devices"] == []
    await h.send(h.node.data({"cutting_force": 1.0}, device="cutter"))
    assert h.host.stats()["rejected_by_reason"] == {"no_birth": 1}


async def test_malformed_messages_are_dead_lettered(h: Harness, letters: Collector) -> None:
    await h.born()
    await h.send(
        ("spBv1.0/mill.converting/NDATA/line1", b"\xff\x00garbage"),
        ("spBv1.0/mill.converting/BOGUS/line1", b""),
        ("spBv1.0/mill.converting/DDATA/line1/cutter", b"x" * 5000),
    )
    got = await letters.get()
    assert [(x.reason, x.topic) for x in got] == [
        ("malformed", "spBv1.0/mill.converting/NDATA/line1"),
        ("malformed", "spBv1.0/mill.converting/BOGUS/line1"),
        ("oversized", "spBv1.0/mill.converting/DDATA/line1/cutter"),
    ]
    assert "not a Sparkplug B payload" in got[0].error and got[0].payload == b"\xff\x00garbage"
    assert "not a Sparkplug B topic" in got[1].error


async def test_unknown_alias_and_future_timestamp(h: Harness, letters: Collector) -> None:
    await h.born()
    bad = encode(Payload([Metric(alias=99, datatype=DataType.Double, value=1.0)], NOW_MS, seq=h.node.seq))
    h.node.seq += 1
    await h.send(("spBv1.0/mill.converting/DDATA/line1/cutter", bad))
    await h.send(h.node.data({"cutting_force": 1.0}, device="cutter", ts_ms=NOW_MS + 3_600_000))
    got = await letters.get()
    assert [x.reason for x in got] == ["unknown_alias", "bad_timestamp"]
    assert h.rebirth_requests() == ["spBv1.0/mill.converting/NCMD/line1"]


async def test_route_splits_a_mixed_batch(h: Harness, samples: Collector) -> None:
    plain = [("shopfloor/v1/x/data", b"{}"), ("other", b"1")]
    rest = await h.host.route([plain[0], *h.node.birth(), plain[1]])
    assert rest == plain
    assert len(await samples.get()) == 3
    assert await h.host.route(plain) == plain


async def test_commands_and_state_are_ignored(h: Harness, letters: Collector) -> None:
    await h.send(
        ("spBv1.0/STATE/other-host", b'{"online": true}'),
        ("spBv1.0/mill.converting/NCMD/line1", b"\xff"),
    )
    assert await letters.get() == [] and h.host.stats()["ignored"] == 2


async def test_explicit_mapping_from_the_plant_file(
    bus: MemoryBus, clock: ManualClock, samples: Collector
) -> None:
    plant = Plant.from_dict(
        {
            "asset": [
                {
                    "path": "riverside/converting/line2/sheeter",
                    "attributes": {"sparkplug": "Plant A/gw-7/Press 3"},
                    "tag": [{"name": "force", "unit": "kN"}],
                }
            ]
        }
    )
    host = SparkplugHost(plant, bus, clock=clock, publish=lambda t, p: None)
    node = EdgeNode("Plant A", "gw-7", clock_ms=lambda: NOW_MS)
    node.define("force", DataType.Float, device="Press 3", value=12.5)
    node.will()
    await host.handle_batch(node.birth())
    ((s,),) = [[x for x in await samples.get()]]
    assert (s.asset, s.tag, s.value) == ("riverside/converting/line2/sheeter", "force", 12.5)


def test_hostile_messages_never_crash_the_host(plant: Plant) -> None:
    """Random topics and payloads (and valid births) through one host: accepted or dead-lettered."""
    import asyncio

    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from shopfloor.connectors.sparkplug.converter import NODE_KINDS

    loop = asyncio.new_event_loop()
    bus = MemoryBus(queue_size=100_000, policy="drop_oldest")
    host = SparkplugHost(plant, bus, SparkplugHostConfig(rebirth_interval_s=0), publish=lambda t, p: None)  # type: ignore[call-arg]
    node = EdgeNode("mill.converting", "line1", clock_ms=lambda: NOW_MS)
    node.define("cutting_force", DataType.Double, device="cutter", value=1.0)
    node.will()
    kinds = [*sorted(NODE_KINDS), "DBIRTH", "DDATA", "DDEATH", "XDATA"]
    topics = st.builds(
        lambda k, dev: f"spBv1.0/mill.converting/{k}/line1" + (f"/{dev}" if dev else ""),
        st.sampled_from(kinds),
        st.sampled_from([None, "cutter", "ghost", ""]),
    )

    @settings(max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(st.lists(st.tuples(topics, st.binary(max_size=40)), max_size=4), st.booleans())
    def run(msgs: list[tuple[str, bytes]], rebirth: bool) -> None:
        batch = [*(node.birth() if rebirth else []), *msgs]
        result = loop.run_until_complete(host.handle_batch(batch))
        assert result["accepted"] + result["rejected"] >= 0

    try:
        run()
        stats = host.stats()
        assert stats["messages"] > 1000 and stats["rejected"] > 0 and stats["accepted"] > 0
    finally:
        loop.run_until_complete(bus.close())
        loop.close()
