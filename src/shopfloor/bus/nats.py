"""The production bus: NATS JetStream (durable, replayable, shared by many worker processes).

Each subject kind (``samples``, ``deadletters``, ``events``, ...) has its own JetStream stream
``<prefix>_<subject>`` holding the NATS subject ``<prefix>.<subject>``; streams are created
on first use (file storage, messages kept ``max_age_s``).

**Publishing** encodes a batch compactly with msgpack (a :class:`Sample` becomes the tuple
``(asset, tag, ts, value, quality)``), splits it into messages of at most ``chunk_items``
items (and under the server's payload limit), publishes them together and awaits every
JetStream acknowledgement, so :meth:`NatsBus.publish` returns only once the stream has stored
the whole batch.

**Subscribing** with a ``name`` binds a *durable pull consumer* of that name. Every process
that subscribes with the same name shares it: JetStream hands each message to one of them,
which is how ``shopfloor worker`` processes scale out. Messages are fetched ``queue_size``
at a time; each message is one batch given to the caller, or, with ``coalesce_items`` > 0,
the messages already fetched are joined into one batch of up to that many items (acknowledged
together), so a writer commits many small messages in one store write.

**Acknowledgement** (at-least-once): a batch is acknowledged when the iterator is asked for
the next one, i.e. once the body of ``async for batch in sub:`` has finished with it. Call
:meth:`NatsSubscription.ack` to acknowledge the current batch earlier (for example before
leaving the loop with ``break``). A batch that was never acknowledged (the process crashed,
or the subscription was closed while the batch was being processed) is delivered again: at
once to another member after :meth:`NatsSubscription.close` (it is negatively acknowledged),
or after ``ack_wait_s`` if the process died. Consumers must therefore be idempotent; the
stores are (a point is stored once per series and time).

``policy="drop_oldest"`` is for live views: it reads the subject with a plain (not durable)
NATS subscription into a bounded queue that drops and counts the oldest batch when full.

>>> decode_batch(encode_batch([Sample("mill/line1", "speed", 5, 1.5)]))
[Sample(asset='mill/line1', tag='speed', ts=5, value=1.5, quality=<Quality.GOOD: 192>)]
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections import deque
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import msgspec
import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StorageType, StreamConfig

from ..core.errors import BusClosed, BusError
from ..core.sample import DeadLetter, Quality, Sample
from .base import Bus, SlowPolicy, Subscription

log = logging.getLogger(__name__)
_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_QUALITY = {int(q): q for q in Quality}
_enc = msgspec.msgpack.Encoder()
_dec = msgspec.msgpack.Decoder()


def encode_batch(batch: list[Any]) -> bytes:
    """msgpack of ``[kind, rows]``: kind ``S`` (samples), ``D`` (dead letters) or ``O`` (other)."""
    if batch and all(type(x) is Sample for x in batch):
        return _enc.encode(["S", [(s.asset, s.tag, s.ts, s.value, int(s.quality)) for s in batch]])
    if batch and all(type(x) is DeadLetter for x in batch):
        rows = [(d.ts, d.source, d.topic, d.reason, d.error, d.payload) for d in batch]
        return _enc.encode(["D", rows])
    try:
        return _enc.encode(["O", batch])
    except (TypeError, msgspec.EncodeError) as err:
        raise BusError(f"batch cannot be sent over NATS: {err}") from err


def decode_batch(data: bytes) -> list[Any]:
    """The batch :func:`encode_batch` encoded."""
    kind, rows = _dec.decode(data)
    if kind == "S":
        return [Sample(a, t, ts, v, _QUALITY.get(q) or Quality.parse(q)) for a, t, ts, v, q in rows]
    if kind == "D":
        return [DeadLetter(*row) for row in rows]
    return list(rows)


class NatsBus(Bus):
    """Bus over NATS JetStream; see the module docstring. Call :meth:`connect` first."""

    def __init__(
        self,
        url: str = "nats://127.0.0.1:4222",
        stream_prefix: str = "shopfloor",
        queue_size: int = 8,
        policy: SlowPolicy = "block",
        *,
        ack_wait_s: float = 30.0,
        max_age_s: float = 7 * 86_400.0,
        chunk_items: int = 5_000,
        connect_timeout_s: float = 2.0,
        coalesce_items: int = 0,
    ) -> None:
        if not _NAME.fullmatch(stream_prefix):
            raise BusError(f"stream prefix {stream_prefix!r} must be letters, digits, '_' or '-'")
        self.url = url
        self.prefix = stream_prefix
        self.queue_size = queue_size
        self.policy: SlowPolicy = policy
        self.ack_wait_s = ack_wait_s
        self.max_age_s = max_age_s
        self.chunk_items = chunk_items
        self.connect_timeout_s = connect_timeout_s
        self.coalesce_items = coalesce_items
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._streams: set[str] = set()
        self._subs: list[NatsSubscription] = []
        self._closed = False
        self.published_batches = 0
        self.published_messages = 0

    async def connect(self) -> None:
        """Connect to NATS and check JetStream (BusError naming the URL if either fails).

        The server must answer at start; once connected, the client reconnects for ever.
        """
        await self._probe()
        try:
            self._nc = await nats.connect(
                servers=[self.url],
                connect_timeout=self.connect_timeout_s,
                allow_reconnect=True,
                max_reconnect_attempts=-1,
                reconnect_time_wait=1.0,
                error_cb=self._on_error,
                disconnected_cb=self._on_disconnect,
                reconnected_cb=self._on_reconnect,
                name=f"shopfloor-{self.prefix}",
            )
        except (TimeoutError, OSError, nats.errors.Error) as err:
            raise BusError(f"cannot reach NATS at {self.url}: {err or type(err).__name__}") from err
        self._js = self._nc.jetstream(timeout=max(5.0, self.connect_timeout_s))
        try:
            await self._js.account_info()
        except (TimeoutError, nats.errors.Error) as err:
            await self._nc.close()
            raise BusError(f"NATS at {self.url} has no JetStream (nats-server -js): {err}") from err
        log.info("connected to NATS JetStream at %s (prefix %s)", self.url, self.prefix)

    async def _probe(self) -> None:
        """Fail fast (the client alone would retry the first connect for ever)."""
        parts = urlsplit(self.url if "://" in self.url else f"nats://{self.url}")
        host, port = parts.hostname or "127.0.0.1", parts.port or 4222
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), self.connect_timeout_s)
        except (TimeoutError, OSError) as err:
            raise BusError(f"cannot reach NATS at {self.url}: {err or 'timed out'}") from err
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()

    async def _on_error(self, err: Exception) -> None:
        log.warning("NATS %s: %s", self.url, err)

    async def _on_disconnect(self) -> None:
        if not self._closed:
            log.warning("NATS %s: disconnected, reconnecting", self.url)

    async def _on_reconnect(self) -> None:
        log.info("NATS %s: reconnected", self.url)

    def subject_of(self, subject: str) -> tuple[str, str]:
        """(NATS subject, stream name) of a bus subject."""
        if not _NAME.fullmatch(subject):
            raise BusError(f"subject {subject!r} must be letters, digits, '_' or '-'")
        return f"{self.prefix}.{subject}", f"{self.prefix}_{subject}"

    def _jetstream(self) -> JetStreamContext:
        if self._closed:
            raise BusClosed(f"NATS bus {self.url} is closed")
        if self._js is None:
            raise BusError(f"NATS bus {self.url} is not connected: call connect() first")
        return self._js

    async def ensure_stream(self, subject: str) -> tuple[str, str]:
        """Create the stream of ``subject`` if it does not exist; returns (NATS subject, stream)."""
        subj, stream = self.subject_of(subject)
        if stream in self._streams:
            return subj, stream
        js = self._jetstream()
        try:
            try:
                await js.stream_info(stream)
            except nats.js.errors.NotFoundError:
                config = StreamConfig(
                    name=stream, subjects=[subj], storage=StorageType.FILE, max_age=self.max_age_s
                )
                await js.add_stream(config)
                log.info("created JetStream stream %s for %s", stream, subj)
        except (TimeoutError, nats.errors.Error) as err:
            raise BusError(f"NATS at {self.url}: cannot set up stream {stream}: {err}") from err
        self._streams.add(stream)
        return subj, stream

    def _chunks(self, batch: list[Any], size: int) -> list[bytes]:
        limit = self._nc.max_payload if self._nc is not None else 1 << 20
        out: list[bytes] = []
        for i in range(0, len(batch), size):
            part = batch[i : i + size]
            data = encode_batch(part)
            if len(data) > limit and len(part) > 1:
                out.extend(self._chunks(part, max(1, len(part) // 2)))
            elif len(data) > limit:
                raise BusError(f"one item is {len(data)} bytes, over the NATS limit of {limit}")
            else:
                out.append(data)
        return out

    async def publish(self, subject: str, batch: list[Any]) -> None:
        """Store one batch in the subject's stream; returns once JetStream acknowledged all of it."""
        js = self._jetstream()
        if not batch:
            return
        subj, stream = await self.ensure_stream(subject)
        payloads = self._chunks(batch, self.chunk_items)
        try:
            await asyncio.gather(*(js.publish(subj, p, stream=stream) for p in payloads))
        except (TimeoutError, nats.errors.Error) as err:
            raise BusError(f"NATS at {self.url}: publish to {subj} failed: {err!r}") from err
        self.published_batches += 1
        self.published_messages += len(payloads)

    def subscribe(
        self, subject: str, name: str, queue_size: int | None = None, policy: SlowPolicy | None = None
    ) -> NatsSubscription:
        """Durable pull consumer ``name`` on ``subject`` (shared by every process using ``name``)."""
        self._jetstream()
        if not _NAME.fullmatch(name):
            raise BusError(f"subscriber name {name!r} must be letters, digits, '_' or '-'")
        sub = NatsSubscription(self, subject, name, queue_size or self.queue_size, policy or self.policy)
        self._subs.append(sub)
        return sub

    async def close(self) -> None:
        """Stop publishing; subscriptions end (un-acknowledged batches go back); disconnect."""
        if self._closed:
            return
        self._closed = True
        for sub in self._subs:
            await sub.close()
        if self._nc is not None and not self._nc.is_closed:
            await self._nc.close()

    def stats(self) -> dict[str, Any]:
        """Connection state, publish counters and per-subscriber counters."""
        return {
            "backend": "nats",
            "url": self.url,
            "connected": bool(self._nc is not None and self._nc.is_connected),
            "published_batches": self.published_batches,
            "published_messages": self.published_messages,
            "subscribers": {f"{s.subject}:{s.name}": s.stats() for s in self._subs},
        }


