"""Fixtures for the rule engine tests: a small plant, a state store, a manual clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from shopfloor.core.assets import Plant
from shopfloor.core.clock import NS, ManualClock
from shopfloor.store.state import StateStore

T0 = 1_700_000_000 * NS
PUMP1 = "mill/pm/pm1/pump1"
PUMP2 = "mill/pm/pm1/pump2"
CUTTER = "mill/conv/line1/cutter"

_PUMP_TAGS = [
    {"name": "vib_rms", "unit": "g"},
    {"name": "bearing_temp", "unit": "degC"},
    {"name": "flow", "unit": "m3/h"},
    {"name": "running", "type": "bool"},
]
PLANT = {
    "plant": {"enterprise": "acme", "name": "Test mill"},
    "asset": [
        {"path": PUMP1, "kind": "pump", "tag": _PUMP_TAGS},
        {"path": PUMP2, "kind": "pump", "tag": _PUMP_TAGS},
        {"path": CUTTER, "kind": "cutter", "tag": [{"name": "cutting_force", "unit": "N"}]},
    ],
}


@pytest.fixture
def plant() -> Plant:
    return Plant.from_dict(PLANT)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
async def state(tmp_path: Path) -> AsyncIterator[StateStore]:
    s = StateStore(tmp_path / "state.db")
    await s.open()
    yield s
    await s.close()
