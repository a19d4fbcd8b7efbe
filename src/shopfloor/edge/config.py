"""Settings of the edge agent: ``shopfloor edge --config edge.toml``.

A TOML file plus ``SHOPFLOOR_EDGE_*`` environment variables (nested with ``__``, e.g.
``SHOPFLOOR_EDGE_UPLINK__HOST``); see ``examples/edge.toml`` and ``docs/edge.md`` for every
key. A wrong setting fails at start with a :class:`ConfigError` naming it.

>>> cfg = load_edge_config(overrides={"agent_id": "gw1", "uplink": {"port": 1884}})
>>> cfg.agent_id, cfg.uplink.port, cfg.buffer.fsync
('gw1', 1884, 'commit')
>>> load_edge_config(overrides={"agent_id": "gw/1"})  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
shopfloor.core.errors.ConfigError: edge setting agent_id: ...
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ..connectors.modbus.config import ModbusDevice
from ..connectors.opcua.config import OpcUaServer
from ..core.errors import ConfigError
from .compression import Method


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class UplinkSettings(_Section):
    host: str = Field("127.0.0.1", description="Platform MQTT broker address.")
    port: int = Field(1883, ge=1, le=65535, description="Platform MQTT broker port.")
    tls: bool = Field(False, description="Connect with TLS (use in production).")
    ca_file: Path | None = Field(None, description="CA bundle to verify the broker (TLS).")
    cert_file: Path | None = Field(None, description="Client certificate (mutual TLS).")
    key_file: Path | None = Field(None, description="Client private key (mutual TLS).")
    username: str | None = Field(None, description="MQTT user name.")
    password: str | None = Field(None, description="MQTT password.")
    topic_root: str = Field("shopfloor/v1", description="Root of the platform's topic namespace.")
    format: Literal["json", "sparkplug"] = Field(
        "json",
        description="json: edge batches (exactly once); sparkplug: Sparkplug B edge node (at least once).",
    )
    sparkplug_group: str | None = Field(
        None, description="Sparkplug group id (format sparkplug); the edge node id is agent_id."
    )
    batch_rows: int = Field(2000, ge=1, le=50_000, description="Most rows in one batch message.")
    window: int = Field(8, ge=1, le=256, description="Batches in flight awaiting PUBACK.")
    keepalive_s: int = Field(10, ge=1, description="MQTT keep-alive.")
    reconnect_max_s: float = Field(5.0, gt=0, description="Longest delay between reconnect attempts.")


class BufferSettings(_Section):
    path: Path = Field(Path("data/edge-buffer.db"), description="The store-and-forward file (SQLite WAL).")
    max_bytes: int = Field(256 * 1024 * 1024, ge=64 * 1024, description="Bound on buffered data.")
    fsync: Literal["commit", "normal"] = Field(
        "commit", description="'commit': fsync each append (power-safe); 'normal': kill -9 safe."
    )
    flush_interval_s: float = Field(0.02, gt=0, description="How often collected values are appended.")


class CompressionRule(_Section):
    method: Method = Field("none", description="none, deadband or swinging_door.")
    deviation: float = Field(0.0, ge=0, description="Error bound in the tag's unit.")
    max_interval_s: float = Field(0.0, ge=0, description="Keep a value at least this often (0 = never).")


class CompressionSettings(CompressionRule):
    tags: dict[str, CompressionRule] = Field(
        default_factory=dict, description="Per tag, keyed '<asset path>/<tag>'; overrides the default."
    )


class Interlock(_Section):
    asset: str = Field(description="Asset path of the setpoint.")
    tag: str = Field(description="Writable tag.")
    low: float | None = Field(None, description="Refuse values below.")
    high: float | None = Field(None, description="Refuse values above.")
    max_step: float | None = Field(
        None, gt=0, description="Refuse a change larger than this from the current value."
    )
    max_rate_per_s: float | None = Field(
        None, gt=0, description="Refuse changes faster than this per second."
    )
    writers: list[str] = Field(default_factory=list, description="Allowed writers (empty: any).")
    mode_tag: str | None = Field(None, description="Tag of the same asset holding the machine mode.")
    modes: list[str] = Field(default_factory=list, description="Modes in which writes are allowed.")
    tolerance: float = Field(1e-6, ge=0, description="Read-back may differ by this much.")


class CommandSettings(_Section):
    enabled: bool = Field(True, description="Accept setpoint commands from the platform.")
    timeout_s: float = Field(5.0, gt=0, description="A command not confirmed by then ends as failed.")
    interlocks: list[Interlock] = Field(
        default_factory=list, description="Writable setpoints and their checks."
    )


class MqttSensorSettings(_Section):
    host: str = Field("127.0.0.1", description="Local broker the sensors publish to.")
    port: int = Field(1883, ge=1, le=65535, description="Its port.")
    topics: list[str] = Field(
        default_factory=lambda: ["shopfloor/v1/+/+/+/+/data"], description="Subscriptions."
    )
    topic_root: str = Field("shopfloor/v1", description="Root of the sensors' topics.")


class HealthSettings(_Section):
    interval_s: float = Field(5.0, gt=0, description="How often health is published upstream.")
    metrics_port: int | None = Field(
        None, ge=0, le=65535, description="Prometheus /metrics port (none: off)."
    )
    metrics_host: str = Field("127.0.0.1", description="Bind address of /metrics.")


class EdgeConfig(BaseSettings):
    """Everything the agent needs."""

    model_config = SettingsConfigDict(env_prefix="SHOPFLOOR_EDGE_", env_nested_delimiter="__", extra="forbid")

    agent_id: str = Field(
        "edge1", pattern=r"^[A-Za-z0-9_.-]+$", description="Unique agent name (topic segment)."
    )
    uplink: UplinkSettings = Field(default_factory=UplinkSettings)  # type: ignore[arg-type]
    buffer: BufferSettings = Field(default_factory=BufferSettings)  # type: ignore[arg-type]
    compression: CompressionSettings = Field(default_factory=CompressionSettings)  # type: ignore[arg-type]
    commands: CommandSettings = Field(default_factory=CommandSettings)  # type: ignore[arg-type]
    health: HealthSettings = Field(default_factory=HealthSettings)  # type: ignore[arg-type]
    modbus: list[ModbusDevice] = Field(default_factory=list, description="Modbus TCP devices.")
    opcua: list[OpcUaServer] = Field(default_factory=list, description="OPC UA servers.")
    mqtt: MqttSensorSettings | None = Field(None, description="Local MQTT sensors (none: off).")

    @model_validator(mode="after")
    def _unique(self) -> EdgeConfig:
        if self.uplink.format == "sparkplug" and not self.uplink.sparkplug_group:
            raise ValueError("uplink.format = 'sparkplug' needs uplink.sparkplug_group")
        names = [d.name for d in self.modbus] + [s.name for s in self.opcua]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"connector names must be unique, repeated: {sorted(dup)}")
        return self

    def rule(self, asset: str, tag: str) -> CompressionRule:
        return self.compression.tags.get(f"{asset}/{tag}", self.compression)


def load_edge_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> EdgeConfig:
    """Read the TOML file (if any) and the environment, apply ``overrides``, validate."""
    data: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except OSError as err:
            raise ConfigError(f"cannot read edge config {str(p)!r}: {err.strerror}") from err
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(f"edge config {str(p)!r} is not valid TOML: {err}") from err
    data.update(overrides or {})
    try:
        return EdgeConfig(**data)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(x) for x in first["loc"]) or "(top level)"
        got = first.get("input")
        shown = f" (got {got!r})" if not isinstance(got, dict | list) else ""
        raise ConfigError(f"edge setting {where}: {first['msg']}{shown}") from None
