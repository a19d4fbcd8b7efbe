"""Fuzzing the Sparkplug B decoder: any bytes decode or fail with SparkplugDecodeError, never crash.

The default run tries 10,000 random byte strings plus 2,000 mutations of valid payloads (a few
seconds); ``SHOPFLOOR_FUZZ_EXAMPLES=200000`` runs more.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shopfloor.connectors.sparkplug.codec import (
    DataType,
    Metric,
    Payload,
    SparkplugDecodeError,
    decode,
    encode,
    value_of,
)
from shopfloor.core.errors import IngestError

EXAMPLES = int(os.environ.get("SHOPFLOOR_FUZZ_EXAMPLES", "10000"))
VALID = encode(
    Payload(
        [
            Metric("bdSeq", datatype=DataType.Int64, value=3),
            Metric("force", alias=1, datatype=DataType.Double, value=812.5, timestamp=1),
            Metric("name", alias=2, datatype=DataType.String, value="cutter"),
            Metric("arr", alias=3, datatype=DataType.Int16Array, value=[1, -2, 3]),
            Metric("strs", alias=4, datatype=DataType.StringArray, value=["a", "b"]),
            Metric("n", alias=5, datatype=DataType.Int8, value=None),
        ],
        timestamp=1_700_000_000_000,
        seq=7,
    )
)
TYPES = list(DataType)


def check(data: bytes) -> None:
    try:
        p = decode(data)
    except SparkplugDecodeError as err:
        assert str(err)
        return
    assert isinstance(p, Payload)
    for m in p.metrics:
        assert m.name is None or isinstance(m.name, str)
        for dt in (m.datatype, *TYPES[:: 1 + (len(data) % 5)]):
            try:
                value_of(m, dt)
            except IngestError as err:
                assert err.reason in ("wrong_type", "unsupported_type")


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(st.binary(max_size=48))
def test_random_bytes(data: bytes) -> None:
    check(data)


@settings(
    max_examples=max(2000, EXAMPLES // 5),
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)
@given(st.integers(0, len(VALID) - 1), st.binary(min_size=1, max_size=6), st.integers(0, 3))
def test_mutated_valid_payloads(at: int, patch: bytes, cut: int) -> None:
    data = VALID[:at] + patch + VALID[at + len(patch) + cut :]
    check(data)
