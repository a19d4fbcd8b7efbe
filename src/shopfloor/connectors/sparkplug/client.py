"""The host application's MQTT connection for publishing: rebirth requests and its STATE.

Subscribing is done by the embedded broker's hook (amqtt) or by
:class:`shopfloor.connectors.mqtt.client.MqttSource`; this client only publishes. paho-mqtt runs
its own network thread; ``publish`` hands the message to it and returns without waiting.
Sparkplug 3.0 host state: on connect it publishes ``{"online": true, "timestamp": ms}`` retained
with QoS 1 on ``spBv1.0/STATE/<host_id>``, and registers the same with ``"online": false`` as its
will, which it also publishes on a clean stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from ...core.errors import BrokerError
from .converter import state_topic

log = logging.getLogger(__name__)


class HostClient:
    """Publishing side of the Sparkplug host: ``await start()``, ``publish(...)``, ``await stop()``."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        client_id: str,
        host_id: str,
        username: str | None = None,
        password: str | None = None,
        publish_state: bool = True,
    ) -> None:
        self.host = host
        self.port = port
        self.host_id = host_id
        self.publish_state = publish_state
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
        if username:
            self._client.username_pw_set(username, password)
        self._stamp = int(time.time() * 1000)
        if publish_state:
            self._client.will_set(state_topic(host_id), self._state(False), qos=1, retain=True)
        self._client.on_connect = self._on_connect
        self._client.reconnect_delay_set(1, 30)
        self._connected = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.published = 0

    def _state(self, online: bool) -> bytes:
        return json.dumps({"online": online, "timestamp": self._stamp}).encode()

    async def start(self, timeout_s: float = 10.0) -> None:
        self._loop = asyncio.get_running_loop()
        try:
            await asyncio.to_thread(self._client.connect, self.host, self.port, 30)
        except OSError as err:
            raise BrokerError(
                f"Sparkplug host cannot reach MQTT broker {self.host}:{self.port}: {err}"
            ) from err
        self._client.loop_start()
        try:
            await asyncio.wait_for(self._connected.wait(), timeout_s)
        except TimeoutError:
            await self.stop()
            raise BrokerError(
                f"MQTT broker {self.host}:{self.port} refused the Sparkplug host for {timeout_s:g} s"
            ) from None

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            log.warning("MQTT broker refused the Sparkplug host: %s", reason)
            return
        if self.publish_state:
            client.publish(state_topic(self.host_id), self._state(True), qos=1, retain=True)
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._connected.set)

    def publish(self, topic: str, payload: bytes, qos: int = 0) -> None:
        """Queue one message (paho sends it from its thread, after a reconnect if need be)."""
        self._client.publish(topic, payload, qos=qos)
        self.published += 1

    async def stop(self) -> None:
        if self.publish_state and self._connected.is_set():
            info = self._client.publish(state_topic(self.host_id), self._state(False), qos=1, retain=True)
            with contextlib.suppress(RuntimeError, ValueError):  # not connected: the will says it
                await asyncio.to_thread(info.wait_for_publish, 2.0)
        self._client.disconnect()
        await asyncio.to_thread(self._client.loop_stop)
