"""Smart sensors of the simulated plant on MQTT (plain JSON), and the command path back.

Publishes one message per asset per tick on ``shopfloor/v1/<asset path>/data`` with payload
``{"ts": <epoch ms>, "values": {"<tag>": <value>, ...}}``. Listens on
``shopfloor/v1/cmd/<asset path>/set`` for ``{"id": "<uuid>", "tag": "<writable tag>",
"value": <v>}`` and answers on ``shopfloor/v1/<asset path>/event`` with
``{"ts": ..., "type": "command_result", "id": ..., "ok": bool, "error": "..."}``.

paho-mqtt is driven from the asyncio event loop (no network thread); the simulation is only
ever touched from the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import threading
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from ..core.errors import BrokerError
from ..core.sample import Sample
from .simulation import Simulation, WriteRefused

log = logging.getLogger(__name__)

ROOT = "shopfloor/v1"
KEEPALIVE_S = 30
CMD_PREFIX = f"{ROOT}/cmd/"


def data_topic(asset: str) -> str:
    """Topic of an asset's data messages.

    >>> data_topic("riverside/converting/line1/cutter")
    'shopfloor/v1/riverside/converting/line1/cutter/data'
    """
    return f"{ROOT}/{asset}/data"


def event_topic(asset: str) -> str:
    """Topic of an asset's events (command results)."""
    return f"{ROOT}/{asset}/event"


