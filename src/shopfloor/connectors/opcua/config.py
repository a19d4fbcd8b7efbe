"""Settings of one OPC UA server connection: endpoint, security, subscription and its nodes."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class OpcUaNode(BaseModel):
    """One monitored variable and the asset/tag its values become."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    node_id: str = Field(description="Node id string, e.g. 'ns=2;s=line1/cutter/speed'.")
    asset: str = Field(description="Asset path the value belongs to.")
    tag: str = Field(description="Tag name within the asset.")
    unit: str = Field("", description="Engineering unit (documentation; values pass unchanged).")
    writable: bool = Field(False, description="Setpoint: may be written by commands.")

    @property
    def key(self) -> tuple[str, str]:
        return (self.asset, self.tag)


class OpcUaServer(BaseModel):
    """One OPC UA server; its variables are monitored in one subscription."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="Connection name, used in health and logs.")
    url: str = Field(description="Endpoint URL, opc.tcp://host:port/path.")
    namespace_uri: str | None = Field(
        None, description="If set, 'ns=' in node ids is resolved from this URI at each connect."
    )
    security_policy: Literal["None", "Basic256Sha256"] = Field("None", description="Security policy.")
    security_mode: Literal["Sign", "SignAndEncrypt"] = Field("SignAndEncrypt", description="Message mode.")
    certificate: Path | None = Field(None, description="Client certificate (PEM/DER) for Basic256Sha256.")
    private_key: Path | None = Field(None, description="Client private key (PEM) for Basic256Sha256.")
    server_certificate: Path | None = Field(None, description="Trusted server certificate, optional.")
    application_uri: str = Field(
        "urn:shopfloor:edge", description="Client application URI (must match the certificate's SAN URI)."
    )
    username: str | None = Field(None, description="User name, if the server asks for one.")
    password: str | None = Field(None, description="Password for that user.")
    publishing_interval_ms: float = Field(100.0, gt=0, description="Subscription publishing interval.")
    sampling_interval_ms: float = Field(50.0, ge=0, description="Monitored item sampling interval.")
    queue_size: int = Field(10, ge=1, description="Server-side queue per monitored item.")
    timeout_s: float = Field(4.0, gt=0, description="Request timeout.")
    watchdog_s: float = Field(1.0, gt=0, description="How often the connection is checked.")
    backoff_min_s: float = Field(0.2, gt=0, description="First reconnect delay.")
    backoff_max_s: float = Field(2.0, gt=0, description="Longest reconnect delay (doubling).")
    nodes: list[OpcUaNode] = Field(default_factory=list, description="Variables to monitor.")

    @model_validator(mode="after")
    def _check(self) -> OpcUaServer:
        if not self.url.startswith("opc.tcp://"):
            raise ValueError(f"server {self.name!r}: url must start with opc.tcp://, got {self.url!r}")
        if self.security_policy != "None" and (self.certificate is None or self.private_key is None):
            raise ValueError(
                f"server {self.name!r}: security_policy {self.security_policy} needs certificate "
                "and private_key"
            )
        seen: set[tuple[str, str]] = set()
        for n in self.nodes:
            if n.key in seen:
                raise ValueError(f"server {self.name!r}: tag {n.asset}/{n.tag} is mapped twice")
            seen.add(n.key)
        return self
