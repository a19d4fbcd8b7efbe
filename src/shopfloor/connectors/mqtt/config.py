"""Settings of the MQTT ingest source for an external broker (Mosquitto, any MQTT broker)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from ...core.settings import MqttSettings


class MqttSourceConfig(BaseModel):
    """Where to subscribe and how; ``from_settings`` builds it from ``[mqtt]``."""

    model_config = ConfigDict(extra="forbid")

    host: str = Field("127.0.0.1", description="Broker address.")
    port: int = Field(1883, ge=1, le=65535, description="Broker TCP port.")
    username: str | None = Field(None, description="Username, if the broker asks for one.")
    password: str | None = Field(None, description="Password for that user.")
    client_id: str = Field("shopfloor-ingest", description="MQTT client id of the ingest subscriber.")
    topics: list[str] = Field(default_factory=lambda: ["shopfloor/v1/#"], description="Subscriptions.")
    qos: int = Field(1, ge=0, le=2, description="Subscription QoS.")
    keepalive_s: int = Field(30, gt=0, description="MQTT keep-alive.")
    watch_sys: bool = Field(
        False,
        description="Also subscribe to the broker's $SYS counters (Mosquitto) and report "
        "messages the broker dropped (on for the platform's external broker; rumqttd "
        "disconnects $SYS subscribers).",
    )
    max_pending: int = Field(
        50_000,
        gt=0,
        description="Messages held between the network thread and "
        "ingest; beyond this the network thread waits (back-pressure).",
    )

    @classmethod
    def from_settings(cls, settings: MqttSettings) -> MqttSourceConfig:
        return cls(  # type: ignore[call-arg]
            host=settings.host,
            port=settings.port or 1883,
            username=settings.username,
            password=settings.password,
            client_id=settings.client_id,
            topics=[
                (f"$share/{settings.shared_group}/" if settings.shared_group else "")
                + settings.topic_root.rstrip("/")
                + "/#"
            ],
            watch_sys=True,
        )
