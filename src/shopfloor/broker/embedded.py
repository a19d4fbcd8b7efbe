"""The embedded MQTT broker (amqtt, MQTT 3.1.1) running on the platform's event loop.

Devices connect over TCP as to any broker. The platform itself does not subscribe over a
loopback socket: the broker hands every message it queues for distribution (client publishes
after topic checks, wills, internal broadcasts) to ``on_message`` (one ``(topic, payload)`` at
a time) or ``on_batch`` (lists of up to 256, in arrival order), from one consumer task.

Measured on the 2-core dev machine (broker CPU per single-value message, same publishers):
this hook ~175 µs; amqtt's documented plugin event (``on_broker_message_broadcast``, kept as
``HOOK_MODE = "plugin"``) ~210 µs, as it costs a task per message; a paho subscriber ~500 µs,
as the broker must encode and send every message again. The hook overrides amqtt's
``Broker._broadcast_message`` (amqtt is pinned to 0.12.x; ``tests/broker`` covers it) and
skips amqtt's broadcast machinery while nobody subscribes.

Messages wait in an in-memory queue between the broker and the consumer task; its depth is
in :meth:`EmbeddedBroker.stats` and a warning is logged once if it passes 100 000 (it stays
near zero: ingest costs a few µs a message, the broker itself well over 100 µs).

Demo mode: anonymous clients are allowed and the broker is not secured. With an ``authorizer``
(the secure profile; :mod:`shopfloor.security.broker_acl`) every CONNECT, PUBLISH and SUBSCRIBE
is checked against the device registry. amqtt's own logging
(per-packet and per-event loggers, ``$SYS`` topics) is left out, and its chatty ``INFO``
logs are raised to ``WARNING`` unless the application configured the ``amqtt`` logger.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from amqtt.broker import Broker, BrokerContext
from amqtt.errors import BrokerError as AmqttBrokerError
from amqtt.plugins.base import BaseAuthPlugin, BasePlugin, BaseTopicPlugin

from ..core.errors import BrokerError
from .base import EmbeddedBrokerBase

log = logging.getLogger(__name__)

OnMessage = Callable[[str, bytes], Awaitable[Any]]
OnBatch = Callable[[list[tuple[str, bytes]]], Awaitable[Any]]
MAX_BATCH = 256
QUEUE_WARN = 100_000


class _Hook:
    """Queue between the broker and the platform's consumer task."""

    def __init__(self, on_message: OnMessage | None, on_batch: OnBatch | None) -> None:
        self.on_message = on_message
        self.on_batch = on_batch
        self.queue: deque[tuple[str, bytes]] = deque()
        self.wake = asyncio.Event()
        self.received = 0
        self.failed = 0
        self.warned = False
        self.task: asyncio.Task[None] | None = None

    def push(self, topic: str, data: bytes) -> None:
        self.queue.append((topic, data))
        self.received += 1
        self.wake.set()
        if len(self.queue) > QUEUE_WARN and not self.warned:
            self.warned = True
            log.warning(
                "embedded broker: %d messages wait for ingest (ingest is slower than the "
                "broker; logged once)",
                len(self.queue),
            )

    async def run(self) -> None:
        queue = self.queue
        while True:
            if not queue:
                self.wake.clear()
                await self.wake.wait()
            if self.on_batch is not None:
                n = min(len(queue), MAX_BATCH)
                batch = [queue.popleft() for _ in range(n)]
                await self._call(self.on_batch, batch)
            else:
                assert self.on_message is not None
                while queue:
                    topic, data = queue.popleft()
                    await self._call(self.on_message, topic, data)

    async def _call(self, fn: Callable[..., Awaitable[Any]], *args: Any) -> None:
        try:
            await fn(*args)
        except asyncio.CancelledError:
            raise
        except Exception as err:  # supervisor: one bad message must not stop the broker
            self.failed += 1
            log.error("embedded broker: message handler failed: %s", err, exc_info=err)


