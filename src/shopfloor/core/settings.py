"""Typed, validated settings: a TOML file plus ``SHOPFLOOR_*`` environment variables.

Precedence (highest first): keyword arguments, environment, the TOML file, defaults.
Nested settings use ``__`` in the environment: ``SHOPFLOOR_API__PORT=8081``.
A wrong setting fails at start with a :class:`ConfigError` naming it.

>>> s = load_settings(overrides={"api": {"port": 9000}})
>>> s.api.port, s.mode
(9000, 'embedded')
>>> load_settings(overrides={"api": {"port": "eighty"}})  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
shopfloor.core.errors.ConfigError: setting api.port: Input should be a valid integer, ... (got 'eighty')
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from .errors import ConfigError


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ApiSettings(_Section):
    host: str = Field("127.0.0.1", description="Address the HTTP API and dashboard bind to.")
    port: int = Field(
        8080, ge=0, le=65535, description="HTTP port of the API and dashboard (0 = any free port)."
    )


class MqttSettings(_Section):
    embedded: bool = Field(True, description="Start the in-process MQTT broker (embedded mode).")
    broker: Literal["amqtt", "rumqttd"] = Field(
        "amqtt",
        description="Embedded broker: 'rumqttd' (Rust, iotcore; a child process, MQTT 3.1.1 and 5; "
        "3.5-5x amqtt's throughput on single-value messages, but a device publishing over 10 KiB "
        "is disconnected without a dead letter) or 'amqtt' (pure Python on the platform's event "
        "loop, MQTT 3.1.1; oversized payloads are dead-lettered).",
    )
    host: str = Field("127.0.0.1", description="Broker address (bind address when embedded).")
    port: int = Field(1884, ge=0, le=65535, description="Broker TCP port (0 = any free port when embedded).")
    username: str | None = Field(None, description="Username for an external broker.")
    password: str | None = Field(None, description="Password for an external broker.")
    topic_root: str = Field("shopfloor/v1", description="Root of the versioned topic namespace.")
    client_id: str = Field("shopfloor-ingest", description="MQTT client id of the ingest subscriber.")
    shared_group: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description="Shared-subscription group ($share/<group>/...): ingest workers with the same "
        "group split the topic tree between them (external broker only). Each worker needs its "
        "own client_id.",
    )


class IngestSettings(_Section):
    max_payload_bytes: int = Field(256 * 1024, gt=0, description="Larger payloads are rejected as oversized.")
    max_future_s: float = Field(
        300.0, ge=0, description="Samples further than this in the future are rejected."
    )
    dead_letter_keep: int = Field(100_000, gt=0, description="Dead letters kept (oldest are pruned first).")


class BusSettings(_Section):
    queue_size: int = Field(10_000, gt=0, description="Bounded queue per subscriber, in batches.")
    slow_consumer: Literal["block", "drop_oldest"] = Field(
        "block",
        description="When a subscriber's queue is full: 'block' applies back-pressure to the "
        "publisher; 'drop_oldest' drops and counts the oldest batch (for live views only).",
    )
    nats_url: str = Field("nats://127.0.0.1:4222", description="NATS JetStream server (production mode).")
    stream_prefix: str = Field(
        "shopfloor",
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description="Prefix of the JetStream streams and subjects (production mode).",
    )
    ack_wait_s: float = Field(
        30.0,
        gt=0,
        description="A batch a worker took but did not acknowledge (it died) is redelivered after "
        "this long (production mode).",
    )


class StoreSettings(_Section):
    backend: Literal["embedded", "postgres"] = Field("embedded", description="Time-series store backend.")
    flush_interval_s: float = Field(
        1.0,
        gt=0,
        description="Buffered samples are written at least this often; a crash loses at most this much.",
    )
    flush_rows: int = Field(50_000, gt=0, description="Flush early once this many samples are buffered.")
    retention_days: float = Field(365.0, gt=0, description="Raw samples older than this are deleted.")
    rollup_retention_days: float = Field(
        3650.0, gt=0, description="1-minute rollups older than this are deleted."
    )
    postgres_dsn: str = Field(
        "postgresql://postgres@127.0.0.1:5432/postgres",
        description="PostgreSQL DSN, used when store.backend = 'postgres'.",
    )
    postgres_schema: str = Field(
        "shopfloor",
        pattern=r"^[a-z_][a-z0-9_]{0,62}$",
        description="PostgreSQL schema holding shopfloor's tables (created if missing).",
    )


# --- security (issue 8) ---------------------------------------------------------------------
class SecuritySettings(_Section):
    profile: Literal["secure", "demo"] = Field(
        "secure",
        description="'secure' (default): every API route needs a login or token. 'demo' (set by "
        "`shopfloor demo`): not secured, an anonymous admin, allowed only on a loopback address.",
    )
    session_ttl_s: float = Field(8 * 3600.0, gt=0, description="Dashboard sessions expire after this long.")
    cookie_secure: bool | None = Field(
        None,
        description="Send session cookies only over HTTPS; default: when TLS is configured "
        "(security.tls_cert).",
    )
    login_rate_per_min: int = Field(
        10, gt=0, description="Login attempts allowed per client address per minute."
    )
    lockout_threshold: int = Field(5, gt=0, description="Failed logins in a row before an account is locked.")
    lockout_base_s: float = Field(
        30.0, gt=0, description="First lockout; doubles with each further failure (backoff)."
    )
    lockout_max_s: float = Field(3600.0, gt=0, description="Longest lockout.")
    working_hours: str = Field(
        "06:00-22:00",
        pattern=r"^\d{2}:\d{2}-\d{2}:\d{2}$",
        description="Local hours in which commands are expected; others raise a security event.",
    )
    monitor_samples: bool = Field(
        False,
        description="Feed every ingested sample to the behaviour monitor (impossible values, rate "
        "spikes per asset). Costs CPU on the platform's event loop; broker refusals are always monitored.",
    )
    mqtt_acl: bool | None = Field(
        None,
        description="Enforce device credentials and topic ACLs in the embedded broker; default: on "
        "in the secure profile.",
    )
    tls: Literal["auto", "on", "off"] = Field(
        "auto",
        description="HTTPS for the API and dashboard: 'on', 'off', or 'auto' (on in the secure profile "
        "when api.host is not a loopback address). Without tls_cert, a server certificate from "
        "shopfloor's own CA (<data_dir>/pki) is issued at start.",
    )
    mqtt_tls: bool = Field(
        False,
        description="MQTTS on the embedded broker's port (same certificate); devices then connect "
        "with TLS, trusting <data_dir>/pki/ca.crt.",
    )
    tls_cert: Path | None = Field(None, description="PEM server certificate for HTTPS and MQTTS.")
    tls_key: Path | None = Field(None, description="PEM private key of tls_cert.")


# --- end security ---------------------------------------------------------------------------


# --- notifications and commands (issue 7): rules/notify, rules/commands ----------------------
AlarmEventName = Literal["activate", "clear", "ack", "shelve", "shelve_expired", "out_of_service"]
PriorityName = Literal["critical", "high", "medium", "low"]


class WebhookTarget(_Section):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$", description="Webhook name (logs, dead letters).")
    url: str = Field(pattern=r"^https?://", description="URL the alarm notifications are POSTed to.")
    secret: str = Field("", description="HMAC-SHA256 key of X-Shopfloor-Signature (empty: unsigned).")
    min_priority: PriorityName = Field("low", description="Only alarms of this priority or more urgent.")
    events: list[AlarmEventName] = Field(["activate", "clear"], description="Alarm events that notify.")
    timeout_s: float = Field(5.0, gt=0, description="HTTP timeout per attempt.")


class EmailTarget(_Section):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$", description="Name of the mail target.")
    host: str = Field("127.0.0.1", description="SMTP server.")
    port: int = Field(25, ge=1, le=65535, description="SMTP port.")
    starttls: bool = Field(False, description="Upgrade the connection with STARTTLS.")
    username: str | None = Field(None, description="SMTP login, if the server needs one.")
    password: str | None = Field(None, description="SMTP password.")
    sender: str = Field("shopfloor@localhost", description="From address.")
    to: list[str] = Field(min_length=1, description="Recipients.")
    min_priority: PriorityName = Field("high", description="Only alarms of this priority or more urgent.")
    events: list[AlarmEventName] = Field(["activate"], description="Alarm events that notify.")
    timeout_s: float = Field(10.0, gt=0, description="SMTP timeout per attempt.")


class NotifySettings(_Section):
    webhook: list[WebhookTarget] = Field(default_factory=list, description="Webhooks ([[notify.webhook]]).")
    email: list[EmailTarget] = Field(default_factory=list, description="Mail targets ([[notify.email]]).")
    attempts: int = Field(5, ge=1, le=20, description="Tries before a notification is dead-lettered.")
    backoff_s: float = Field(1.0, gt=0, description="First retry delay; doubles each attempt (with jitter).")
    backoff_max_s: float = Field(60.0, gt=0, description="Longest retry delay.")
    debounce_s: float = Field(
        60.0,
        ge=0,
        description="At most one notification per alarm and target in this window; transitions in "
        "between are folded into one follow-up that carries their count.",
    )
    queue_size: int = Field(1000, gt=0, description="Queued notifications per target; overflow: dead letter.")


class InterlockSettings(_Section):
    asset: str = Field("*", description="Asset path or glob pattern the interlock applies to.")
    tag: str = Field("*", description="Tag name or glob pattern.")
    max_step: float | None = Field(None, gt=0, description="Largest change from the current value.")
    max_rate_per_s: float | None = Field(
        None, gt=0, description="Largest change per second since the last command to the same tag."
    )
    mode_tag: str | None = Field(None, description="Tag holding the machine mode (where the asset has it).")
    modes: list[str] = Field(default_factory=list, description="Modes in which writes are allowed.")
    critical: bool = Field(False, description="Commands need a second person's approval.")


class AlarmActionSettings(_Section):
    rule: str = Field(description="Rule id whose alarm triggers the command.")
    event: AlarmEventName = Field("activate", description="Alarm event that triggers it.")
    asset: str | None = Field(None, description="Target asset; default: the alarm's asset.")
    tag: str = Field(description="Writable tag to set.")
    value: float = Field(description="Value to write.")


class CommandSettings(_Section):
    transport: Literal["opcua", "mqtt", "none"] = Field(
        "opcua",
        description="How setpoints reach machines: 'opcua' (write and read back on the PLC's OPC UA "
        "server), 'mqtt' (command topic to the edge agent or the simulated plant), 'none' (refuse).",
    )
    opcua_url: str = Field("opc.tcp://127.0.0.1:4840/shopfloor/sim", description="OPC UA server of the PLCs.")
    opcua_namespace_uri: str | None = Field("urn:shopfloor:sim", description="Namespace of the node ids.")
    opcua_node: str = Field("ns=1;s={asset}/{tag}", description="Node id template of a setpoint.")
    timeout_s: float = Field(
        5.0, gt=0, description="A command with no confirmed result by then ends as failed (reason timeout)."
    )
    approval_timeout_s: float = Field(
        3600.0, gt=0, description="A critical command not approved by then ends as failed."
    )
    tolerance: float = Field(1e-3, ge=0, description="Largest read-back difference that still confirms.")
    interlocks: list[InterlockSettings] = Field(
        default_factory=lambda: [InterlockSettings(mode_tag="state", modes=["running", "idle"])],  # type: ignore[call-arg]
        description="Interlocks ([[commands.interlocks]]); every matching entry applies.",
    )
    actions: list[AlarmActionSettings] = Field(
        default_factory=list, description="Commands issued by alarm transitions ([[commands.actions]])."
    )


# --- end notifications and commands ---------------------------------------------------------


class Settings(BaseSettings):
    """All settings of one shopfloor process."""

    model_config = SettingsConfigDict(env_prefix="SHOPFLOOR_", env_nested_delimiter="__", extra="forbid")

    mode: Literal["embedded", "production", "edge"] = Field("embedded", description="How this process runs.")
    data_dir: Path = Field(Path("data"), description="Where the embedded store and state live.")
    plant: Path | None = Field(None, description="Plant file (TOML/YAML); default: the simulated paper mill.")
    rules: Path | None = Field(
        None,
        description="Rules file (TOML); default: the simulated paper mill's rules with the default plant.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Logging level.")
    api: ApiSettings = Field(default_factory=ApiSettings)  # type: ignore[arg-type]
    mqtt: MqttSettings = Field(default_factory=MqttSettings)  # type: ignore[arg-type]
    ingest: IngestSettings = Field(default_factory=IngestSettings)  # type: ignore[arg-type]
    bus: BusSettings = Field(default_factory=BusSettings)  # type: ignore[arg-type]
    store: StoreSettings = Field(default_factory=StoreSettings)  # type: ignore[arg-type]
    security: SecuritySettings = Field(default_factory=SecuritySettings)  # type: ignore[arg-type]
    notify: NotifySettings = Field(default_factory=NotifySettings)  # type: ignore[arg-type]  # issue 7
    commands: CommandSettings = Field(default_factory=CommandSettings)  # type: ignore[arg-type]  # issue 7

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if _CONFIG_FILE is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=_CONFIG_FILE))
        return tuple(sources)


_CONFIG_FILE: Path | None = None


def load_settings(config: str | Path | None = None, overrides: dict[str, Any] | None = None) -> Settings:
    """Read the TOML file (if any), the environment and ``overrides``; validate all.

    Environment variables override the file; ``overrides`` override both.
    """
    global _CONFIG_FILE
    if config is not None:
        path = Path(config)
        try:
            tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as err:
            raise ConfigError(f"cannot read config file {str(path)!r}: {err.strerror}") from err
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(f"config file {str(path)!r} is not valid TOML: {err}") from err
        _CONFIG_FILE = path
    try:
        return Settings(**(overrides or {}))
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        got = first.get("input")
        shown = f" (got {got!r})" if not isinstance(got, dict) else ""
        raise ConfigError(f"setting {where}: {first['msg']}{shown}") from None
    finally:
        _CONFIG_FILE = None


def settings_reference() -> str:
    """Markdown table of every setting: TOML key, environment variable, default, meaning."""
    lines = [
        "# Settings",
        "",
        "Generated from `shopfloor.core.settings` by `shopfloor settings`; do not edit by hand.",
        "Set them in a TOML file (`--config FILE`) or as environment variables; the environment",
        "wins over the file. A wrong value stops start-up with a message naming the setting.",
        "",
        "| TOML key | environment variable | default | meaning |",
        "|---|---|---|---|",
    ]

    def walk(model: type[BaseModel], prefix: str) -> None:
        for name, field in model.model_fields.items():
            ann = field.annotation
            if isinstance(ann, type) and issubclass(ann, BaseModel):
                walk(ann, f"{prefix}{name}.")
                continue
            key = f"{prefix}{name}"
            env = "SHOPFLOOR_" + key.replace(".", "__").upper()
            default = field.get_default(call_default_factory=True)
            shown = "" if default is None else f"`{default}`"
            lines.append(f"| `{key}` | `{env}` | {shown} | {field.description or ''} |")

    walk(Settings, "")
    return "\n".join(lines) + "\n"
