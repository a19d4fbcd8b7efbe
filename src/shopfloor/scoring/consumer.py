"""A task that follows one bus subject: subscribe, hand each batch to ``handle``, stop cleanly."""

from __future__ import annotations

import asyncio
from typing import Any

from ..bus.base import Bus, SlowPolicy, Subscription
from ..core.tasks import cancel_and_wait


class BusFollower:
    """Subclasses implement :meth:`handle`; ``start()`` / ``stop()`` manage the subscription."""

    subject = "samples"
    policy: SlowPolicy | None = None

    def __init__(self, bus: Bus, name: str) -> None:
        self.bus = bus
        self.name = name
        self._sub: Subscription | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None

    async def start(self) -> None:
        self._sub = self.bus.subscribe(self.subject, self.name, policy=self.policy)
        self._task = asyncio.create_task(self._follow(), name=self.name)

    async def stop(self) -> None:
        if self._sub is not None:
            await self._sub.close()
        await cancel_and_wait(self._task)
        self._sub = self._task = None

    async def _follow(self) -> None:
        assert self._sub is not None
        async for batch in self._sub:
            await self.handle(batch)

    async def handle(self, batch: list[Any]) -> None:
        raise NotImplementedError
