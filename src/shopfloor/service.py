"""The platform process: wires broker, ingest, bus, stores, API and (in demo) the plant.

One event loop, one supervisor. Start order follows the data flow backwards so nothing
is received before there is somewhere to put it: stores, bus, writers, ingest, broker,
API, then the simulated plant. Stop order is the reverse, and the store writer flushes
what it buffered before the store closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Gauge

from .api.live import LiveHub
from .broker.base import EmbeddedBrokerBase
from .broker.embedded import EmbeddedBroker
from .bus.base import Bus
from .bus.memory import MemoryBus
from .connectors.mqtt.client import MqttSource
from .connectors.mqtt.config import MqttSourceConfig
from .core.assets import Plant
from .core.errors import ConfigError, StoreError
from .core.settings import Settings
from .ingest.pipeline import Pipeline
from .ingest.writer import DeadLetterWriter, StoreWriter
from .rules import RuleEngine, load_rules
from .store.base import TimeSeriesStore
from .store.embedded import EmbeddedStore
from .store.state import StateStore

log = logging.getLogger(__name__)


def default_plant_path() -> Path:
    from .sim import DEFAULT_PLANT

    return Path(DEFAULT_PLANT)


def default_rules_path() -> Path:
    return default_plant_path().with_name("papermill-rules.toml")


ROLES = frozenset({"ingest", "writer", "rules", "api"})


class Platform:
    """One shopfloor process: all roles (``shopfloor up``/``demo``) or some (``shopfloor worker``).

    Roles: ``ingest`` (MQTT broker or subscriber -> validation -> bus), ``writer`` (bus ->
    store, dead letters -> state store), ``rules`` (rule engine and ISA-18.2 alarms), ``api``
    (HTTP, WebSocket, dashboard). Embedded mode
    runs them over the in-process bus; production mode over NATS JetStream with the time
    series in PostgreSQL and an external MQTT broker, so any number of worker processes on
    any hosts can share the work.
    """

    def __init__(self, settings: Settings, plant: Plant | None = None, roles: frozenset[str] = ROLES) -> None:
        unknown = set(roles) - ROLES
        if unknown or not roles:
            raise ConfigError(f"unknown role(s) {sorted(unknown)}: choose from {sorted(ROLES)}")
        self.roles = frozenset(roles)
        self.production = settings.mode == "production"
        if settings.mode == "edge":
            raise ConfigError("setting mode: 'edge' is run by `shopfloor edge`, which is not built yet")
        if self.production:
            if settings.store.backend != "postgres":
                raise ConfigError(
                    "setting store.backend: production mode keeps time series in PostgreSQL; "
                    "set store.backend = 'postgres'"
                )
            if settings.mqtt.embedded:
                raise ConfigError(
                    "setting mqtt.embedded: production mode ingests from an external MQTT broker; "
                    "set mqtt.embedded = false and mqtt.host/mqtt.port"
                )
        elif self.roles != ROLES:
            raise ConfigError("setting mode: workers with a subset of roles need mode = 'production'")
        self.settings = settings
        self.plant = plant if plant is not None else Plant.load(settings.plant or default_plant_path())
        rules_file = settings.rules
        if rules_file is None and plant is None and settings.plant is None:
            rules_file = default_rules_path()
        self.data_dir = Path(settings.data_dir)
        self.registry = CollectorRegistry()
        self.bus: Bus
        if self.production:
            from .bus.nats import NatsBus

            self.bus = NatsBus(
                settings.bus.nats_url,
                settings.bus.stream_prefix,
                ack_wait_s=settings.bus.ack_wait_s,
                queue_size=256,
                coalesce_items=settings.store.flush_rows,
            )
        else:
            self.bus = MemoryBus(queue_size=settings.bus.queue_size, policy=settings.bus.slow_consumer)
        self.store: TimeSeriesStore
        if settings.store.backend == "postgres":
            from .store.postgres import PostgresStore

            self.store = PostgresStore(
                settings.store.postgres_dsn, settings.store, schema=settings.store.postgres_schema
            )
        else:
            self.store = EmbeddedStore(self.data_dir / "timeseries.duckdb", settings.store)
        self.state = StateStore(self.data_dir / "state.db")
        self.pipeline = Pipeline(
            self.plant, self.bus, settings.ingest, registry=self.registry, topic_root=settings.mqtt.topic_root
        )
        self.writer = StoreWriter(
            self.bus,
            self.store,
            settings.store.flush_interval_s,
            settings.store.flush_rows,
            durable=self.production,
        )
        self.dead_letters = DeadLetterWriter(self.bus, self.state, durable=self.production)
        self.rules = RuleEngine(
            self.plant, self.bus, self.state, load_rules(rules_file) if rules_file else []
        )
        self.broker: EmbeddedBrokerBase | None = None  # amqtt or rumqttd
        self.mqtt_source: MqttSource | None = None
        self.http_port: int | None = None
        self.live = LiveHub(self.bus)
        self.started_at = time.time()
        self._tasks: list[asyncio.Task[Any]] = []
        self._stack = contextlib.AsyncExitStack()
        self._register_gauges()

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        try:
            await self._start()
        except BaseException:
            await self._stack.aclose()
            raise

    async def _start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        stack = self._stack
        if self.production:
            await self.bus.connect()  # type: ignore[attr-defined]
        stack.push_async_callback(self.bus.close)
        if self.roles & {"writer", "api"}:
            await self.store.open()
            stack.push_async_callback(self.store.close)
        await self.state.open()
        stack.push_async_callback(self.state.close)
        if "rules" in self.roles:
            await self.rules.start()
            stack.push_async_callback(self.rules.stop)
        if "writer" in self.roles:
            await self.writer.start()
            stack.push_async_callback(self.writer.stop)
            await self.dead_letters.start()
            stack.push_async_callback(self.dead_letters.stop)
            self.spawn(self._retention_loop(), "retention")
        if "api" in self.roles:
            await self.live.start()
            stack.push_async_callback(self.live.stop)
            if "writer" not in self.roles and hasattr(self.store, "reload_latest"):
                self.spawn(self._follow_latest(), "follow-latest")
        if "ingest" in self.roles:
            await self._start_ingest(stack)

    async def _start_ingest(self, stack: contextlib.AsyncExitStack) -> None:
        if self.settings.mqtt.embedded:
            mqtt = self.settings.mqtt
            if mqtt.broker == "rumqttd":
                from .broker.rumqtt import RumqttBroker

                self.broker = RumqttBroker(
                    mqtt.host, mqtt.port, on_batch=self.pipeline.handle_mqtt_batch, topic_root=mqtt.topic_root
                )
            else:
                self.broker = EmbeddedBroker(mqtt.host, mqtt.port, on_batch=self.pipeline.handle_mqtt_batch)
            await self.broker.start()
            stack.push_async_callback(self.broker.stop)
            log.info(
                "embedded MQTT broker (%s) on %s:%d (not secured: demo mode)",
                self.settings.mqtt.broker,
                self.settings.mqtt.host,
                self.broker.port,
            )
        else:
            source = MqttSource(
                MqttSourceConfig.from_settings(self.settings.mqtt), self.pipeline.handle_mqtt_batch
            )
            await source.start()
            stack.push_async_callback(source.stop)
            self.mqtt_source = source
            log.info("ingesting from MQTT broker %s:%d", self.settings.mqtt.host, self.settings.mqtt.port)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        await self._stack.aclose()

    def spawn(self, coro: Awaitable[Any], name: str) -> asyncio.Task[Any]:
        """Run a supervised background task (logged if it dies)."""
        task = asyncio.ensure_future(coro)
        task.set_name(name)
        task.add_done_callback(self._task_done)
        self._tasks.append(task)
        return task

    @staticmethod
    def _task_done(task: asyncio.Task[Any]) -> None:
        if task.cancelled():
            return
        err = task.exception()
        if err is not None:
            log.error("task %s stopped: %s", task.get_name(), err, exc_info=err)

    async def _retention_loop(self, every_s: float = 3600.0) -> None:
        while True:
            try:
                deleted = await self.store.enforce_retention(time.time_ns())
                if deleted:
                    log.info("retention deleted %d raw samples (rolled up first)", deleted)
            except Exception as err:  # noqa: BLE001 - supervisor: log and retry next round
                log.warning("retention failed: %s", err)
            await asyncio.sleep(every_s)

    async def _follow_latest(self, every_s: float = 2.0) -> None:
        """An API-only process sees other processes' writes through the store's latest table."""
        while True:
            await asyncio.sleep(every_s)
            try:
                await self.store.reload_latest()  # type: ignore[attr-defined]
            except StoreError as err:
                log.warning("reloading latest values failed: %s", err)

    # -- introspection ------------------------------------------------------------------------

    @property
    def mqtt_port(self) -> int | None:
        if self.broker is not None:
            return self.broker.port
        return None if self.settings.mqtt.embedded else self.settings.mqtt.port

    async def health(self) -> dict[str, Any]:
        store_stats = await self.store.stats()
        return {
            "status": "ok",
            "mode": self.settings.mode,
            "roles": sorted(self.roles),
            "uptime_s": round(time.time() - self.started_at, 1),
            "plant": {
                "enterprise": self.plant.enterprise,
                "name": self.plant.name,
                "assets": len(self.plant),
            },
            "mqtt": {
                "embedded": self.settings.mqtt.embedded,
                "host": self.settings.mqtt.host,
                "port": self.mqtt_port,
                "secured": False,
            },
            "ingest": self.pipeline.stats(),
            "bus": self.bus.stats(),
            "store": store_stats,
            "writer": self.writer.stats(),
            "rules": self.rules.stats(),
            "live": {"clients": self.live.clients, "sent": self.live.sent, "dropped": self.live.dropped},
        }

    def _register_gauges(self) -> None:
        bus = self.bus

        def depth() -> float:
            subs = bus.stats().get("subscribers", {})
            return float(sum(s.get("depth", 0) for s in subs.values())) if isinstance(subs, dict) else 0.0

        g = Gauge("shopfloor_bus_queue_depth", "Batches queued on the in-process bus", registry=self.registry)
        g.set_function(depth)
        up = Gauge("shopfloor_uptime_seconds", "Seconds since the platform started", registry=self.registry)
        up.set_function(lambda: time.time() - self.started_at)


async def run_platform(
    platform: Platform,
    duration_s: float | None = None,
    stop: asyncio.Event | None = None,
    extra: Callable[[Platform, asyncio.Event], Awaitable[None]] | None = None,
) -> None:
    """Start the platform (and its HTTP server with the api role); run until ``stop`` or the duration."""
    stop = stop or asyncio.Event()
    await platform.start()
    server: Any = None
    serve: asyncio.Task[Any] | None = None
    try:
        if "api" in platform.roles:
            server, serve = await _serve_http(platform)
        if extra is not None:
            platform.spawn(extra(platform, stop), "extra")
        if duration_s is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), duration_s)
        else:
            await stop.wait()
    finally:
        if server is not None and serve is not None:
            server.should_exit = True
            with contextlib.suppress(asyncio.CancelledError, SystemExit):
                await serve
        await platform.stop()


async def _serve_http(platform: Platform) -> tuple[Any, asyncio.Task[Any]]:
    import uvicorn

    from .api.app import create_app

    host, port = platform.settings.api.host, platform.settings.api.port
    config = uvicorn.Config(create_app(platform), host=host, port=port, log_level="critical", lifespan="off")
    server = uvicorn.Server(config)
    serve = asyncio.create_task(server.serve(), name="http")
    while not server.started:
        if serve.done():
            with contextlib.suppress(SystemExit, OSError):
                await serve
            raise ConfigError(f"setting api.port: cannot serve HTTP on {host}:{port} (port in use?)")
        await asyncio.sleep(0.05)
    platform.http_port = server.servers[0].sockets[0].getsockname()[1]
    log.info("dashboard and API on http://%s:%d", host, platform.http_port)
    return server, serve
