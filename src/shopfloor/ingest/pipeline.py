"""The ingest pipeline: decode -> validate -> resolve asset/tag -> publish samples or dead letters.

See ``docs/ingest.md`` for the full contract. In short:

* MQTT ``<root>/<asset path>/data`` carries ``{"ts", "values": {tag: value}}`` (shape a),
  ``{"ts", "tag", "value", "q"}`` (shape b) or an array of those (shape c);
  ``<root>/<asset path>/data/<tag>`` carries a bare JSON value or ``{"ts", "value", "q", "unit"}``.
* HTTP ``POST /api/v1/ingest``: one object or an array, each with ``"asset"`` plus shape a or b.
* A value may be ``{"value": v, "unit": "degF", "q": 64}``: converted to the tag's unit.
* ``ts`` is optional (receive time), ISO 8601 or epoch s/ms/us/ns.

Accepted samples go out as one ``list[Sample]`` per call on the bus subject ``samples``;
every rejection (malformed, oversized, unknown asset/tag, wrong type, NaN/inf, bad unit,
bad or future timestamp) is counted per reason and goes out as a :class:`DeadLetter` on
``deadletters``, with the raw payload (or the offending item) and a message naming topic,
asset, tag and batch index. A message with some bad samples keeps its good ones. A value
outside the tag's limits is stored with quality BAD and counted as ``out_of_limits``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec
from prometheus_client import CollectorRegistry, Counter

from ..bus.base import Bus
from ..core.assets import Plant
from ..core.clock import Clock, WallClock
from ..core.errors import DecodeError, IngestError, PayloadTooLarge, UnknownTag
from ..core.sample import DeadLetter, Quality, Sample
from ..core.settings import IngestSettings
from .decode import Point, Route, decode_json, decode_points, encode, parse_topic
from .edge import EdgeIngest
from .validate import Catalog, TagRule, make_sample, new_sample, parse_quality, parse_time

log = logging.getLogger(__name__)

MAX_ERRORS_LISTED = 100
_ROUTE_CACHE = 65_536
_SAFETY = (ValueError, TypeError, OverflowError, RecursionError, AttributeError, KeyError)


@dataclass(slots=True)
class IngestResult:
    """What one call accepted and rejected; ``errors`` lists the first rejection messages."""

    accepted: int = 0
    rejected: int = 0
    out_of_limits: int = 0
    ignored: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "rejected": self.rejected,
            "out_of_limits": self.out_of_limits,
            "ignored": self.ignored,
            "errors": list(self.errors),
        }


class _Call:
    """Collects the samples and dead letters of one call, published together."""

    __slots__ = ("letters", "result", "samples", "source")

    def __init__(self, source: str) -> None:
        self.source = source
        self.samples: list[Sample] = []
        self.letters: list[DeadLetter] = []
        self.result = IngestResult()


class Pipeline:
    """Decode and validate incoming messages against the plant model; see the module docstring."""

    def __init__(
        self,
        plant: Plant,
        bus: Bus,
        settings: IngestSettings | None = None,
        registry: CollectorRegistry | None = None,
        clock: Clock | None = None,
        *,
        topic_root: str = "shopfloor/v1",
    ) -> None:
        self.bus = bus
        self.settings = settings if settings is not None else IngestSettings()  # type: ignore[call-arg]
        self.clock: Clock = clock if clock is not None else WallClock()
        self.topic_root = topic_root.rstrip("/")
        self.catalog = Catalog(plant)
        # --- edge agent batches (shopfloor.ingest.edge): exactly-once by sequence number ---
        self.edge = EdgeIngest(self.topic_root)
        # --- end edge ---
        self._max_bytes = self.settings.max_payload_bytes
        self._max_future_ns = int(self.settings.max_future_s * 1e9)
        self._routes: dict[str, tuple[Route, dict[str, TagRule]]] = {}
        # -- sparkplug (issue 14): a hook taking the spBv1.0/ messages of a batch, returning the rest
        self.sparkplug: Callable[[list[tuple[str, bytes]]], Awaitable[list[tuple[str, bytes]]]] | None = None
        # -- end sparkplug
        self._stats: dict[str, Any] = {
            "messages": 0,
            "accepted": 0,
            "rejected": 0,
            "out_of_limits": 0,
            "ignored": 0,
            "rejected_by_reason": {},
        }
        self._m_messages: Counter | None = None
        if registry is not None:
            self._m_messages = Counter(
                "shopfloor_ingest_messages", "Messages received by ingest", ["source"], registry=registry
            )
            self._m_accepted = Counter(
                "shopfloor_ingest_samples", "Samples accepted by ingest", ["source"], registry=registry
            )
            self._m_rejected = Counter(
                "shopfloor_ingest_rejected",
                "Rejected inputs (dead-lettered), by reason",
                ["reason"],
                registry=registry,
            )
            self._m_out = Counter(
                "shopfloor_ingest_out_of_limits",
                "Samples outside their tag's limits (stored with quality BAD)",
                registry=registry,
            )

    # -- entry points -------------------------------------------------------------------------

    async def handle_mqtt(self, topic: str, payload: bytes) -> IngestResult:
        """One MQTT message; publishes its samples and dead letters."""
        if self.sparkplug is not None and not await self.sparkplug([(topic, payload)]):  # sparkplug
            return IngestResult()
        call = _Call("mqtt")
        self._mqtt(call, topic, payload)
        await self._finish(call, 1)
        return call.result

    async def handle_mqtt_batch(self, messages: list[tuple[str, bytes]]) -> IngestResult:
        """Several MQTT messages at once: one bus batch for all their samples (faster)."""
        if self.sparkplug is not None:  # sparkplug: spBv1.0/ messages go to the Sparkplug host
            messages = await self.sparkplug(messages)
        call = _Call("mqtt")
        for topic, payload in messages:
            self._mqtt(call, topic, payload)
        await self._finish(call, len(messages))
        return call.result

    async def handle_http(self, body: bytes, path: str = "/api/v1/ingest") -> IngestResult:
        """One HTTP body: an object or an array of objects, each with ``asset`` plus shape a or b."""
        call = _Call("http")
        now = self.clock.now_ns()
        try:
            if len(body) > self._max_bytes:
                raise PayloadTooLarge(f"body of {len(body)} bytes is over the limit of {self._max_bytes}")
            items, many = decode_points(body)
        except IngestError as err:
            self._reject(call, err, f"POST {path}", body, path)
        except _SAFETY as err:  # a bug, not the sender's fault: still dead-letter, never crash
            log.warning("ingest failed on POST %s: %r", path, err)
            self._reject(call, DecodeError(f"could not process: {err!r}"), f"POST {path}", body, path)
        else:
            for i, item in enumerate(items):
                where = f"POST {path}, item {i}" if many else f"POST {path}"
                raw = body if not many else None
                if isinstance(item, DecodeError):
                    self._reject(call, item, where, raw or getattr(item, "fragment", None), path)
                    continue
                asset = item.asset
                if not isinstance(asset, str):
                    self._reject(
                        call,
                        DecodeError('each object needs "asset": "<asset path>"'),
                        where,
                        raw if raw is not None else _item_bytes(item),
                        path,
                    )
                    continue
                try:
                    tags = self.catalog.tags(asset)
                except IngestError as err:
                    self._reject(call, err, where, raw if raw is not None else _item_bytes(item), path)
                    continue
                self._guarded(call, item, asset, tags, now, where, raw, path)
        await self._finish(call, 1)
        return call.result

    # -- decoding -----------------------------------------------------------------------------

    def _mqtt(self, call: _Call, topic: str, payload: bytes) -> None:
        # --- edge agent batches (shopfloor.ingest.edge) ---
        if self.edge.handles(topic):
            self.edge.handle(self, call, topic, payload)
            return
        # --- end edge ---
        try:
            route, tags = self._route(topic)
            if route.kind == "ignore":
                call.result.ignored += 1
                return
            if len(payload) > self._max_bytes:
                raise PayloadTooLarge(
                    f"payload of {len(payload)} bytes is over the limit of {self._max_bytes}"
                )
            now = self.clock.now_ns()
            where = f"topic {topic!r}"
            if route.tag is not None:
                self._tag_payload(call, route.asset, route.tag, tags, payload, now, where, topic)
                return
            items, many = decode_points(payload)
        except IngestError as err:
            self._reject(call, err, f"topic {topic!r}", payload, topic)
            return
        except _SAFETY as err:  # a bug, not the sender's fault: still dead-letter, never crash
            log.warning("ingest failed on topic %r: %r", topic, err)
            self._reject(call, DecodeError(f"could not process: {err!r}"), f"topic {topic!r}", payload, topic)
            return
        for i, item in enumerate(items):
            at = f"{where}, item {i}" if many else where
            raw = payload if not many else None
            if isinstance(item, DecodeError):
                self._reject(call, item, at, raw or getattr(item, "fragment", None), topic)
                continue
            self._guarded(call, item, route.asset, tags, now, at, raw, topic)

    def _route(self, topic: str) -> tuple[Route, dict[str, TagRule]]:
        hit = self._routes.get(topic)
        if hit is not None:
            return hit
        route = parse_topic(topic, self.topic_root)
        tags = self.catalog.tags(route.asset) if route.kind != "ignore" else {}
        if len(self._routes) >= _ROUTE_CACHE:
            self._routes.clear()
        self._routes[topic] = (route, tags)
        return route, tags

    def _tag_payload(
        self,
        call: _Call,
        asset: str,
        tag: str,
        tags: dict[str, TagRule],
        payload: bytes,
        now: int,
        where: str,
        topic: str,
    ) -> None:
        rule = tags.get(tag)
        if rule is None:
            raise UnknownTag(f"asset {asset!r} has no tag {tag!r}")
        raw = decode_json(payload)
        ts = now
        quality = Quality.GOOD
        if type(raw) is dict:
            ts = parse_time(raw.get("ts"), now, self._max_future_ns)
            if raw.get("q") is not None:
                quality = parse_quality(raw["q"])
        sample, out = make_sample(asset, rule, raw, ts, quality)
        call.samples.append(sample)
        if out:
            call.result.out_of_limits += 1

    def _guarded(
        self,
        call: _Call,
        item: Point,
        asset: str,
        tags: dict[str, TagRule],
        now: int,
        where: str,
        raw: bytes | None,
        topic: str,
    ) -> None:
        try:
            self._point(call, item, asset, tags, now, where, raw, topic)
        except _SAFETY as err:  # a bug, not the sender's fault: still dead-letter, never crash
            log.warning("ingest failed at %s: %r", where, err)
            self._reject(
                call, DecodeError(f"could not process: {err!r}"), where, raw or _item_bytes(item), topic
            )

    def _point(
        self,
        call: _Call,
        item: Point,
        asset: str,
        tags: dict[str, TagRule],
        now: int,
        where: str,
        raw: bytes | None,
        topic: str,
    ) -> None:
        """One object of shape a or b. ``raw`` is the whole payload when it is the only object."""
        try:
            ts = parse_time(item.ts, now, self._max_future_ns)
            quality = parse_quality(item.q)
            values = item.values
            if values is None:
                values = self._single(item)
            elif item.tag is not None:
                raise DecodeError('an object has either "values" or "tag"/"value", not both')
            elif type(values) is not dict or not values:
                raise DecodeError(f'"values" must be an object of tag: value, got {type(values).__name__}')
        except IngestError as err:
            self._reject(call, err, where, raw if raw is not None else _item_bytes(item), topic)
            return
        samples = call.samples
        result = call.result
        for name, value in values.items():
            rule = tags.get(name)
            # fast path: a finite float for a float tag without limits (x - x is nan for nan/inf)
            if rule is not None and rule.plain_float and type(value) is float and value - value == 0.0:
                samples.append(new_sample(asset, name, ts, value, quality))
                continue
            try:
                if rule is None:
                    raise UnknownTag(f"asset {asset!r} has no tag {name!r}")
                sample, out = make_sample(asset, rule, value, ts, quality)
            except IngestError as err:
                whole = raw is not None and len(values) == 1
                fragment = raw if whole else encode({"ts": item.ts, "tag": name, "value": value})
                self._reject(call, err, f"{where}, asset {asset!r}, tag {name!r}", fragment, topic)
                continue
            samples.append(sample)
            if out:
                result.out_of_limits += 1

    @staticmethod
    def _single(item: Point) -> dict[str, Any]:
        tag = item.tag
        if tag is None:
            raise DecodeError('an object needs "values": {tag: value} or "tag" and "value"')
        if not isinstance(tag, str):
            raise DecodeError(f'"tag" must be a string, got {type(tag).__name__}')
        if item.value is msgspec.UNSET:
            raise DecodeError(f'object for tag {tag!r} has no "value"')
        if item.unit is not None:
            return {tag: {"value": item.value, "unit": item.unit}}
        return {tag: item.value}

    # -- results ------------------------------------------------------------------------------

    def _reject(self, call: _Call, err: IngestError, where: str, raw: bytes | None, topic: str) -> None:
        message = f"{err} ({where})"
        if raw is not None and len(raw) > self._max_bytes:
            raw = raw[: self._max_bytes]
            message += f"; the dead letter keeps its first {self._max_bytes} bytes"
        result = call.result
        result.rejected += 1
        if len(result.errors) < MAX_ERRORS_LISTED:
            result.errors.append(message)
        call.letters.append(
            DeadLetter(
                self.clock.now_ns(), call.source, topic, err.reason, message, raw if raw is not None else b""
            )
        )

    async def _finish(self, call: _Call, messages: int) -> None:
        result = call.result
        result.accepted = len(call.samples)
        stats = self._stats
        stats["messages"] += messages
        stats["accepted"] += result.accepted
        stats["ignored"] += result.ignored
        if result.out_of_limits:
            stats["out_of_limits"] += result.out_of_limits
        if call.letters:
            stats["rejected"] += len(call.letters)
            by_reason = stats["rejected_by_reason"]
            for letter in call.letters:
                by_reason[letter.reason] = by_reason.get(letter.reason, 0) + 1
                if self._m_messages is not None:
                    self._m_rejected.labels(letter.reason).inc()
        if self._m_messages is not None:
            self._m_messages.labels(call.source).inc(messages)
            if result.accepted:
                self._m_accepted.labels(call.source).inc(result.accepted)
            if result.out_of_limits:
                self._m_out.inc(result.out_of_limits)
        if call.samples:
            await self.bus.publish("samples", call.samples)
        if call.letters:
            await self.bus.publish("deadletters", call.letters)

    def stats(self) -> dict[str, Any]:
        """Plain counters: messages, accepted, rejected (and by reason), out_of_limits, ignored."""
        out = dict(self._stats)
        out["rejected_by_reason"] = dict(self._stats["rejected_by_reason"])
        return out


def _item_bytes(item: Point) -> bytes:
    return encode(
        {
            f: v
            for f in item.__struct_fields__
            if (v := getattr(item, f)) is not None and v is not msgspec.UNSET
        }
    )
