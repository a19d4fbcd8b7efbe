"""Live values for WebSocket clients.

The hub subscribes to the bus subject ``samples`` with the ``drop_oldest`` policy (a
slow browser must never hold back ingest), keeps the newest value per series, and
every ``interval_s`` sends each client the series that changed since its last update,
filtered by the asset subtree the client asked for. Coalescing means a client gets at
most one value per series per interval, however fast the plant publishes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

from ..bus.base import Bus, Subscription
from ..core.sample import Sample

log = logging.getLogger(__name__)


def in_subtree(asset: str, root: str | None) -> bool:
    """True when ``asset`` is ``root`` or below it (matching whole path segments).

    >>> in_subtree("mill/line1/cutter", "mill/line1"), in_subtree("mill/line10", "mill/line1")
    (True, False)
    """
    if not root:
        return True
    return asset == root or asset.startswith(root + "/")


@dataclass(eq=False)
class LiveClient:
    root: str | None
    queue: asyncio.Queue[list[dict[str, Any]]] = field(default_factory=lambda: asyncio.Queue(maxsize=8))
    dropped: int = 0


class LiveHub:
    """Fan-out of coalesced live values to WebSocket clients."""

    def __init__(self, bus: Bus, interval_s: float = 0.5) -> None:
        self._bus = bus
        self._interval = interval_s
        self._sub: Subscription | None = None
        self._changed: dict[str, Sample] = {}
        self._clients: set[LiveClient] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self.sent = 0
        self.dropped = 0

    async def start(self) -> None:
        self._sub = self._bus.subscribe("samples", "live", queue_size=256, policy="drop_oldest")
        self._tasks = [
            asyncio.create_task(self._consume(), name="live-consume"),
            asyncio.create_task(self._fanout(), name="live-fanout"),
        ]

    async def stop(self) -> None:
        if self._sub is not None:
            await self._sub.close()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    def connect(self, root: str | None) -> LiveClient:
        client = LiveClient(root)
        self._clients.add(client)
        return client

    def disconnect(self, client: LiveClient) -> None:
        self._clients.discard(client)

    @property
    def clients(self) -> int:
        return len(self._clients)

    async def _consume(self) -> None:
        assert self._sub is not None
        async for batch in self._sub:
            for s in batch:
                self._changed[s.key] = s

    async def _fanout(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            if not self._clients:
                self._changed.clear()
                continue
            if not self._changed:
                continue
            changed, self._changed = self._changed, {}
            rows = [
                {"asset": s.asset, "tag": s.tag, "ts": s.ts, "value": s.value, "quality": int(s.quality)}
                for s in changed.values()
            ]
            for client in list(self._clients):
                mine = [r for r in rows if in_subtree(r["asset"], client.root)]
                if not mine:
                    continue
                if client.queue.full():
                    with contextlib.suppress(asyncio.QueueEmpty):
                        client.queue.get_nowait()
                    client.dropped += 1
                    self.dropped += 1
                client.queue.put_nowait(mine)
                self.sent += len(mine)