class IngestHookPlugin(BasePlugin[BrokerContext]):
    """amqtt plugin: passes every message accepted for distribution to the platform's hook."""

    @dataclass
    class Config:
        hook: Any = field(default=None)

    async def on_broker_message_broadcast(self, *, client_id: str, message: Any) -> None:
        hook: _Hook | None = self.config.hook
        if hook is not None:
            hook.push(message.topic, bytes(message.data))


class _HookedBroker(Broker):
    """amqtt's broker, handing each message to the hook where it queues it for distribution.

    ``_broadcast_message`` is where amqtt queues every message for its subscribers (client
    publishes after topic checks, wills, internal broadcasts). The hook takes it there, and
    the broadcast machinery (a task and a wait per message) is skipped while nobody
    subscribes. amqtt is pinned to 0.12.x; ``tests/broker`` covers this.
    """

    _ingest_hook: _Hook | None = None

    async def _broadcast_message(
        self, session: Any, topic: str | None, data: bytes | bytearray | None, force_qos: int | None = None
    ) -> None:
        hook = self._ingest_hook
        if hook is not None and topic is not None and data is not None:
            hook.push(topic, bytes(data))
        if self._subscriptions:
            await super()._broadcast_message(session, topic, data, force_qos)


HOOK_MODE = "override"  # "override" (faster, see bench) or "plugin" (amqtt's plugin event)


# --- security (issue 8): device credentials and topic ACLs -------------------------------------
class Authorizer(Protocol):
    """Decides who may connect and which topics they may use (``shopfloor.security.broker_acl``)."""

    async def authenticate(self, client_id: str, username: str | None, password: str | None) -> bool: ...

    async def allow(self, client_id: str, username: str | None, topic: str, action: str) -> bool: ...


class AuthorizerAuthPlugin(BaseAuthPlugin):
    """amqtt auth plugin asking the :class:`Authorizer` at every CONNECT."""

    @dataclass
    class Config:
        authorizer: Any = field(default=None)

    async def authenticate(self, *, session: Any) -> bool | None:
        authorizer: Authorizer = self.config.authorizer
        return await authorizer.authenticate(session.client_id or "", session.username, session.password)


class AuthorizerTopicPlugin(BaseTopicPlugin):
    """amqtt topic plugin asking the :class:`Authorizer` at every PUBLISH and SUBSCRIBE."""

    @dataclass
    class Config:
        authorizer: Any = field(default=None)

    async def topic_filtering(
        self, *, session: Any = None, topic: str | None = None, action: Any = None
    ) -> bool | None:
        if action is None or str(action) == "receive" or session is None or topic is None:
            return True  # delivery to a subscriber was checked at SUBSCRIBE
        authorizer: Authorizer = self.config.authorizer
        return await authorizer.allow(session.client_id or "", session.username, topic, str(action))


# --- end security -----------------------------------------------------------------------------


