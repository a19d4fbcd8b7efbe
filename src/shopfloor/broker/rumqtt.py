"""The embedded MQTT broker on rumqttd (Rust, via the ``iotcore`` wheel), MQTT 3.1.1 and 5.

Devices connect over TCP as to any broker. The broker is rumqttd compiled into the
``iotcore`` wheel; ``iotcore.Broker`` runs it in a **child process** (rumqttd has no
shutdown API, so a process is what can be stopped and its port released; the child exits by
itself when this process goes away). Its work therefore runs on native threads outside this
process's GIL and event loop, and the platform receives messages as from an external broker:
one subscriber on ``<topic_root>/#`` at QoS 1 hands them to ``on_batch([(topic, payload), ...])``
(or ``on_message(topic, payload)``), in arrival order per publisher. The subscriber is
:class:`NativeSource` (default: :class:`shopfloor.connectors.mqtt.client.MqttSource` with
iotcore's Rust client in place of paho) or ``subscriber="paho"`` (``MqttSource`` itself).

Measured side by side on the 2-core dev machine (``bench.ingest.run(broker="compare")``, 10 s
phases, two runs, the machine shared): single-value messages 11.5-12.5k msg/s stored vs amqtt's
2.3-3.6k at half the CPU; 100-value messages 147-177k vs 129-159k points/s at 0.6-0.7 vs
0.9-1.0 of a core; at the same offered load (70k points/s) p99 publish-to-stored 79-87 ms vs
218-236 ms; sent == stored throughout. With the paho
subscriber rumqttd was no faster than amqtt on single values (2.3k msg/s): paho costs a
``select`` and several ``recv`` of GIL time per message in this process.

Port 0 picks a free port: rumqttd cannot report the port it bound, so one is chosen here
(bind, read, close) and the broker is started on it, retried if another process took it in
between. With the native subscriber the broker takes MQTT packets up to 10 KiB (topic +
payload + 4 bytes; see :class:`NativeSource`): rumqttd disconnects a client that publishes a
larger one, and ingest never sees it (no dead letter). Demo mode: anonymous clients are
allowed and the broker is not secured. rumqttd's own tracing (an ERROR record per packet) is
silenced in the child; nothing goes to stdout.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from ..connectors.mqtt.client import MqttSource
from ..connectors.mqtt.config import MqttSourceConfig
from ..core.errors import BrokerError
from .base import EmbeddedBrokerBase

log = logging.getLogger(__name__)

OnMessage = Callable[[str, bytes], Awaitable[Any]]
OnBatch = Callable[[list[tuple[str, bytes]]], Awaitable[Any]]
FREE_PORT_TRIES = 5
DEFAULT_MAX_CONNECTIONS = 10_000
DRAIN_QUIET_S = 0.05  # on stop: the subscriber is drained once nothing arrived for this long
DRAIN_MAX_S = 2.0
Subscriber = Literal["native", "paho"]
NATIVE_MAX_PACKET = 10 * 1024  # iotcore's client (rumqttc) refuses larger incoming packets
PAHO_MAX_PACKET = 1 << 20


class NativeSource(MqttSource):
    """:class:`MqttSource` with iotcore's native client (rumqttc, Rust) instead of paho.

    Only the network side differs: rumqttc reads and parses MQTT on its own thread without
    the GIL and calls :meth:`_on_native` once per message (a few µs); batching, the hand-over
    to the event loop, back-pressure (``max_pending``), ``stop`` and ``stats`` are
    :class:`MqttSource`'s. paho's receive path costs tens of µs of GIL time per message
    (a ``select`` and several ``recv`` per packet), which made it slower than amqtt's hook.

    iotcore's client accepts packets of at most ``NATIVE_MAX_PACKET`` bytes (topic + payload
    + 4; rumqttc's default, not configurable through iotcore): a larger one drops its
    connection and it does not subscribe again. :class:`RumqttBroker` therefore caps the
    broker at that size, so rumqttd refuses a larger publish (it disconnects the publisher)
    before it reaches this client.

    ``start`` returns once the subscription is live: a probe published by the client on
    ``<first topic's root>/$probe/<id>`` has come back (and is not handed to ingest).
    """

    _native: Any = None

    async def start(self, timeout_s: float = 10.0) -> None:
        """Connect and subscribe; :class:`BrokerError` if no probe comes back within ``timeout_s``."""
        from iotcore import IotCoreRs

        self._loop = asyncio.get_running_loop()
        cfg = self.config
        root = cfg.topics[0].rstrip("#").rstrip("/")
        self._probe = f"{root}/$probe/{uuid.uuid4().hex}"
        native = IotCoreRs(cfg.host, cfg.port, self._on_native, cfg.client_id, cfg.keepalive_s)
        for topic in cfg.topics:
            native.subscribe(topic, cfg.qos)
        native.begin_subscription()
        self._native = native
        self._task = asyncio.create_task(self._consume(), name="mqtt-source-native")
        deadline = time.monotonic() + timeout_s
        while not self._connected.is_set():
            if time.monotonic() > deadline:
                await self.stop()
                raise BrokerError(
                    f"MQTT broker {cfg.host}:{cfg.port} did not deliver to the ingest subscriber "
                    f"within {timeout_s:g} s"
                )
            native.publish(self._probe, b"", 1, False)
            try:
                await asyncio.wait_for(self._connected.wait(), 0.2)
            except TimeoutError:
                continue
        self.connects += 1
        log.info("subscribed to %s on %s:%d (native client)", ", ".join(cfg.topics), cfg.host, cfg.port)

    async def stop(self) -> None:
        """Disconnect the native client, then hand what was received to ingest."""
        self._stopping = True
        native, self._native = self._native, None
        if native is not None:
            native.disconnect()
        await super().stop()

    def _on_native(self, topic: str, payload: bytes) -> None:
        """Called on rumqttc's thread for every message (mirrors ``MqttSource._on_message``)."""
        if topic == self._probe:
            if self._loop is not None:
                self._loop.call_soon_threadsafe(self._connected.set)
            return
        with self._lock:
            while self._outstanding() >= self.config.max_pending and not self._stopping:
                self._waiting = True
                self._room.wait(0.5)
            self._pending.append((topic, payload))
            self.received += 1
            if self._scheduled or self._loop is None:
                return
            self._scheduled = True
        self._loop.call_soon_threadsafe(self._drain)


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _connect_host(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "", "::") else host


