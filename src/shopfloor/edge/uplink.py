"""The uplink to the platform's MQTT broker, and the forwarder that drains the buffer over it.

:class:`Uplink` owns one paho client per connection (a fresh client after every loss, so no
half-sent state from paho's own queues leaks into the next session); its network thread
only hands events to the event loop. :class:`Forwarder` sends the buffer in sequence order as
QoS 1 batches (at most ``window`` awaiting PUBACK) and removes rows only when their batch is
acknowledged. After a reconnect it starts again from the oldest unacknowledged row, so a batch
may be sent twice; the platform drops the repeat by sequence number (exactly-once effect).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections import deque
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from ..core.errors import BrokerError, StoreError
from ..core.tasks import cancel_and_wait
from ..ingest.edge import batch_topic, encode_batch
from .buffer import Buffer
from .config import UplinkSettings
from .health import ConnectorHealth

log = logging.getLogger(__name__)

OnMessage = Callable[[str, bytes], None]


class Uplink:
    """Keeps a connection to the platform broker; ``connected`` is set while it is up."""

    def __init__(
        self,
        settings: UplinkSettings,
        agent_id: str,
        health: ConnectorHealth,
        subscriptions: list[str] | None = None,
        on_message: OnMessage | None = None,
        will: tuple[str, bytes] | Callable[[], tuple[str, bytes]] | None = None,
        will_retain: bool = True,
    ) -> None:
        self.settings = settings
        self.agent_id = agent_id
        self.health = health
        self.subscriptions = subscriptions or []
        self.on_message = on_message
        self.will = will
        self.will_retain = will_retain
        self.connected = asyncio.Event()
        self.generation = 0
        self.changed = asyncio.Event()
        self._acks: set[int] = set()
        self._client: paho.Client | None = None
        self._lost = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.create_task(self._supervise(), name="edge-uplink")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None
        await self._drop()

    def _new_client(self) -> paho.Client:
        s = self.settings
        client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=f"shopfloor-edge-{self.agent_id}", clean_session=True
        )
        client.max_inflight_messages_set(s.window + 16)
        if s.username:
            client.username_pw_set(s.username, s.password)
        if s.tls:
            client.tls_set(
                ca_certs=str(s.ca_file) if s.ca_file else None,
                certfile=str(s.cert_file) if s.cert_file else None,
                keyfile=str(s.key_file) if s.key_file else None,
                tls_version=ssl.PROTOCOL_TLS_CLIENT,
            )
        if self.will is not None:  # a callable makes a new will per connection (Sparkplug bdSeq)
            w_topic, w_payload = self.will() if callable(self.will) else self.will
            client.will_set(w_topic, w_payload, qos=1, retain=self.will_retain)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        return client

    async def _supervise(self) -> None:
        s = self.settings
        delay = 0.2
        logged = False
        while True:
            client = self._new_client()
            self._lost.clear()
            try:
                await asyncio.to_thread(client.connect, s.host, s.port, s.keepalive_s)
            except OSError as err:
                self.health.fail(f"cannot reach {s.host}:{s.port}: {err}")
                if not logged:
                    log.warning("uplink %s:%d unreachable (%s); buffering and retrying", s.host, s.port, err)
                    logged = True
                await asyncio.sleep(delay)
                delay = min(delay * 2, s.reconnect_max_s)
                continue
            self._client = client
            client.loop_start()
            await self._lost.wait()
            await self._drop()
            if self.health.state == "connected":
                delay = 0.2
                logged = False
            await asyncio.sleep(delay)

    async def _drop(self) -> None:
        client, self._client = self._client, None
        self.connected.clear()
        if client is not None:
            with contextlib.suppress(Exception):
                client.disconnect()
            await asyncio.to_thread(client.loop_stop)

    # -- paho network thread -> event loop ----------------------------------------------------

    def _call(self, fn: Callable[..., None], *args: Any) -> None:
        if self._loop is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(fn, *args)

    def _on_connect(self, client: paho.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            self._call(self._failed, f"broker refused the connection: {reason}")
            return
        if self.subscriptions:
            client.subscribe([(t, 1) for t in self.subscriptions])
        self._call(self._up)

    def _on_disconnect(self, client: paho.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        self._call(self._failed, f"connection lost: {reason}")

    def _on_publish(self, client: paho.Client, userdata: Any, mid: int, reason: Any, props: Any) -> None:
        self._call(self._acked, mid)

    def _on_message(self, client: paho.Client, userdata: Any, msg: paho.MQTTMessage) -> None:
        if self.on_message is not None:
            self._call(self.on_message, msg.topic, bytes(msg.payload))

    def _up(self) -> None:
        self.generation += 1
        self._acks.clear()
        self.health.ok()
        self.health.count("connects")
        self.connected.set()
        self.changed.set()
        log.info("uplink connected to %s:%d", self.settings.host, self.settings.port)

    def _failed(self, error: str) -> None:
        if self.connected.is_set():
            log.warning(
                "uplink %s:%d: %s; buffering until it returns", self.settings.host, self.settings.port, error
            )
        self.health.fail(error)
        self.connected.clear()
        self.changed.set()
        self._lost.set()

    def _acked(self, mid: int) -> None:
        self._acks.add(mid)
        self.changed.set()

    # -- publishing (event loop) --------------------------------------------------------------

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> int:
        """Queue a message; returns its message id; :class:`BrokerError` when not connected."""
        client = self._client
        if client is None or not self.connected.is_set():
            raise BrokerError("uplink is not connected")
        info = client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc != paho.MQTT_ERR_SUCCESS:
            raise BrokerError(f"uplink publish failed: {paho.error_string(info.rc)}")
        return int(info.mid)

    def take_acks(self) -> set[int]:
        acks, self._acks = self._acks, set()
        return acks


class Acker:
    """Deletes acknowledged rows in the background, so sending never waits for the file."""

    def __init__(self, buffer: Buffer) -> None:
        self.buffer = buffer
        self.target = 0
        self._task: asyncio.Task[None] | None = None

    def ack(self, upto_seq: int) -> None:
        self.target = max(self.target, upto_seq)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._work(), name="edge-ack")

    async def _work(self) -> None:
        done = 0
        while done < self.target:
            done = self.target
            try:
                await asyncio.to_thread(self.buffer.ack, done)
            except StoreError as err:  # the rows stay; they are resent and de-duplicated
                log.error("cannot remove acknowledged rows: %s", err)
                return

    async def wait(self) -> None:
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class Forwarder:
    """Drains the buffer over the uplink in order; wake it with :meth:`kick` after appends."""

    def __init__(self, buffer: Buffer, uplink: Uplink, agent_id: str, epoch: int) -> None:
        self.buffer = buffer
        self.uplink = uplink
        self.agent_id = agent_id
        self.epoch = epoch
        self.topic = batch_topic(uplink.settings.topic_root, agent_id)
        self.sent_rows = 0
        self.sent_batches = 0
        self.acked_rows = 0
        self.resends = 0
        self.acker = Acker(buffer)
        self._task: asyncio.Task[None] | None = None

    def kick(self) -> None:
        self.uplink.changed.set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="edge-forwarder")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None
        await self.acker.wait()

    async def _run(self) -> None:
        """Supervisor: a buffer error (disk) is logged and retried; rows stay in the buffer."""
        while True:
            try:
                await self._drain()
            except StoreError as err:
                log.error("forwarding paused: %s (retrying in 1 s)", err)
                await asyncio.sleep(1.0)

    async def _drain(self) -> None:
        up = self.uplink
        s = up.settings
        while True:
            await up.connected.wait()
            gen = up.generation
            cursor = 0  # resend everything not yet acknowledged
            inflight: deque[tuple[int, int, int]] = deque()  # (mid, last seq, rows)
            acked: set[int] = set()
            while up.connected.is_set() and up.generation == gen:
                up.changed.clear()
                acked |= up.take_acks()
                done = 0
                while inflight and inflight[0][0] in acked:
                    mid, last, n = inflight.popleft()
                    acked.discard(mid)
                    done = last
                    self.acked_rows += n
                if done:
                    self.acker.ack(done)
                while len(inflight) < s.window:
                    records = self.buffer.read_recent(cursor, s.batch_rows)
                    if records is None:  # older than the in-memory tail: read the file
                        records = await asyncio.to_thread(self.buffer.read, cursor, s.batch_rows)
                    if not records:
                        break
                    payload = encode_batch(
                        self.agent_id,
                        self.epoch,
                        ((r.seq, r.asset, r.tag, r.ts, r.value, r.quality) for r in records),
                    )
                    try:
                        mid = up.publish(self.topic, payload)
                    except BrokerError:
                        break
                    if cursor == 0 and self.sent_batches:
                        self.resends += 1
                    cursor = records[-1].seq
                    inflight.append((mid, cursor, len(records)))
                    self.sent_rows += len(records)
                    self.sent_batches += 1
                if not up.changed.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(up.changed.wait(), 1.0)

    def stats(self) -> dict[str, Any]:
        return {
            "sent_rows": self.sent_rows,
            "sent_batches": self.sent_batches,
            "acked_rows": self.acked_rows,
            "resends": self.resends,
        }
