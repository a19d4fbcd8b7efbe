"""The notifier: alarm transitions from the bus to webhooks and mail, debounced, retried.

:class:`Notifier` subscribes to the bus subject ``events`` (where the
:class:`~shopfloor.rules.engine.RuleEngine` publishes every alarm transition after it is
journaled) and, for each target whose ``events`` and ``min_priority`` match:

1. **debounce** per (target, alarm): the first transition goes out at once; further ones
   within ``notify.debounce_s`` are folded, and when the window ends the latest of them goes
   out once, with ``"debounced": <how many were folded>``. A flapping alarm thus sends at most
   one notification per window and target, and the last state is never lost.
2. **queue** per target (``notify.queue_size``; overflow is dead-lettered) and one worker per
   target, so a slow or dead target does not hold up the others.
3. **retry** with exponential backoff and jitter (``notify.backoff_s`` doubling up to
   ``notify.backoff_max_s``) up to ``notify.attempts`` tries; a permanent failure (HTTP 4xx,
   SMTP 5xx) is not retried.
4. **dead letter**: a notification that finally fails is kept in the state store's dead
   letters (source ``notify:webhook`` / ``notify:email``, reason ``notification_failed``,
   the target's name as topic, the JSON payload), so nothing is lost silently.

The payload (the webhook body; the mail's content) is
``{"type": "alarm_notification", "id", "sent_at", "target", "debounced", "alarm": <entry>}``
with ``alarm`` the journal entry (see docs/alarms.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ...bus.base import Bus, Subscription
from ...core.errors import StoreError
from ...core.sample import DeadLetter
from ...core.settings import NotifySettings
from ...store.state import StateStore
from .senders import DeliveryFailed, EmailSender, WebhookSender

log = logging.getLogger(__name__)
RANK = {"critical": 0, "high": 1, "medium": 2, "low": 3}


class Sender(Protocol):
    kind: str
    name: str
    address: str

    async def send(self, note: dict[str, Any], body: bytes) -> None: ...
    async def close(self) -> None: ...


@dataclass(slots=True)
class _Window:
    last: float = float("-inf")  # monotonic time of the last notification sent for this alarm
    pending: dict[str, Any] | None = None
    folded: int = 0
    timer: asyncio.Task[None] | None = None


@dataclass(slots=True)
class _Target:
    sender: Sender
    events: frozenset[str]
    max_rank: int
    queue: asyncio.Queue[dict[str, Any]]
    windows: dict[str, _Window] = field(default_factory=dict)
    worker: asyncio.Task[None] | None = None
    busy: bool = False  # a notification is being delivered (or dead-lettered)


class Notifier:
    """See the module docstring; ``await start()``, ``await stop()``."""

    def __init__(
        self, settings: NotifySettings, bus: Bus, state: StateStore, *, name: str = "notify"
    ) -> None:
        self.settings = settings
        self.bus, self.state, self.name = bus, state, name
        self.targets: list[_Target] = []
        for w in settings.webhook:
            self._add(WebhookSender(w), w.events, w.min_priority)
        for e in settings.email:
            self._add(EmailSender(e), e.events, e.min_priority)
        self._sub: Subscription | None = None
        self._task: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[None]] = set()
        self.counts = {"matched": 0, "sent": 0, "retried": 0, "debounced": 0, "dead_lettered": 0}

    def _add(self, sender: Sender, events: Sequence[str], min_priority: str) -> None:
        q: asyncio.Queue[dict[str, Any]] = asyncio.Queue(self.settings.queue_size)
        self.targets.append(_Target(sender, frozenset(events), RANK[min_priority], q))

    # -- lifecycle ----------------------------------------------------------------------------------

    async def start(self) -> None:
        if not self.targets:
            return
        self._sub = self.bus.subscribe("events", self.name, policy="block")
        for t in self.targets:
            t.worker = asyncio.create_task(self._work(t), name=f"{self.name}-{t.sender.name}")
        self._task = asyncio.create_task(self._consume(), name=f"{self.name}-events")
        log.info("notifications: %s", ", ".join(f"{t.sender.kind} {t.sender.name}" for t in self.targets))

    async def stop(self, timeout_s: float = 5.0) -> None:
        """Send what is folded and queued (up to ``timeout_s``); dead-letter the rest."""
        if self._sub is None:
            return
        await self._sub.close()
        if self._task is not None:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(self._task, 1.0)
        for t in self.targets:
            for key, w in t.windows.items():
                if w.timer is not None:
                    w.timer.cancel()
                if w.pending is not None:
                    self._enqueue(t, w.pending, w.folded)
                    w.pending = None
                del key
        deadline = time.monotonic() + timeout_s
        while any(t.busy or not t.queue.empty() for t in self.targets) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        for t in self.targets:
            if t.worker is not None:
                t.worker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await t.worker
            while not t.queue.empty():
                await self._dead(
                    t, t.queue.get_nowait(), "notification_undelivered", "platform stopped first"
                )
            await t.sender.close()
        self._sub = None

    # -- events -> windows -> queues ------------------------------------------------------------------

    async def _consume(self) -> None:
        assert self._sub is not None
        async for batch in self._sub:
            for entry in batch:
                if isinstance(entry, dict) and entry.get("type") == "alarm":
                    self.offer(entry)

    def offer(self, entry: dict[str, Any]) -> None:
        """One alarm journal entry: to every matching target, through its debounce window."""
        rank = RANK.get(str(entry.get("priority")), 3)
        for t in self.targets:
            if entry.get("event") not in t.events or rank > t.max_rank:
                continue
            self.counts["matched"] += 1
            key = str(entry.get("alarm_id"))
            w = t.windows.get(key)
            if w is None:
                w = t.windows[key] = _Window()
            now = time.monotonic()
            window = self.settings.debounce_s
            if w.timer is None and now - w.last >= window:
                w.last = now
                self._enqueue(t, entry, 0)
                continue
            w.pending, w.folded = entry, w.folded + 1
            self.counts["debounced"] += 1
            if w.timer is None:
                w.timer = asyncio.create_task(self._flush(t, w, w.last + window - now))

    async def _flush(self, t: _Target, w: _Window, delay: float) -> None:
        await asyncio.sleep(max(delay, 0.0))
        w.timer = None
        if w.pending is not None:
            # the latest transition stands for the folded ones (it was counted among them)
            entry, folded = w.pending, w.folded - 1
            w.pending, w.folded, w.last = None, 0, time.monotonic()
            self._enqueue(t, entry, folded)

    def _enqueue(self, t: _Target, entry: dict[str, Any], folded: int) -> None:
        note = {
            "type": "alarm_notification",
            "id": uuid.uuid4().hex,
            "sent_at": time.time_ns(),
            "target": t.sender.name,
            "debounced": folded,
            "alarm": entry,
        }
        try:
            t.queue.put_nowait(note)
        except asyncio.QueueFull:
            task = asyncio.ensure_future(self._dead(t, note, "notification_overflow", "target queue full"))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    # -- delivery -----------------------------------------------------------------------------------

    async def _work(self, t: _Target) -> None:
        while True:
            note = await t.queue.get()
            t.busy = True
            try:
                await self._deliver(t, note)
            finally:
                t.busy = False

    async def _deliver(self, t: _Target, note: dict[str, Any]) -> None:
        """Send with retries and backoff; dead-letter when it finally fails."""
        s = self.settings
        body = json.dumps(note, separators=(",", ":"), default=str).encode()
        for attempt in range(1, s.attempts + 1):
            try:
                await t.sender.send(note, body)
            except DeliveryFailed as err:
                if err.permanent or attempt == s.attempts:
                    why = "permanent failure" if err.permanent else f"{attempt} attempts"
                    await self._dead(t, note, "notification_failed", f"{err} ({why})", body)
                    return
                self.counts["retried"] += 1
                delay = min(s.backoff_max_s, s.backoff_s * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)
                log.info("%s; retry %d in %.2f s", err, attempt, delay)
                await asyncio.sleep(delay)
            else:
                self.counts["sent"] += 1
                return

    async def _dead(
        self, t: _Target, note: dict[str, Any], reason: str, error: str, body: bytes | None = None
    ) -> None:
        log.warning(
            "notification %s to %s %s dead-lettered: %s", note["id"], t.sender.kind, t.sender.name, error
        )
        payload = body if body is not None else json.dumps(note, default=str).encode()
        letter = DeadLetter(time.time_ns(), f"notify:{t.sender.kind}", t.sender.name, reason, error, payload)
        try:  # shielded: a stop must not cancel the write that keeps it
            await asyncio.shield(self.state.add_dead_letters([letter]))
            self.counts["dead_lettered"] += 1
        except StoreError as err:
            log.error("notification %s is lost: the dead letter could not be stored: %s", note["id"], err)

    def stats(self) -> dict[str, Any]:
        return {
            **self.counts,
            "targets": {
                t.sender.name: {"kind": t.sender.kind, "queued": t.queue.qsize()} for t in self.targets
            },
        }
