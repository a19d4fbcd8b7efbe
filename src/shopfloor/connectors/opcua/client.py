"""OPC UA client of one server (the only module importing asyncua).

A supervisor task owns the connection: it connects, resolves the namespace, creates one
subscription with a monitored item per configured node, and then waits for asyncua's
connection watchdog (``watchdog_s``) to report a loss. On a loss, or when a connect fails,
it marks the server unavailable (logged once per outage), waits with doubling backoff
(``backoff_min_s`` .. ``backoff_max_s``) and starts over, re-creating the subscription, so a
server restart is survived without any manual action. Data changes are handed to
``on_values`` as ``(node, ts_ns, value, quality)`` tuples, batched per notification burst.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from asyncua import Client, ua

from ...core.errors import DeviceUnavailable, ProtocolError
from .config import OpcUaNode, OpcUaServer
from .converter import plain, quality, to_ns, with_namespace

log = logging.getLogger(__name__)
OnValues = Callable[[list[tuple[OpcUaNode, int, Any, int]]], None]
OnState = Callable[[str, str | None], None]
_ERRORS = (OSError, TimeoutError, ConnectionError, ua.UaError, asyncio.IncompleteReadError)


class _Handler:
    def __init__(self, owner: OpcUaClient) -> None:
        self.owner = owner

    def datachange_notification(self, node: Any, val: Any, data: Any) -> None:
        self.owner._changed(node, data.monitored_item.Value)

    def status_change_notification(self, status: Any) -> None:
        log.info("%s: subscription status changed: %s", self.owner.config.name, status)


class OpcUaClient:
    """Keeps one server subscribed; ``await start()``, ``await stop()``; read/write for commands."""

    def __init__(self, config: OpcUaServer, on_values: OnValues, on_state: OnState | None = None) -> None:
        self.config = config
        self.on_values = on_values
        self.on_state = on_state
        self.state = "connecting"
        self.last_error: str | None = None
        self.connects = 0
        self.failures = 0
        self.notifications = 0
        self._client: Client | None = None
        self._by_node: dict[Any, OpcUaNode] = {}
        self._ids: dict[tuple[str, str], Any] = {}
        self._pending: list[tuple[OpcUaNode, int, Any, int]] = []
        self._flush_scheduled = False
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.connected = asyncio.Event()

    async def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._supervise(), name=f"opcua-{self.config.name}")

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._close()

    # -- supervision --------------------------------------------------------------------------

    async def _supervise(self) -> None:
        cfg = self.config
        delay = cfg.backoff_min_s
        logged = False
        while not self._stopping:
            try:
                await self._session()
            except _ERRORS as err:
                self.failures += 1
                self.last_error = f"{cfg.url}: {err!r}"
                if not logged and self.connects == 0 and self.failures == 1:
                    # the first try at start-up: the server may simply start after us
                    log.info("OPC UA %s not reachable yet: %s (retrying)", cfg.name, self.last_error)
                elif not logged:
                    log.warning("OPC UA %s unavailable: %s (retrying)", cfg.name, self.last_error)
                    logged = True
                if self.connected.is_set():
                    delay = cfg.backoff_min_s
            self._set_state("unavailable", self.last_error)
            self.connected.clear()
            await self._close()
            await asyncio.sleep(delay)
            delay = min(delay * 2, cfg.backoff_max_s)
            if self.state == "connected":
                logged = False

    async def _session(self) -> None:
        cfg = self.config
        client = Client(cfg.url, timeout=cfg.timeout_s, watchdog_intervall=cfg.watchdog_s)
        if cfg.username:
            client.set_user(cfg.username)
            client.set_password(cfg.password or "")
        client.application_uri = cfg.application_uri
        if cfg.security_policy != "None":
            parts = [cfg.security_policy, cfg.security_mode, str(cfg.certificate), str(cfg.private_key)]
            if cfg.server_certificate is not None:
                parts.append(str(cfg.server_certificate))
            await client.set_security_string(",".join(parts))
        lost = asyncio.Event()

        async def on_lost(_exc: Exception) -> None:
            lost.set()

        client.connection_lost_callback = on_lost
        self._client = client
        await asyncio.wait_for(client.connect(), cfg.timeout_s + 1)
        ns = await client.get_namespace_index(cfg.namespace_uri) if cfg.namespace_uri else None
        self._by_node.clear()
        self._ids.clear()
        nodes = []
        for n in cfg.nodes:
            node = client.get_node(with_namespace(n.node_id, ns) if ns is not None else n.node_id)
            self._by_node[node.nodeid] = n
            self._ids[n.key] = node.nodeid
            nodes.append(node)
        if nodes:
            params = ua.CreateSubscriptionParameters(
                RequestedPublishingInterval=cfg.publishing_interval_ms,
                RequestedLifetimeCount=60,
                RequestedMaxKeepAliveCount=max(3, int(1000 / cfg.publishing_interval_ms)),
                MaxNotificationsPerPublish=0,
                PublishingEnabled=True,
                Priority=0,
            )
            sub = await client.create_subscription(params, _Handler(self))
            handles = await sub.subscribe_data_change(  # type: ignore[call-overload]
                nodes, queuesize=cfg.queue_size, sampling_interval=cfg.sampling_interval_ms
            )
            bad = [n.node_id for n, h in zip(cfg.nodes, handles, strict=False) if not isinstance(h, int)]
            if bad:
                self.last_error = f"{cfg.name}: cannot monitor {', '.join(bad[:5])}"
                log.warning("OPC UA %s", self.last_error)
        self.connects += 1
        self.connected.set()
        self._set_state("connected", None)
        log.info("OPC UA %s connected to %s, %d monitored items", cfg.name, cfg.url, len(nodes))
        while not lost.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(lost.wait(), cfg.watchdog_s)
        raise ConnectionError("connection lost")

    async def _close(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        client.connection_lost_callback = None
        with contextlib.suppress(*_ERRORS, asyncio.CancelledError, RuntimeError):
            await asyncio.wait_for(client.disconnect(), 1.0)
        with contextlib.suppress(*_ERRORS, RuntimeError):
            client.disconnect_socket()

    def _set_state(self, state: str, error: str | None) -> None:
        if state != self.state:
            self.state = state
            if self.on_state is not None:
                self.on_state(state, error)

    # -- data ---------------------------------------------------------------------------------

    def _changed(self, node: Any, dv: Any) -> None:
        target = self._by_node.get(node.nodeid)
        if target is None:
            return
        self.notifications += 1
        variant = dv.Value
        value = plain(variant.Value if variant is not None else None)
        status = dv.StatusCode_.value if getattr(dv, "StatusCode_", None) is not None else 0
        ts = to_ns(dv.SourceTimestamp, dv.ServerTimestamp, time.time_ns())
        self._pending.append((target, ts, value, quality(status)))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        batch, self._pending = self._pending, []
        self._flush_scheduled = False
        if batch:
            self.on_values(batch)

    # -- commands and discovery ---------------------------------------------------------------

    def _node(self, key: tuple[str, str]) -> Any:
        client = self._client
        if client is None or not self.connected.is_set():
            raise DeviceUnavailable(f"OPC UA {self.config.name}: not connected")
        nid = self._ids.get(key)
        if nid is None:
            raise ProtocolError(f"OPC UA {self.config.name}: {key[0]}/{key[1]} is not configured")
        return client.get_node(nid)

    async def read(self, key: tuple[str, str]) -> Any:
        """Current value of a configured node."""
        node = self._node(key)
        try:
            return plain(await node.read_value())
        except ua.UaStatusCodeError as err:
            raise ProtocolError(f"OPC UA {self.config.name}: read {key[0]}/{key[1]}: {err}") from err
        except _ERRORS as err:
            raise DeviceUnavailable(f"OPC UA {self.config.name}: read {key[0]}/{key[1]}: {err!r}") from err

    async def write(self, key: tuple[str, str], value: Any) -> None:
        """Write a configured node with its current variant type; a refusal is a ProtocolError."""
        node = self._node(key)
        try:
            vtype = await node.read_data_type_as_variant_type()
            await node.write_value(ua.DataValue(ua.Variant(value, vtype)))
        except ua.UaStatusCodeError as err:
            raise ProtocolError(f"OPC UA {self.config.name}: write {key[0]}/{key[1]}: {err}") from err
        except _ERRORS as err:
            raise DeviceUnavailable(f"OPC UA {self.config.name}: write {key[0]}/{key[1]}: {err!r}") from err

    read_value = read
    write_value = write

    async def browse(self, root: str = "i=85", depth: int = 6) -> list[tuple[str, str]]:
        """Variables under ``root`` (node id string, browse path), for writing a node map."""
        client = self._client
        if client is None or not self.connected.is_set():
            raise DeviceUnavailable(f"OPC UA {self.config.name}: not connected")
        out: list[tuple[str, str]] = []

        async def walk(node: Any, path: str, level: int) -> None:
            for child in await node.get_children():
                name = (await child.read_browse_name()).Name
                cls = await child.read_node_class()
                if cls == ua.NodeClass.Variable:
                    out.append((child.nodeid.to_string(), f"{path}/{name}".lstrip("/")))
                elif level < depth and cls == ua.NodeClass.Object:
                    await walk(child, f"{path}/{name}", level + 1)

        try:
            await walk(client.get_node(root), "", 0)
        except _ERRORS as err:
            raise DeviceUnavailable(f"OPC UA {self.config.name}: browse: {err!r}") from err
        return out
