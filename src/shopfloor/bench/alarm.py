"""``shopfloor bench alarm``: sensor publish -> alarm raised, and -> command delivered at the PLC.

The whole embedded platform (:class:`~shopfloor.service.Platform`: embedded MQTT broker,
ingest, in-process bus, DuckDB store writer, rule engine with SQLite journal, notifier,
command service) runs in this process with the simulated paper mill's OPC UA server (its PLCs).

* **Background load**: a separate process publishes ``LOAD_POINTS_PER_S`` (10,000) points/s
  over MQTT into the embedded broker: 100 load machines x 100 tags, one message of 100 values
  per machine and tick. ``RULES`` (1,000) rules are active on them (10 tags x 100 machines,
  ``high`` rules that evaluate every sample but do not fire).
* **Probe**: this process publishes (paho, QoS 0) the probe tag alternately above and below
  the limit of rule ``probe_high`` every ``PROBE_PERIOD_S``. For each activation:

  - ``alarm``: publish -> the journaled alarm transition arrives on the bus subject ``events``
    (what the API, the dashboard and the notifier receive);
  - ``command``: the rule's action (``commands.actions``) submits a setpoint command
    (``speed_sp`` of the stock pump), the command service checks it and writes it over OPC UA
    (asyncua client -> the simulated PLC's OPC UA server), and reads it back;
    latency = publish -> the simulated PLC's ``write`` (the PLC has the new setpoint).

Publish and receive times are this host's wall clock (``time.time_ns``) in one process. The
k-th alarm / PLC write is paired with the k-th activation; ``*_count`` says how many there
were. CPU is this process's CPU time / wall time (1.0 = one core); the load generator's CPU
is outside it.

``backend="production"`` runs the same in production mode: this host's Mosquitto
(127.0.0.1:1883) as the broker, NATS JetStream as the bus, PostgreSQL as the store, all four
roles in this process, with fresh topic root, stream prefix and schema that are removed
afterwards. ``backend="both"`` runs the two side by side.
"""

from __future__ import annotations

import asyncio
import json
import logging
import multiprocessing as mp
import os
import random
import resource
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import ConfigError, ShopfloorError

TARGETS = {"embedded_p99_ms": 25.0, "production_p99_ms": 100.0}
LOAD_MACHINES = 100
LOAD_TAGS = 100
LOAD_POINTS_PER_S = 10_000
RULES = 1000
PROBE_PERIOD_S = 0.05
PROBE = "riverside/bench/probe/p0"
PUMP = "riverside/papermaking/pm1/stock_pump"
WARMUP_S = 2.0


def _load_asset(i: int) -> str:
    return f"riverside/bench/load/m{i:03d}"


def _plant() -> Any:
    from ..core.assets import Plant
    from ..sim import DEFAULT_PLANT

    data = Plant.load(DEFAULT_PLANT).to_dict()
    tags = [{"name": f"t{j:03d}", "unit": "%", "low": 0, "high": 100} for j in range(LOAD_TAGS)]
    data["asset"] += [{"path": _load_asset(i), "kind": "load", "tag": tags} for i in range(LOAD_MACHINES)]
    data["asset"].append({"path": PROBE, "kind": "probe", "tag": [{"name": "x", "unit": "%"}]})
    return Plant.from_dict(data)


def _rules_toml() -> str:
    probe = f'[[rule]]\nid = "probe_high"\nasset = "{PROBE}"\ntag = "x"\nkind = "high"\nlimit = 50\n'
    out = [probe + 'priority = "high"\n']
    per_machine = RULES // LOAD_MACHINES
    for j in range(per_machine):
        out.append(
            f'[[rule]]\nid = "load_t{j:03d}_high"\nasset = "riverside/bench/load/*"\nasset_kind = "load"\n'
            f'tag = "t{j:03d}"\nkind = "high"\nlimit = 95\ndeadband = 1\n'
        )
    return "\n".join(out)


