"""The edge agent: sources -> per-tag compression -> durable buffer -> uplink, plus commands and health.

Sources are one :class:`~shopfloor.edge.poller.ModbusPoller` per Modbus device, one
:class:`~shopfloor.connectors.opcua.client.OpcUaClient` per OPC UA server and, optionally, an
MQTT subscription to local smart sensors. Every value goes through its tag's compressor;
what is kept is appended to the :class:`~shopfloor.edge.buffer.Buffer` every
``buffer.flush_interval_s`` and the :class:`~shopfloor.edge.uplink.Forwarder` sends it on.
See ``docs/edge.md``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import msgspec

from ..connectors.opcua.config import OpcUaNode
from ..core.errors import BrokerError, IngestError, StoreError
from . import compression
from .buffer import Buffer
from .commands import Executor, Target
from .config import EdgeConfig
from .health import Health
from .poller import ModbusPoller
from .uplink import Forwarder, Uplink

log = logging.getLogger(__name__)
_ENC = msgspec.json.Encoder()

Row = tuple[str, str, int, Any, int]


class EdgeAgent:
    """``await start()``, run until stopped, ``await stop()`` (flushes what it holds)."""

    def __init__(self, config: EdgeConfig) -> None:
        self.config = config
        cfg = config
        self.root = cfg.uplink.topic_root.rstrip("/")
        self.health = Health(cfg.agent_id)
        self.buffer = Buffer(cfg.buffer.path, cfg.buffer.max_bytes, cfg.buffer.fsync)
        status = f"{self.root}/edge/{cfg.agent_id}/status"
        self.status_topic = status
        self.pollers = [
            ModbusPoller(d, self.submit, self.health.connector(d.name, "modbus")) for d in cfg.modbus
        ]
        self.opcua: list[Any] = []
        if cfg.opcua:  # asyncua costs ~30 MB of memory: only loaded when a server is configured
            from ..connectors.opcua.client import OpcUaClient

            self.opcua = [
                OpcUaClient(s, self._opcua_values, self._state_cb(s.name, "opcua")) for s in cfg.opcua
            ]
        for s in cfg.opcua:
            self.health.connector(s.name, "opcua")
        targets: dict[tuple[str, str], Target] = {}
        for p in self.pollers:
            targets.update({r.key: p for r in p.device.registers if r.writable})
        for c in self.opcua:
            targets.update({n.key: c for n in c.config.nodes if n.writable})
        self.executor = Executor(cfg.commands, targets, self.latest, self._publish_result)
        subs = (
            [f"{self.root}/cmd/{a}/set" for a in sorted(self.executor.assets())]
            if cfg.commands.enabled
            else []
        )
        self.link: Any = None  # the Sparkplug edge node, when uplink.format = "sparkplug"
        will: Any = (status, _ENC.encode({"agent": cfg.agent_id, "state": "offline"}))
        if cfg.uplink.format == "sparkplug":
            from .sparkplug import SparkplugLink, sparkplug_ids

            group = cfg.uplink.sparkplug_group or ""
            for asset, tag in [r.key for d in cfg.modbus for r in d.registers] + [
                n.key for sv in cfg.opcua for n in sv.nodes
            ]:
                sparkplug_ids(group, cfg.agent_id, asset, tag)  # fails at start, naming the asset
            subs += [f"spBv1.0/{group}/NCMD/{cfg.agent_id}", f"spBv1.0/{group}/DCMD/{cfg.agent_id}/#"]
            will = lambda: self.link.will()  # noqa: E731 - a new NDEATH (bdSeq) per connection
        self.uplink = Uplink(
            cfg.uplink,
            cfg.agent_id,
            self.health.connector("uplink", "mqtt"),
            subs,
            self._on_command,
            will,
            will_retain=cfg.uplink.format == "json",
        )
        if cfg.uplink.format == "sparkplug":
            self.link = SparkplugLink(self.buffer, self.uplink, group, cfg.agent_id, cfg.uplink.batch_rows)
            for d in cfg.modbus:  # Modbus values are numbers: born with the node
                for r in d.registers:
                    self.link.define(r.asset, r.tag, 0.0)
        self.forwarder: Any = None
        self.sensors: Any = None
        self._latest: dict[tuple[str, str], Any] = {}
        self._comps: dict[tuple[str, str], Any] = {}
        self._pending: list[Row] = []
        self._tasks: list[asyncio.Task[Any]] = []
        self._metrics_server: Any = None
        self.offered = 0
        self.kept = 0
        self.health.sections["buffer"] = self.buffer.stats
        self.health.sections["compression"] = self._compression_stats
        self.health.sections["commands"] = lambda: dict(self.executor.counts)
        self.health.sections["forwarder"] = lambda: self.forwarder.stats() if self.forwarder else {}

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        cfg = self.config
        await asyncio.to_thread(self.buffer.open)
        epoch = await asyncio.to_thread(self.buffer.epoch)
        self.forwarder = self.link or Forwarder(self.buffer, self.uplink, cfg.agent_id, epoch)
        await self.uplink.start()
        await self.forwarder.start()
        for p in self.pollers:
            await p.start()
        for c in self.opcua:
            await c.start()
        if cfg.mqtt is not None:
            from ..connectors.mqtt.client import MqttSource
            from ..connectors.mqtt.config import MqttSourceConfig

            m = cfg.mqtt
            health = self.health.connector("sensors", "mqtt")
            self.sensors = MqttSource(
                MqttSourceConfig(
                    host=m.host,
                    port=m.port,
                    topics=m.topics,
                    client_id=f"shopfloor-edge-{cfg.agent_id}-sensors",
                ),
                self._sensor_batch,
            )
            try:
                await self.sensors.start()
                health.ok()
            except BrokerError as err:
                health.fail(str(err))
                log.warning("local MQTT sensors: %s", err)
                self.sensors = None
        self._tasks.append(asyncio.create_task(self._flush_loop(), name="edge-flush"))
        self._tasks.append(asyncio.create_task(self._health_loop(), name="edge-health"))
        if cfg.health.metrics_port is not None:
            from prometheus_client import start_http_server

            self._metrics_server = start_http_server(
                cfg.health.metrics_port, cfg.health.metrics_host, registry=self.health.registry
            )
        log.info(
            "edge agent %s: %d Modbus devices, %d OPC UA servers, buffer %s",
            cfg.agent_id,
            len(self.pollers),
            len(self.opcua),
            cfg.buffer.path,
        )

    async def stop(self, drain_s: float = 2.0) -> None:
        """Stop the sources, keep what compressors hold back, try to drain, close the buffer."""
        if self.sensors is not None:
            await _bounded(self.sensors.stop(), "MQTT sensors")
        for p in self.pollers:
            await _bounded(p.stop(), f"Modbus poller {p.device.name}")
        for c in self.opcua:
            await _bounded(c.stop(), "OPC UA client")
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(task, STOP_STEP_S)
        self._tasks = []
        for (asset, tag), comp in self._comps.items():
            for ts, v in comp.flush():
                self._pending.append((asset, tag, ts, v, 192))
        await self._flush()
        deadline = time.monotonic() + drain_s
        while self.uplink.connected.is_set() and time.monotonic() < deadline:
            if (await asyncio.to_thread(self.buffer.stats))["depth"] == 0:
                break
            await asyncio.sleep(0.05)
        if self.forwarder is not None:
            await _bounded(self.forwarder.stop(), "forwarder")
        self.publish_health()  # the final counters, if the uplink is up
        await _bounded(self.uplink.stop(), "uplink")
        if self._metrics_server is not None:
            server = self._metrics_server[0] if isinstance(self._metrics_server, tuple) else None
            if server is not None:
                server.shutdown()
        await asyncio.to_thread(self.buffer.close)

    # -- data path ----------------------------------------------------------------------------

    def submit(self, rows: list[Row]) -> None:
        """Values from a source: compress per tag and queue what is kept for the buffer."""
        pending = self._pending
        latest = self._latest
        self.offered += len(rows)
        for asset, tag, ts, value, q in rows:
            key = (asset, tag)
            latest[key] = value
            comp = self._comps.get(key)
            if comp is None:
                rule = self.config.rule(asset, tag)
                comp = self._comps[key] = compression.make(rule.method, rule.deviation, rule.max_interval_s)
            if q != 192:  # quality changes are never compressed away
                for ts0, v0 in comp.flush():
                    pending.append((asset, tag, ts0, v0, 192))
                pending.append((asset, tag, ts, value, q))
                continue
            for ts1, v1 in comp.offer(ts, value):
                pending.append((asset, tag, ts1, v1, q))

    def latest(self, asset: str, tag: str) -> Any:
        return self._latest.get((asset, tag))

    def _opcua_values(self, batch: list[tuple[OpcUaNode, int, Any, int]]) -> None:
        rows: list[Row] = []
        for node, ts, value, q in batch:
            if value is None:
                self.health.count("unsupported_values")
                continue
            rows.append((node.asset, node.tag, ts, value, q))
        self.submit(rows)

    async def _sensor_batch(self, messages: list[tuple[str, bytes]]) -> None:
        from ..ingest.decode import decode_points, parse_topic
        from ..ingest.validate import parse_quality, parse_time

        rows: list[Row] = []
        now = time.time_ns()
        root = self.config.mqtt.topic_root if self.config.mqtt else self.root
        for topic, payload in messages:
            try:
                route = parse_topic(topic, root)
                if route.kind == "ignore":
                    continue
                if route.kind == "tag":
                    rows.append((route.asset, route.tag or "", now, msgspec.json.decode(payload), 192))
                    continue
                items, _ = decode_points(payload)
                for item in items:
                    if isinstance(item, IngestError):
                        raise item
                    ts = parse_time(item.ts, now, 60_000_000_000)
                    q = int(parse_quality(item.q))
                    values = item.values if isinstance(item.values, dict) else {item.tag: item.value}
                    rows.extend((route.asset, str(t), ts, v, q) for t, v in values.items())
            except (IngestError, msgspec.DecodeError, ValueError, TypeError) as err:
                sensors = self.health.connector("sensors", "mqtt")  # a bad payload, not a broken link
                sensors.last_error = f"topic {topic!r}: {err}"
                sensors.count("rejected")
                self.health.count("sensor_rejected")
                log.warning("local sensor message rejected on %r: %s", topic, err)
        if rows:
            self.submit(rows)

    async def _flush(self) -> None:
        rows, self._pending = self._pending, []
        if not rows:
            return
        try:
            await asyncio.to_thread(self.buffer.append, rows)
        except StoreError as err:  # disk full, I/O error: keep the rows in memory and retry
            self._pending[:0] = rows
            self.health.count("buffer_errors")
            if "buffer_error" not in self.health.alarms:
                log.error("edge buffer append failed, holding %d rows in memory: %s", len(self._pending), err)
            self.health.alarms["buffer_error"] = str(err)
            return
        self.health.alarms.pop("buffer_error", None)
        self.kept += len(rows)
        if self.buffer.full:
            self.health.alarms["buffer_full"] = "store-and-forward buffer full: oldest data is being thinned"
        else:
            self.health.alarms.pop("buffer_full", None)
        if self.forwarder is not None:
            self.forwarder.kick()

    async def _flush_loop(self) -> None:
        every = self.config.buffer.flush_interval_s
        while True:
            await asyncio.sleep(every)
            await self._flush()

    # -- health and commands ------------------------------------------------------------------

    def _compression_stats(self) -> dict[str, Any]:
        return {
            "offered": self.offered,
            "kept": self.kept,
            "ratio": round(self.offered / self.kept, 3) if self.kept else None,
        }

    def _state_cb(self, name: str, kind: str) -> Any:
        def cb(state: str, error: str | None) -> None:
            h = self.health.connector(name, kind)
            if state == "connected":
                h.ok()
            elif state == "unavailable":
                h.fail(error or "unavailable")

        return cb

    async def _health_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.health.interval_s)
            self.publish_health()

    def publish_health(self) -> bool:
        try:
            self.uplink.publish(self.status_topic, _ENC.encode(self.health.snapshot()), qos=0, retain=True)
        except BrokerError:
            return False
        return True

    def _on_command(self, topic: str, payload: bytes) -> None:
        if self.link is not None and topic.startswith("spBv1.0/"):
            self.link.on_message(topic, payload)
            return
        prefix = f"{self.root}/cmd/"
        if not (topic.startswith(prefix) and topic.endswith("/set")):
            return
        asset = topic[len(prefix) : -len("/set")]
        task = asyncio.get_running_loop().create_task(self.executor.handle(asset, payload))
        self._tasks.append(task)
        task.add_done_callback(lambda t: self._tasks.remove(t) if t in self._tasks else None)

    def _publish_result(self, asset: str, result: dict[str, Any]) -> None:
        try:
            self.uplink.publish(
                f"{self.root}/{asset}/event", _ENC.encode({**result, "agent": self.config.agent_id})
            )
        except BrokerError as err:
            log.warning("command result for %s not published: %s", asset, err)


STOP_STEP_S = 10.0


async def _bounded(aw: Any, what: str) -> None:
    """Await one stop step, but never for ever: a step that hangs is logged and left behind."""
    try:
        await asyncio.wait_for(aw, STOP_STEP_S)
    except TimeoutError:
        log.error("edge agent stop: %s did not stop within %.0f s; going on", what, STOP_STEP_S)
