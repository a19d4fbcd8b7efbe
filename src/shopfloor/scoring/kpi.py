"""Live OEE on the platform: the ``analytics`` role feeds every accepted sample batch to a
:class:`~shopfloor.analytics.kpi.live.LiveOee` (one tracker per machine that reports a state or
counters; ideal cycle times from the ``ideal_cycle_s`` asset attribute or the
``ideal_cycle_time`` tag), so ``GET /api/v1/kpi/oee/live`` answers from memory for the last
hours without reading the store. History over any window: ``GET /api/v1/kpi/oee``.
"""

from __future__ import annotations

import logging
from typing import Any

from ..analytics.kpi.live import DAY_NS, LiveOee
from ..bus.base import Bus
from ..core.assets import Plant
from .consumer import BusFollower

log = logging.getLogger(__name__)


class LiveKpi(BusFollower):
    policy = "drop_oldest"  # a live view: never hold back ingest

    def __init__(self, plant: Plant, bus: Bus, horizon_ns: int = DAY_NS, name: str = "kpi") -> None:
        super().__init__(bus, name)
        ideal = {
            a.path: float(a.attributes["ideal_cycle_s"])
            for a in plant.assets()
            if isinstance(a.attributes.get("ideal_cycle_s"), int | float)
        }
        self.oee = LiveOee(ideal, horizon_ns=horizon_ns)

    async def handle(self, batch: list[Any]) -> None:
        self.oee.learn_many(batch)

    def machines(self) -> list[str]:
        return sorted(self.oee.trackers)

    def result(self, asset: str, start: int, end: int) -> dict[str, Any]:
        return self.oee.result(asset, start, end).as_dict()
