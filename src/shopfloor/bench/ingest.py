"""``shopfloor bench ingest``: MQTT devices -> embedded broker -> ingest -> store, end to end.

Simulated devices run in separate processes (paho-mqtt clients, QoS 0) and publish to the
embedded broker as fast as its socket takes, for ``duration_s``. Two message shapes:

* ``single``: one value per message, on the per-tag topic ``.../data/<tag>``;
* ``batch100``: 100 values per message, ``{"ts", "values": {...}}`` on ``.../data``.

For each shape, in the same run and against the same broker with the same publishers:

1. ``bare``: a bare subscriber (another process, paho) that only counts: the broker's ceiling;
2. ``pipeline``: the platform path (in-process broker hook -> pipeline -> bus -> store writer ->
   :class:`EmbeddedStore` in a temp dir); rate = points stored per second;
   ``vs_bare`` = pipeline rate / bare rate;
3. ``latency``: the same path with the publishers paced at half of the lower of the two rates
   above (half load): each payload carries its send time as ``ts``; latency = time the
   store's write returned - ``ts``.
   (Latency at saturation is also reported: there it is queueing in socket buffers.)

The broker is ``broker`` (default: the platform's default, ``mqtt.broker``):

* ``amqtt``: this process's amqtt; in ``bare`` it forwards every message to the subscriber, in
  ``pipeline`` it hands them to ingest in-process and forwards nothing;
* ``rumqttd``: rumqttd in a child process (:class:`RumqttBroker`); in ``pipeline`` ingest
  receives through its in-process paho subscriber. Its CPU is outside this process and is
  reported as ``broker_cpu`` (child CPU time / wall time).

``broker="compare"`` runs both, shape by shape and broker after broker in the same run, and
returns ``{"brokers": {"amqtt": {...}, "rumqttd": {...}}}`` with the usual keys under each.
CPU is this process's CPU time / wall time (broker, ingest and store; 1.0 = one core busy);
``peak_rss_mb`` is this process's peak resident memory.
"""

from __future__ import annotations

import asyncio
import gc
import multiprocessing as mp
import os
import resource
import select
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

TARGETS = {"single_vs_bare": 0.8, "batch100_points_per_s": 200_000, "p99_ms": 50.0}
TAGS = 100
GC_THRESHOLD = (50_000, 50, 1000)
WINDOW = {"single": 500, "batch100": 20}  # messages in flight per device
WARMUP_S = 1.0
Progress = Callable[[str, float], None]
BROKERS = ("amqtt", "rumqttd")


def _broker(kind: str, on_batch: Any = None) -> Any:
    """An embedded broker of ``kind`` on a free loopback port."""
    if kind == "rumqttd":
        from ..broker.rumqtt import RumqttBroker

        return RumqttBroker("127.0.0.1", 0, on_batch=on_batch)
    from ..broker.embedded import EmbeddedBroker

    return EmbeddedBroker("127.0.0.1", 0, on_batch=on_batch)


# -- device processes ---------------------------------------------------------------------------


def _device(
    port: int,
    shape: str,
    idx: int,
    rate: float,
    ready: Any,
    go: Any,
    stop: Any,
    sent: Any,
    seen: Any,
    share: int,
) -> None:
    """One simulated device: publish until ``stop`` is set (``rate`` msg/s, 0 = as fast as possible).

    At most ``WINDOW`` messages of this device are in flight (published but not yet counted by
    the receiving side, ``seen`` / ``share``), so a saturated run measures throughput without
    piling a backlog into socket buffers.
    """
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-dev-{idx}-{os.getpid()}")
    client.connect("127.0.0.1", port, keepalive=120)
    sock = client.socket()
    assert sock is not None
    asset = f"bench/area/line/m{idx}"
    if shape == "single":
        topics = [f"shopfloor/v1/{asset}/data/t{k}" for k in range(TAGS)]
    else:
        topic = f"shopfloor/v1/{asset}/data"
        body = ",".join(f'"t{k}":{k}.5' for k in range(TAGS))
    ready.set()
    go.wait()
    n = 0
    window = WINDOW[shape]
    t0 = time.perf_counter()
    while not stop.is_set():
        if n - seen.value // share > window:
            time.sleep(0.0005)
            client.loop_misc()
            continue
        for _ in range(10):
            if rate:
                ahead = t0 + n / rate - time.perf_counter()
                if ahead > 0:
                    time.sleep(ahead)
            ts = time.time_ns()
            if shape == "single":
                client.publish(topics[n % TAGS], b'{"ts":%d,"value":%d.25}' % (ts, n % 1000))
            else:
                client.publish(topic, b'{"ts":%d,"values":{%s}}' % (ts, body.encode()))
            n += 1
            while client.want_write() and not stop.is_set():  # socket full: wait (TCP flow control)
                select.select([], [sock], [], 0.1)
                client.loop_write()
        sent.value = n
        client.loop_read()
        client.loop_misc()
    client.disconnect()


