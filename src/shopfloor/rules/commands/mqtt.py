"""Commands over MQTT: the command topic of the edge agent (and of the simulated plant).

A command is published (QoS 1) on ``<root>/cmd/<asset path>/set`` as
``{"id", "tag", "value", "writer", "reason", "ts"}``; the device answers on
``<root>/<asset path>/event`` with ``{"type": "command_result", "id", "ok", ...}``: the edge
agent adds ``status`` (``done``/``refused``/``failed``), ``reason``, ``error`` and
``readback``; the simulated plant's MQTT endpoint answers ``ok`` and ``error`` only.
The event topic of an asset is subscribed before its first command is published.

paho-mqtt runs its network loop in its own thread (as the ingest subscriber does); callbacks
are handed to the event loop with ``call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from ...core.errors import BrokerError
from .model import Command

log = logging.getLogger(__name__)


def command_topic(root: str, asset: str) -> str:
    """The topic a command for ``asset`` is published on.

    >>> command_topic("shopfloor/v1", "s/a/l/m")
    'shopfloor/v1/cmd/s/a/l/m/set'
    """
    return f"{root}/cmd/{asset}/set"


def result_topic(root: str, asset: str) -> str:
    """The topic an asset's command results come back on.

    >>> result_topic("shopfloor/v1", "s/a/l/m")
    'shopfloor/v1/s/a/l/m/event'
    """
    return f"{root}/{asset}/event"


def to_result(msg: dict[str, Any]) -> dict[str, Any]:
    """A device's ``command_result`` as a transport result.

    >>> to_result({"type": "command_result", "id": "1", "ok": False, "status": "refused",
    ...            "reason": "mode", "error": "machine down"})["reason"]
    'mode'
    >>> to_result({"ok": True})["readback"] is None
    True
    """
    ok = bool(msg.get("ok"))
    reason = str(msg.get("reason") or ("" if ok else msg.get("status") or "device"))
    if not ok and msg.get("status") == "refused" and not msg.get("reason"):
        reason = "device_refused"
    return {"ok": ok, "readback": msg.get("readback"), "reason": reason, "error": str(msg.get("error") or "")}


class MqttTransport:
    """Publish commands and await their results on one MQTT broker."""

    def __init__(
        self,
        host: str,
        port: int,
        root: str = "shopfloor/v1",
        *,
        username: str | None = None,
        password: str | None = None,
        client_id: str = "shopfloor-commands",
        writer: str = "shopfloor",
    ) -> None:
        self.host, self.port, self.root, self.writer = host, port, root.rstrip("/"), writer
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
        if username:
            self._client.username_pw_set(username, password)
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message
        self._client.on_subscribe = self._on_subscribe
        self._loop: asyncio.AbstractEventLoop | None = None
        self._connected = asyncio.Event()
        self._subscribed: dict[str, asyncio.Future[None]] = {}
        self._by_mid: dict[int, str] = {}
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.malformed = 0

    async def start(self, timeout_s: float = 10.0) -> None:
        self._loop = asyncio.get_running_loop()
        try:
            await asyncio.to_thread(self._client.connect, self.host, self.port, 30)
        except OSError as err:
            raise BrokerError(f"commands: cannot reach MQTT broker {self.host}:{self.port}: {err}") from err
        self._client.loop_start()
        try:
            await asyncio.wait_for(self._connected.wait(), timeout_s)
        except TimeoutError:
            await self.stop()
            raise BrokerError(f"commands: MQTT broker {self.host}:{self.port} did not accept us") from None

    async def stop(self) -> None:
        self._client.disconnect()
        await asyncio.to_thread(self._client.loop_stop)
        for fut in self._waiting.values():
            if not fut.done():
                fut.cancel()

    # -- network thread -> event loop -------------------------------------------------------------

    def _call(self, fn: Any, *args: Any) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(fn, *args)

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            log.warning("commands: MQTT broker refused the connection: %s", reason)
            return
        for topic in list(self._subscribed):  # a reconnect: subscribe again
            client.subscribe(topic, qos=1)
        self._call(self._connected.set)

    def _on_subscribe(self, _c: Any, _u: Any, mid: int, _codes: Any, _p: Any) -> None:
        self._call(self._subscribed_ok, mid)

    def _on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        self._call(self._result, msg.topic, bytes(msg.payload))

    # -- event loop ---------------------------------------------------------------------------------

    def _subscribed_ok(self, mid: int) -> None:
        topic = self._by_mid.pop(mid, None)
        fut = self._subscribed.get(topic) if topic else None
        if fut is not None and not fut.done():
            fut.set_result(None)

    def _result(self, topic: str, payload: bytes) -> None:
        try:
            msg = json.loads(payload)
        except ValueError:
            self.malformed += 1
            log.warning("commands: result on %s is not JSON (%d bytes); ignored", topic, len(payload))
            return
        if not isinstance(msg, dict) or msg.get("type") != "command_result":
            return
        fut = self._waiting.pop(str(msg.get("id")), None)
        if fut is not None and not fut.done():
            fut.set_result(to_result(msg))

    async def _subscribe(self, asset: str) -> None:
        topic = result_topic(self.root, asset)
        fut = self._subscribed.get(topic)
        if fut is None:
            fut = self._subscribed[topic] = asyncio.get_running_loop().create_future()
            _rc, mid = self._client.subscribe(topic, qos=1)
            if mid is not None:
                self._by_mid[mid] = topic
        await asyncio.shield(fut)

    async def send(self, cmd: Command) -> dict[str, Any]:
        await self._connected.wait()
        await self._subscribe(cmd.asset)
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[cmd.id] = fut
        body = {
            "id": cmd.id,
            "tag": cmd.tag,
            "value": cmd.value,
            "writer": self.writer,
            "reason": cmd.reason,
            "ts": cmd.updated_at,
        }
        self._client.publish(command_topic(self.root, cmd.asset), json.dumps(body), qos=1)
        try:
            return await fut
        finally:
            self._waiting.pop(cmd.id, None)
