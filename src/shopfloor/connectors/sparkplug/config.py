"""Settings of the platform's Sparkplug B host application (``SHOPFLOOR_SPARKPLUG__*``).

Not yet a section of :class:`shopfloor.core.settings.Settings`: read from the environment (for
example ``SHOPFLOOR_SPARKPLUG__ENABLED=false``) or passed in; the names are the ones a future
``[sparkplug]`` section of the settings file would use.

>>> SparkplugHostConfig().host_id, SparkplugHostConfig(enabled=False).enabled
('shopfloor', False)
>>> SparkplugHostConfig(enabled="yes").enabled
True
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class SparkplugHostConfig(BaseSettings):
    """How the platform acts as a Sparkplug B host application."""

    model_config = SettingsConfigDict(env_prefix="SHOPFLOOR_SPARKPLUG__", extra="forbid")

    enabled: bool | None = Field(
        None,
        description="Ingest Sparkplug B (spBv1.0/#) as a host application: true, false, or unset = "
        "on except for production ingest workers in a shared subscription group (a host must see "
        "all of a node's messages: enable it on exactly one worker).",
    )
    host_id: str = Field(
        "shopfloor",
        pattern=r"^[A-Za-z0-9_.-]{1,64}$",
        description="Host application id: its state is published retained on spBv1.0/STATE/<host_id>.",
    )
    client_id: str | None = Field(
        None,
        description="MQTT client id of the host's publisher (its subscriber adds '-sub'); "
        "default: mqtt.client_id + '-sparkplug'.",
    )
    rebirth_interval_s: float = Field(
        5.0,
        ge=0,
        description="At most one rebirth request (NCMD Node Control/Rebirth) per edge node this often.",
    )
    stale_quality: Literal["bad", "uncertain"] = Field(
        "bad", description="Quality of the samples that mark a dead node's or device's tags stale."
    )
    publish_state: bool = Field(
        True, description="Publish the Sparkplug 3.0 host STATE (online, retained; offline as will)."
    )