def _bare(port: int, ready: Any, stop: Any, count: Any, topic: str = "shopfloor/v1/#") -> None:
    """The bare subscriber: counts messages on ``topic``, nothing else."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    box = [0]

    def on_message(client: Any, userdata: Any, msg: Any) -> None:
        box[0] += 1

    subscribed: list[bool] = []

    def on_connect(client: Any, *args: Any) -> None:
        client.subscribe(topic, qos=0)

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-bare-{os.getpid()}")
    client.on_message = on_message
    client.on_connect = on_connect
    client.on_subscribe = lambda *args: subscribed.append(True)
    client.connect("127.0.0.1", port, keepalive=120)
    deadline = time.monotonic() + 30
    while not subscribed and time.monotonic() < deadline:
        client.loop(0.05)
    ready.set()
    sock = client.socket()
    assert sock is not None
    while not stop.is_set():
        readable, _, _ = select.select([sock], [], [], 0.05)
        if readable:
            client.loop_read(max_packets=10_000)
        client.loop_misc()
        count.value = box[0]
    count.value = box[0]
    client.disconnect()


class _Devices:
    """The device processes of one phase."""

    def __init__(self, port: int, shape: str, publishers: int, seen: Any, rate: float = 0.0) -> None:
        ctx = mp.get_context("spawn")
        self.go = ctx.Event()
        self.stop = ctx.Event()
        self.sent = [ctx.Value("q", 0, lock=False) for _ in range(publishers)]
        readies = [ctx.Event() for _ in range(publishers)]
        per = rate / publishers if rate else 0.0
        self.procs = [
            ctx.Process(
                target=_device,
                args=(port, shape, i, per, readies[i], self.go, self.stop, self.sent[i], seen, publishers),
                daemon=True,
            )
            for i in range(publishers)
        ]
        self.readies = readies

    async def start(self) -> None:
        for p in self.procs:
            p.start()
        for r in self.readies:
            if not await asyncio.to_thread(r.wait, 60):
                raise RuntimeError("a bench device did not connect within 60 s")
        self.go.set()

    async def finish(self) -> int:
        self.stop.set()
        for p in self.procs:
            await asyncio.to_thread(p.join, 10)
            if p.is_alive():
                p.kill()
        return sum(int(v.value) for v in self.sent)


# -- measurement --------------------------------------------------------------------------------


async def _follow(seen: Any, count: Callable[[], int]) -> None:
    """Tell the devices how many messages the broker has handed to ingest so far."""
    while True:
        seen.value = count()
        await asyncio.sleep(0.002)


def _plant(publishers: int) -> Any:
    from ..core.assets import Plant

    tags = [{"name": f"t{k}", "unit": "", "type": "float"} for k in range(TAGS)]
    assets = [{"path": f"bench/area/line/m{i}", "tag": tags} for i in range(publishers)]
    return Plant.from_dict({"plant": {"enterprise": "bench"}, "asset": assets})


def _proc_cpu_s(pid: int) -> float | None:
    """CPU seconds (user + system) of process ``pid`` from /proc (None where unavailable)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def _broker_pid(broker: Any) -> int | None:
    proc = getattr(getattr(broker, "_broker", None), "_process", None)
    return getattr(proc, "pid", None)


class _Usage:
    def __init__(self, other_pid: int | None = None) -> None:
        self.wall = time.perf_counter()
        self.cpu = time.process_time()
        self.other_pid = other_pid
        self.other_cpu = _proc_cpu_s(other_pid) if other_pid else None

    def cpu_share(self) -> float:
        return round((time.process_time() - self.cpu) / max(1e-9, time.perf_counter() - self.wall), 3)

    def other_share(self) -> float | None:
        if self.other_pid is None or self.other_cpu is None:
            return None
        now = _proc_cpu_s(self.other_pid)
        if now is None:
            return None
        return round((now - self.other_cpu) / max(1e-9, time.perf_counter() - self.wall), 3)


async def _window(
    duration_s: float, counter: Callable[[], int], other_pid: int | None = None
) -> tuple[float, float, float | None]:
    """Rate of ``counter`` over ``duration_s`` after a warm-up.

    Returns (per second, this process's cpu share, ``other_pid``'s cpu share or None).
    """
    await asyncio.sleep(min(WARMUP_S, duration_s / 4))
    c0, t0, usage = counter(), time.perf_counter(), _Usage(other_pid)
    await asyncio.sleep(duration_s)
    rate = (counter() - c0) / (time.perf_counter() - t0)
    return rate, usage.cpu_share(), usage.other_share()


