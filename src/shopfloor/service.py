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

from prometheus_client import CollectorRegistry, Counter, Gauge

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


ROLES = frozenset({"ingest", "writer", "rules", "analytics", "api"})


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
            raise ConfigError(
                "setting mode: 'edge' is run by `shopfloor edge --config edge.toml` (docs/edge.md)"
            )
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
        # --- security (issue 8): users, tokens, devices, audit chain ---
        from .security.manager import Security

        self.security = Security(
            self.data_dir,
            settings.security,
            api_host=settings.api.host,
            mqtt_host=settings.mqtt.host if settings.mqtt.embedded else "127.0.0.1",
            topic_root=settings.mqtt.topic_root,
        )
        self.audit = self.security.audit
        # --- end security ---
        self.pipeline = Pipeline(
            self.plant, self.bus, settings.ingest, registry=self.registry, topic_root=settings.mqtt.topic_root
        )
        # --- sparkplug (issue 14): Sparkplug B host application (docs/sparkplug.md) ---
        from .connectors.sparkplug.config import SparkplugHostConfig
        from .ingest.sparkplug import SparkplugHost

        sp_config = SparkplugHostConfig()  # type: ignore[call-arg]
        self.sparkplug: SparkplugHost | None = None
        if sp_config.enabled or (sp_config.enabled is None and not settings.mqtt.shared_group):
            self.sparkplug = SparkplugHost(
                self.plant, self.bus, sp_config, settings.ingest, registry=self.registry
            )
        # --- end sparkplug ---
        self.writer = StoreWriter(
            self.bus,
            self.store,
            settings.store.flush_interval_s,
            settings.store.flush_rows,
            durable=self.production,
        )
        self.dead_letters = DeadLetterWriter(self.bus, self.state, durable=self.production)
        # --- streaming analytics (issues 4, 5): built in every process, so the derived tags it
        # adds to the plant (anomaly_score, health, anomaly_top) are known to rules and the API ---
        from .scoring.registry import ModelRegistry
        from .scoring.role import StreamingScorer

        self.models = ModelRegistry(self.data_dir / "models")
        self.scorer = StreamingScorer(self.plant, self.bus, self.models)
        from .scoring.kpi import LiveKpi

        self.live_kpi = LiveKpi(self.plant, self.bus)  # live OEE (issue 11)
        # --- end streaming analytics ---
        # --- system alarms (issues 8, 13): broker drops and security events as alarms ---
        from .rules.system import SystemTags

        self.system_tags = SystemTags(self.plant)
        self.security.monitor.on_event.append(self.system_tags.note_security_event)
        # --- end system alarms ---
        self.rules = RuleEngine(
            self.plant,
            self.bus,
            self.state,
            [*(load_rules(rules_file) if rules_file else []), *self.system_tags.rules()],
        )
        # --- notifications and commands (issue 7): docs/notifications.md, docs/commands.md ---
        from .rules.commands import CommandService
        from .rules.commands.transport import NoTransport
        from .rules.notify import Notifier

        self.notifier = Notifier(settings.notify, self.bus, self.state)
        cmd_settings = settings.commands
        if "rules" not in self.roles:  # alarm actions run in the rules role only
            cmd_settings = cmd_settings.model_copy(update={"actions": []})
        self.commands = CommandService(
            self.plant,
            self.state,
            NoTransport(),  # the real one is made at start, once the broker's port is known
            cmd_settings,
            latest=self._latest_value,
            bus=self.bus,
            audit=self._command_audit,
        )
        # --- end notifications and commands ---
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
        await self.security.open()  # security (issue 8)
        stack.push_async_callback(self.security.close)
        if "ingest" in self.roles and self.settings.security.monitor_samples:  # security (issue 8)
            self.spawn(self.security.watch_samples(self.bus, self.plant), "security-monitor")
        if "rules" in self.roles:
            await self.rules.start()
            stack.push_async_callback(self.rules.stop)
        if "analytics" in self.roles:  # streaming analytics (issues 4, 5)
            await self.scorer.start()
            stack.push_async_callback(self.scorer.stop)
            await self.live_kpi.start()
            stack.push_async_callback(self.live_kpi.stop)
        if "writer" in self.roles:
            await self.writer.start()
            stack.push_async_callback(self.writer.stop)
            await self.dead_letters.start()
            stack.push_async_callback(self.dead_letters.stop)
            self.spawn(self._retention_loop(), "retention")
        self.spawn(self.system_tags.run(self.bus), "system-tags")  # system alarms (issues 8, 13)
        if "api" in self.roles:
            await self.live.start()
            stack.push_async_callback(self.live.stop)
            if "writer" not in self.roles and hasattr(self.store, "reload_latest"):
                self.spawn(self._follow_latest(), "follow-latest")
        if "ingest" in self.roles:
            await self._start_ingest(stack)
        # --- notifications and commands (issue 7) ---
        if "rules" in self.roles:
            await self.notifier.start()
            stack.push_async_callback(self.notifier.stop)
        if self.roles & {"rules", "api"}:
            self.commands.transport = self._command_transport()
            await self.commands.start()
            stack.push_async_callback(self.commands.stop)
        # --- end notifications and commands ---

    # --- notifications and commands (issue 7) ---
    def _command_transport(self) -> Any:
        from .rules.commands.mqtt import MqttTransport
        from .rules.commands.transport import NoTransport, OpcUaTransport

        cs, mqtt = self.settings.commands, self.settings.mqtt
        if cs.transport == "opcua":
            return OpcUaTransport(self.plant, cs.opcua_url, cs.opcua_namespace_uri, cs.opcua_node)
        if cs.transport == "mqtt":
            host = "127.0.0.1" if mqtt.host in ("0.0.0.0", "::", "") else mqtt.host
            return MqttTransport(
                host,
                self.mqtt_port or mqtt.port,
                mqtt.topic_root,
                username=mqtt.username,
                password=mqtt.password,
                client_id=f"{mqtt.client_id}-commands",
            )
        return NoTransport()

    async def _command_audit(
        self, actor: str, action: str, target: str, outcome: str = "ok", detail: Any = None
    ) -> Any:
        """Command transitions go to the audit chain; requests also to the behaviour monitor."""
        if action == "command.requested":
            self.security.monitor.observe_command(actor, target)  # off-hours commands (issue 8)
        return await self.audit.record(actor, action, target, outcome, detail)

    async def _latest_value(self, asset: str, tag: str) -> Any:
        """The latest stored value of one tag (interlocks: machine mode, current setpoint)."""
        try:
            for s in await self.store.latest(asset):
                if s.asset == asset and s.tag == tag:
                    return s.value
        except StoreError:
            return None
        return None

    # --- end notifications and commands ---

    async def _start_ingest(self, stack: contextlib.AsyncExitStack) -> None:
        if self.settings.mqtt.embedded:
            mqtt = self.settings.mqtt
            if mqtt.broker == "rumqttd":
                from .broker.rumqtt import RumqttBroker

                if self.security.mqtt_acl:  # security (issue 8)
                    raise ConfigError(
                        "setting mqtt.broker: rumqttd cannot enforce device credentials and topic ACLs; "
                        "use mqtt.broker = 'amqtt' or set security.mqtt_acl = false"
                    )

                self.broker = RumqttBroker(
                    mqtt.host, mqtt.port, on_batch=self.pipeline.handle_mqtt_batch, topic_root=mqtt.topic_root
                )
            else:
                self.broker = EmbeddedBroker(
                    mqtt.host,
                    mqtt.port,
                    on_batch=self.pipeline.handle_mqtt_batch,
                    authorizer=self.security.broker_authorizer(),  # security (issue 8); None in demo
                    tls=await self.security.mqtt_tls([mqtt.host]),  # security (issue 8); None unless mqtt_tls
                )
                if self.security.authorizer is not None:  # security (issue 8): the platform's own
                    # MQTT clients (Sparkplug host, commands) use the service account of this run
                    mqtt.username, mqtt.password = self.security.authorizer.service_credentials()
            await self.broker.start()
            stack.push_async_callback(self.broker.stop)
            log.info(
                "embedded MQTT broker (%s) on %s:%d (%s)",
                self.settings.mqtt.broker,
                self.settings.mqtt.host,
                self.broker.port,
                "device credentials and topic ACLs" if self.security.mqtt_acl else "not secured: anonymous",
            )
        else:
            source = MqttSource(
                MqttSourceConfig.from_settings(self.settings.mqtt),
                self.pipeline.handle_mqtt_batch,
                on_drop=self._broker_dropped,
            )
            await source.start()
            stack.push_async_callback(source.stop)
            self.mqtt_source = source
            log.info("ingesting from MQTT broker %s:%d", self.settings.mqtt.host, self.settings.mqtt.port)
        # --- sparkplug (issue 14): fed by the amqtt hook through the pipeline, else it subscribes ---
        if self.sparkplug is not None:
            mqtt = self.settings.mqtt
            hooked = self.broker is not None and mqtt.broker == "amqtt"
            if hooked:
                self.pipeline.sparkplug = self.sparkplug.route
            wildcard = self.broker is not None and mqtt.host in ("0.0.0.0", "::", "")
            local = getattr(self.broker, "local_port", None)  # security (issue 8): MQTTS -> loopback
            await self.sparkplug.start(
                "127.0.0.1" if wildcard or local else mqtt.host,
                local or self.mqtt_port or 1883,
                username=mqtt.username,
                password=mqtt.password,
                subscribe=not hooked,
                client_id=f"{mqtt.client_id}-sparkplug",
            )
            stack.push_async_callback(self.sparkplug.stop)
        # --- end sparkplug ---

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
        status = "ok"
        try:
            store_stats = await asyncio.wait_for(self.store.stats(), 2.0)
        except (StoreError, TimeoutError) as err:  # StoreUnavailable is a StoreError
            status = "degraded"
            store_stats = {"available": False, "error": str(err) or "no answer within 2 s"}
        return {
            "status": status,
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
                "source": self.mqtt_source.stats() if self.mqtt_source is not None else None,
                "secured": False,
            },
            "ingest": self.pipeline.stats(),
            "sparkplug": self.sparkplug.stats() if self.sparkplug else None,  # sparkplug (issue 14)
            "bus": self.bus.stats(),
            "store": store_stats,
            "writer": self.writer.stats(),
            "rules": self.rules.stats(),
            "commands": self.commands.stats(),  # issue 7
            "notify": self.notifier.stats(),  # issue 7
            "analytics": self.scorer.stats(),
            "live": {"clients": self.live.clients, "sent": self.live.sent, "dropped": self.live.dropped},
            "security": self.security.health(),  # security (issue 8)
        }

    def _broker_dropped(self, new: int, total: int) -> None:
        """The external broker dropped messages ($SYS counter grew): count, flag, tell the bus."""
        self.broker_drops.inc(new)
        self.system_tags.note_broker_drop(new)
        event = {
            "kind": "broker_drop",
            "ts": time.time_ns(),
            "severity": "high",
            "message": f"MQTT broker {self.settings.mqtt.host}:{self.settings.mqtt.port} dropped {new} "
            f"messages (broker total {total}): raise max_queued_messages or add ingest workers",
            "dropped": new,
            "broker_total": total,
        }
        self.spawn(self.bus.publish("events", [event]), "broker-drop-event")

    def _register_gauges(self) -> None:
        bus = self.bus

        def depth() -> float:
            subs = bus.stats().get("subscribers", {})
            return float(sum(s.get("depth", 0) for s in subs.values())) if isinstance(subs, dict) else 0.0

        self.broker_drops = Counter(
            "shopfloor_broker_dropped_messages",
            "Messages the external MQTT broker reported dropped ($SYS) since this process connected",
            registry=self.registry,
        )
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
    tls: dict[str, Any] = {}  # security (issue 8): HTTPS in the secure profile (security.tls)
    if platform.security.wants_tls(host):
        cert, key = await asyncio.to_thread(platform.security.server_tls, [host])
        tls = {"ssl_certfile": str(cert), "ssl_keyfile": str(key)}
        platform.security.https = True
    config = uvicorn.Config(
        create_app(platform), host=host, port=port, log_level="critical", lifespan="off", **tls
    )
    server = uvicorn.Server(config)
    serve = asyncio.create_task(server.serve(), name="http")
    while not server.started:
        if serve.done():
            with contextlib.suppress(SystemExit, OSError):
                await serve
            raise ConfigError(f"setting api.port: cannot serve HTTP on {host}:{port} (port in use?)")
        await asyncio.sleep(0.05)
    platform.http_port = server.servers[0].sockets[0].getsockname()[1]
    log.info("dashboard and API on %s://%s:%d", "https" if tls else "http", host, platform.http_port)
    return server, serve
