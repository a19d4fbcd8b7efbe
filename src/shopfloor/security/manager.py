"""The security capability of one platform: database, audit chain, identities, devices.

``Security(data_dir, settings, api_host)`` opens ``<data_dir>/security.db``; the platform holds
one as ``platform.security`` (and ``platform.audit``). The ``demo`` profile is refused on a
non-loopback address: a demo is not secured, so it must not be reachable from the network.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import time
from pathlib import Path
from typing import Any

from ..core.errors import ConfigError, ShopfloorError
from ..core.settings import SecuritySettings
from . import audit as audit_mod
from .audit import AuditLog
from .broker_acl import DeviceAuthorizer
from .db import SecurityDB
from .devices import DeviceRegistry
from .identity import Identity
from .monitor import BehaviourMonitor, SecurityEvent

log = logging.getLogger(__name__)


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address.

    >>> is_loopback("127.0.0.1"), is_loopback("localhost"), is_loopback("0.0.0.0"), is_loopback("::1")
    (True, True, False, True)
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Security:
    """Everything security-relevant a running platform needs."""

    def __init__(
        self,
        data_dir: Path,
        settings: SecuritySettings | None = None,
        *,
        api_host: str = "127.0.0.1",
        mqtt_host: str = "127.0.0.1",
        topic_root: str = "shopfloor/v1",
    ) -> None:
        self.settings = settings or SecuritySettings()  # type: ignore[call-arg]
        self.demo = self.settings.profile == "demo"
        if self.demo:
            for name, host in (("api.host", api_host), ("mqtt.host", mqtt_host)):
                if not is_loopback(host):
                    raise ConfigError(
                        f"setting {name}: the demo security profile is not secured and binds to a "
                        f"loopback address only (got {host!r}); use security.profile = 'secure'"
                    )
        self.db = SecurityDB(Path(data_dir) / "security.db")
        self.audit = AuditLog(self.db)
        self.identity = Identity(self.db, self.audit, self.settings)
        self.devices = DeviceRegistry(self.db, self.audit, topic_root)
        self.authorizer: DeviceAuthorizer | None = None
        self.monitor = BehaviourMonitor(working_hours=self.settings.working_hours)
        self.monitor.on_event.append(self._on_event)
        self._audited: dict[tuple[str, str], float] = {}
        self.https = False

    @property
    def mqtt_acl(self) -> bool:
        """Whether the embedded broker checks device credentials and topic ACLs."""
        return (not self.demo) if self.settings.mqtt_acl is None else self.settings.mqtt_acl

    @property
    def tls(self) -> bool:
        """Whether the API serves HTTPS (set by :meth:`server_tls` at start)."""
        return self.https

    def wants_tls(self, api_host: str) -> bool:
        mode = self.settings.tls
        return mode == "on" or (mode == "auto" and not self.demo and not is_loopback(api_host))

    async def mqtt_tls(self, hosts: list[str]) -> tuple[str, str] | None:
        """(certfile, keyfile) for the embedded broker when ``security.mqtt_tls``, else None."""
        if not self.settings.mqtt_tls:
            return None
        cert, key = await asyncio.to_thread(self.server_tls, hosts)
        return str(cert), str(key)

    def server_tls(self, hosts: list[str]) -> tuple[Path, Path]:
        """(certificate, key) for HTTPS/MQTTS: the configured pair, or one from shopfloor's CA.

        The CA (``<data_dir>/pki``) is created on first use, and the server certificate
        ``shopfloor-server`` (re)issued when missing or not covering ``hosts``.
        """
        s = self.settings
        if s.tls_cert is not None or s.tls_key is not None:
            if s.tls_cert is None or s.tls_key is None:
                raise ConfigError("setting security.tls_cert / tls_key: give both, or neither")
            for name, path in (("tls_cert", s.tls_cert), ("tls_key", s.tls_key)):
                if not Path(path).is_file():
                    raise ConfigError(f"setting security.{name}: no file {str(path)!r}")
            return Path(s.tls_cert), Path(s.tls_key)
        from .pki import CertificateAuthority

        ca = CertificateAuthority(self.db.path.parent / "pki")
        if not ca.exists():
            ca.init()
            self.audit.append("platform", "pki.init", "shopfloor CA")
        everywhere = {"", "0.0.0.0", "::"}  # a wildcard bind is no name to put in a certificate
        wanted = sorted(
            {h for h in [*hosts, "localhost", "127.0.0.1", socket.gethostname()] if h not in everywhere}
        )
        cert, key = (
            ca.folder / "issued" / "shopfloor-server.crt",
            ca.folder / "issued" / "shopfloor-server.key",
        )
        if not (cert.exists() and key.exists() and ca.covers(cert.read_bytes(), wanted)):
            issued = ca.issue("shopfloor-server", "server", hosts=wanted)
            self.audit.append("platform", "pki.issue", "shopfloor-server", detail={"hosts": wanted})
            cert, key = issued.cert_path, issued.key_path
        return cert, key

    def broker_authorizer(self) -> DeviceAuthorizer | None:
        """The embedded broker's authorizer (one per platform); None when ACLs are off (demo)."""
        if not self.mqtt_acl:
            return None
        if self.authorizer is None:
            self.authorizer = DeviceAuthorizer(self.devices, on_violation=self.on_broker_violation)
        return self.authorizer

    def on_broker_violation(self, evidence: dict[str, Any]) -> None:
        self.monitor.observe_violation(evidence)

    def _on_event(self, event: SecurityEvent) -> None:
        """Log every security event; audit it (once a minute per kind and subject: no flooding)."""
        log.warning("security event %s (%s): %s", event.kind, event.severity, event.message)
        key, now = (event.kind, event.subject), time.monotonic()
        if now - self._audited.get(key, -1e9) < 60.0 or not self.db.is_open:
            return
        self._audited[key] = now
        try:
            self.audit.append("monitor", f"security.{event.kind}", event.subject, "event", event.evidence)
        except ShopfloorError as err:
            log.warning("cannot audit security event: %s", err)

    async def watch_samples(self, bus: Any, plant: Any) -> None:
        """Feed ingested samples to the monitor (``security.monitor_samples``); never slows ingest.

        A subscriber of its own that drops its oldest batches when behind (counted by the bus).
        """
        sub = bus.subscribe("samples", "security-monitor", queue_size=256, policy="drop_oldest")
        monitor = self.monitor
        try:
            async for batch in sub:
                for s in batch:
                    monitor.observe_message(s.asset)
                    tag = plant.get_tag(s.asset, s.tag)
                    if tag is not None and tag.type in ("float", "int"):
                        monitor.observe_value(
                            s.asset, s.tag, s.value, s.ts, unit=tag.unit, low=tag.low, high=tag.high
                        )
        finally:
            await sub.close()

    def open_sync(self) -> None:
        self.db.open_sync()

    async def open(self) -> None:
        await self.db.open()
        audit_mod.install(self.audit)
        if self.demo:
            log.warning("security profile 'demo': NOT secured (anonymous admin, no TLS), loopback only")
        elif self.identity.user_count_sync() == 0:
            log.warning(
                "security profile 'secure' and no users yet: create an admin with "
                "`shopfloor users add NAME --role admin --data-dir %s`",
                self.db.path.parent,
            )

    async def close(self) -> None:
        audit_mod.install(None)
        await self.db.close()

    def health(self) -> dict[str, Any]:
        return {
            "profile": self.settings.profile,
            "secured": not self.demo,
            "tls": self.tls,
            "mqtt_acl": self.mqtt_acl,
            "events": dict(self.monitor.counts),
        }