def _load(port: int, rate: int, stop: Any, sent: Any, root: str = "shopfloor/v1") -> None:
    """The background load (a separate process): ``rate`` points/s in 100-value messages."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-alarm-load-{os.getpid()}")
    client.connect("127.0.0.1", port)
    client.loop_start()
    rng = random.Random(1)
    msgs_per_s = rate / LOAD_TAGS
    t0 = time.monotonic()
    n = 0
    while not stop.is_set():
        due = int((time.monotonic() - t0) * msgs_per_s)
        while n < due:
            i = n % LOAD_MACHINES
            values = {f"t{j:03d}": round(rng.uniform(10, 80), 2) for j in range(LOAD_TAGS)}
            body = json.dumps({"ts": time.time_ns(), "values": values})
            client.publish(f"{root}/{_load_asset(i)}/data", body, qos=0)
            n += 1
        with sent.get_lock():
            sent.value = n * LOAD_TAGS
        time.sleep(0.005)
    client.disconnect()
    client.loop_stop()


def _pct(xs: Sequence[float]) -> dict[str, float | int | None]:
    if not xs:
        return {"count": 0, "p50_ms": None, "p99_ms": None, "max_ms": None}
    a = np.asarray(xs) / 1e6
    return {
        "count": len(xs),
        "p50_ms": round(float(np.percentile(a, 50)), 2),
        "p99_ms": round(float(np.percentile(a, 99)), 2),
        "max_ms": round(float(a.max()), 2),
    }


PG = os.environ.get("SHOPFLOOR_BENCH_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
NATS = os.environ.get("SHOPFLOOR_BENCH_NATS_URL", "nats://127.0.0.1:4222")


def _production(tmp: str, suffix: str) -> dict[str, Any]:
    """Settings of production mode on this host's Mosquitto, NATS JetStream and PostgreSQL."""
    return {
        "mode": "production",
        "mqtt": {
            "embedded": False,
            "host": "127.0.0.1",
            "port": 1883,
            "topic_root": f"sfbench-{suffix}/v1",
            "shared_group": f"g{suffix}",
            "client_id": f"sfbench-{suffix}",
        },
        "bus": {"nats_url": NATS, "stream_prefix": f"sfbench_{suffix}"},
        "store": {"backend": "postgres", "postgres_dsn": PG, "postgres_schema": f"sfbench_{suffix}"},
    }


async def _cleanup(suffix: str) -> None:
    """Drop what a production run created (schema, JetStream streams)."""
    import contextlib

    import nats
    import psycopg

    with contextlib.suppress(Exception):
        async with await psycopg.AsyncConnection.connect(PG, autocommit=True) as conn:
            await conn.execute(f"DROP SCHEMA IF EXISTS sfbench_{suffix} CASCADE")
    with contextlib.suppress(Exception):
        nc = await nats.connect(NATS)
        try:
            js = nc.jetstream()
            for kind in ("samples", "deadletters", "events"):
                with contextlib.suppress(Exception):
                    await js.delete_stream(f"sfbench_{suffix}_{kind}")
        finally:
            await nc.close()


async def _run(duration_s: float, mode: str = "embedded") -> dict[str, Any]:
    suffix = uuid.uuid4().hex[:8]
    try:
        return await _measure(duration_s, mode, suffix)
    finally:
        if mode == "production":
            await _cleanup(suffix)


