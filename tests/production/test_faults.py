"""Faults with the real servers: PostgreSQL and the MQTT broker going away during ingest (a TCP
proxy in front of each is cut and restored, which is what a restart looks like to the
platform, without disturbing the shared servers), and NATS unreachable at start."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from shopfloor.core.settings import load_settings
from shopfloor.service import Platform, run_platform

from .conftest import Names, distinct_count, stored_count, wait_count
from .proxy import Proxy
from .test_production import publish

EXE = str(Path(sys.executable).with_name("shopfloor"))


async def _start(platform: Platform) -> asyncio.Task[None]:
    platform.scorer.train_rows = 10**9  # analytics keeps learning: only the published values are stored
    task = asyncio.create_task(run_platform(platform, stop=platform_stop(platform)))
    for _ in range(400):
        if platform.http_port:
            break
        if task.done():
            await task
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)  # the subscription is in place
    return task


def platform_stop(platform: Platform) -> asyncio.Event:
    event = asyncio.Event()
    platform._test_stop = event  # type: ignore[attr-defined]
    return event


async def _stop(platform: Platform, task: asyncio.Task[None]) -> None:
    platform._test_stop.set()  # type: ignore[attr-defined]
    await asyncio.wait_for(task, 60)


async def test_postgres_outage_during_ingest_loses_and_duplicates_nothing(names: Names) -> None:
    proxy = Proxy("127.0.0.1", 5432)
    await proxy.start()
    settings = load_settings(names.config)
    settings.store.postgres_dsn = f"postgresql://postgres@127.0.0.1:{proxy.port}/test"
    platform = Platform(settings)
    task = await _start(platform)
    try:
        await asyncio.to_thread(publish, names.topic_root, 300)
        assert await wait_count(names.schema, 600) == 600
        await proxy.cut()  # PostgreSQL "restarts": connections reset, new ones refused
        await asyncio.to_thread(publish, names.topic_root, 300, 300)
        await asyncio.sleep(3.0)  # the writer fails, backs off, keeps the batches unacknowledged
        assert await stored_count(names.schema) == 600
        health = await platform.health()  # answers, and says what is wrong
        assert health["status"] == "degraded" and health["store"]["available"] is False
        await proxy.restore()
        assert await wait_count(names.schema, 1200, timeout=60) == 1200
        await asyncio.sleep(1.0)
        assert await stored_count(names.schema) == await distinct_count(names.schema) == 1200
    finally:
        await _stop(platform, task)
        await proxy.stop()


async def test_broker_outage_reconnects_and_resubscribes(names: Names) -> None:
    proxy = Proxy("127.0.0.1", 1883)
    await proxy.start()
    settings = load_settings(names.config)
    settings.mqtt.port = proxy.port
    platform = Platform(settings)
    task = await _start(platform)
    try:
        await asyncio.to_thread(publish, names.topic_root, 100)
        assert await wait_count(names.schema, 200) == 200
        await proxy.cut()  # the broker "restarts"
        await asyncio.sleep(1.5)
        await proxy.restore()
        source = platform.mqtt_source
        assert source is not None
        for _ in range(300):  # paho reconnects with backoff (1 s first) and subscribes again
            if source.connects >= 2:
                break
            await asyncio.sleep(0.1)
        assert source.connects >= 2
        await asyncio.sleep(0.5)
        await asyncio.to_thread(publish, names.topic_root, 100, 100)
        assert await wait_count(names.schema, 400, timeout=30) == 400
    finally:
        await _stop(platform, task)
        await proxy.stop()


def test_nats_unreachable_at_start_is_a_clear_error(names: Names, tmp_path: Path) -> None:
    config = tmp_path / "bad-nats.toml"
    text = names.config.read_text().replace("nats://127.0.0.1:4222", "nats://127.0.0.1:1")
    config.write_text(text)
    r = subprocess.run([EXE, "up", "--config", str(config)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "nats://127.0.0.1:1" in r.stderr
