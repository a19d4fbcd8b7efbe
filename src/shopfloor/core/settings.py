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