async def _measure(duration_s: float, mode: str, suffix: str) -> dict[str, Any]:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from ..core.settings import load_settings
    from ..service import Platform
    from ..sim import Simulation
    from ..sim.opcua import OpcUaEndpoint

    plant = _plant()
    sim = Simulation(plant, seed=0, sensor_faults=False, waveform_samples=256)
    sim.step(1.0)
    plc = OpcUaEndpoint(sim)
    await plc.start()
    writes: list[int] = []
    real_write = sim.write

    def write(asset: str, tag: str, value: object) -> None:
        real_write(asset, tag, value)
        if asset == PUMP and tag == "speed_sp":
            writes.append(time.time_ns())

    sim.write = write  # type: ignore[method-assign]
    with tempfile.TemporaryDirectory(prefix="shopfloor-bench-alarm-") as tmp:
        rules = Path(tmp) / "rules.toml"
        rules.write_text(_rules_toml(), encoding="utf-8")
        prod = _production(tmp, suffix) if mode == "production" else {"mqtt": {"port": 0}}
        root = prod["mqtt"].get("topic_root", "shopfloor/v1")
        settings = load_settings(
            overrides={
                **prod,
                "data_dir": tmp,
                "rules": str(rules),
                "security": {"profile": "demo"},
                "commands": {
                    "transport": "opcua",
                    "opcua_url": plc.url,
                    "interlocks": [],
                    "actions": [{"rule": "probe_high", "asset": PUMP, "tag": "speed_sp", "value": 1200.0}],
                },
            }
        )
        platform = Platform(settings, plant=plant)
        await platform.start()
        events = platform.bus.subscribe("events", "bench-alarm", policy="block")
        raised: list[int] = []

        async def follow() -> None:
            async for batch in events:
                now = time.time_ns()
                for e in batch:
                    if (
                        e.get("type") == "alarm"
                        and e.get("rule_id") == "probe_high"
                        and e.get("event") == "activate"
                    ):
                        raised.append(now)

        follower = asyncio.create_task(follow())
        ctx = mp.get_context("spawn")
        stop, sent = ctx.Event(), ctx.Value("q", 0)
        port = platform.mqtt_port
        assert port is not None
        loader = ctx.Process(target=_load, args=(port, LOAD_POINTS_PER_S, stop, sent, root), daemon=True)
        loader.start()
        probe = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-alarm-probe")
        probe.connect("127.0.0.1", port)
        probe.loop_start()
        published: list[int] = []
        try:
            await asyncio.sleep(WARMUP_S)
            engine = platform.rules
            s0, c0, w0 = engine.samples, time.process_time(), time.monotonic()
            sent0 = sent.value
            high = True
            end = time.monotonic() + duration_s
            while time.monotonic() < end:
                t = time.time_ns()
                probe.publish(
                    f"{root}/{PROBE}/data", json.dumps({"ts": t, "values": {"x": 90 if high else 10}})
                )
                if high:
                    published.append(t)
                high = not high
                await asyncio.sleep(PROBE_PERIOD_S)
            await asyncio.sleep(1.0)  # let the last ones arrive
            wall = time.monotonic() - w0
            cpu = (time.process_time() - c0) / wall
            evaluated_per_s = (engine.samples - s0) / wall
            sent_per_s = (sent.value - sent0) / wall
        finally:
            stop.set()
            probe.loop_stop()
            probe.disconnect()
            loader.join(10)
            follower.cancel()
            cmd_stats = platform.commands.stats()
            stats = engine.stats()
            await platform.stop()
            await plc.stop()
    n = len(published)
    alarm = [r - p for p, r in zip(published, raised[:n], strict=False)]
    command = [w - p for p, w in zip(published, writes[:n], strict=False)]
    return {
        "mode": mode,
        "transport": "opcua",
        "duration_s": duration_s,
        "probes": n,
        "alarm": _pct(alarm),
        "command": _pct(command),
        "alarms_raised": len(raised),
        "plc_writes": len(writes),
        "commands": cmd_stats["counts"],
        "background_points_per_s_sent": round(sent_per_s),
        "samples_evaluated_per_s": round(evaluated_per_s),
        "rule_definitions": stats["rules"],
        "rules_active": stats["alarms"],  # (rule, asset) bindings, each evaluated on its samples
        "cpu": round(cpu, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def _verdict(res: dict[str, Any]) -> dict[str, Any]:
    limit = TARGETS["production_p99_ms"] if res["mode"] == "production" else TARGETS["embedded_p99_ms"]
    a, c = res["alarm"]["p99_ms"], res["command"]["p99_ms"]
    res["target_p99_ms"] = limit
    res["meets_target"] = {
        "alarm_p99": a is not None and a <= limit,
        "command_p99": c is not None and c <= limit,
    }
    res["vs_target"] = {
        "alarm_p99": round(a / limit, 2) if a is not None else None,
        "command_p99": round(c / limit, 2) if c is not None else None,
    }
    return res


def run(duration_s: float = 20.0, backend: str = "embedded") -> dict[str, Any]:
    """Measure for ``duration_s`` per mode (plus about 5 s of start-up each); one JSON-able dict.

    ``backend``: ``embedded`` (default), ``production`` (Mosquitto on 127.0.0.1:1883, NATS
    JetStream, PostgreSQL: ``SHOPFLOOR_BENCH_NATS_URL``, ``SHOPFLOOR_BENCH_PG_DSN``) or
    ``both`` (side by side in one run, at most 25 s each).
    """
    logging.getLogger("shopfloor").setLevel(logging.WARNING)
    logging.getLogger("asyncua").setLevel(logging.CRITICAL)
    if backend not in ("embedded", "production", "postgres", "both"):
        raise ConfigError(f"--backend {backend!r}: choose embedded, production or both")
    modes = (
        ["embedded", "production"]
        if backend == "both"
        else ["production" if backend != "embedded" else "embedded"]
    )
    cap = 25.0 if len(modes) == 2 else 45.0
    out: dict[str, Any] = {"targets": TARGETS}
    for mode in modes:
        try:
            out[mode] = _verdict(asyncio.run(_run(min(duration_s, cap), mode)))
        except (ShopfloorError, OSError) as err:
            out[mode] = {"mode": mode, "error": f"{type(err).__name__}: {err}"}
    if len(modes) == 1:
        return {**out.pop(modes[0]), "targets": TARGETS}
    return out
