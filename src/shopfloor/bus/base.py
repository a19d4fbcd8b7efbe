"""The bus interface: subjects carry batches (lists) of items between stages.

Subjects used by the platform:

- ``samples``: ``list[Sample]`` accepted by ingest
- ``deadletters``: ``list[DeadLetter]`` rejected by ingest
- ``events``: ``list[dict]`` alarms, state changes, command results
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from typing import Any, Literal

SlowPolicy = Literal["block", "drop_oldest"]


class Subscription(ABC):
    """An async iterator of batches; ``close()`` ends it."""

    name: str
    subject: str

    @abstractmethod
    def __aiter__(self) -> AsyncIterator[list[Any]]: ...

    @abstractmethod
    async def close(self) -> None: ...


class Bus(ABC):
    @abstractmethod
    async def publish(self, subject: str, batch: list[Any]) -> None:
        """Deliver one batch to every subscriber of ``subject`` (may wait: back-pressure)."""

    @abstractmethod
    def subscribe(
        self, subject: str, name: str, queue_size: int | None = None, policy: SlowPolicy | None = None
    ) -> Subscription:
        """A new named subscriber with its own bounded queue."""

    @abstractmethod
    async def close(self) -> None:
        """Stop accepting publishes; subscribers drain what is queued and end."""

    @abstractmethod
    def stats(self) -> dict[str, Any]:
        """Per-subscriber queue depth, delivered, dropped and blocked-time counters."""


async def drain_and_stop(
    sub: Subscription, consume: asyncio.Task[None], tick: asyncio.Task[None], deadline: float
) -> None:
    """Stop a bus consumer: let ``sub`` drain what is queued (until ``deadline``, a monotonic
    time), close it, cancel the ``tick`` task and wait for ``consume`` to finish the rest."""
    while getattr(sub, "depth", 0) and time.monotonic() < deadline and not consume.done():
        await asyncio.sleep(0.005)
    await sub.close()
    tick.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await tick
    with contextlib.suppress(TimeoutError, asyncio.CancelledError):
        await asyncio.wait_for(consume, max(0.1, deadline - time.monotonic()))
