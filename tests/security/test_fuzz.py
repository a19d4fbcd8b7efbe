"""Fuzzing every decoder we accept input through: no crash, and a clear rejection each time.

Decoders: the ingest JSON decoder (MQTT payloads), HTTP ingest bodies through the pipeline,
Sparkplug B protobuf payloads, plant files and rule files. Each runs ``SHOPFLOOR_FUZZ_EXAMPLES``
hypothesis cases (default 500, to keep the suite fast); the full run the issue asks for is
``SHOPFLOOR_FUZZ_EXAMPLES=10000 pytest tests/security/test_fuzz.py`` (see docs/security.md).
A rejection is "clear" when it is one of shopfloor's own errors with a non-empty message, or a
dead letter with a reason and an error text; anything else raised fails the test.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shopfloor.bus.memory import MemoryBus
from shopfloor.core.assets import Plant
from shopfloor.core.errors import ConfigError, DecodeError, IngestError, PlantModelError
from shopfloor.ingest.decode import decode_points, parse_topic
from shopfloor.ingest.pipeline import Pipeline
from shopfloor.rules.load import load_rules_text

from ..api.conftest import PLANT

EXAMPLES = int(os.environ.get("SHOPFLOOR_FUZZ_EXAMPLES", "500"))
fuzz = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

KEYS = [
    "ts",
    "values",
    "tag",
    "value",
    "q",
    "unit",
    "asset",
    "force",
    "temp",
    "cuts",
    "state",
    "seq",
    "running",
]
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=16)
    | st.sampled_from(
        ["mill/converting/line1/cutter", "force", "N", "kN", "degC", "2024-01-01T00:00:00Z", "1e400"]
    )
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), inner, max_size=5)
    ),
    max_leaves=16,
)


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value, allow_nan=True).encode()


def _mutate(data: bytes, cut: int, flips: list[int]) -> bytes:
    b = bytearray(data[: max(0, len(data) - cut)] if cut else data)
    for i in flips:
        if b:
            b[i % len(b)] ^= 0xFF
    return bytes(b)


payloads = st.one_of(
    json_values.map(_json_bytes),
    st.binary(max_size=256),
    st.tuples(
        json_values.map(_json_bytes), st.integers(0, 8), st.lists(st.integers(0, 10_000), max_size=3)
    ).map(lambda t: _mutate(*t)),
)


def _clear(err: BaseException) -> None:
    assert str(err).strip(), f"{type(err).__name__} without a message"


@fuzz
@given(
    payload=payloads,
    topic=st.text(max_size=40) | st.sampled_from(["shopfloor/v1/mill/data", "shopfloor/v1/a/b/data/t"]),
)
def test_mqtt_json_decoder(payload: bytes, topic: str) -> None:
    try:
        parse_topic(topic, "shopfloor/v1")
    except DecodeError as err:
        _clear(err)
    try:
        points, _is_array = decode_points(payload)
    except DecodeError as err:
        _clear(err)
        return
    for p in points:
        if isinstance(p, DecodeError):
            _clear(p)


@pytest.fixture(scope="module")
def pipeline() -> Iterator[tuple[Pipeline, asyncio.AbstractEventLoop]]:
    loop = asyncio.new_event_loop()
    bus = MemoryBus()
    pipe = Pipeline(Plant.from_dict(PLANT), bus)
    yield pipe, loop
    loop.run_until_complete(bus.close())
    loop.close()


http_bodies = st.one_of(
    payloads,
    st.lists(
        st.fixed_dictionaries(
            {"asset": st.sampled_from(["mill/converting/line1/cutter", "nope", ""]) | st.text(max_size=8)},
            optional={
                "tag": st.sampled_from(["force", "temp", "cuts", "state", "running", "x"]),
                "value": scalars,
                "values": st.dictionaries(
                    st.sampled_from(["force", "temp", "cuts", "x"]), scalars, max_size=3
                ),
                "ts": scalars,
                "unit": st.sampled_from(["N", "kN", "degC", "furlong", ""]),
                "q": scalars,
            },
        ),
        max_size=4,
    ).map(_json_bytes),
)


@fuzz
@given(body=http_bodies)
def test_http_ingest_bodies(pipeline: tuple[Pipeline, asyncio.AbstractEventLoop], body: bytes) -> None:
    pipe, loop = pipeline
    result = loop.run_until_complete(pipe.handle_http(body))
    out = result.as_dict() if hasattr(result, "as_dict") else dict(vars(result))
    if out.get("rejected", 0):
        assert out["errors"], "rejected without saying why"
        for e in out["errors"]:
            assert str(e).strip()


@fuzz
@given(
    data=st.binary(max_size=300)
    | st.tuples(st.integers(0, 20), st.lists(st.integers(0, 1000), max_size=3)).map(
        lambda t: _mutate(_SPARKPLUG, *t)
    )
)
def test_sparkplug_protobuf_decoder(data: bytes) -> None:
    from shopfloor.connectors.sparkplug.codec import SparkplugDecodeError, decode, value_of

    try:
        payload = decode(data)
    except SparkplugDecodeError as err:
        _clear(err)
        return
    for m in payload.metrics:
        try:
            value_of(m, m.datatype)
        except IngestError as err:  # unsupported type or a value that does not fit: a clear rejection
            _clear(err)


def _sparkplug_sample() -> bytes:
    from shopfloor.connectors.sparkplug.codec import DataType, Metric, Payload, encode

    metrics = [
        Metric("temp", alias=1, datatype=DataType.Double, value=21.5),
        Metric("count", alias=2, datatype=DataType.Int32, value=-7),
        Metric("name", alias=3, datatype=DataType.String, value="press"),
        Metric("on", alias=4, datatype=DataType.Boolean, value=True),
    ]
    return encode(Payload(metrics, 1_700_000_000_000, seq=3))


_SPARKPLUG = _sparkplug_sample()


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return json.dumps(v) if v == v and v not in (float("inf"), float("-inf")) else "nan"
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return json.dumps(str(v))


toml_scalars = (
    st.none().map(lambda _: "")
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False)
    | st.text(max_size=12)
)
RULE_KEYS = [
    "id",
    "asset",
    "tag",
    "kind",
    "limit",
    "deadband",
    "priority",
    "on_delay",
    "off_delay",
    "message",
    "low",
    "high",
    "x",
]
rule_files = st.one_of(
    st.text(max_size=300),
    st.lists(
        st.dictionaries(
            st.sampled_from(RULE_KEYS),
            toml_scalars
            | st.sampled_from(
                ["high", "low", "critical", "mill/converting/line1/cutter", "force", "5s", "-1s"]
            )
            | st.lists(st.integers(), max_size=3),
            max_size=8,
        ),
        max_size=3,
    ).map(
        lambda rules: "".join(
            "[[rule]]\n" + "".join(f"{k} = {_toml_value(v)}\n" for k, v in r.items()) for r in rules
        )
    ),
)


@fuzz
@given(text=rule_files)
def test_rule_files(text: str) -> None:
    try:
        load_rules_text(text, source="fuzz.toml")
    except ConfigError as err:
        _clear(err)


ASSET_KEYS = ["path", "kind", "description", "tag", "attributes", "x"]
TAG_KEYS = ["name", "unit", "type", "low", "high", "writable", "description", "y"]
plant_dicts = st.fixed_dictionaries(
    {},
    optional={
        "plant": st.dictionaries(st.sampled_from(["enterprise", "name"]), toml_scalars, max_size=2) | scalars,
        "asset": st.lists(
            st.dictionaries(
                st.sampled_from(ASSET_KEYS),
                st.sampled_from(["mill/a", "mill/a/b", "Mill", "", "a//b", "a/b/c/d/e/f/g"])
                | toml_scalars
                | st.lists(
                    st.dictionaries(
                        st.sampled_from(TAG_KEYS),
                        toml_scalars | st.sampled_from(["degC", "float", "bool", "t"]),
                        max_size=5,
                    ),
                    max_size=3,
                ),
                max_size=5,
            )
            | scalars,
            max_size=4,
        )
        | scalars,
    },
)


@fuzz
@given(data=plant_dicts)
def test_plant_dicts(data: dict[str, Any]) -> None:
    try:
        Plant.from_dict(data)
    except PlantModelError as err:
        _clear(err)


_PLANT_FILE = Path(tempfile.mkdtemp(prefix="sf-fuzz-")) / "plant.toml"


@fuzz
@given(text=st.text(max_size=200) | rule_files.map(lambda t: t.replace("[[rule]]", "[[asset]]")))
def test_plant_files(text: str) -> None:
    _PLANT_FILE.write_text(text, encoding="utf-8")
    try:
        Plant.load(_PLANT_FILE)
    except PlantModelError as err:
        _clear(err)