class RumqttBroker(EmbeddedBrokerBase):
    """rumqttd in a child process plus an in-process subscriber feeding ingest.

    Mirrors :class:`shopfloor.broker.embedded.EmbeddedBroker`: ``start``/``stop``, ``port``
    (the chosen one when started with ``port=0``), ``url``, ``stats`` and ``async with``.
    Without ``on_message``/``on_batch`` it is a plain broker (no subscriber of its own).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 1884,
        on_message: OnMessage | None = None,
        *,
        on_batch: OnBatch | None = None,
        max_connections: int = 0,
        topic_root: str = "shopfloor/v1",
        qos: int = 1,
        client_id: str = "shopfloor-ingest-embedded",
        max_packet_bytes: int | None = None,
        max_pending: int = 50_000,
        subscriber: Subscriber = "native",
    ) -> None:
        """``max_packet_bytes``: largest MQTT PUBLISH the broker takes (remaining length: topic +
        payload + 4), larger ones disconnect their publisher; default and maximum 10 KiB with the
        native subscriber, default 1 MiB with paho."""
        if on_message is not None and on_batch is not None:
            raise BrokerError("give on_message or on_batch, not both")
        self.host = host
        self._requested_port = port
        self._port: int | None = None
        self._max_connections = max_connections or DEFAULT_MAX_CONNECTIONS
        native = subscriber == "native" and (on_message is not None or on_batch is not None)
        limit = NATIVE_MAX_PACKET if native else PAHO_MAX_PACKET
        if max_packet_bytes is not None and native and max_packet_bytes > limit:
            raise BrokerError(
                f"the native ingest subscriber takes MQTT packets up to {limit} bytes, not "
                f"{max_packet_bytes}; use subscriber='paho' (or the amqtt broker) for larger ones"
            )
        self._max_packet_bytes = max_packet_bytes or limit
        self._topic_root = topic_root.rstrip("/")
        self._qos = qos
        self._client_id = client_id
        self._max_pending = max_pending
        self._subscriber = subscriber
        self._on_message = on_message
        self._on_batch = on_batch
        self._broker: Any = None  # iotcore.Broker
        self._source: MqttSource | None = None
        self._last_source: MqttSource | None = None  # kept for stats() after stop()

    async def start(self, timeout_s: float = 10.0) -> None:
        """Start rumqttd and (with a handler) the subscriber; :class:`BrokerError` names a taken port."""
        if self._broker is not None:
            return
        _quiet_iotcore()
        broker, port = await self._start_broker(timeout_s)
        self._broker, self._port = broker, port
        if self._on_batch is not None or self._on_message is not None:
            config = MqttSourceConfig(  # type: ignore[call-arg]
                host=_connect_host(self.host),
                port=port,
                client_id=self._client_id,
                topics=[f"{self._topic_root}/#"],
                qos=self._qos,
                max_pending=self._max_pending,
            )
            source_cls = NativeSource if self._subscriber == "native" else MqttSource
            source = source_cls(config, self._on_batch or self._per_message)
            try:
                await source.start(timeout_s)
            except BrokerError:
                await self._stop_broker()
                raise
            self._source = self._last_source = source
        log.debug("embedded MQTT broker (rumqttd) listening on %s:%d", self.host, port)

    async def _start_broker(self, timeout_s: float) -> tuple[Any, int]:
        try:
            from iotcore import Broker
        except ImportError as err:  # pragma: no cover - iotcore is a main dependency
            raise BrokerError(
                "mqtt.broker 'rumqttd' needs the iotcore package (pip install iotcore)"
            ) from err
        tries = FREE_PORT_TRIES if self._requested_port == 0 else 1
        for attempt in range(tries):
            port = self._requested_port or _free_port(self.host)
            broker = Broker(
                port=port,
                listen=self.host,
                max_connections=self._max_connections,
                max_payload_size=self._max_packet_bytes,
            )
            try:
                await asyncio.to_thread(broker.start, timeout_s)
            except OSError as err:
                in_use = "in use" in str(err).lower() or getattr(err, "errno", None) == 98
                if in_use and attempt + 1 < tries:
                    continue  # port 0: another process took the free port in between
                if in_use:
                    raise BrokerError(
                        f"MQTT port {port} on {self.host} is already in use: stop what holds it "
                        f"or set mqtt.port (SHOPFLOOR_MQTT__PORT) to another port, 0 for any free one"
                    ) from err
                raise BrokerError(
                    f"embedded MQTT broker could not start on {self.host}:{port}: {err}"
                ) from err
            except RuntimeError as err:
                raise BrokerError(
                    f"embedded MQTT broker (rumqttd) could not start on {self.host}:{port}: {err}"
                ) from err
            return broker, port
        raise BrokerError(f"no free MQTT port found on {self.host}")  # pragma: no cover

    async def _per_message(self, batch: list[tuple[str, bytes]]) -> None:
        assert self._on_message is not None
        for topic, payload in batch:
            await self._on_message(topic, payload)

    async def stop(self) -> None:
        """Hand what the subscriber received to ingest, then stop the broker and free its port.

        The subscriber is drained first: it is stopped once nothing has arrived for
        ``DRAIN_QUIET_S`` (at most ``DRAIN_MAX_S``), so messages the broker already accepted
        reach ingest rather than dying with the broker process.
        """
        source, self._source = self._source, None
        if source is not None:
            deadline = time.monotonic() + DRAIN_MAX_S
            last = -1
            while time.monotonic() < deadline and source.received != last:
                last = source.received
                await asyncio.sleep(DRAIN_QUIET_S)
            await source.stop()
        await self._stop_broker()

    async def _stop_broker(self) -> None:
        broker, self._broker = self._broker, None
        if broker is not None:
            await asyncio.to_thread(broker.stop)

    def stats(self) -> dict[str, Any]:
        """Same keys as :meth:`EmbeddedBroker.stats`; ``sessions`` is unknown (None) for rumqttd."""
        src = self._last_source.stats() if self._last_source is not None else {}
        return {
            "port": self._port,
            "sessions": None,
            "received": src.get("received", 0),
            "handler_failures": src.get("failed", 0),
            "queued": src.get("pending", 0),
            "broker": "rumqttd",
            "subscriber": self._subscriber,
            "running": bool(self._broker is not None and self._broker.is_running),
        }


def _quiet_iotcore() -> None:
    """iotcore logs each start/stop at INFO; raise it to WARNING unless the app configured it."""
    logger = logging.getLogger("iotcore")
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.WARNING)
