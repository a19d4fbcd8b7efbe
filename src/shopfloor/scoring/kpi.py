"""Live OEE on the platform: the ``analytics`` role feeds every accepted sample batch to a
:class:`~shopfloor.analytics.kpi.live.LiveOee` (one tracker per machine that reports a state or
counters; ideal cycle times from the ``ideal_cycle_s`` asset attribute or the
``ideal_cycle_time`` tag), so ``GET /api/v1/kpi/oee/live`` answers from memory for the last
hours without reading the store. History over any window: ``GET /api/v1/kpi/oee``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from ..analytics.kpi.live import DAY_NS, LiveOee
from ..bus.base import Bus, Subscription
from ..core.assets import Plant

log = logging.getLogger(__name__)


class LiveKpi:
    def __init__(self, plant: Plant, bus: Bus, horizon_ns: int = DAY_NS, name: str = "kpi") -> None:
        ideal = {
            a.path: float(a.attributes["ideal_cycle_s"])
            for a in plant.assets()
            if isinstance(a.attributes.get("ideal_cycle_s"), int | float)
        }
        self.oee = LiveOee(ideal, horizon_ns=horizon_ns)
        self.bus = bus
        self.name = name
        self._sub: Subscription | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._sub = self.bus.subscribe("samples", self.name, policy="drop_oldest")
        self._task = asyncio.create_task(self._consume(), name="live-kpi")

    async def stop(self) -> None:
        if self._sub is not None:
            await self._sub.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._sub = self._task = None

    async def _consume(self) -> None:
        assert self._sub is not None
        async for batch in self._sub:
            self.oee.learn_many(batch)

    def machines(self) -> list[str]:
        return sorted(self.oee.trackers)

    def result(self, asset: str, start: int, end: int) -> dict[str, Any]:
        return self.oee.result(asset, start, end).as_dict()
