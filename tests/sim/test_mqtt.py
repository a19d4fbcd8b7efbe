"""Smart sensors over MQTT to a real broker, and a setpoint command round-trip."""

from __future__ import annotations

import asyncio
import json
import queue
import uuid
from collections.abc import Iterator

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from shopfloor.sim import Endpoints, Simulation, run_realtime

PRESS = "riverside/converting/line1/calender"


class Listener:
    """A paho client collecting messages into a thread-safe queue."""

    def __init__(self, host: str, port: int, topic: str) -> None:
        self.q: queue.Queue[tuple[str, dict]] = queue.Queue()
        self.c = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"test-{uuid.uuid4().hex[:8]}")
        self.c.on_message = self._on_message
        self.c.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
        self.c.connect(host, port)
        self.c.loop_start()

    def _on_message(self, _c: paho.Client, _u: object, m: paho.MQTTMessage) -> None:
        try:
            self.q.put((m.topic, json.loads(m.payload)))
        except ValueError:
            self.q.put((m.topic, {"raw": bytes(m.payload)}))

    async def get(self, match: str, timeout: float = 10.0) -> tuple[str, dict]:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                raise TimeoutError(f"no message on {match}")
            try:
                topic, body = await asyncio.to_thread(self.q.get, True, min(left, 0.5))
            except queue.Empty:
                continue
            if topic == match:
                return topic, body

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


@pytest.fixture
def listener(mqtt_broker: tuple[str, int]) -> Iterator[Listener]:
    lst = Listener(*mqtt_broker, "shopfloor/v1/#")
    yield lst
    lst.close()


async def test_publish_and_command_round_trip(make_sim, mqtt_broker, listener: Listener) -> None:  # type: ignore[no-untyped-def]
    sim: Simulation = make_sim(seed=22, only="riverside/converting/line1", waveform_samples=1024)
    stop = asyncio.Event()
    ready: list[Endpoints] = []
    task = asyncio.create_task(
        run_realtime(sim, speed=10.0, tick_s=1.0, mqtt=mqtt_broker, stop=stop, ready=ready.append)
    )
    try:
        _, body = await listener.get(f"shopfloor/v1/{PRESS}/data")
        assert ready and ready[0].mqtt == mqtt_broker
        assert isinstance(body["ts"], int) and body["ts"] > 1_700_000_000_000
        assert set(body["values"]) <= {t.name for t in sim.plant.asset(PRESS).tags}
        assert isinstance(body["values"]["batch_id"], str)
        _, cutter = await listener.get("shopfloor/v1/riverside/converting/line1/cutter/data")
        assert isinstance(cutter["values"]["reject_count"], int)

        cid = str(uuid.uuid4())
        cmd = {"id": cid, "tag": "nip_pressure_sp", "value": 180.0}
        listener.c.publish(f"shopfloor/v1/cmd/{PRESS}/set", json.dumps(cmd), qos=1)
        _, reply = await listener.get(f"shopfloor/v1/{PRESS}/event")
        assert reply["type"] == "command_result" and reply["id"] == cid and reply["ok"] is True
        assert sim.setpoint(PRESS, "nip_pressure_sp") == 180.0
        _, body = await listener.get(f"shopfloor/v1/{PRESS}/data")
        assert body["values"]["nip_pressure_sp"] == 180.0

        for bad, word in [
            ({"id": "a", "tag": "nip_pressure_sp", "value": 999.0}, "out of range"),
            ({"id": "b", "tag": "thickness", "value": 1.0}, "read-only"),
            ({"id": "c", "tag": "nope", "value": 1.0}, "no such tag"),
        ]:
            listener.c.publish(f"shopfloor/v1/cmd/{PRESS}/set", json.dumps(bad), qos=1)
            _, reply = await listener.get(f"shopfloor/v1/{PRESS}/event")
            assert reply["id"] == bad["id"] and reply["ok"] is False and word in reply["error"]
        listener.c.publish(f"shopfloor/v1/cmd/{PRESS}/set", b"not json", qos=1)
        _, reply = await listener.get(f"shopfloor/v1/{PRESS}/event")
        assert reply["ok"] is False and reply["id"] is None
        assert sim.setpoint(PRESS, "nip_pressure_sp") == 180.0
    finally:
        stop.set()
        ticks = await asyncio.wait_for(task, 10)
    assert ticks > 0
