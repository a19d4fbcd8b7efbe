"""Hostile input never crashes or stalls ingest: every message is accepted, ignored or dead-lettered."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shopfloor.bus.memory import MemoryBus
from shopfloor.core.assets import Plant
from shopfloor.core.settings import IngestSettings
from shopfloor.ingest.pipeline import Pipeline

from .ingest_helpers import MACHINE, plant_dict

ROOT = f"shopfloor/v1/{MACHINE}/data"
TAGS = ["cutting_force", "temp", "count", "running", "state", "nope", "", "ü", "a/b"]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
value_objects = st.fixed_dictionaries(
    {"value": json_values},
    optional={
        "unit": st.sampled_from(["degF", "kN", "kg", "", "???"]) | json_values,
        "q": st.sampled_from(["good", "bad", 64, -1, 300, "x"]) | json_values,
    },
)
tss = (
    st.none()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
    | st.sampled_from(["2023-11-14T22:13:20Z", "2999-01-01T00:00:00Z", 1.7e9, 1.7e12, 1.7e15, 1.7e18, 9e30])
)
shape_a = st.fixed_dictionaries(
    {"values": st.dictionaries(st.sampled_from(TAGS), json_values | value_objects, max_size=5)},
    optional={"ts": tss},
)
shape_b = st.fixed_dictionaries(
    {"tag": st.sampled_from(TAGS) | json_values},
    optional={"ts": tss, "value": json_values | value_objects, "q": json_values, "unit": json_values},
)
objects = shape_a | shape_b | st.dictionaries(st.text(max_size=6), json_values, max_size=4)
payload_json = objects | st.lists(objects | json_values, max_size=6) | json_values
topics = st.sampled_from(
    [
        ROOT,
        f"{ROOT}/temp",
        f"{ROOT}/running",
        f"{ROOT}/nope",
        "shopfloor/v1/x/data",
        "shopfloor/v1/data",
        "shopfloor/v1",
        "shopfloor/v1/cmd/x",
        "",
        "/",
        "#",
    ]
) | st.text(max_size=40).map(lambda t: "shopfloor/v1/" + t)


def make() -> tuple[Pipeline, MemoryBus]:
    bus = MemoryBus(queue_size=100_000, policy="drop_oldest")
    settings_ = IngestSettings(max_payload_bytes=2048, max_future_s=60)  # type: ignore[call-arg]
    return Pipeline(Plant.from_dict(plant_dict()), bus, settings_), bus


def check(result, pipeline: Pipeline, before: dict) -> None:  # type: ignore[no-untyped-def]
    after = pipeline.stats()
    assert result.accepted + result.rejected + result.ignored >= 1
    assert after["accepted"] - before["accepted"] == result.accepted
    assert after["rejected"] - before["rejected"] == result.rejected
    assert sum(after["rejected_by_reason"].values()) == after["rejected"]


@settings(max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck))
@given(topic=topics, body=payload_json)
async def test_structured_hostile_json(topic: str, body: object) -> None:
    pipeline, _ = make()
    before = pipeline.stats()
    payload = json.dumps(body, allow_nan=False).encode()
    result = await pipeline.handle_mqtt(topic, payload)
    check(result, pipeline, before)
    http = await pipeline.handle_http(payload)
    assert http.accepted + http.rejected >= 0


@settings(max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck))
@given(topic=topics, payload=st.binary(max_size=3000))
async def test_random_bytes(topic: str, payload: bytes) -> None:
    pipeline, _ = make()
    before = pipeline.stats()
    result = await pipeline.handle_mqtt(topic, payload)
    check(result, pipeline, before)
    await pipeline.handle_http(payload)


async def test_deep_nesting_huge_numbers_and_bad_unicode() -> None:
    pipeline, bus = make()
    dead = bus.subscribe("deadletters", "t")
    nasty = [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"values": ' + b'{"a":' * 5000 + b"1" + b"}" * 5001,
        b'{"values": {"temp": 1' + b"0" * 1000 + b"}}",
        b'{"values": {"temp": -1e308, "count": 99999999999999999999999999}}',
        b'{"tag": "temp", "value": "\\ud800"}',
        b"\xff\xfe\x00",
        b'{"ts": 1e400, "tag": "temp", "value": 1}',
        b'{"ts": -5, "tag": "temp", "value": 1}',
        b'{"ts": 99999999999999999999999999999, "tag": "temp", "value": 1}',
        b"",
    ]
    total = 0
    for raw in nasty:
        result = await pipeline.handle_mqtt(ROOT, raw)
        assert result.accepted + result.rejected >= 1
        total += result.rejected
        result = await pipeline.handle_http(raw)
        total += result.rejected
    assert dead.depth > 0
    assert pipeline.stats()["rejected"] == total
    for topic in [
        "shopfloor/v1/\udcff/data",
        "shopfloor/v1/🏭/data/🔥",
        "shopfloor/v1/" + "a/" * 5000 + "data",
    ]:
        result = await pipeline.handle_mqtt(topic, b"1")
        assert result.rejected == 1


async def test_thousands_of_messages_in_one_batch_do_not_stall() -> None:
    pipeline, bus = make()
    msgs = [(f"{ROOT}/temp", b"%d" % i) for i in range(5000)] + [(ROOT, b"{oops")] * 1000
    result = await pipeline.handle_mqtt_batch(msgs)
    assert (result.accepted, result.rejected) == (5000, 1000)
    assert len(result.errors) == 100  # listed errors are capped; all are counted and dead-lettered
    assert bus.stats()["published_items"] == 6000
