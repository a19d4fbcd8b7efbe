"""The paho ingest source: subscribes to a broker and hands batches to the event loop."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time

import pytest

from shopfloor.broker.embedded import EmbeddedBroker
from shopfloor.bus.memory import MemoryBus
from shopfloor.connectors.mqtt.client import MqttSource
from shopfloor.connectors.mqtt.config import MqttSourceConfig
from shopfloor.connectors.mqtt.converter import data_topic, values_payload
from shopfloor.core.assets import Plant
from shopfloor.core.errors import BrokerError
from shopfloor.core.settings import MqttSettings
from shopfloor.ingest.pipeline import Pipeline


async def eventually(cond, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


@pytest.mark.skipif(shutil.which("mosquitto_pub") is None, reason="mosquitto_pub is not installed")
async def test_source_feeds_the_pipeline(external_broker: EmbeddedBroker) -> None:
    plant = Plant.from_dict({"asset": [{"path": "s/a/l/m", "tag": [{"name": "temp"}, {"name": "rpm"}]}]})
    bus = MemoryBus()
    samples = bus.subscribe("samples", "t")
    pipeline = Pipeline(plant, bus)
    config = MqttSourceConfig(port=external_broker.port, client_id="ingest-test", qos=1)  # type: ignore[call-arg]
    source = MqttSource(config, pipeline.handle_mqtt_batch)
    await source.start()
    for i in range(0, 50, 10):
        cmd = [
            "mosquitto_pub",
            "-p",
            str(external_broker.port),
            "-q",
            "1",
            "-t",
            data_topic("s/a/l/m"),
            "-m",
            values_payload({"temp": i, "rpm": 2 * i}).decode(),
        ]
        proc = await asyncio.to_thread(subprocess.run, cmd, capture_output=True, timeout=20)
        assert proc.returncode == 0, proc.stderr
    await eventually(lambda: source.stats()["handled"] == 5)
    await source.stop()
    await bus.close()
    got = [s async for b in samples for s in b]
    assert sorted(s.value for s in got if s.tag == "temp") == [0.0, 10.0, 20.0, 30.0, 40.0]
    assert pipeline.stats()["accepted"] == 10


async def test_unreachable_broker_is_a_broker_error() -> None:
    config = MqttSourceConfig(port=1, client_id="nobody")  # type: ignore[call-arg]

    async def sink(batch: list[tuple[str, bytes]]) -> None:
        return None

    with pytest.raises(BrokerError, match=r"127\.0\.0\.1:1\b"):
        await MqttSource(config, sink).start(timeout_s=2)


def test_config_from_settings() -> None:
    cfg = MqttSourceConfig.from_settings(MqttSettings(embedded=False, port=1883, topic_root="plant/v2/"))  # type: ignore[call-arg]
    assert cfg.topics == ["plant/v2/#"] and cfg.port == 1883
