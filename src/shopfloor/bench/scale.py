"""``shopfloor bench scale``: production mode under a ThingsBoard-shaped load, 1 then 2 ingest workers.

The load: ``publishers`` device processes (paho, QoS 0) publish messages of 3 values each
(``{"ts", "values": {"temperature", "humidity", "pressure"}}``) for ``assets`` assets to the
external broker (Mosquitto on 127.0.0.1:1883); an alarm rule per asset is active. The path is
production mode end to end: ``shopfloor worker --role ingest`` processes (a shared
subscription splits the topic tree between them) -> NATS JetStream -> the writer and rules
roles (in this process, so the commit latency can be timed) -> PostgreSQL.

Phases, in one run, each with fresh names (topic root, stream prefix, schema; removed after):

1. ``bare``: the same publishers flat out, a bare paho subscriber that only counts on the same
   broker: the ceiling of broker + one subscriber on this machine;
2. for 1 and 2 ingest workers, ``max``: the publishers keep at most a window of messages
   ahead of what the writer has committed, so the rate is what the pipeline sustains without
   loss; reported: offered and stored points/s and ``missing_points``: sent but not stored
   within ``DRAIN_S`` after the publishers stopped (dropped by the broker, or still queued);
3. for 1 and 2 ingest workers, ``paced``: ``paced_msgs`` msg/s offered; publish-to-stored
   latency p50/p99 (time the PostgreSQL commit returned - the sample time the device set).

CPU (share of one core over the window) and RSS of every process: this one (writer + rules),
each ingest worker, the publishers together, Mosquitto, PostgreSQL (all backends) and NATS.
Targets (issue 13): >= 45k msg/s (135k points/s) stored with zero loss; p99 <= 100 ms at 20k
msg/s. References quoted in the issue for this machine: ThingsBoard 5k msg/s at 95% CPU; a
hand-built MQTT -> PostgreSQL flow 42-45k msg/s, p99 85 ms at 20k msg/s (not re-measured here).
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import select
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import psutil

from .ingest import _bare

TARGETS = {"msgs_per_s": 45_000, "points_per_s": 135_000, "p99_ms_at_20k": 100.0}
VALUES = ("temperature", "humidity", "pressure")
DRAIN_S = 60.0  # after the publishers stop, wait this long for the backlog to be stored
WINDOW = 4_000  # messages a publisher may be ahead of the committed count (max phase)
PG = os.environ.get("SHOPFLOOR_BENCH_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
NATS = os.environ.get("SHOPFLOOR_BENCH_NATS_URL", "nats://127.0.0.1:4222")
BROKER = ("127.0.0.1", int(os.environ.get("SHOPFLOOR_BENCH_MQTT_PORT", "1883")))


# -- processes ------------------------------------------------------------------------------------


def _publisher(
    root: str,
    idx: int,
    assets: int,
    rate: float,
    ready: Any,
    go: Any,
    stop: Any,
    sent: Any,
    seen: Any,
    share: int,
) -> None:
    """Publish 3-value messages round-robin over this publisher's assets until ``stop``."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"scale-pub-{idx}-{os.getpid()}")
    client.connect(*BROKER, keepalive=120)
    sock = client.socket()
    assert sock is not None
    topics = [f"{root}/bench/area/line/m{idx}-{k}/data" for k in range(assets)]
    ready.set()
    go.wait()
    n = 0
    t0 = time.perf_counter()
    while not stop.is_set():
        if not rate and n - seen.value // share > WINDOW:
            time.sleep(0.0005)
            client.loop_misc()
            continue
        for _ in range(20):
            if rate:
                ahead = t0 + n / rate - time.perf_counter()
                if ahead > 0:
                    time.sleep(ahead)
            ts = time.time_ns()
            v = n % 1000
            client.publish(
                topics[n % assets],
                b'{"ts":%d,"values":{"temperature":%d.5,"humidity":%d.25,"pressure":1013.%d}}'
                % (ts, v % 90, v % 100, v),
            )
            n += 1
            while client.want_write() and not stop.is_set():
                select.select([], [sock], [], 0.1)
                client.loop_write()
        sent.value = n
        client.loop_read()
        client.loop_misc()
    client.disconnect()