class NatsSubscription(Subscription):
    """Batches of one durable consumer (or a live view); see the module docstring on acks."""

    def __init__(self, bus: NatsBus, subject: str, name: str, queue_size: int, policy: SlowPolicy) -> None:
        self.bus = bus
        self.subject = subject
        self.name = name
        self.queue_size = queue_size
        self.policy = policy
        self._psub: JetStreamContext.PullSubscription | None = None
        self._live: Any = None
        self._buffer: deque[Msg] = deque()
        self._unacked: list[Msg] = []
        self.coalesce_items = bus.coalesce_items
        self._closed = False
        self._wake = asyncio.Event()
        self.delivered = self.acked = self.redelivered = self.dropped = self.rejected = 0

    def stats(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "policy": self.policy,
            "delivered": self.delivered,
            "acked": self.acked,
            "redelivered": self.redelivered,
            "dropped": self.dropped,
            "rejected": self.rejected,
            "buffered": len(self._buffer),
        }

    async def _start(self) -> None:
        bus = self.bus
        subj, stream = await bus.ensure_stream(self.subject)
        nc = bus._nc
        assert nc is not None
        try:
            if self.policy == "drop_oldest":
                self._live = await nc.subscribe(subj, cb=self._on_live)
                return
            config = ConsumerConfig(
                durable_name=self.name,
                ack_policy=AckPolicy.EXPLICIT,
                deliver_policy=DeliverPolicy.ALL,
                ack_wait=bus.ack_wait_s,
                max_ack_pending=max(1000, 4 * self.queue_size),
            )
            self._psub = await bus._jetstream().pull_subscribe(
                subj, durable=self.name, stream=stream, config=config
            )
        except (TimeoutError, nats.errors.Error) as err:
            raise BusError(f"NATS at {bus.url}: cannot subscribe {self.name} to {subj}: {err}") from err

    async def _on_live(self, msg: Msg) -> None:
        if len(self._buffer) >= self.queue_size:
            self._buffer.popleft()
            self.dropped += 1
        self._buffer.append(msg)
        self._wake.set()

    def __aiter__(self) -> AsyncIterator[list[Any]]:
        return self

    async def __anext__(self) -> list[Any]:
        await self.ack()
        if self._psub is None and self._live is None and not self._closed:
            await self._start()
        while True:
            while self._buffer:
                msg = self._buffer.popleft()
                try:
                    batch = decode_batch(msg.data)
                except (msgspec.DecodeError, TypeError, ValueError) as err:
                    log.error("%s/%s: dropping undecodable message: %s", self.subject, self.name, err)
                    self.rejected += 1
                    if self._psub is not None:
                        await msg.term()
                    continue
                if self._psub is not None:
                    self._track(msg)
                    await self._coalesce(batch)
                self.delivered += 1
                return batch
            if self._closed:
                raise StopAsyncIteration
            await self._fill()

    def _track(self, msg: Msg) -> None:
        self._unacked.append(msg)
        if msg.metadata.num_delivered > 1:
            self.redelivered += 1

    async def _coalesce(self, batch: list[Any]) -> None:
        """Append further fetched messages to ``batch`` (up to ``coalesce_items``), unacked."""
        while self.coalesce_items and self._buffer and len(batch) < self.coalesce_items:
            msg = self._buffer.popleft()
            try:
                more = decode_batch(msg.data)
            except (msgspec.DecodeError, TypeError, ValueError) as err:
                log.error("%s/%s: dropping undecodable message: %s", self.subject, self.name, err)
                self.rejected += 1
                await msg.term()
                continue
            self._track(msg)
            batch.extend(more)

    async def _fill(self) -> None:
        if self._psub is None:  # live view: wait for the callback
            self._wake.clear()
            await self._wake.wait()
            return
        # Wait for the first message alone: a lingering fetch of N holds what arrived until N are
        # there or the timeout ends (up to 1 s of latency at low rates). Then take what else is
        # ready without waiting.
        if await self._fetch(1, 1.0) and self.queue_size > 1:
            await self._fetch(self.queue_size - 1, 0.01)

    async def _fetch(self, n: int, timeout: float) -> bool:
        """Fetch up to ``n`` messages into the buffer; False when none came (or closing)."""
        assert self._psub is not None
        try:
            self._buffer.extend(await self._psub.fetch(batch=n, timeout=timeout))
            return True
        except (TimeoutError, nats.errors.TimeoutError):
            return False
        except nats.errors.Error as err:
            if self._closed or self.bus._closed:
                self._closed = True
                return False
            raise BusError(f"NATS at {self.bus.url}: fetch for {self.name} failed: {err}") from err

    async def ack(self) -> None:
        """Acknowledge the batch last handed out (done by the next ``__anext__`` anyway)."""
        msgs, self._unacked = self._unacked, []
        for msg in msgs:
            try:
                await msg.ack()
                self.acked += 1
            except nats.errors.Error as err:
                raise BusError(f"NATS at {self.bus.url}: ack for {self.name} failed: {err}") from err

    async def close(self) -> None:
        """End iteration; un-acknowledged batches are handed back for prompt redelivery."""
        if self._closed and not self._unacked and not self._buffer:
            return
        self._closed = True
        self._wake.set()
        pending = [*self._unacked, *self._buffer]
        self._unacked = []
        self._buffer.clear()
        if self._psub is not None:
            for msg in pending:
                try:
                    await msg.nak()
                except nats.errors.Error:
                    log.debug("nak of a batch of %s failed; it returns after ack_wait", self.name)
            await _quietly(self._psub.unsubscribe())
        if self._live is not None:
            await _quietly(self._live.unsubscribe())


async def _quietly(aw: Any) -> None:
    try:
        await aw
    except (TimeoutError, nats.errors.Error) as err:
        log.debug("ignored on close: %s", err)
