"""Shared by the ingest tests: the test plant and a bus collector."""

from __future__ import annotations

from typing import Any

from shopfloor.bus.memory import MemoryBus

NOW = 1_700_000_000_000_000_000
MACHINE = "mill/converting/line1/cutter"
COMPONENT = "mill/converting/line1/cutter/spindle"


def plant_dict() -> dict[str, Any]:
    return {
        "plant": {"enterprise": "acme"},
        "asset": [
            {
                "path": MACHINE,
                "tag": [
                    {"name": "cutting_force", "unit": "N", "type": "float", "low": 0, "high": 5000},
                    {"name": "temp", "unit": "degC", "type": "float", "low": -20, "high": 150},
                    {"name": "count", "unit": "", "type": "int"},
                    {"name": "running", "type": "bool"},
                    {"name": "state", "type": "str"},
                ],
            },
            {"path": COMPONENT, "tag": [{"name": "speed", "unit": "rpm", "type": "float", "high": 12000}]},
        ],
    }


class Collector:
    """Everything published on one subject so far (reads a subscription without waiting)."""

    def __init__(self, bus: MemoryBus, subject: str) -> None:
        self.sub = bus.subscribe(subject, f"test-{subject}")
        self._it = aiter(self.sub)
        self.items: list[Any] = []

    async def get(self) -> list[Any]:
        while self.sub.depth:
            self.items.extend(await anext(self._it))
        return self.items