class EmbeddedBroker(EmbeddedBrokerBase):
    """An MQTT broker inside this process; ``port=0`` picks a free port (see :attr:`port`).

    ``on_message(topic, payload)`` or ``on_batch([(topic, payload), ...])`` receives every
    message published by any client, in order, without a loopback subscriber.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 1884,
        on_message: OnMessage | None = None,
        *,
        on_batch: OnBatch | None = None,
        max_connections: int = 0,
        authorizer: Authorizer | None = None,  # security (issue 8): None = anonymous, no ACL
        tls: tuple[str, str] | None = None,  # security (issue 8): (certfile, keyfile) for MQTTS
    ) -> None:
        if on_message is not None and on_batch is not None:
            raise BrokerError("give on_message or on_batch, not both")
        self.host = host
        self._requested_port = port
        self._port: int | None = None
        self._max_connections = max_connections
        self._hook = _Hook(on_message, on_batch) if (on_message or on_batch) else None
        self._broker: Broker | None = None
        self._authorizer = authorizer
        self._tls = tls
        self.local_port: int | None = None  # plain loopback listener when MQTTS is on

    def _config(self) -> dict[str, Any]:
        plugins: dict[str, Any] = {
            "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
        }
        if self._authorizer is not None:  # security (issue 8)
            plugins = {
                f"{__name__}.AuthorizerAuthPlugin": {"authorizer": self._authorizer},
                f"{__name__}.AuthorizerTopicPlugin": {"authorizer": self._authorizer},
            }
        if self._hook is not None and HOOK_MODE == "plugin":
            plugins[f"{__name__}.IngestHookPlugin"] = {"hook": self._hook}
        listener: dict[str, Any] = {
            "type": "tcp",
            "bind": f"{self.host}:{self._requested_port}",
            "max_connections": self._max_connections,
        }
        listeners: dict[str, Any] = {"default": listener}
        if self._tls is not None:  # security (issue 8): MQTTS, plus plain TCP on loopback for
            # in-process clients (the Sparkplug host): still authenticated and ACL-checked. amqtt
            # copies the default listener's settings into the others, so the plain one is "default".
            tls_listener = dict(listener, ssl=True, certfile=self._tls[0], keyfile=self._tls[1])
            listeners = {"default": dict(listener, bind="127.0.0.1:0"), "mqtts": tls_listener}
        return {"listeners": listeners, "plugins": plugins}

    async def start(self) -> None:
        """Open the listening socket; :class:`BrokerError` names the port if it is taken."""
        if self._broker is not None:
            return
        _quiet_amqtt()
        amqtt_log = logging.getLogger("amqtt.broker")
        amqtt_log.addFilter(_no_startup_traceback)  # we raise BrokerError with the reason instead
        try:
            broker = _HookedBroker(self._config())
            if HOOK_MODE == "override":
                broker._ingest_hook = self._hook
            await broker.start()
        except (AmqttBrokerError, OSError) as err:
            cause = err.__cause__ if isinstance(err, AmqttBrokerError) else err
            if isinstance(cause, OSError) and cause.errno == errno.EADDRINUSE:
                raise BrokerError(
                    f"MQTT port {self._requested_port} on {self.host} is already in use: stop what holds it "
                    f"or set mqtt.port (SHOPFLOOR_MQTT__PORT) to another port, 0 for any free one"
                ) from err
            raise BrokerError(
                f"embedded MQTT broker could not start on {self.host}:{self._requested_port}: {cause}"
            ) from err
        finally:
            amqtt_log.removeFilter(_no_startup_traceback)
        self._broker = broker
        server = broker._servers["mqtts" if "mqtts" in broker._servers else "default"].instance
        self._port = int(server.sockets[0].getsockname()[1])
        if "mqtts" in broker._servers:  # security (issue 8): the plain loopback listener
            self.local_port = int(broker._servers["default"].instance.sockets[0].getsockname()[1])
        if self._hook is not None:
            self._hook.task = asyncio.create_task(self._hook.run(), name="broker-ingest-hook")
        log.debug("embedded MQTT broker listening on %s:%d", self.host, self._port)

    async def stop(self) -> None:
        """Disconnect clients, hand queued messages to the hook, close the socket."""
        broker, self._broker = self._broker, None
        if broker is None:
            return
        try:
            await broker.shutdown()
        except AmqttBrokerError as err:
            log.warning("embedded MQTT broker did not shut down cleanly: %s", err)
        hook = self._hook
        if hook is not None and hook.task is not None:
            for _ in range(1000):
                if not hook.queue:
                    break
                await asyncio.sleep(0.001)
            hook.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await hook.task
            hook.task = None

    def stats(self) -> dict[str, Any]:
        hook = self._hook
        sessions = len(self._broker._sessions) if self._broker is not None else 0
        return {
            "port": self._port,
            "sessions": sessions,
            "received": hook.received if hook else 0,
            "handler_failures": hook.failed if hook else 0,
            "queued": len(hook.queue) if hook else 0,
        }


def _no_startup_traceback(record: logging.LogRecord) -> bool:
    return record.getMessage() != "Broker startup failed"


def _quiet_amqtt() -> None:
    for name in ("amqtt", "transitions"):
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.WARNING)
