"""The ingest contract: shapes a/b/c, per-tag topics, units, quality, every rejection reason."""

from __future__ import annotations

import json

import pytest
from prometheus_client import CollectorRegistry

from shopfloor.core.clock import NS
from shopfloor.core.sample import Quality
from shopfloor.ingest.pipeline import Pipeline

from .ingest_helpers import COMPONENT, MACHINE, NOW, Collector

TOPIC = f"shopfloor/v1/{MACHINE}/data"


def metric(registry: CollectorRegistry, name: str, **labels: str) -> float:
    value = registry.get_sample_value(name, labels)
    return value or 0.0


async def test_shape_a_several_tags(pipeline: Pipeline, samples: Collector) -> None:
    body = {
        "ts": "2023-11-14T22:13:20Z",
        "values": {"cutting_force": 812.5, "count": 7, "running": True, "state": "cutting"},
    }
    result = await pipeline.handle_mqtt(TOPIC, json.dumps(body).encode())
    assert (result.accepted, result.rejected) == (4, 0)
    got = {s.tag: s for s in await samples.get()}
    assert got["cutting_force"].value == 812.5 and got["cutting_force"].ts == NOW
    assert got["count"].value == 7 and got["running"].value is True and got["state"].value == "cutting"
    assert all(s.asset == MACHINE and s.quality is Quality.GOOD for s in got.values())