class _Publishers:
    def __init__(self, root: str, publishers: int, assets: int, seen: Any, rate: float = 0.0) -> None:
        ctx = mp.get_context("spawn")
        self.go, self.stop = ctx.Event(), ctx.Event()
        self.sent = [ctx.Value("q", 0, lock=False) for _ in range(publishers)]
        self.readies = [ctx.Event() for _ in range(publishers)]
        per = rate / publishers if rate else 0.0
        self.procs = [
            ctx.Process(
                target=_publisher,
                args=(
                    root,
                    i,
                    assets,
                    per,
                    self.readies[i],
                    self.go,
                    self.stop,
                    self.sent[i],
                    seen,
                    publishers,
                ),
                daemon=True,
            )
            for i in range(publishers)
        ]

    async def start(self) -> None:
        for p in self.procs:
            p.start()
        for r in self.readies:
            if not await asyncio.to_thread(r.wait, 60):
                raise RuntimeError("a bench publisher did not connect within 60 s")
        self.go.set()

    def pids(self) -> list[int]:
        return [p.pid for p in self.procs if p.pid]

    def sent_total(self) -> int:
        return sum(int(v.value) for v in self.sent)

    async def finish(self) -> int:
        self.stop.set()
        for p in self.procs:
            await asyncio.to_thread(p.join, 10)
            if p.is_alive():
                p.kill()
        return self.sent_total()


# -- resource accounting --------------------------------------------------------------------------


def _named(*names: str) -> list[int]:
    return [p.pid for p in psutil.process_iter(["name"]) if (p.info.get("name") or "") in names]


class _Usage:
    """CPU share (1.0 = one core) and RSS of groups of processes over a window."""

    def __init__(self, groups: dict[str, list[int]]) -> None:
        self.groups = groups
        self.t0 = time.perf_counter()
        self.cpu0 = {g: self._cpu(pids) for g, pids in groups.items()}

    @staticmethod
    def _cpu(pids: list[int]) -> float:
        total = 0.0
        for pid in pids:
            try:
                t = psutil.Process(pid).cpu_times()
                total += t.user + t.system
            except psutil.Error:
                pass
        return total

    @staticmethod
    def _rss_mb(pids: list[int]) -> float:
        total = 0
        for pid in pids:
            try:
                total += psutil.Process(pid).memory_info().rss
            except psutil.Error:
                pass
        return round(total / 2**20, 1)

    def report(self) -> dict[str, dict[str, float]]:
        wall = max(1e-9, time.perf_counter() - self.t0)
        return {
            g: {"cpu": round((self._cpu(pids) - self.cpu0[g]) / wall, 3), "rss_mb": self._rss_mb(pids)}
            for g, pids in self.groups.items()
        }


# -- one production platform ----------------------------------------------------------------------


