"""Fixtures for the ingest tests: a small plant, a memory bus and a pipeline on it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from prometheus_client import CollectorRegistry

from shopfloor.bus.memory import MemoryBus
from shopfloor.core.assets import Plant
from shopfloor.core.clock import ManualClock
from shopfloor.core.settings import IngestSettings
from shopfloor.ingest.pipeline import Pipeline

from .ingest_helpers import NOW, Collector, plant_dict


@pytest.fixture
def plant() -> Plant:
    return Plant.from_dict(plant_dict())


@pytest.fixture
async def bus() -> AsyncIterator[MemoryBus]:
    b = MemoryBus(queue_size=1000)
    yield b
    await b.close()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def pipeline(plant: Plant, bus: MemoryBus, clock: ManualClock, registry: CollectorRegistry) -> Pipeline:
    settings = IngestSettings(max_payload_bytes=4096, max_future_s=60)  # type: ignore[call-arg]
    return Pipeline(plant, bus, settings, registry=registry, clock=clock)


@pytest.fixture
def samples(bus: MemoryBus) -> Collector:
    return Collector(bus, "samples")


@pytest.fixture
def letters(bus: MemoryBus) -> Collector:
    return Collector(bus, "deadletters")
