"""``shopfloor bench sparkplug``: Sparkplug B encode and host ingest, next to the JSON path.

In one process, no broker (the broker's cost is the same for both and measured by
``shopfloor bench ingest``): an :class:`EdgeNode` with one device of ``metrics`` Double metrics
encodes ``messages`` DDATA messages; the :class:`SparkplugHost` ingests them in batches of 256
(decode, alias lookup, validation, samples on a memory bus); the reference is the MQTT JSON path
(:class:`Pipeline`, shape a ``{"ts", "values": {...}}``) ingesting the same values in the same
run. Rates are per CPU second of this thread (values/s), so other load on the machine matters
less; ``vs_json`` = Sparkplug host rate / JSON pipeline rate. Payload sizes are reported too.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from ..bus.memory import MemoryBus
from ..connectors.mqtt.converter import data_topic, values_payload
from ..connectors.sparkplug.codec import DataType
from ..connectors.sparkplug.node import EdgeNode
from ..core.assets import Plant
from ..ingest.pipeline import Pipeline
from ..ingest.sparkplug import SparkplugHost

ASSET = "bench/area/line1/machine"
BATCH = 256


def run(messages: int = 20_000, metrics: int = 10) -> dict[str, Any]:
    """Measure and return one JSON-ready dict."""
    return asyncio.run(_run(messages, metrics))


async def _run(messages: int, metrics: int) -> dict[str, Any]:
    names = [f"m{i}" for i in range(metrics)]
    plant = Plant.from_dict({"asset": [{"path": ASSET, "tag": [{"name": n} for n in names]}]})
    base_ms = time.time_ns() // 1_000_000 - 3_600_000
    node = EdgeNode("bench.area", "line1")
    for n in names:
        node.define(n, DataType.Double, device="machine", value=0.0)
    node.will()
    births = node.birth()
    rows = [{n: float(i + j) for j, n in enumerate(names)} for i in range(messages)]

    c0 = time.process_time()
    sp_msgs = [node.data(r, device="machine", ts_ms=base_ms + i) for i, r in enumerate(rows)]
    encode_cpu = time.process_time() - c0
    topic = data_topic(ASSET)
    json_msgs = [(topic, values_payload(r, ts=(base_ms + i) * 1_000_000)) for i, r in enumerate(rows)]

    bus = MemoryBus(queue_size=1_000_000)
    sink = bus.subscribe("samples", "bench")
    host = SparkplugHost(plant, bus, publish=lambda t, p: None)
    await host.handle_batch(births)
    c0 = time.process_time()
    for i in range(0, messages, BATCH):
        await host.handle_batch(sp_msgs[i : i + BATCH])
    sp_cpu = time.process_time() - c0
    sp_stats = host.stats()

    pipeline = Pipeline(plant, bus)
    c0 = time.process_time()
    for i in range(0, messages, BATCH):
        await pipeline.handle_mqtt_batch(json_msgs[i : i + BATCH])
    json_cpu = time.process_time() - c0
    json_stats = pipeline.stats()
    del sink
    await bus.close()

    values = messages * metrics
    sp_rate = values / sp_cpu
    json_rate = values / json_cpu
    return {
        "bench": "sparkplug",
        "messages": messages,
        "metrics_per_message": metrics,
        "encode_values_per_cpu_s": round(values / encode_cpu),
        "host_values_per_cpu_s": round(sp_rate),
        "json_pipeline_values_per_cpu_s": round(json_rate),
        "vs_json": round(sp_rate / json_rate, 2),
        "sparkplug_bytes_per_message": round(sum(len(p) for _, p in sp_msgs) / messages, 1),
        "json_bytes_per_message": round(sum(len(p) for _, p in json_msgs) / messages, 1),
        "host_accepted": sp_stats["accepted"] - metrics,
        "host_rejected": sp_stats["rejected"],
        "json_accepted": json_stats["accepted"],
        "json_rejected": json_stats["rejected"],
    }
