"""A Sparkplug B edge node as a pure object: it makes ``(topic, payload bytes)`` pairs, no I/O.

The caller owns the MQTT client (the edge agent, a test, a simulator). API (kept stable)::

    from shopfloor.connectors.sparkplug.codec import DataType
    from shopfloor.connectors.sparkplug.node import EdgeNode

    node = EdgeNode("riverside.converting", "line1")          # group id, edge node id
    node.define("uptime_s", DataType.Int64)                   # a node metric
    node.define("cutting_force", DataType.Double, device="cutter", value=0.0)   # a device metric
    topic, payload = node.will()        # NDEATH with a new bdSeq: set it as the MQTT will
                                        # (QoS 1, not retained) before EVERY connect
    for topic, payload in node.birth(): # once connected: NBIRTH (seq 0) then one DBIRTH per device
        client.publish(topic, payload, qos=0)
    topic, payload = node.data({"cutting_force": 812.5}, device="cutter")   # DDATA, aliases only
    topic, payload = node.data({"uptime_s": 10}, ts_ms=1_700_000_000_000)   # NDATA
    cmd = node.command(topic, payload)  # an NCMD/DCMD received for this node (subscribe to
                                        # spBv1.0/<group>/NCMD/<node> and .../DCMD/<node>/#)
    for topic, payload in cmd.replies:  # "Node Control/Rebirth" = true -> a fresh NBIRTH + DBIRTHs
        client.publish(topic, payload)
    cmd.writes                          # {metric name: value} the platform asked to write
    topic, payload = node.device_death("cutter")   # DDEATH (device went away)
    topic, payload = node.death()       # the NDEATH to publish before a clean disconnect

Rules it keeps: aliases are assigned at ``define`` (1, 2, ... unique across the node and its
devices) and births carry name, alias, datatype and current value of every metric; data messages
carry alias, value and timestamp only. ``seq`` is 0 in NBIRTH and counts 0-255 (wrapping) over
every later message of the session (DBIRTH, NDATA, DDATA, DDEATH); NDEATH has no seq. ``bdSeq``
(0-255) goes up by one at every :meth:`EdgeNode.will` and the NBIRTH that follows carries the
same value, so a host can tell a stale will from a current one. ``data`` remembers values, so a
rebirth reports current values. Defining a metric after a birth sets ``needs_rebirth``: publish
``birth()`` again. ``data(..., historical=True)`` marks store-and-forward values as historical.
Errors: :class:`UndefinedMetric` for a name never defined, :class:`NotBorn` for data before a
birth, :class:`~.codec.SparkplugValueError` for a value that does not fit its datatype,
:class:`~.codec.SparkplugDecodeError` for a command payload that is not Sparkplug B.

>>> node = EdgeNode("g", "n", clock_ms=lambda: 1000)
>>> node.define("temp", DataType.Double, device="d1")
1
>>> node.will()[0], [t for t, _ in node.birth()]
('spBv1.0/g/NDEATH/n', ['spBv1.0/g/NBIRTH/n', 'spBv1.0/g/DBIRTH/n/d1'])
>>> t, p = node.data({"temp": 21.5}, device="d1")
>>> t, decode(p).seq, decode(p).metrics[0].alias, decode(p).metrics[0].name
('spBv1.0/g/DDATA/n/d1', 2, 1, None)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ...core.clock import WallClock
from ...core.errors import ConnectorError, IngestError
from .codec import DataType, Metric, Payload, SparkplugDecodeError, decode, encode, value_of
from .converter import BDSEQ, REBIRTH, parse_topic, topic

Message = tuple[str, bytes]


class UndefinedMetric(ConnectorError):
    """``data`` or a command named a metric that was never defined for that node or device."""


class NotBorn(ConnectorError):
    """Data before :meth:`EdgeNode.birth` (after each :meth:`EdgeNode.will`)."""


@dataclass(slots=True)
class _Def:
    name: str
    alias: int
    datatype: DataType
    value: Any = None
    ts: int | None = None


@dataclass(slots=True)
class Command:
    """What one NCMD/DCMD asked for: ``rebirth`` (with ``replies`` to publish) and ``writes``."""

    device: str | None
    rebirth: bool = False
    writes: dict[str, Any] = field(default_factory=dict)
    replies: list[Message] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    """Metrics of the command that could not be understood (unknown name or alias, bad value)."""


def _now_ms() -> int:
    return WallClock().now_ns() // 1_000_000


class EdgeNode:
    """One Sparkplug B edge node and its devices; see the module docstring for the API."""

    def __init__(self, group: str, node: str, *, clock_ms: Callable[[], int] = _now_ms) -> None:
        for what, value in (("group id", group), ("edge node id", node)):
            if not value or any(c in value for c in "/+#"):
                raise ValueError(f"Sparkplug {what} {value!r} must be non-empty without '/', '+', '#'")
        self.group = group
        self.node = node
        self.clock_ms = clock_ms
        self.bd_seq = -1
        """bdSeq of the current session (-1 before the first :meth:`will`)."""
        self.seq = 0
        """seq the next message will carry."""
        self.born = False
        self.needs_rebirth = False
        self._defs: dict[str | None, dict[str, _Def]] = {None: {}}
        self._by_alias: dict[int, tuple[str | None, _Def]] = {}
        self._next_alias = 1

    # -- definitions --------------------------------------------------------------------------

    def define(self, name: str, datatype: DataType, *, device: str | None = None, value: Any = None) -> int:
        """Declare a metric (of the node, or of ``device``); returns its alias."""
        if device is not None and (not device or any(c in device for c in "/+#")):
            raise ValueError(f"Sparkplug device id {device!r} must be non-empty without '/', '+', '#'")
        metrics = self._defs.setdefault(device, {})
        if name in metrics:
            raise ValueError(f"metric {name!r} is already defined for {self._where(device)}")
        d = _Def(name, self._next_alias, DataType(datatype), value)
        if value is not None:
            encode(Payload([Metric(name, datatype=d.datatype, value=value)]))  # checks the value fits
        metrics[name] = d
        self._by_alias[d.alias] = (device, d)
        self._next_alias += 1
        if self.born:
            self.needs_rebirth = True
        return d.alias

    @property
    def devices(self) -> list[str]:
        return [d for d in self._defs if d is not None]

    # -- session ------------------------------------------------------------------------------

    def will(self) -> Message:
        """Start a session: the NDEATH (new bdSeq) to set as the MQTT will before connecting."""
        self.bd_seq = (self.bd_seq + 1) % 256
        self.born = False
        return self._ndeath()

    def death(self) -> Message:
        """The NDEATH of the current session, to publish before a clean disconnect."""
        if self.bd_seq < 0:
            raise NotBorn(f"{self._where(None)}: call will() before death()")
        self.born = False
        return self._ndeath()

    def _ndeath(self) -> Message:
        payload = Payload([Metric(BDSEQ, datatype=DataType.Int64, value=self.bd_seq)], self.clock_ms())
        return topic(self.group, "NDEATH", self.node), encode(payload)

    def birth(self) -> list[Message]:
        """NBIRTH (seq 0, bdSeq, Node Control/Rebirth, every node metric) then a DBIRTH per device."""
        if self.bd_seq < 0:
            self.will()  # callers should set the will first; keep bdSeq consistent anyway
        now = self.clock_ms()
        self.seq = 0
        node_metrics = [
            Metric(BDSEQ, datatype=DataType.Int64, value=self.bd_seq, timestamp=now),
            Metric(REBIRTH, datatype=DataType.Boolean, value=False, timestamp=now),
            *self._definitions(None, now),
        ]
        out = [(topic(self.group, "NBIRTH", self.node), encode(Payload(node_metrics, now, self._seq())))]
        for device in self.devices:
            metrics = self._definitions(device, now)
            out.append(
                (topic(self.group, "DBIRTH", self.node, device), encode(Payload(metrics, now, self._seq())))
            )
        self.born = True
        self.needs_rebirth = False
        return out

    def _definitions(self, device: str | None, now: int) -> list[Metric]:
        return [
            Metric(d.name, d.alias, d.datatype, d.value, d.ts if d.ts is not None else now)
            for d in self._defs.get(device, {}).values()
        ]

    def device_death(self, device: str) -> Message:
        """DDEATH of ``device`` (its metrics are stale at the host until the next DBIRTH)."""
        if device not in self._defs:
            raise UndefinedMetric(f"{self._where(device)} is not defined")
        self._need_birth()
        payload = Payload([], self.clock_ms(), self._seq())
        return topic(self.group, "DDEATH", self.node, device), encode(payload)

    # -- data ---------------------------------------------------------------------------------

    def data(
        self,
        values: Mapping[str, Any] | Iterable[tuple[str, Any, int]],
        *,
        device: str | None = None,
        ts_ms: int | None = None,
        historical: bool = False,
    ) -> Message:
        """NDATA (or DDATA for ``device``) with the given values, by alias.

        ``values`` is ``{name: value}`` (all at ``ts_ms``, default now) or an iterable of
        ``(name, value, ts_ms)``. ``historical=True`` marks store-and-forward values.
        """
        self._need_birth()
        defs = self._defs.get(device)
        if defs is None:
            raise UndefinedMetric(f"{self._where(device)} has no metrics defined")
        now = self.clock_ms()
        stamp = ts_ms if ts_ms is not None else now
        items: Iterable[tuple[str, Any, int]] = (
            ((k, v, stamp) for k, v in values.items()) if isinstance(values, Mapping) else values
        )
        metrics = []
        for name, value, ts in items:
            d = defs.get(name)
            if d is None:
                raise UndefinedMetric(f"{self._where(device)} has no metric {name!r}")
            metrics.append(Metric(alias=d.alias, datatype=d.datatype, value=value, timestamp=ts))
            metrics[-1].is_historical = historical
        body = encode(Payload(metrics, now, self.seq), with_datatypes=False)  # checks values first
        self._seq()
        for m in metrics:
            d = self._by_alias[m.alias][1]  # type: ignore[index]
            if d.ts is None or m.timestamp >= d.ts:  # type: ignore[operator]
                d.value, d.ts = m.value, m.timestamp
        kind = "NDATA" if device is None else "DDATA"
        return topic(self.group, kind, self.node, device), body

    # -- commands -----------------------------------------------------------------------------

    def command(self, name: str, payload: bytes) -> Command:
        """Read an NCMD/DCMD for this node; a rebirth request fills ``replies`` with fresh births."""
        try:
            t = parse_topic(name)
        except ValueError as err:
            raise SparkplugDecodeError(str(err)) from None
        if t.kind not in ("NCMD", "DCMD") or t.group != self.group or t.node != self.node:
            raise SparkplugDecodeError(f"topic {name!r} is not a command for {self._where(None)}")
        body = decode(payload)
        cmd = Command(t.device)
        defs = self._defs.get(t.device, {})
        for m in body.metrics:
            if t.device is None and m.name == REBIRTH:
                try:
                    cmd.rebirth = cmd.rebirth or value_of(m, m.datatype or DataType.Boolean) is True
                except IngestError as err:
                    cmd.errors.append(f"{REBIRTH}: {err}")
                continue
            d = defs.get(m.name) if m.name is not None else None
            if d is None and m.alias is not None:
                hit = self._by_alias.get(m.alias)
                d = hit[1] if hit is not None and hit[0] == t.device else None
            if d is None:
                cmd.errors.append(f"{self._where(t.device)} has no metric {m.name or m.alias!r}")
                continue
            try:
                cmd.writes[d.name] = value_of(m, d.datatype)
            except IngestError as err:
                cmd.errors.append(str(err))
        if cmd.rebirth:
            cmd.replies = self.birth()
        return cmd

    # -- helpers ------------------------------------------------------------------------------

    def _seq(self) -> int:
        seq = self.seq
        self.seq = (seq + 1) % 256
        return seq

    def _need_birth(self) -> None:
        if not self.born:
            raise NotBorn(f"{self._where(None)}: publish birth() after will() before sending data")

    def _where(self, device: str | None) -> str:
        base = f"edge node {self.group}/{self.node}"
        return base if device is None else f"{base} device {device!r}"
