"""run_realtime with all endpoints at once, and backfill."""

from __future__ import annotations

import asyncio
import time

from pymodbus.client import AsyncModbusTcpClient

from shopfloor.core.sample import Sample
from shopfloor.sim import Endpoints, Simulation, backfill, run_realtime


async def test_realtime_runs_for_simulated_duration(make_sim) -> None:  # type: ignore[no-untyped-def]
    sim: Simulation = make_sim(seed=23, only="riverside/packaging")
    got: list[list[Sample]] = []

    async def on_samples(samples: list[Sample]) -> None:
        got.append(samples)

    t0 = time.monotonic()
    ticks = await run_realtime(sim, speed=20.0, tick_s=1.0, on_samples=on_samples, duration_s=10.0)
    wall = time.monotonic() - t0
    assert ticks == 10 and len(got) == 10
    assert 0.4 < wall < 3.0  # 10 s of plant at x20
    assert sim.now_ns - sim.start_ns == 10 * 1_000_000_000


async def test_realtime_serves_modbus_and_opcua(make_sim) -> None:  # type: ignore[no-untyped-def]
    sim: Simulation = make_sim(seed=24, only="riverside/converting/line2")
    stop = asyncio.Event()
    ready: list[Endpoints] = []
    task = asyncio.create_task(
        run_realtime(sim, speed=5.0, modbus_port=0, opcua_port=0, stop=stop, ready=ready.append)
    )
    for _ in range(200):
        if ready:
            break
        await asyncio.sleep(0.05)
    assert ready and ready[0].modbus_port and ready[0].opcua_url
    client = AsyncModbusTcpClient("127.0.0.1", port=ready[0].modbus_port)
    assert await client.connect()
    await asyncio.sleep(0.5)
    rr = await client.read_holding_registers(0, count=4, device_id=7)  # line2 calender
    assert not rr.isError() and any(rr.registers)
    client.close()
    stop.set()
    assert await asyncio.wait_for(task, 10) > 0
    # servers are gone after return
    client = AsyncModbusTcpClient("127.0.0.1", port=ready[0].modbus_port, retries=0, timeout=1)
    assert not await client.connect()
    client.close()


async def test_backfill_writes_batches(make_sim) -> None:  # type: ignore[no-untyped-def]
    sim: Simulation = make_sim(seed=25)
    batches: list[int] = []
    progress: list[float] = []

    async def write(samples: list[Sample]) -> int:
        batches.append(len(samples))
        return len(samples)

    n = await backfill(
        sim, write, duration_s=6 * 3600, tick_s=60.0, progress=progress.append, batch_size=20_000
    )
    assert n == sum(batches) and n > 300 * sim.tag_count * 0.95
    assert len(batches) > 1 and progress[-1] == 1.0
    assert sim.now_ns - sim.start_ns == 6 * 3600 * 1_000_000_000
    assert sim.waveform_samples == 4096  # restored after the fast backfill


async def test_backfill_decimates_vibration_frames(make_sim) -> None:  # type: ignore[no-untyped-def]
    sim: Simulation = make_sim(seed=26, only="riverside/utilities")
    got: list[Sample] = []

    async def write(samples: list[Sample]) -> int:
        got.extend(samples)
        return len(samples)

    await backfill(sim, write, duration_s=300, tick_s=1.0)
    flow = [s for s in got if s.tag == "flow"]
    rms = [s for s in got if s.tag == "vib_rms"]
    assert len(flow) >= 295  # process tags at the tick rate (minus any dropout)
    assert len(rms) == 5  # one vibration feature frame per simulated minute
    assert sim.vibration_period_s == 0.0


async def test_max_ahead_replays_then_follows_the_clock(make_sim) -> None:  # type: ignore[no-untyped-def]
    start = time.time_ns() - 20 * 1_000_000_000
    sim: Simulation = make_sim(seed=27, only="riverside/packaging", start_ns=start)
    t0 = time.monotonic()
    ticks = await run_realtime(sim, speed=100.0, duration_s=22.0, max_ahead_s=0.0)
    wall = time.monotonic() - t0
    assert ticks == 22
    assert 1.0 < wall < 4.0  # 20 s replayed in ~0.2 s, the last 2 s at real time
    assert sim.now_ns <= time.time_ns() + 50_000_000

    live: Simulation = make_sim(seed=28, only="riverside/packaging", start_ns=time.time_ns())
    t0 = time.monotonic()
    assert await run_realtime(live, speed=100.0, duration_s=2.0, max_ahead_s=0.0) == 2
    assert time.monotonic() - t0 > 1.5  # started at now: real time from the first tick