async def _bare_phase(shape: str, publishers: int, duration_s: float, broker_kind: str) -> dict[str, Any]:
    per_msg = 1 if shape == "single" else TAGS
    ctx = mp.get_context("spawn")
    ready, stop, count = ctx.Event(), ctx.Event(), ctx.Value("q", 0, lock=False)
    async with _broker(broker_kind) as broker:
        sub = ctx.Process(target=_bare, args=(broker.port, ready, stop, count), daemon=True)
        sub.start()
        await asyncio.to_thread(ready.wait, 60)
        devices = _Devices(broker.port, shape, publishers, seen=count)
        await devices.start()
        rate, cpu, broker_cpu = await _window(duration_s, lambda: int(count.value), _broker_pid(broker))
        sent = await devices.finish()
        await asyncio.sleep(0.2)
        stop.set()
        await asyncio.to_thread(sub.join, 10)
        received = int(count.value)
    return {
        "messages_per_s": round(rate),
        "points_per_s": round(rate * per_msg),
        "cpu": cpu,
        "sent_messages": sent,
        "received_messages": received,
        **({"broker_cpu": broker_cpu} if broker_cpu is not None else {}),
    }


async def _pipeline_phase(
    shape: str, publishers: int, duration_s: float, rate: float, tmp: Path, broker_kind: str = "amqtt"
) -> dict[str, Any]:
    from ..bus.memory import MemoryBus
    from ..core.sample import Sample
    from ..ingest.pipeline import Pipeline
    from ..ingest.writer import StoreWriter
    from ..store.embedded import EmbeddedStore

    lat: list[np.ndarray] = []

    class TimedStore(EmbeddedStore):
        async def write(self, samples: Sequence[Sample]) -> int:
            n = await super().write(samples)
            now = time.time_ns()
            ts = np.fromiter((s.ts for s in samples[::7]), dtype=np.int64)
            lat.append((now - ts) / 1e6)
            return n

    per_msg = 1 if shape == "single" else TAGS
    bus = MemoryBus(queue_size=10_000)
    store = TimedStore(tmp / f"{shape}-{broker_kind}-{'paced' if rate else 'max'}.duckdb")
    await store.open()
    pipeline = Pipeline(_plant(publishers), bus)
    writer = StoreWriter(bus, store, flush_interval_s=0.02, flush_rows=20_000)
    await writer.start()
    dead = bus.subscribe("deadletters", "bench")
    try:
        async with _broker(broker_kind, on_batch=pipeline.handle_mqtt_batch) as broker:
            seen = mp.get_context("spawn").Value("q", 0, lock=False)
            follow = asyncio.create_task(_follow(seen, lambda: broker.stats()["received"]))
            devices = _Devices(broker.port, shape, publishers, seen, rate)
            await devices.start()
            lat.clear()
            points_s, cpu, broker_cpu = await _window(duration_s, lambda: writer.written, _broker_pid(broker))
            window = list(lat)
            sent = await devices.finish()
            follow.cancel()
            drain_until = time.monotonic() + min(3.0, duration_s)  # a saturated run leaves a backlog
            while writer.written < sent * per_msg and time.monotonic() < drain_until:
                await asyncio.sleep(0.02)
        await writer.stop()
        store_stats = await store.stats()
    finally:
        await store.close()
        await dead.close()
    all_ms = np.concatenate(window) if window else np.zeros(1)
    return {
        "points_per_s": round(points_s),
        "messages_per_s": round(points_s / per_msg),
        "latency_ms": {
            "p50": round(float(np.percentile(all_ms, 50)), 2),
            "p99": round(float(np.percentile(all_ms, 99)), 2),
            "max": round(float(all_ms.max()), 2),
        },
        "cpu": cpu,
        **({"broker_cpu": broker_cpu} if broker_cpu is not None else {}),
        "sent_points": sent * per_msg,
        "stored_points": writer.written,
        "rejected": pipeline.stats()["rejected"],
        "store_compactions": store_stats.get("compactions"),
        "store_compaction_s": store_stats.get("compaction_s"),
    }


