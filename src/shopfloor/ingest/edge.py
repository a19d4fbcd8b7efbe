"""Edge-agent batches: wire format and exactly-once application at the platform.

The edge agent (``shopfloor edge``) forwards its store-and-forward buffer as MQTT QoS 1
messages on ``<root>/edge/<agent id>/batch`` with the JSON payload::

    {"agent": "<agent id>", "epoch": <buffer id>,
     "rows": [[seq, "<asset path>", "<tag>", ts_ns, value, quality], ...]}

``seq`` is the agent's per-row sequence number (strictly increasing, never reused while the
agent keeps its buffer file; ``epoch`` changes when a new buffer file is created). QoS 1 and
the agent's resend-after-reconnect deliver a row at least once; :class:`EdgeIngest` makes
the effect exactly once by keeping, per agent, the highest sequence number applied and
skipping rows at or below it (counted as ``duplicates``). Rows are validated like every other
input (unknown asset/tag, wrong type, bad time: dead-lettered with a reason); a rejected row
counts as applied, so a resend does not dead-letter it twice.

The high-water marks live in memory: after a platform restart the first resent batch of an
agent is accepted again (see docs/edge.md, "exactly once").

>>> payload = encode_batch("gw1", 7, [(1, "s/a/l/m", "t", 1_700_000_000_000_000_000, 2.5, 192)])
>>> payload
b'{"agent":"gw1","epoch":7,"rows":[[1,"s/a/l/m","t",1700000000000000000,2.5,192]]}'
>>> decode_batch(payload).rows[0][4]
2.5
>>> batch_topic("shopfloor/v1", "gw1")
'shopfloor/v1/edge/gw1/batch'
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import msgspec

from ..core.errors import DecodeError, IngestError, UnknownTag
from ..core.sample import Quality

if TYPE_CHECKING:
    from .pipeline import Pipeline, _Call


class Batch(msgspec.Struct):
    """One edge batch as sent on the wire."""

    agent: str
    epoch: int
    rows: list[list[Any]]


_ENC = msgspec.json.Encoder()
_DEC = msgspec.json.Decoder(Batch)


def batch_topic(root: str, agent: str) -> str:
    """Topic an agent publishes its batches on."""
    return f"{root.rstrip('/')}/edge/{agent}/batch"


def encode_batch(agent: str, epoch: int, rows: Iterable[tuple[int, str, str, int, Any, int]]) -> bytes:
    """The JSON payload of a batch."""
    return _ENC.encode({"agent": agent, "epoch": epoch, "rows": list(rows)})


def decode_batch(payload: bytes) -> Batch:
    """Parse a batch; :class:`DecodeError` naming what is wrong."""
    try:
        return _DEC.decode(payload)
    except msgspec.ValidationError as err:
        raise DecodeError(f"edge batch: {err}") from None
    except msgspec.DecodeError as err:
        raise DecodeError(f"edge batch is not valid JSON: {err}") from None


class EdgeIngest:
    """Applies edge batches once; owned by :class:`~shopfloor.ingest.pipeline.Pipeline`."""

    def __init__(self, topic_root: str) -> None:
        self.prefix = topic_root.rstrip("/") + "/edge/"
        self.high_water: dict[str, tuple[int, int]] = {}  # agent -> (epoch, highest seq applied)
        self.batches = 0
        self.applied = 0
        self.duplicates = 0

    def handles(self, topic: str) -> bool:
        return topic.startswith(self.prefix)

    def handle(self, pipeline: Pipeline, call: _Call, topic: str, payload: bytes) -> None:
        """Validate and apply the new rows of one message under ``<root>/edge/``."""
        from .validate import make_sample, parse_quality, parse_time  # keeps the wire format light

        parts = topic[len(self.prefix) :].split("/")
        if len(parts) != 2 or parts[1] != "batch":
            call.result.ignored += 1  # status, command results: not data
            return
        where = f"topic {topic!r}"
        try:
            if len(payload) > pipeline.settings.max_payload_bytes:
                raise DecodeError(f"edge batch of {len(payload)} bytes is over the payload limit")
            batch = decode_batch(payload)
            if batch.agent != parts[0]:
                raise DecodeError(f"edge batch from agent {batch.agent!r} on the topic of agent {parts[0]!r}")
        except IngestError as err:
            pipeline._reject(call, err, where, payload, topic)
            return
        self.batches += 1
        epoch, high = self.high_water.get(batch.agent, (batch.epoch, 0))
        if epoch != batch.epoch:
            high = 0  # a new buffer file: its numbering starts over
        now = pipeline.clock.now_ns()
        max_future = pipeline._max_future_ns
        for i, row in enumerate(batch.rows):
            at = f"{where}, row {i}"
            try:
                seq, asset, tag, ts, value, q = row
                seq = int(seq)
            except (ValueError, TypeError) as err:
                pipeline._reject(
                    call,
                    DecodeError(f"edge row must be [seq, asset, tag, ts, value, q]: {err}"),
                    at,
                    msgspec.json.encode(row),
                    topic,
                )
                continue
            if seq <= high:
                self.duplicates += 1
                continue
            high = seq
            try:
                if not isinstance(asset, str) or not isinstance(tag, str):
                    raise DecodeError("edge row: asset and tag must be strings")
                rule = pipeline.catalog.tags(asset).get(tag)
                if rule is None:
                    raise UnknownTag(f"asset {asset!r} has no tag {tag!r}")
                sample, out = make_sample(
                    asset,
                    rule,
                    value,
                    parse_time(ts, now, max_future),
                    parse_quality(q) if q is not None else Quality.GOOD,
                )
            except IngestError as err:
                pipeline._reject(
                    call, err, f"{at}, asset {asset!r}, tag {tag!r}", msgspec.json.encode(row), topic
                )
                continue
            call.samples.append(sample)
            self.applied += 1
            if out:
                call.result.out_of_limits += 1
        self.high_water[batch.agent] = (batch.epoch, high)

    def stats(self) -> dict[str, Any]:
        return {
            "batches": self.batches,
            "applied": self.applied,
            "duplicates": self.duplicates,
            "agents": {a: {"epoch": e, "high_water": h} for a, (e, h) in self.high_water.items()},
        }
