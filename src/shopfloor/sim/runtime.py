"""Running the simulated plant: in (scaled) real time with its endpoints, or as fast as possible.

``run_realtime`` steps the plant on a wall-clock schedule (``speed`` x real time), serves
the simulated PLCs over Modbus TCP and OPC UA, publishes the smart sensors over MQTT and
hands every tick's samples to ``on_samples``. ``backfill`` writes history into a store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ..core.sample import Sample
from .simulation import FAST_VIBRATION_PERIOD_S, FAST_WAVEFORM_SAMPLES, NS, Simulation

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Endpoints:
    """Where a running simulation can be reached (ports resolved when 0 was asked)."""

    modbus_port: int | None = None
    opcua_url: str | None = None
    mqtt: tuple[str, int] | None = None


async def run_realtime(
    sim: Simulation,
    speed: float = 1.0,
    tick_s: float = 1.0,
    on_samples: Callable[[list[Sample]], Awaitable[None]] | None = None,
    mqtt: tuple[str, int] | None = None,
    modbus_port: int | None = None,
    opcua_port: int | None = None,
    duration_s: float | None = None,
    stop: asyncio.Event | None = None,
    *,
    host: str = "127.0.0.1",
    ready: Callable[[Endpoints], None] | None = None,
    max_ahead_s: float | None = None,
) -> int:
    """Run the plant in scaled real time until ``duration_s`` of *simulated* time or ``stop``.

    Each tick advances the plant by ``tick_s`` simulated seconds, every ``tick_s / speed``
    wall seconds. Endpoints are started first (port 0 = a free port; ``ready`` receives the
    resolved :class:`Endpoints`, also kept in ``sim.endpoints``) and always shut down on
    return. Returns the number of ticks run.

    ``max_ahead_s`` keeps simulated time from running more than that many seconds ahead of
    the wall clock (``0``: never in the future). With a simulation started in the past and
    ``speed=100`` it replays history fast, then continues in real time: what a platform that
    rejects future timestamps needs. ``None`` (default): no limit.
    """
    if speed <= 0 or tick_s <= 0:
        raise ValueError(f"speed and tick_s must be positive, got speed={speed}, tick_s={tick_s}")
    from .modbus import ModbusEndpoint  # imported here: the protocol libraries are optional extras
    from .mqtt import MqttEndpoint
    from .opcua import OpcUaEndpoint

    info = Endpoints(mqtt=mqtt)
    mb = ua = mq = None
    ticks = 0
    try:
        if modbus_port is not None:
            mb = ModbusEndpoint(sim, host, modbus_port)
            info.modbus_port = await mb.start()
        if opcua_port is not None:
            ua = OpcUaEndpoint(sim, host, opcua_port)
            await ua.start()
            info.opcua_url = ua.url
        if mqtt is not None:
            mq = MqttEndpoint(sim, mqtt[0], mqtt[1])
            await mq.start()
        sim.endpoints = info
        if ready is not None:
            ready(info)
        loop = asyncio.get_running_loop()
        period = tick_s / speed
        tick_ns = round(tick_s * NS)
        t0 = loop.time()
        max_ticks = math.ceil(duration_s / tick_s - 1e-9) if duration_s is not None else None
        while not (stop is not None and stop.is_set()) and (max_ticks is None or ticks < max_ticks):
            if max_ahead_s is not None:
                ahead = (sim.now_ns + tick_ns - time.time_ns()) / NS - max_ahead_s
                if ahead > 0:  # the next tick would be too far in the future: wait for the clock
                    await _sleep(ahead, stop)
                    t0 = loop.time() - ticks * period
                    continue
            samples = sim.step(tick_s)
            ticks += 1
            if mb is not None:
                mb.update(samples)
            if ua is not None:
                await ua.update(samples)
            if mq is not None:
                mq.publish(samples)
            if on_samples is not None:
                await on_samples(samples)
            delay = t0 + ticks * period - loop.time()
            if delay < -10 * period and delay < -1.0:
                log.warning("simulation is %.1f s behind real time x%g; catching up", -delay, speed)
                t0 = loop.time() - ticks * period
                delay = 0.0
            await _sleep(max(delay, 0.0), stop)
    finally:
        for ep in (mq, ua, mb):
            if ep is not None:
                with contextlib.suppress(Exception):
                    await ep.stop()
    log.info("simulation stopped after %d ticks", ticks)
    return ticks


async def _sleep(seconds: float, stop: asyncio.Event | None) -> None:
    if stop is None:
        await asyncio.sleep(seconds)
        return
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


async def backfill(
    sim: Simulation,
    write: Callable[[list[Sample]], Awaitable[int]],
    duration_s: float,
    tick_s: float = 1.0,
    progress: Callable[[float], None] | None = None,
    *,
    batch_size: int = 200_000,
    fast: bool = True,
) -> int:
    """Generate ``duration_s`` of history from ``sim.now_ns`` on, as fast as possible.

    Create the simulation with ``start_ns = now - duration`` to end at the present. Samples go
    to ``write`` in batches of about ``batch_size``; ``progress`` gets the fraction done.
    ``fast`` computes vibration feature frames from 1024-sample waveforms once per simulated
    minute (process tags keep the tick rate). A coarser ``tick_s`` (10-60 s)
    makes a month take minutes. Returns the number of samples written (as ``write`` reports).
    """
    if duration_s <= 0 or tick_s <= 0:
        raise ValueError("duration_s and tick_s must be positive")
    n_ticks = math.ceil(duration_s / tick_s - 1e-9)
    saved = sim.waveform_samples, sim.vibration_period_s
    if fast:
        sim.waveform_samples = FAST_WAVEFORM_SAMPLES
        sim.vibration_period_s = max(sim.vibration_period_s, FAST_VIBRATION_PERIOD_S)
    total = 0
    buf: list[Sample] = []
    try:
        for i in range(n_ticks):
            buf.extend(sim.step(tick_s))
            if len(buf) >= batch_size or i == n_ticks - 1:
                n = await write(buf)
                total += n if isinstance(n, int) else len(buf)
                buf = []
                if progress is not None:
                    progress((i + 1) / n_ticks)
            elif i % 500 == 0:
                await asyncio.sleep(0)  # let the rest of the process breathe
    finally:
        sim.waveform_samples, sim.vibration_period_s = saved
    return total
