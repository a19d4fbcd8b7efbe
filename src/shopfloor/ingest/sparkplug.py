"""The platform as a Sparkplug B host application: ``spBv1.0/...`` messages -> samples on the bus.

What it does per message (see ``docs/sparkplug.md``):

* decodes the protobuf payload; anything malformed (topic, protobuf, a metric's value) becomes a
  :class:`~shopfloor.core.sample.DeadLetter` (source ``sparkplug``) with a message naming topic
  and metric, counted by reason; the rest of the message is kept;
* tracks every edge node and device: NBIRTH/DBIRTH give names, aliases and datatypes, NDATA/DDATA
  are resolved by alias (or name), NDEATH (checked against the birth's ``bdSeq`` so a stale will
  is ignored) and DDEATH take them offline;
* maps ``group/edge node/device`` to an asset of the plant and each metric name to a tag
  (:class:`~shopfloor.connectors.sparkplug.converter.AssetMap`) and validates values exactly like
  the MQTT JSON path (type, limits, future timestamps), then publishes one ``list[Sample]`` per
  batch on ``samples`` and the dead letters on ``deadletters``;
* on NDEATH/DDEATH marks the tags stale: one sample per tag at the time of death with the last
  value and quality BAD (or UNCERTAIN, ``stale_quality``), and lists them in :meth:`stale_tags`
  until the next birth;
* requests a rebirth (NCMD ``Node Control/Rebirth`` = true, at most once per node per
  ``rebirth_interval_s``) on a sequence gap, on data or a DBIRTH before the node's birth, and on
  an alias it does not know.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter

from ..bus.base import Bus
from ..connectors.sparkplug.codec import (
    DataType,
    Metric,
    Payload,
    SparkplugDecodeError,
    decode,
    encode,
    value_of,
)
from ..connectors.sparkplug.config import SparkplugHostConfig
from ..connectors.sparkplug.converter import (
    BDSEQ,
    NAMESPACE,
    REBIRTH,
    AssetMap,
    SpTopic,
    is_control,
    parse_topic,
    split_metric,
    topic,
)
from ..core.assets import Plant
from ..core.clock import Clock, WallClock
from ..core.errors import BadTimestamp, DecodeError, IngestError, PayloadTooLarge, UnknownTag
from ..core.sample import DeadLetter, Quality, Sample
from ..core.settings import IngestSettings
from .validate import Catalog, TagRule, make_sample, new_sample

log = logging.getLogger(__name__)

PREFIX = NAMESPACE + "/"
Messages = list[tuple[str, bytes]]
Publish = Callable[[str, bytes], Any]
MAX_NODES = 100_000
"""Edge nodes tracked; beyond this, unknown nodes sending data are not remembered (a flood of
made-up node ids must not grow memory), they still get dead letters and rebirth requests."""
_SAFETY = (ValueError, TypeError, OverflowError, RecursionError, AttributeError, KeyError)


class NoBirth(IngestError):
    """Data from an edge node or device whose birth certificate the host has not seen."""

    reason = "no_birth"


class UnknownAlias(IngestError):
    """A data metric whose alias (or name) was not in the birth certificate."""

    reason = "unknown_alias"


@dataclass(slots=True)
class _Metric:
    device: str | None
    name: str
    datatype: int | None
    asset: str
    tag: str
    rule: TagRule | None
    error: IngestError | None = None
    last: Any = None
    last_ts: int = 0


@dataclass(slots=True)
class _Node:
    group: str
    node: str
    online: bool = False
    bd_seq: int | None = None
    seq: int | None = None
    by_alias: dict[int, _Metric] = field(default_factory=dict)
    by_name: dict[tuple[str | None, str], _Metric] = field(default_factory=dict)
    devices: set[str] = field(default_factory=set)
    rebirth_at: float = float("-inf")


class _Call:
    __slots__ = ("letters", "rebirths", "samples")

    def __init__(self) -> None:
        self.samples: list[Sample] = []
        self.letters: list[DeadLetter] = []
        self.rebirths: list[tuple[_Node, str]] = []


class SparkplugHost:
    """Sparkplug B host application over the platform's bus; see the module docstring.

    ``handle_batch`` takes ``[(topic, payload), ...]`` of ``spBv1.0/...`` messages (from the
    embedded broker's hook through :meth:`route`, or from a subscriber on ``spBv1.0/#``);
    ``publish(topic, payload)`` sends rebirth requests (set it to the MQTT client's publish).
    """

    def __init__(
        self,
        plant: Plant,
        bus: Bus,
        config: SparkplugHostConfig | None = None,
        settings: IngestSettings | None = None,
        *,
        publish: Publish | None = None,
        clock: Clock | None = None,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.bus = bus
        self.config = config if config is not None else SparkplugHostConfig()  # type: ignore[call-arg]
        settings = settings if settings is not None else IngestSettings()  # type: ignore[call-arg]
        self.publish = publish
        self.clock: Clock = clock if clock is not None else WallClock()
        self.catalog = Catalog(plant)
        self.assets = AssetMap.from_plant(plant)
        self._max_bytes = settings.max_payload_bytes
        self._max_future_ns = int(settings.max_future_s * 1e9)
        self._stale_q = Quality.BAD if self.config.stale_quality == "bad" else Quality.UNCERTAIN
        self._nodes: dict[tuple[str, str], _Node] = {}
        self._stale: set[tuple[str, str]] = set()
        self.counts: dict[str, int] = dict.fromkeys(
            ("messages", "accepted", "rejected", "ignored", "births", "deaths", "stale_deaths", "seq_gaps"),
            0,
        ) | {"rebirth_requests": 0, "rebirths_unsent": 0}
        self.rejected_by_reason: dict[str, int] = {}
        self._client: Any = None
        self._source: Any = None
        self._m_rejected: Counter | None = None
        if registry is not None:
            self._m_messages = Counter(
                "shopfloor_sparkplug_messages", "Sparkplug B messages", registry=registry
            )
            self._m_rejected = Counter(
                "shopfloor_sparkplug_rejected",
                "Sparkplug B dead letters, by reason",
                ["reason"],
                registry=registry,
            )
            self._m_rebirths = Counter(
                "shopfloor_sparkplug_rebirth_requests",
                "Rebirth requests sent to edge nodes",
                registry=registry,
            )

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(
        self,
        host: str,
        port: int,
        *,
        username: str | None = None,
        password: str | None = None,
        subscribe: bool = False,
        client_id: str = "shopfloor-sparkplug",
    ) -> None:
        """Connect the publishing client (rebirth requests, STATE) to the broker; with
        ``subscribe`` also subscribe to ``spBv1.0/#`` (when no broker hook feeds :meth:`route`).
        ``client_id`` is used unless the config names one."""
        from ..connectors.sparkplug.client import HostClient

        cfg = self.config
        client_id = cfg.client_id or client_id
        client = HostClient(
            host,
            port,
            client_id=client_id,
            host_id=cfg.host_id,
            username=username,
            password=password,
            publish_state=cfg.publish_state,
        )
        await client.start()
        self._client = client
        self.publish = client.publish
        if subscribe:
            from ..connectors.mqtt.client import MqttSource
            from ..connectors.mqtt.config import MqttSourceConfig

            source_cfg = MqttSourceConfig(  # type: ignore[call-arg]
                host=host,
                port=port,
                username=username,
                password=password,
                client_id=f"{client_id}-sub",
                topics=[f"{NAMESPACE}/#"],
                watch_sys=False,  # the platform's own subscriber watches the broker's counters
            )
            source = MqttSource(source_cfg, self.handle_batch)
            try:
                await source.start()
            except BaseException:
                await self.stop()
                raise
            self._source = source
        log.info("Sparkplug B host %r on %s:%d", cfg.host_id, host, port)

    async def stop(self) -> None:
        source, self._source = self._source, None
        if source is not None:
            await source.stop()
        client, self._client = self._client, None
        if client is not None:
            self.publish = None
            await client.stop()

    # -- entry points -------------------------------------------------------------------------

    async def route(self, messages: Messages) -> Messages:
        """Handle the ``spBv1.0/`` messages of a mixed batch; return the others (the pipeline hook)."""
        mine = [m for m in messages if m[0].startswith(PREFIX)]
        if not mine:
            return messages
        await self.handle_batch(mine)
        return [m for m in messages if not m[0].startswith(PREFIX)]

    async def handle_batch(self, messages: Messages) -> dict[str, int]:
        """Process Sparkplug messages in order; publish samples, dead letters and rebirth requests."""
        call = _Call()
        for name, payload in messages:
            try:
                self._message(call, name, payload)
            except IngestError as err:
                self._reject(call, err, name, payload)
            except _SAFETY as err:  # a bug, not the sender's fault: dead-letter, never crash
                log.warning("sparkplug ingest failed on topic %r: %r", name, err)
                self._reject(call, DecodeError(f"could not process: {err!r}"), name, payload)
        self.counts["messages"] += len(messages)
        self.counts["accepted"] += len(call.samples)
        if self._m_rejected is not None:
            self._m_messages.inc(len(messages))
        for node, why in call.rebirths:
            self._request_rebirth(node, why)
        if call.samples:
            await self.bus.publish("samples", call.samples)
        if call.letters:
            await self.bus.publish("deadletters", call.letters)
        return {"accepted": len(call.samples), "rejected": len(call.letters)}

    # -- one message --------------------------------------------------------------------------

    def _message(self, call: _Call, name: str, payload: bytes) -> None:
        try:
            t = parse_topic(name)
        except ValueError as err:
            raise DecodeError(str(err)) from None
        if t.kind in ("STATE", "NCMD", "DCMD"):
            self.counts["ignored"] += 1
            return
        if len(payload) > self._max_bytes:
            raise PayloadTooLarge(f"payload of {len(payload)} bytes is over the limit of {self._max_bytes}")
        try:
            p = decode(payload)
        except SparkplugDecodeError as err:
            raise SparkplugDecodeError(f"{t.kind} from {t.node_key}: {err}") from None
        now = self.clock.now_ns()
        key = (t.group, t.node)
        node = self._nodes.get(key)
        if t.kind == "NBIRTH":
            self._nbirth(call, t, p, payload, now)
        elif t.kind == "NDEATH":
            self._ndeath(call, t, p, node, now)
        elif node is None or not node.online:
            if node is None:  # remembered only to throttle rebirth requests; bounded
                node = _Node(t.group, t.node)
                if len(self._nodes) < MAX_NODES:
                    self._nodes[key] = node
            call.rebirths.append((node, f"{t.kind} before NBIRTH"))
            raise NoBirth(f"{t.kind} from edge node {t.node_key} before its NBIRTH: rebirth requested")
        else:
            self._check_seq(call, node, t, p)
            if t.kind == "DBIRTH":
                self._dbirth(call, node, t, p, payload, now)
            elif t.device is not None and t.device not in node.devices:
                call.rebirths.append((node, f"{t.kind} before DBIRTH of {t.device!r}"))
                raise NoBirth(f"{t.kind} from device {t.device!r} of {t.node_key} before its DBIRTH")
            elif t.kind == "DDEATH":
                node.devices.discard(t.device)  # type: ignore[arg-type]
                self._mark_stale(call, node, t.device, now)
                self.counts["deaths"] += 1
            else:
                self._data(call, node, t, p, payload, now)

    def _check_seq(self, call: _Call, node: _Node, t: SpTopic, p: Payload) -> None:
        expected = None if node.seq is None else (node.seq + 1) % 256
        if p.seq is None or p.seq > 255 or (expected is not None and p.seq != expected):
            self.counts["seq_gaps"] += 1
            call.rebirths.append((node, f"{t.kind} seq {p.seq} where {expected} was expected"))
        node.seq = p.seq if p.seq is not None and p.seq <= 255 else node.seq

    def _nbirth(self, call: _Call, t: SpTopic, p: Payload, raw: bytes, now: int) -> None:
        node = _Node(t.group, t.node, online=True, seq=p.seq)
        old = self._nodes.get((t.group, t.node))
        if old is not None:
            node.rebirth_at = old.rebirth_at
        self._nodes[(t.group, t.node)] = node
        for m in p.metrics:
            if m.name == BDSEQ:
                with contextlib.suppress(IngestError):
                    node.bd_seq = value_of(m, m.datatype or DataType.Int64)
        self._define(call, node, t, p, raw, now)
        self.counts["births"] += 1
        log.info(
            "Sparkplug edge node %s born (bdSeq %s, %d metrics)", t.node_key, node.bd_seq, len(p.metrics)
        )

    def _dbirth(self, call: _Call, node: _Node, t: SpTopic, p: Payload, raw: bytes, now: int) -> None:
        for name in [k for k in node.by_name if k[0] == t.device]:
            m = node.by_name.pop(name)
            node.by_alias = {a: x for a, x in node.by_alias.items() if x is not m}
        node.devices.add(t.device)  # type: ignore[arg-type]
        self._define(call, node, t, p, raw, now)
        self.counts["births"] += 1

    def _define(self, call: _Call, node: _Node, t: SpTopic, p: Payload, raw: bytes, now: int) -> None:
        """Register the metrics of a birth certificate and ingest their values."""
        base = self.assets.asset(t.group, t.node, t.device)
        for i, m in enumerate(p.metrics):
            if m.name is None:
                where = f"{t.kind} metric #{i} (alias {m.alias})"
                self._reject(call, DecodeError(f"{where}: a birth metric needs a name"), _name(t), raw)
                continue
            if is_control(m.name):
                continue
            asset, tag = split_metric(base, m.name)
            rule: TagRule | None = None
            error: IngestError | None = None
            try:
                rule = self.catalog.tags(asset).get(tag)
                if rule is None:
                    raise UnknownTag(f"asset {asset!r} has no tag {tag!r}")
            except IngestError as err:
                error = err
            entry = _Metric(t.device, m.name, m.datatype, asset, tag, rule, error)
            node.by_name[(t.device, m.name)] = entry
            if m.alias is not None:
                node.by_alias[m.alias] = entry
            self._stale.discard((asset, tag))
            self._value(call, entry, m, p, t, raw, now)

    def _data(self, call: _Call, node: _Node, t: SpTopic, p: Payload, raw: bytes, now: int) -> None:
        for m in p.metrics:
            entry = node.by_alias.get(m.alias) if m.alias is not None else None
            if entry is None and m.name is not None:
                entry = node.by_name.get((t.device, m.name))
            if entry is None or entry.device != t.device:
                if m.name is not None and is_control(m.name):
                    continue
                call.rebirths.append((node, "unknown alias"))
                what = f"alias {m.alias}" if m.alias is not None else f"metric {m.name!r}"
                self._reject(
                    call, UnknownAlias(f"{t.kind}: {what} is not in the birth certificate"), _name(t), raw
                )
                continue
            self._value(call, entry, m, p, t, raw, now)

    def _value(
        self, call: _Call, entry: _Metric, m: Metric, p: Payload, t: SpTopic, raw: bytes, now: int
    ) -> None:
        try:
            value = value_of(m, m.datatype if m.datatype is not None else entry.datatype)
            if value is None:
                return  # a null value: nothing measured
            if entry.error is not None:
                raise entry.error
            stamp = m.timestamp if m.timestamp is not None else p.timestamp
            ts = now if stamp is None else stamp * 1_000_000
            if ts > now + self._max_future_ns:
                raise BadTimestamp(f"timestamp {stamp} ms is {(ts - now) / 1e9:.1f} s in the future")
            rule = entry.rule
            assert rule is not None
            if rule.plain_float and type(value) is float and value - value == 0.0:  # finite float
                sample = new_sample(entry.asset, rule.name, ts, value, Quality.GOOD)
            else:
                sample = make_sample(entry.asset, rule, value, ts, Quality.GOOD)[0]
        except IngestError as err:
            self._reject(call, err, _name(t), raw, f"{t.kind} from {t.node_key}, metric {entry.name!r}")
            return
        call.samples.append(sample)
        if ts >= entry.last_ts:
            entry.last, entry.last_ts = sample.value, ts

    def _ndeath(self, call: _Call, t: SpTopic, p: Payload, node: _Node | None, now: int) -> None:
        bd: int | None = None
        for m in p.metrics:
            if m.name == BDSEQ:
                with contextlib.suppress(IngestError):
                    bd = value_of(m, m.datatype or DataType.Int64)
        if (
            node is None
            or not node.online
            or (bd is not None and node.bd_seq is not None and bd != node.bd_seq)
        ):
            self.counts["stale_deaths"] += 1
            log.info(
                "Sparkplug NDEATH of %s (bdSeq %s) is not of the current session: ignored", t.node_key, bd
            )
            return
        node.online = False
        node.devices.clear()
        self._mark_stale(call, node, ..., now)
        self.counts["deaths"] += 1
        log.info("Sparkplug edge node %s died (bdSeq %s): its tags are stale", t.node_key, bd)

    def _mark_stale(self, call: _Call, node: _Node, device: Any, now: int) -> None:
        """One stale sample per tag of the node (``device=...``: every device too) or of one device."""
        for entry in node.by_name.values():
            if device is not ... and entry.device != device:
                continue
            if entry.rule is None or entry.last is None:
                continue
            ts = max(now, entry.last_ts + 1)
            call.samples.append(Sample(entry.asset, entry.tag, ts, entry.last, self._stale_q))
            entry.last_ts = ts
            self._stale.add((entry.asset, entry.tag))

    # -- rebirth requests ---------------------------------------------------------------------

    def _request_rebirth(self, node: _Node, why: str) -> None:
        at = time.monotonic()
        if at - node.rebirth_at < self.config.rebirth_interval_s:
            return
        node.rebirth_at = at
        stamp = self.clock.now_ns() // 1_000_000
        body = encode(
            Payload([Metric(REBIRTH, datatype=DataType.Boolean, value=True, timestamp=stamp)], stamp),
            with_datatypes=True,
        )
        name = topic(node.group, "NCMD", node.node)
        if self.publish is None:
            self.counts["rebirths_unsent"] += 1
            log.warning(
                "rebirth of %s/%s needed (%s) but the host has no MQTT client", node.group, node.node, why
            )
            return
        self.publish(name, body)
        self.counts["rebirth_requests"] += 1
        if self._m_rejected is not None:
            self._m_rebirths.inc()
        log.info("requested a rebirth of Sparkplug edge node %s/%s: %s", node.group, node.node, why)

    # -- results ------------------------------------------------------------------------------

    def _reject(self, call: _Call, err: IngestError, name: str, raw: bytes, where: str = "") -> None:
        message = f"{err} ({where}; topic {name!r})" if where else f"{err} (topic {name!r})"
        if len(raw) > self._max_bytes:
            raw = raw[: self._max_bytes]
            message += f"; the dead letter keeps its first {self._max_bytes} bytes"
        call.letters.append(DeadLetter(self.clock.now_ns(), "sparkplug", name, err.reason, message, raw))
        self.counts["rejected"] += 1
        self.rejected_by_reason[err.reason] = self.rejected_by_reason.get(err.reason, 0) + 1
        if self._m_rejected is not None:
            self._m_rejected.labels(err.reason).inc()

    # -- introspection ------------------------------------------------------------------------

    def stale_tags(self) -> set[tuple[str, str]]:
        """(asset, tag) of every tag whose node or device died and was not born again."""
        return set(self._stale)

    def nodes(self) -> dict[str, dict[str, Any]]:
        """Per edge node: online, bdSeq, last seq, devices online, metrics known."""
        return {
            f"{n.group}/{n.node}": {
                "online": n.online,
                "bd_seq": n.bd_seq,
                "seq": n.seq,
                "devices": sorted(n.devices),
                "metrics": len(n.by_name),
            }
            for n in self._nodes.values()
        }

    def stats(self) -> dict[str, Any]:
        return {
            **self.counts,
            "rejected_by_reason": dict(self.rejected_by_reason),
            "nodes_online": sum(n.online for n in self._nodes.values()),
            "stale_tags": len(self._stale),
        }


def _name(t: SpTopic) -> str:
    return topic(t.group, t.kind, t.node, t.device)