def payloads(samples: list[Sample]) -> dict[str, bytes]:
    """One JSON payload per asset (latest value per tag; non-finite floats left out).

    >>> from shopfloor.core.sample import Sample
    >>> payloads([Sample("s/a/l/m", "t", 1_700_000_000_000_000_000, 1.5)])
    {'shopfloor/v1/s/a/l/m/data': b'{"ts":1700000000000,"values":{"t":1.5}}'}
    """
    groups: dict[str, tuple[int, dict[str, Any]]] = {}
    for s in samples:
        if isinstance(s.value, float) and not math.isfinite(s.value):
            continue
        ts, values = groups.setdefault(s.asset, (s.ts, {}))
        values[s.tag] = s.value
        if s.ts > ts:
            groups[s.asset] = (s.ts, values)
    return {
        data_topic(asset): json.dumps(
            {"ts": ts // 1_000_000, "values": values}, separators=(",", ":")
        ).encode()
        for asset, (ts, values) in groups.items()
    }


class MqttEndpoint:
    """Publishes the plant's samples and executes setpoint commands from MQTT.

    paho-mqtt is driven by the asyncio loop (its socket is watched with ``add_reader`` /
    ``add_writer``; keepalive and reconnection run in a supervisor task), so no network
    thread is started. The blocking TCP connect runs via ``asyncio.to_thread``.
    """

    def __init__(self, sim: Simulation, host: str, port: int, client_id: str | None = None) -> None:
        self.sim = sim
        self.host = host
        self.port = port
        self.client_id = client_id or f"shopfloor-sim-{os.getpid()}-{sim.seed}"
        self.client: paho.Client | None = None
        self._queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._connected = asyncio.Event()
        self._closed = asyncio.Event()
        self.published = 0

    def _attach(self, client: paho.Client, loop: asyncio.AbstractEventLoop) -> None:
        """Route paho's socket and message callbacks into the event loop (thread-safe)."""

        def on_connect(c: paho.Client, _u: Any, _f: Any, rc: Any, _p: Any = None) -> None:
            if getattr(rc, "is_failure", False):
                log.warning("mqtt connect to %s:%d refused: %s", self.host, self.port, rc)
                return
            c.subscribe(f"{CMD_PREFIX}#", qos=1)
            loop.call_soon_threadsafe(self._connected.set)

        def on_disconnect(_c: paho.Client, _u: Any, _f: Any, rc: Any, _p: Any = None) -> None:
            loop.call_soon_threadsafe(self._connected.clear)

        def on_message(_c: paho.Client, _u: Any, msg: paho.MQTTMessage) -> None:
            loop.call_soon_threadsafe(self._queue.put_nowait, (msg.topic, bytes(msg.payload)))

        loop_thread = threading.get_ident()  # _attach runs in the event loop's thread

        def in_loop(fn: Any, *args: Any) -> None:
            if threading.get_ident() == loop_thread:
                fn(*args)
            else:
                loop.call_soon_threadsafe(fn, *args)

        def forget(fd: int) -> None:
            with contextlib.suppress(ValueError, OSError, KeyError):
                loop.remove_reader(fd)
            with contextlib.suppress(ValueError, OSError, KeyError):
                loop.remove_writer(fd)
            self._closed.set()

        def sock_open(c: paho.Client, _u: Any, sock: Any) -> None:
            self._closed.clear()
            in_loop(loop.add_reader, sock.fileno(), c.loop_read)

        def sock_close(_c: paho.Client, _u: Any, sock: Any) -> None:
            in_loop(forget, sock.fileno())  # called just before paho closes the socket

        def want_write(c: paho.Client, _u: Any, sock: Any) -> None:
            in_loop(loop.add_writer, sock.fileno(), c.loop_write)

        def done_write(_c: paho.Client, _u: Any, sock: Any) -> None:
            fd = sock.fileno()

            def remove() -> None:
                with contextlib.suppress(ValueError, OSError, KeyError):
                    loop.remove_writer(fd)

            in_loop(remove)

        client.on_connect = on_connect
        client.on_disconnect = on_disconnect
        client.on_message = on_message
        client.on_socket_open = sock_open
        client.on_socket_close = sock_close
        client.on_socket_register_write = want_write
        client.on_socket_unregister_write = done_write

    async def start(self, timeout_s: float = 10.0) -> None:
        """Connect, subscribe to the command subtree, start handling commands."""
        loop = asyncio.get_running_loop()
        client = paho.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id)
        client.connect_timeout = 5.0
        self._attach(client, loop)
        try:
            await asyncio.to_thread(client.connect, self.host, self.port, KEEPALIVE_S)
        except OSError as err:
            raise BrokerError(f"cannot reach MQTT broker {self.host}:{self.port}: {err}") from err
        self.client = client
        self._tasks = [
            asyncio.create_task(self._supervise(client), name="sim-mqtt-supervisor"),
            asyncio.create_task(self._commands(), name="sim-mqtt-commands"),
        ]
        try:
            await asyncio.wait_for(self._connected.wait(), timeout_s)
        except TimeoutError:
            await self.stop()
            raise BrokerError(f"MQTT broker {self.host}:{self.port} did not accept the connection") from None
        log.info("simulated smart sensors publishing to mqtt://%s:%d", self.host, self.port)

    async def _supervise(self, client: paho.Client) -> None:
        """Keepalive pings, and reconnection with backoff when the broker goes away."""
        backoff = 1.0
        while True:
            await asyncio.sleep(1.0)
            if client.loop_misc() == paho.MQTT_ERR_SUCCESS:
                backoff = 1.0
                continue
            await asyncio.sleep(backoff)
            try:
                await asyncio.to_thread(client.reconnect)
                log.info("mqtt reconnected to %s:%d", self.host, self.port)
            except OSError as err:
                log.warning(
                    "mqtt broker %s:%d unreachable (%s); retrying in %.0f s",
                    self.host,
                    self.port,
                    err,
                    backoff,
                )
                backoff = min(backoff * 2, 30.0)

    def publish(self, samples: list[Sample]) -> None:
        """Publish one data message per asset."""
        client = self.client
        if client is None:
            return
        for topic, body in payloads(samples).items():
            client.publish(topic, body, qos=0)
            self.published += 1

    async def _commands(self) -> None:
        while True:
            topic, body = await self._queue.get()
            try:
                self.handle(topic, body)
            except Exception:
                log.exception("mqtt command on %s failed", topic)

    def handle(self, topic: str, body: bytes) -> dict[str, Any] | None:
        """Execute one command message; publish and return the result (None if not a command)."""
        if not topic.startswith(CMD_PREFIX) or not topic.endswith("/set"):
            return None
        asset = topic[len(CMD_PREFIX) : -len("/set")]
        cid: Any = None
        try:
            msg = json.loads(body)
            if not isinstance(msg, dict):
                raise ValueError("payload must be a JSON object")
            cid = msg.get("id")
            tag = msg.get("tag")
            if not isinstance(tag, str) or "value" not in msg:
                raise ValueError("payload needs 'tag' (string) and 'value'")
            self.sim.write(asset, tag, msg["value"])
            result: dict[str, Any] = {"ok": True, "error": ""}
        except (ValueError, WriteRefused) as err:
            result = {"ok": False, "error": str(err)}
            log.info("mqtt command on %s refused: %s", topic, err)
        reply = {"ts": self.sim.now_ns // 1_000_000, "type": "command_result", "id": cid, **result}
        if self.client is not None:
            self.client.publish(event_topic(asset), json.dumps(reply), qos=1)
        return reply

    async def stop(self) -> None:
        """Stop handling commands, disconnect cleanly and release the socket."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        client, self.client = self.client, None
        if client is not None and client.socket() is not None:
            client.disconnect()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closed.wait(), 2.0)
