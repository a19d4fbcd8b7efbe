"""Production mode end to end: Mosquitto -> ingest -> NATS JetStream -> writer -> PostgreSQL."""

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import paho.mqtt.client as mqtt

from shopfloor.core.settings import load_settings
from shopfloor.service import Platform, run_platform

from .conftest import Names, distinct_count, stored_count, wait_count

EXE = str(Path(sys.executable).with_name("shopfloor"))
ASSET = "mill/converting/line1/cutter"


def publish(topic_root: str, n: int, start: int = 0, pace_s: float = 0.0) -> None:
    """n QoS-1 messages, two values each, with distinct timestamps."""
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    c.connect("127.0.0.1", 1883)
    c.loop_start()
    t0 = time.time() - 3600
    infos = []
    for i in range(start, start + n):
        body = {"ts": t0 + i * 0.001, "values": {"force": float(i), "seq": i}}
        infos.append(c.publish(f"{topic_root}/{ASSET}/data", json.dumps(body), qos=1))
        if pace_s:
            time.sleep(pace_s)
    for info in infos:
        info.wait_for_publish(10)
    c.loop_stop()
    c.disconnect()


async def test_up_in_production_mode_stores_everything(names: Names) -> None:
    settings = load_settings(names.config)
    platform = Platform(settings)
    platform.scorer.train_rows = 10**9  # analytics keeps learning: only the published values are stored
    stop = asyncio.Event()
    task = asyncio.create_task(run_platform(platform, stop=stop))
    try:
        for _ in range(200):
            if platform.http_port:
                break
            if task.done():
                await task
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # the shared subscription is in place
        await asyncio.to_thread(publish, names.topic_root, 500)
        assert await wait_count(names.schema, 1000) == 1000
        h = platform.health
        assert (await h())["roles"] == ["analytics", "api", "ingest", "rules", "writer"]
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


def _worker(names: Names, role: str, client_id: str = "") -> subprocess.Popen:
    env = names.env(SHOPFLOOR_MQTT__CLIENT_ID=client_id or f"{role}-{names.suffix}-{time.monotonic_ns()}")
    return subprocess.Popen(
        [EXE, "worker", "--role", role, "--config", str(names.config)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait_log(proc: subprocess.Popen, needle: str, timeout: float = 30) -> None:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if needle in line:
            return
        if not line and proc.poll() is not None:
            raise AssertionError(f"worker exited with {proc.returncode}")
    raise AssertionError(f"worker did not log {needle!r}")


async def test_kill_9_of_the_writer_loses_and_duplicates_nothing(names: Names) -> None:
    ingest = _worker(names, "ingest")
    writer = _worker(names, "writer")
    procs = [ingest, writer]
    try:
        await asyncio.to_thread(_wait_log, ingest, "ingesting from MQTT broker")
        await asyncio.sleep(1.0)
        pub = asyncio.create_task(asyncio.to_thread(publish, names.topic_root, 3000, 0, 0.001))
        while await stored_count(names.schema) < 1000:
            await asyncio.sleep(0.05)
        os.kill(writer.pid, signal.SIGKILL)  # mid-stream, with batches fetched but not acked
        writer.wait(10)
        await pub
        replacement = _worker(names, "writer")
        procs.append(replacement)
        total = await wait_count(names.schema, 6000, timeout=60)
        await asyncio.sleep(1.0)  # anything redelivered late would show up now
        assert await stored_count(names.schema) == total == 6000
        assert await distinct_count(names.schema) == 6000
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
