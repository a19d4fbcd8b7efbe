"""The in-process bus: one bounded queue of batches per subscriber, on the event loop.

Every subscriber of a subject gets every batch published on it, through its own queue of at
most ``queue_size`` batches. When a queue is full the subscriber's policy decides:

- ``block`` (default): the publisher awaits until there is room (back-pressure); the time it
  waited is counted as ``blocked_s``.
- ``drop_oldest``: the oldest queued batch is dropped and counted (for live views, where a
  newer value replaces an older one).

Either way a slow consumer never makes memory grow without bound. The policy is logged once,
per subscriber, the first time it triggers. :meth:`MemoryBus.close` stops publishing;
subscribers drain what is queued and their iteration ends.

>>> import asyncio
>>> async def demo():
...     bus = MemoryBus(queue_size=2, policy="drop_oldest")
...     sub = bus.subscribe("samples", "demo")
...     for i in range(3):
...         await bus.publish("samples", [i])
...     await bus.close()
...     return [b async for b in sub], bus.stats()["subscribers"]["samples/demo"]["dropped_batches"]
>>> asyncio.run(demo())
([[1], [2]], 1)
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

from ..core.errors import BusClosed, BusError
from .base import Bus, SlowPolicy, Subscription

log = logging.getLogger(__name__)

_POLICIES = ("block", "drop_oldest")


class MemorySubscription(Subscription):
    """One subscriber's bounded queue; iterate it with ``async for batch in sub``."""

    def __init__(self, bus: MemoryBus, subject: str, name: str, queue_size: int, policy: SlowPolicy) -> None:
        if queue_size <= 0:
            raise BusError(f"subscriber {name!r}: queue_size must be positive, got {queue_size}")
        if policy not in _POLICIES:
            raise BusError(f"subscriber {name!r}: policy must be 'block' or 'drop_oldest', got {policy!r}")
        self._bus = bus
        self.subject = subject
        self.name = name
        self.queue_size = queue_size
        self.policy: SlowPolicy = policy
        self._items: deque[list[Any]] = deque()
        self._not_empty = asyncio.Event()
        self._not_full = asyncio.Event()
        self._not_full.set()
        self._ending = False  # bus closed: drain, then end
        self._closed = False  # subscription closed: end now
        self._iterating = False
        self._warned = False
        self.delivered_batches = 0
        self.delivered_items = 0
        self.dropped_batches = 0
        self.dropped_items = 0
        self.blocked_s = 0.0
        self.max_depth = 0

    # -- publisher side -----------------------------------------------------------------------

    async def _put(self, batch: list[Any]) -> None:
        items = self._items
        if len(items) >= self.queue_size and not self._closed:
            self._first_trigger()
            if self.policy == "drop_oldest":
                while len(items) >= self.queue_size:
                    old = items.popleft()
                    self.dropped_batches += 1
                    self.dropped_items += len(old)
            else:
                started = time.perf_counter()
                try:
                    while len(items) >= self.queue_size and not self._closed:
                        self._not_full.clear()
                        await self._not_full.wait()
                finally:
                    self.blocked_s += time.perf_counter() - started
        if self._closed:
            return
        items.append(batch)
        depth = len(items)
        if depth > self.max_depth:
            self.max_depth = depth
        self._not_empty.set()

    def _first_trigger(self) -> None:
        if not self._warned:
            self._warned = True
            if self.policy == "drop_oldest":
                log.warning(
                    "bus subscriber %s/%s is slow: its queue of %d batches is full; dropping the "
                    "oldest batches (policy drop_oldest, counted)",
                    self.subject,
                    self.name,
                    self.queue_size,
                )
            else:
                log.warning(
                    "bus subscriber %s/%s is slow: its queue of %d batches is full; publishers "
                    "wait for it (policy block, back-pressure)",
                    self.subject,
                    self.name,
                    self.queue_size,
                )

    def _end(self) -> None:
        self._ending = True
        self._not_empty.set()

    # -- subscriber side ----------------------------------------------------------------------

    def __aiter__(self) -> AsyncIterator[list[Any]]:
        if self._iterating:
            raise BusError(f"subscriber {self.subject}/{self.name} is already being iterated")
        self._iterating = True
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[list[Any]]:
        items = self._items
        while True:
            while not items:
                if self._closed or self._ending:
                    return
                self._not_empty.clear()
                await self._not_empty.wait()
            if self._closed:
                return
            batch = items.popleft()
            self._not_full.set()
            self.delivered_batches += 1
            self.delivered_items += len(batch)
            yield batch

    async def close(self) -> None:
        """Stop receiving: queued batches are discarded (counted as dropped) and iteration ends."""
        if self._closed:
            return
        self._closed = True
        while self._items:
            old = self._items.popleft()
            self.dropped_batches += 1
            self.dropped_items += len(old)
        self._not_empty.set()
        self._not_full.set()
        self._bus._remove(self)

    @property
    def depth(self) -> int:
        return len(self._items)

    def stats(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "name": self.name,
            "policy": self.policy,
            "queue_size": self.queue_size,
            "depth": len(self._items),
            "max_depth": self.max_depth,
            "delivered_batches": self.delivered_batches,
            "delivered_items": self.delivered_items,
            "dropped_batches": self.dropped_batches,
            "dropped_items": self.dropped_items,
            "blocked_s": round(self.blocked_s, 6),
        }


class MemoryBus(Bus):
    """Subjects and subscribers inside one process; see the module docstring."""

    def __init__(self, queue_size: int = 10_000, policy: SlowPolicy = "block") -> None:
        if queue_size <= 0:
            raise BusError(f"bus queue_size must be positive, got {queue_size}")
        if policy not in _POLICIES:
            raise BusError(f"bus policy must be 'block' or 'drop_oldest', got {policy!r}")
        self.queue_size = queue_size
        self.policy: SlowPolicy = policy
        self._subs: dict[str, list[MemorySubscription]] = {}
        self._closed = False
        self.published_batches = 0
        self.published_items = 0
        self._gone: dict[str, dict[str, Any]] = {}

    async def publish(self, subject: str, batch: list[Any]) -> None:
        if self._closed:
            raise BusClosed(f"cannot publish on {subject!r}: the bus is closed")
        self.published_batches += 1
        self.published_items += len(batch)
        subs = self._subs.get(subject)
        if not subs:
            return
        for sub in subs if len(subs) == 1 else list(subs):
            await sub._put(batch)

    def subscribe(
        self, subject: str, name: str, queue_size: int | None = None, policy: SlowPolicy | None = None
    ) -> MemorySubscription:
        if self._closed:
            raise BusClosed(f"cannot subscribe to {subject!r}: the bus is closed")
        sub = MemorySubscription(self, subject, name, queue_size or self.queue_size, policy or self.policy)
        self._subs.setdefault(subject, []).append(sub)
        return sub

    def _remove(self, sub: MemorySubscription) -> None:
        subs = self._subs.get(sub.subject, [])
        if sub in subs:
            subs.remove(sub)
            self._gone[f"{sub.subject}/{sub.name}"] = sub.stats()

    async def close(self) -> None:
        self._closed = True
        for subs in self._subs.values():
            for sub in subs:
                sub._end()

    @property
    def closed(self) -> bool:
        return self._closed

    def stats(self) -> dict[str, Any]:
        subscribers = dict(self._gone)
        for subs in self._subs.values():
            for sub in subs:
                subscribers[f"{sub.subject}/{sub.name}"] = sub.stats()
        return {
            "closed": self._closed,
            "published_batches": self.published_batches,
            "published_items": self.published_items,
            "subscribers": subscribers,
        }