async def _shape(
    shape: str,
    publishers: int,
    duration_s: float,
    progress: Progress | None,
    tmp: Path,
    broker_kind: str = "amqtt",
    label: str = "",
) -> dict[str, Any]:
    def say(msg: str, frac: float) -> None:
        if progress is not None:
            progress(f"{label}{shape}: {msg}", frac)

    say("bare subscriber (broker ceiling)", 0.0)
    bare = await _bare_phase(shape, publishers, duration_s, broker_kind)
    say("pipeline to store", 0.34)
    pipe = await _pipeline_phase(shape, publishers, duration_s, 0.0, tmp, broker_kind)
    paced_rate = max(10.0, 0.5 * min(bare["messages_per_s"], pipe["messages_per_s"]))
    say(f"latency at {paced_rate:.0f} msg/s", 0.67)
    paced = await _pipeline_phase(shape, publishers, duration_s, paced_rate, tmp, broker_kind)
    ratio = pipe["points_per_s"] / bare["points_per_s"] if bare["points_per_s"] else None
    return {
        "bare": bare,
        "pipeline": pipe,
        "vs_bare": round(ratio, 3) if ratio is not None else None,
        "latency": {
            "offered_messages_per_s": round(paced_rate),
            "points_per_s": paced["points_per_s"],
            **paced["latency_ms"],
            "store_compactions": paced["store_compactions"],
            "store_compaction_s": paced["store_compaction_s"],
            "stored_points": paced["stored_points"],
            "sent_points": paced["sent_points"],
        },
    }


def _default_broker() -> str:
    from ..core.settings import MqttSettings

    field = MqttSettings.model_fields.get("broker")
    return str(field.default) if field is not None else "amqtt"


def run(
    duration_s: float = 30,
    publishers: int = 2,
    shape: str = "both",
    progress: Progress | None = None,
    broker: str | None = None,
) -> dict[str, Any]:
    """Run the benchmark; returns a JSON-able dict (see the module docstring).

    ``broker``: ``"amqtt"``, ``"rumqttd"``, ``"compare"`` (both, side by side), or None for
    the platform's default (``mqtt.broker``).
    """
    if shape not in ("single", "batch100", "both"):
        raise ValueError(f"shape must be 'single', 'batch100' or 'both', got {shape!r}")
    broker = broker or _default_broker()
    if broker not in (*BROKERS, "compare"):
        raise ValueError(f"broker must be 'amqtt', 'rumqttd' or 'compare', got {broker!r}")
    shapes = ["single", "batch100"] if shape == "both" else [shape]
    kinds = list(BROKERS) if broker == "compare" else [broker]

    async def main() -> dict[str, dict[str, Any]]:
        per: dict[str, dict[str, Any]] = {k: {} for k in kinds}
        with tempfile.TemporaryDirectory(prefix="shopfloor-bench-ingest-") as tmp:
            for s in shapes:  # brokers alternate shape by shape, so both see the same machine load
                for k in kinds:
                    label = f"{k}: " if broker == "compare" else ""
                    per[k][s] = await _shape(s, publishers, duration_s, progress, Path(tmp), k, label)
        return per

    started = time.perf_counter()
    # Ingest allocates ~10 objects a point; CPython's default cyclic-GC threshold (700) then
    # runs a collection every ~70 points. A higher threshold is worth ~15 % at 100-value
    # messages (measured); the platform process can set the same (reported below).
    old_gc = gc.get_threshold()
    gc.set_threshold(*GC_THRESHOLD)
    try:
        per_broker = asyncio.run(main())
    finally:
        gc.set_threshold(*old_gc)
    out: dict[str, Any] = {
        "bench": "ingest",
        "broker": broker,
        "duration_s": duration_s,
        "publishers": publishers,
        "cpus": os.cpu_count(),
    }
    if broker == "compare":
        out["brokers"] = {k: {**r, "targets": _targets(r, shapes)} for k, r in per_broker.items()}
    else:
        out.update(per_broker[broker])
        out["targets"] = _targets(per_broker[broker], shapes)
    out["gc_threshold"] = list(GC_THRESHOLD)
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    out["wall_s"] = round(time.perf_counter() - started, 1)
    return out


def _targets(results: dict[str, Any], shapes: list[str]) -> dict[str, Any]:
    checks: dict[str, Any] = {}
    if "single" in results:
        r = results["single"]["vs_bare"]
        checks["single_vs_bare"] = {
            "value": r,
            "target": TARGETS["single_vs_bare"],
            "meets_target": r is not None and r >= TARGETS["single_vs_bare"],
        }
    if "batch100" in results:
        v = results["batch100"]["pipeline"]["points_per_s"]
        checks["batch100_points_per_s"] = {
            "value": v,
            "target": TARGETS["batch100_points_per_s"],
            "meets_target": v >= TARGETS["batch100_points_per_s"],
        }
    p99 = max(results[s]["latency"]["p99"] for s in shapes)
    checks["p99_ms"] = {"value": p99, "target": TARGETS["p99_ms"], "meets_target": p99 <= TARGETS["p99_ms"]}
    return checks