class _Names:
    def __init__(self, tmp: Path, assets_total: list[str]) -> None:
        sid = uuid.uuid4().hex[:8]
        self.root = f"sfscale-{sid}/v1"
        self.prefix = f"sfscale_{sid}"
        self.schema = f"sfscale_{sid}"
        self.dir = tmp / sid
        self.dir.mkdir()
        plant = self.dir / "plant.toml"
        lines = ['[plant]\nenterprise = "bench"\n']
        for a in assets_total:
            lines.append(f'[[asset]]\npath = "{a}"\n')
            for tag in VALUES:
                lines.append(f'[[asset.tag]]\nname = "{tag}"\n')
        plant.write_text("".join(lines))
        rules = self.dir / "rules.toml"
        rules.write_text(
            '[[rule]]\nid = "temperature_high"\nasset = "bench/area/line/*"\ntag = "temperature"\n'
            'kind = "high"\nlimit = 85\ndeadband = 1\npriority = "low"\n'
        )
        self.config = self.dir / "prod.toml"
        self.config.write_text(
            f'mode = "production"\nplant = "{plant}"\nrules = "{rules}"\ndata_dir = "{self.dir / "data"}"\n'
            f'log_level = "WARNING"\n'
            f'[mqtt]\nembedded = false\nhost = "{BROKER[0]}"\nport = {BROKER[1]}\n'
            f'topic_root = "{self.root}"\n'
            f'shared_group = "g{sid}"\n'
            f'[bus]\nnats_url = "{NATS}"\nstream_prefix = "{self.prefix}"\n'
            f'[store]\nbackend = "postgres"\npostgres_dsn = "{PG}"\npostgres_schema = "{self.schema}"\n'
            f"flush_interval_s = 0.05\n"
        )

    async def cleanup(self) -> None:
        import nats
        import psycopg

        async with await psycopg.AsyncConnection.connect(PG, autocommit=True) as conn:
            await conn.execute(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE")
        nc = await nats.connect(NATS)
        try:
            js = nc.jetstream()
            for stream in await js.streams_info():
                if stream.config.name and stream.config.name.startswith(self.prefix + "_"):
                    await js.delete_stream(stream.config.name)
        finally:
            await nc.close()


def _worker(config: Path, client_id: str) -> subprocess.Popen[str]:
    exe = str(Path(sys.executable).with_name("shopfloor"))
    env = {**os.environ, "SHOPFLOOR_MQTT__CLIENT_ID": client_id, "SHOPFLOOR_LOG_LEVEL": "INFO"}
    return subprocess.Popen(
        [exe, "worker", "--role", "ingest", "--config", str(config)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait_ready(proc: subprocess.Popen[str], timeout: float = 60) -> None:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.strip():
            seen = [*seen[-5:], line.rstrip()]
        if "ingesting from MQTT broker" in line:
            return
        if not line and proc.poll() is not None:
            raise RuntimeError(f"ingest worker exited with {proc.returncode}: " + " | ".join(seen))
    raise RuntimeError("ingest worker did not connect to the broker within 60 s")


async def _pipeline_phase(
    tmp: Path, workers: int, publishers: int, assets: int, duration_s: float, rate: float
) -> dict[str, Any]:
    from ..core.settings import load_settings
    from ..service import Platform, run_platform

    names = _Names(tmp, [f"bench/area/line/m{i}-{k}" for i in range(publishers) for k in range(assets)])
    lat: list[np.ndarray] = []
    procs = [_worker(names.config, f"scale-ingest-{i}-{uuid.uuid4().hex[:6]}") for i in range(workers)]
    platform = Platform(load_settings(names.config), roles=frozenset({"writer", "rules"}))
    store = platform.writer.store
    write = store.write

    async def timed_write(samples: Any) -> int:
        n = await write(samples)
        now = time.time_ns()
        lat.append((now - np.fromiter((s.ts for s in samples[::11]), dtype=np.int64)) / 1e6)
        return n

    platform.writer.store.write = timed_write  # type: ignore[method-assign]
    stop = asyncio.Event()
    task: asyncio.Task[None] | None = None
    try:
        for p in procs:
            await asyncio.to_thread(_wait_ready, p)
        task = asyncio.create_task(run_platform(platform, stop=stop))
        await asyncio.sleep(1.0)
        seen = mp.get_context("spawn").Value("q", 0, lock=False)

        async def follow() -> None:
            while True:
                seen.value = platform.writer.written // len(VALUES)
                await asyncio.sleep(0.005)

        follower = asyncio.create_task(follow())
        pubs = _Publishers(names.root, publishers, assets, seen, rate)
        await pubs.start()
        await asyncio.sleep(min(2.0, duration_s / 4))  # warm-up
        lat.clear()
        usage = _Usage(
            {
                "writer_rules (this process)": [os.getpid()],
                **{f"ingest_{i}": [p.pid] for i, p in enumerate(procs)},
                "publishers": pubs.pids(),
                "mosquitto": _named("mosquitto"),
                "postgres": _named("postgres", "postgresql"),
                "nats": _named("nats-server"),
            }
        )
        w0, t0 = platform.writer.written, time.perf_counter()
        await asyncio.sleep(duration_s)
        stored_rate = (platform.writer.written - w0) / (time.perf_counter() - t0)
        resources = usage.report()
        sent = await pubs.finish()
        expected = sent * len(VALUES)
        deadline = time.monotonic() + DRAIN_S
        while platform.writer.written < expected and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        stored = platform.writer.written
        follower.cancel()
    finally:
        stop.set()
        if task is not None:
            await asyncio.wait_for(task, 60)
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
        await names.cleanup()
    ms = np.concatenate(lat) if lat else np.array([np.nan])
    return {
        "ingest_workers": workers,
        "offered_msgs_per_s": round(rate) if rate else "max (window-limited)",
        "stored_points_per_s": round(stored_rate),
        "stored_msgs_per_s": round(stored_rate / len(VALUES)),
        "sent_points": expected,
        "stored_points": stored,
        "missing_points": max(0, expected - stored),
        "latency_ms": {
            "p50": round(float(np.percentile(ms, 50)), 1),
            "p99": round(float(np.percentile(ms, 99)), 1),
        },
        "processes": resources,
    }


async def _bare_phase(tmp: Path, publishers: int, assets: int, duration_s: float) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    ready, stop, count = ctx.Event(), ctx.Event(), ctx.Value("q", 0, lock=False)
    root = f"sfscale-bare-{uuid.uuid4().hex[:8]}/v1"
    sub = ctx.Process(target=_bare, args=(BROKER[1], ready, stop, count, f"{root}/#"), daemon=True)
    sub.start()
    await asyncio.to_thread(ready.wait, 60)
    pubs = _Publishers(root, publishers, assets, seen=count)
    await pubs.start()
    await asyncio.sleep(min(2.0, duration_s / 4))
    usage = _Usage(
        {"bare_subscriber": [sub.pid or 0], "publishers": pubs.pids(), "mosquitto": _named("mosquitto")}
    )
    c0, t0 = int(count.value), time.perf_counter()
    await asyncio.sleep(duration_s)
    rate = (int(count.value) - c0) / (time.perf_counter() - t0)
    resources = usage.report()
    sent = await pubs.finish()
    await asyncio.sleep(0.5)
    stop.set()
    await asyncio.to_thread(sub.join, 10)
    return {
        "msgs_per_s": round(rate),
        "points_per_s": round(rate * len(VALUES)),
        "sent_msgs": sent,
        "received_msgs": int(count.value),
        "processes": resources,
    }


async def _run(duration_s: float, publishers: int, assets: int, paced_msgs: float) -> dict[str, Any]:
    out: dict[str, Any] = {
        "benchmark": "scale",
        "shape": f"{publishers} publisher processes x {assets} assets, 3 values per message, QoS 0, "
        "1 alarm rule per asset",
        "duration_s": duration_s,
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "targets": TARGETS,
    }
    with tempfile.TemporaryDirectory(prefix="shopfloor-scale-") as tmp:
        out["bare"] = await _bare_phase(Path(tmp), publishers, assets, duration_s)
        phases = []
        for workers in (1, 2):
            top = await _pipeline_phase(Path(tmp), workers, publishers, assets, duration_s, 0.0)
            top["vs_bare"] = round(top["stored_msgs_per_s"] / max(1, out["bare"]["msgs_per_s"]), 3)
            paced = await _pipeline_phase(Path(tmp), workers, publishers, assets, duration_s, paced_msgs)
            phases.append({"max": top, "paced": paced})
        out["workers"] = {"1": phases[0], "2": phases[1]}
    one, two = phases[0]["max"]["stored_points_per_s"], phases[1]["max"]["stored_points_per_s"]
    out["speedup_2_vs_1"] = round(two / max(1, one), 3)
    best = max(phases, key=lambda p: p["max"]["stored_points_per_s"])
    out["met"] = {
        "throughput": best["max"]["stored_msgs_per_s"] >= TARGETS["msgs_per_s"]
        and best["max"]["missing_points"] == 0,
        "p99_at_paced": min(p["paced"]["latency_ms"]["p99"] for p in phases) <= TARGETS["p99_ms_at_20k"],
    }
    return out


def run(
    duration_s: float = 15.0, publishers: int = 2, assets: int = 50, paced_msgs: float = 20_000
) -> dict[str, Any]:
    """Run the scale benchmark (needs Mosquitto, NATS and PostgreSQL on this machine)."""
    return asyncio.run(_run(duration_s, publishers, assets, paced_msgs))
