"""MQTT ingest source for an external broker (used when ``mqtt.embedded`` is false).

paho-mqtt runs its own network thread; received messages are collected there and handed to
the event loop in batches with ``loop.call_soon_threadsafe`` (one wake-up per batch, not per
message), where one task awaits ``on_batch([(topic, payload), ...])``, typically
:meth:`shopfloor.ingest.pipeline.Pipeline.handle_mqtt_batch`. If ingest falls behind by more
than ``max_pending`` messages the network thread waits, so TCP flow control holds back the
broker instead of memory growing.

This is the only module that imports paho.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from ...core.errors import BrokerError
from .config import MqttSourceConfig
from .converter import SYS_COUNTERS, broker_counter

log = logging.getLogger(__name__)

OnBatch = Callable[[list[tuple[str, bytes]]], Awaitable[Any]]
OnDrop = Callable[[int, int], Any]  # (newly dropped, broker total)
MAX_BATCH = 1_000
RETAINED_GRACE_S = 2.0


class MqttSource:
    """Subscribe to an MQTT broker and feed ingest; ``await start()``, ``await stop()``."""

    def __init__(self, config: MqttSourceConfig, on_batch: OnBatch, on_drop: OnDrop | None = None) -> None:
        self.config = config
        self.on_batch = on_batch
        self.on_drop = on_drop
        self.broker: dict[str, int] = {}  # watched $SYS counters, latest values
        self.broker_dropped = 0  # messages the broker dropped since this source connected
        self._subscribed_at = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()
        self._room = threading.Condition(self._lock)
        self._pending: list[tuple[str, bytes]] = []
        self._scheduled = False
        self._queue: asyncio.Queue[list[tuple[str, bytes]] | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        self._stopping = False
        self._waiting = False
        self._client: mqtt.Client | None = None
        self.received = 0
        self.handled = 0
        self.failed = 0
        self.connects = 0

    async def start(self, timeout_s: float = 10.0) -> None:
        """Connect and subscribe; :class:`BrokerError` if the broker cannot be reached."""
        self._loop = asyncio.get_running_loop()
        cfg = self.config
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=cfg.client_id, clean_session=True)
        if cfg.username:
            client.username_pw_set(cfg.username, cfg.password)
        client.on_connect = self._on_connect
        client.on_message = self._on_message
        client.on_disconnect = self._on_disconnect
        client.reconnect_delay_set(1, 30)
        self._client = client
        try:
            await asyncio.to_thread(client.connect, cfg.host, cfg.port, cfg.keepalive_s)
        except OSError as err:
            raise BrokerError(f"cannot reach MQTT broker {cfg.host}:{cfg.port}: {err}") from err
        client.loop_start()
        self._task = asyncio.create_task(self._consume(), name="mqtt-source")
        try:
            await asyncio.wait_for(self._connected.wait(), timeout_s)
        except TimeoutError:
            await self.stop()
            raise BrokerError(
                f"MQTT broker {cfg.host}:{cfg.port} did not accept the connection within {timeout_s:g} s"
            ) from None

    async def stop(self) -> None:
        """Disconnect, hand what was received to ingest, stop the task."""
        self._stopping = True
        client, self._client = self._client, None
        if client is not None:
            client.disconnect()
            await asyncio.to_thread(client.loop_stop)
        with self._lock:
            rest, self._pending = self._pending, []
            self._room.notify_all()
        if rest:
            self._queue.put_nowait(rest)
        self._queue.put_nowait(None)
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    # -- network thread -----------------------------------------------------------------------

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            log.warning("MQTT broker refused the connection: %s", reason)
            return
        self.connects += 1
        self._subscribed_at = time.monotonic()
        topics = [(t, self.config.qos) for t in self.config.topics]
        if self.config.watch_sys:
            topics += [(t, 0) for t in SYS_COUNTERS]
        client.subscribe(topics)
        log.info(
            "subscribed to %s on %s:%d", ", ".join(self.config.topics), self.config.host, self.config.port
        )
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._connected.set)

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if not self._stopping:
            log.warning("MQTT broker connection lost (%s); paho reconnects", reason)

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        if msg.topic.startswith("$SYS/"):
            self._on_sys(msg.topic, bytes(msg.payload))
            return
        with self._lock:
            while self._outstanding() >= self.config.max_pending and not self._stopping:
                self._waiting = True
                self._room.wait(0.5)
            self._pending.append((msg.topic, bytes(msg.payload)))
            self.received += 1
            if self._scheduled or self._loop is None:
                return
            self._scheduled = True
        self._loop.call_soon_threadsafe(self._drain)

    def _on_sys(self, topic: str, payload: bytes) -> None:
        counter = broker_counter(topic, payload)
        if counter is None:
            return
        name, value = counter
        previous = self.broker.get(name)
        self.broker[name] = value
        if name != "dropped":
            return
        if previous is None:
            # $SYS values are retained: one that arrives right after subscribing is the broker's
            # history before we connected. Mosquitto publishes the counter only once it is
            # non-zero, so a first value arriving later is all new.
            if time.monotonic() - self._subscribed_at < RETAINED_GRACE_S:
                return
            previous = 0
        if value <= previous:
            return
        new = value - previous
        self.broker_dropped += new
        log.error(
            "MQTT broker %s:%d dropped %d messages (total %d): a client's queue was full; "
            "raise max_queued_messages or add ingest workers",
            self.config.host,
            self.config.port,
            new,
            value,
        )
        if self.on_drop is not None and self._loop is not None:
            self._loop.call_soon_threadsafe(self.on_drop, new, value)

    # -- event loop ---------------------------------------------------------------------------

    def _drain(self) -> None:
        with self._lock:
            batch, self._pending = self._pending, []
            self._scheduled = False
        for i in range(0, len(batch), MAX_BATCH):
            self._queue.put_nowait(batch[i : i + MAX_BATCH])

    async def _consume(self) -> None:
        while True:
            batch = await self._queue.get()
            if batch is None:
                return
            try:
                await self.on_batch(batch)
                self.handled += len(batch)
            except asyncio.CancelledError:
                raise
            except Exception as err:  # supervisor: keep receiving after a handler bug
                self.failed += len(batch)
                log.error("MQTT ingest handler failed on %d messages: %s", len(batch), err, exc_info=err)
            if self._waiting:
                with self._lock:
                    self._waiting = False
                    self._room.notify_all()

    def _outstanding(self) -> int:
        return self.received - self.handled - self.failed

    def stats(self) -> dict[str, Any]:
        return {
            "received": self.received,
            "handled": self.handled,
            "failed": self.failed,
            "pending": len(self._pending) + self._queue.qsize(),
            "connects": self.connects,
            "broker": dict(self.broker),
            "broker_dropped": self.broker_dropped,
        }
