"""Fixtures for the simulated plant: the default plant, fresh simulations, a real MQTT broker."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable

import pytest
from amqtt.broker import Broker

from shopfloor.core.assets import Plant
from shopfloor.sim import DEFAULT_PLANT, Simulation
from shopfloor.sim.opcua import free_port

START_NS = 1_767_225_600 * 1_000_000_000  # 2026-01-01T00:00:00Z


@pytest.fixture(scope="session")
def plant() -> Plant:
    return Plant.load(DEFAULT_PLANT)


def sub_plant(plant: Plant, prefixes: tuple[str, ...]) -> Plant:
    """The part of a plant under some asset paths (keeps tests fast)."""
    data = plant.to_dict()
    data["asset"] = [a for a in data["asset"] if a["path"].startswith(prefixes)]
    return Plant.from_dict(data)


@pytest.fixture
def make_sim(plant: Plant) -> Callable[..., Simulation]:
    """``make_sim(seed, only=("riverside/packaging",), **Simulation kwargs)``."""

    def make(seed: int = 0, only: tuple[str, ...] | str | None = None, **kw: object) -> Simulation:
        kw.setdefault("start_ns", START_NS)
        p = plant if only is None else sub_plant(plant, (only,) if isinstance(only, str) else only)
        return Simulation(p, seed=seed, **kw)  # type: ignore[arg-type]

    return make


@pytest.fixture
async def mqtt_broker() -> AsyncIterator[tuple[str, int]]:
    """An amqtt broker on a free loopback port, for the duration of one test."""
    logging.getLogger("amqtt").setLevel(logging.WARNING)
    port = free_port()
    broker = Broker(
        {
            "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
        }
    )
    await broker.start()
    try:
        yield ("127.0.0.1", port)
    finally:
        with contextlib.suppress(Exception):
            await broker.shutdown()