async def test_shape_b_single_with_quality_and_epoch_ms(pipeline: Pipeline, samples: Collector) -> None:
    body = {"ts": NOW // 1_000_000, "tag": "temp", "value": 21, "q": "uncertain"}
    result = await pipeline.handle_mqtt(TOPIC, json.dumps(body).encode())
    assert result.accepted == 1
    [s] = await samples.get()
    assert (s.tag, s.value, s.ts, s.quality) == ("temp", 21.0, NOW, Quality.UNCERTAIN)
    assert isinstance(s.value, float)  # int accepted for a float tag, stored as float


async def test_shape_c_batch_keeps_good_items(
    pipeline: Pipeline, samples: Collector, letters: Collector
) -> None:
    body = [
        {"ts": NOW, "tag": "temp", "value": 20.5},
        {"ts": NOW, "tag": "nope", "value": 1},
        17,
        {"ts": NOW, "values": {"cutting_force": 100, "running": "yes"}},
    ]
    result = await pipeline.handle_mqtt(TOPIC, json.dumps(body).encode())
    assert (result.accepted, result.rejected) == (2, 3)
    assert sorted(s.tag for s in await samples.get()) == ["cutting_force", "temp"]
    dead = {d.reason: d for d in await letters.get()}
    assert set(dead) == {"unknown_tag", "malformed", "wrong_type"}
    assert "item 1" in dead["unknown_tag"].error and "'nope'" in dead["unknown_tag"].error
    assert json.loads(dead["unknown_tag"].payload)["tag"] == "nope"
    assert "item 2" in dead["malformed"].error and dead["malformed"].payload == b"17"
    assert "item 3" in dead["wrong_type"].error and "'running'" in dead["wrong_type"].error
    assert all(d.topic == TOPIC and d.source == "mqtt" for d in dead.values())


async def test_per_tag_topic_bare_and_object(pipeline: Pipeline, samples: Collector) -> None:
    r1 = await pipeline.handle_mqtt(f"{TOPIC}/cutting_force", b"812.5")
    r2 = await pipeline.handle_mqtt(f"{TOPIC}/running", b"true")
    r3 = await pipeline.handle_mqtt(f"{TOPIC}/state", b'"running"')
    r4 = await pipeline.handle_mqtt(
        f"shopfloor/v1/{COMPONENT}/data/speed", json.dumps({"ts": NOW - NS, "value": 1500, "q": 64}).encode()
    )
    assert [r.accepted for r in (r1, r2, r3, r4)] == [1, 1, 1, 1]
    got = await samples.get()
    assert [s.value for s in got] == [812.5, True, "running", 1500.0]
    assert got[0].ts == NOW and got[3].ts == NOW - NS and got[3].quality is Quality.UNCERTAIN
    assert got[3].asset == COMPONENT


async def test_units_are_converted_never_mixed(pipeline: Pipeline, samples: Collector) -> None:
    await pipeline.handle_mqtt(TOPIC, b'{"values": {"temp": {"value": 212, "unit": "degF"}}}')
    await pipeline.handle_mqtt(f"{TOPIC}/cutting_force", b'{"value": 1.5, "unit": "kN"}')
    await pipeline.handle_mqtt(TOPIC, b'{"tag": "temp", "value": 32, "unit": "degF"}')
    values = [round(s.value, 6) for s in await samples.get()]
    assert values == [100.0, 1500.0, 0.0]


async def test_unit_errors_are_dead_lettered(pipeline: Pipeline, letters: Collector) -> None:
    r = await pipeline.handle_mqtt(TOPIC, b'{"values": {"temp": {"value": 1, "unit": "kg"}}}')
    r2 = await pipeline.handle_mqtt(
        TOPIC, b'{"values": {"temp": {"value": 1, "unit": "furlongs_per_blorp"}}}'
    )
    assert r.rejected == r2.rejected == 1
    assert [d.reason for d in await letters.get()] == ["bad_unit", "bad_unit"]


async def test_value_object_quality(pipeline: Pipeline, samples: Collector) -> None:
    await pipeline.handle_mqtt(
        TOPIC, b'{"values": {"temp": {"value": 20, "q": 0}, "count": {"value": 3, "q": "good"}}}'
    )
    got = {s.tag: s.quality for s in await samples.get()}
    assert got == {"temp": Quality.BAD, "count": Quality.GOOD}


async def test_out_of_limits_is_stored_bad_and_counted(
    pipeline: Pipeline, samples: Collector, registry: CollectorRegistry
) -> None:
    result = await pipeline.handle_mqtt(
        TOPIC, b'{"values": {"cutting_force": 9000, "temp": -40, "count": 1}}'
    )
    assert (result.accepted, result.rejected, result.out_of_limits) == (3, 0, 2)
    got = {s.tag: s.quality for s in await samples.get()}
    assert got == {"cutting_force": Quality.BAD, "temp": Quality.BAD, "count": Quality.GOOD}
    assert pipeline.stats()["out_of_limits"] == 2
    assert metric(registry, "shopfloor_ingest_out_of_limits_total") == 2


@pytest.mark.parametrize(
    ("topic", "payload", "reason", "names"),
    [
        (TOPIC, b"{not json", "malformed", ["malformed JSON"]),
        (TOPIC, b'{"values": {"temp": NaN}}', "malformed", ["malformed"]),
        (TOPIC, b'{"values": {"temp": 1e999}}', "malformed", ["malformed"]),
        (TOPIC, b'{"hello": 1}', "malformed", ["values"]),
        (TOPIC, b'"just a string"', "malformed", ["object"]),
        (TOPIC, b"x" * 5000, "oversized", ["5000 bytes", "4096"]),
        ("shopfloor/v1/mill/nowhere/line9/m/data", b"1", "unknown_asset", ["'mill/nowhere/line9/m'"]),
        (f"{TOPIC}/force", b"1", "unknown_tag", ["'force'", MACHINE]),
        (f"{TOPIC}/temp", b'"hot"', "wrong_type", ["'temp'", "float", "'hot'"]),
        (f"{TOPIC}/temp", b"true", "wrong_type", ["'temp'", "bool"]),
        (f"{TOPIC}/running", b"1", "wrong_type", ["'running'", "bool"]),
        (f"{TOPIC}/count", b"1.5", "wrong_type", ["'count'", "int"]),
        (f"{TOPIC}/state", b"12", "wrong_type", ["'state'", "str"]),
        (f"{TOPIC}/temp", b"1" + b"0" * 400, "not_finite", ["'temp'"]),
        (f"{TOPIC}/temp", b'{"ts": "yesterday", "value": 1}', "bad_timestamp", ["'yesterday'"]),
        (TOPIC, b'{"ts": 1700000100, "tag": "temp", "value": 1}', "bad_timestamp", ["future", "60 s"]),
        (TOPIC, b'{"tag": "temp", "value": 1, "q": "great"}', "malformed", ["quality", "'great'"]),
        ("shopfloor/v1/mill/converting", b"1", "malformed", ["no kind"]),
        (f"{TOPIC}/temp/extra", b"1", "malformed", ["at most one tag"]),
    ],
)
async def test_each_rejection_reason(
    pipeline: Pipeline,
    letters: Collector,
    registry: CollectorRegistry,
    topic: str,
    payload: bytes,
    reason: str,
    names: list[str],
) -> None:
    result = await pipeline.handle_mqtt(topic, payload)
    assert (result.accepted, result.rejected) == (0, 1)
    [dead] = await letters.get()
    assert dead.reason == reason, dead.error
    assert dead.topic == topic and dead.source == "mqtt" and dead.ts == NOW
    assert dead.payload == payload[: len(dead.payload)] and dead.payload
    for name in names:
        assert name in dead.error, (name, dead.error)
    assert repr(topic) in dead.error  # says where
    assert pipeline.stats()["rejected_by_reason"] == {reason: 1}
    assert metric(registry, "shopfloor_ingest_rejected_total", reason=reason) == 1


async def test_commands_and_foreign_topics_are_ignored(pipeline: Pipeline, letters: Collector) -> None:
    for topic in (
        f"shopfloor/v1/cmd/{MACHINE}/setpoint",
        "spBv1.0/acme/NDATA/edge1",
        f"shopfloor/v1/{MACHINE}/state",
        "other/thing",
    ):
        result = await pipeline.handle_mqtt(topic, b"garbage")
        assert (result.accepted, result.rejected, result.ignored) == (0, 0, 1)
    assert await letters.get() == []
    assert pipeline.stats()["ignored"] == 4


async def test_timestamp_defaults_to_receive_time(pipeline: Pipeline, samples: Collector, clock) -> None:
    clock.advance(5 * NS)
    await pipeline.handle_mqtt(f"{TOPIC}/temp", b"20")
    [s] = await samples.get()
    assert s.ts == NOW + 5 * NS


async def test_http_objects_and_arrays(pipeline: Pipeline, samples: Collector, letters: Collector) -> None:
    one = {"asset": MACHINE, "ts": NOW, "values": {"temp": 20.0, "count": 2}}
    result = await pipeline.handle_http(json.dumps(one).encode())
    assert result.as_dict()["accepted"] == 2
    many = [
        {"asset": COMPONENT, "tag": "speed", "value": 1200},
        {"asset": "mill/ghost", "tag": "speed", "value": 1},
        {"tag": "speed", "value": 1},
    ]
    result = await pipeline.handle_http(json.dumps(many).encode(), path="/api/v1/ingest")
    assert (result.accepted, result.rejected) == (1, 2)
    assert len(result.errors) == 2 and "item 1" in result.errors[0] and "mill/ghost" in result.errors[0]
    assert len(await samples.get()) == 3
    dead = await letters.get()
    assert [d.reason for d in dead] == ["unknown_asset", "malformed"]
    assert all(d.source == "http" and d.topic == "/api/v1/ingest" for d in dead)
    assert json.loads(dead[0].payload)["asset"] == "mill/ghost"


async def test_http_malformed_and_oversized(pipeline: Pipeline, letters: Collector) -> None:
    assert (await pipeline.handle_http(b"[{")).rejected == 1
    assert (await pipeline.handle_http(b"[" + b"1," * 3000 + b"1]")).rejected == 1
    assert [d.reason for d in await letters.get()] == ["malformed", "oversized"]


async def test_batch_api_publishes_one_bus_batch(pipeline: Pipeline, bus, samples: Collector) -> None:
    msgs = [(f"{TOPIC}/temp", b"%d" % i) for i in range(50)] + [("x/y", b"1")]
    result = await pipeline.handle_mqtt_batch(msgs)
    assert (result.accepted, result.ignored) == (50, 1)
    assert bus.stats()["subscribers"]["samples/test-samples"]["depth"] == 1
    assert len(await samples.get()) == 50
    assert pipeline.stats()["messages"] == 51
