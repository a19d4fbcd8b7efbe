"""MQTT authentication and topic ACLs from the device registry (for the embedded broker).

A device connects with username = its id and password = its token; it may publish only under
its topic prefix and subscribe only to its command subtree. The platform's own clients (the
command sender, the simulated plant in tests) use the service account ``shopfloor`` with a
secret generated at every start. Device records are cached for ``cache_s`` (default 1 s), so a
revocation reaches a connected device's next publish within that time, without a restart;
revoked devices cannot reconnect at all.

Every refusal is counted and handed to ``on_violation`` (the behaviour monitor).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable
from typing import Any

from .devices import Device, DeviceRegistry, subscribe_allowed, topic_allowed

log = logging.getLogger(__name__)

SERVICE_USER = "shopfloor"


class DeviceAuthorizer:
    """Implements :class:`shopfloor.broker.embedded.Authorizer` over a :class:`DeviceRegistry`."""

    def __init__(
        self,
        registry: DeviceRegistry,
        *,
        cache_s: float = 1.0,
        on_violation: Callable[[dict[str, Any]], Any] | None = None,
    ) -> None:
        self.registry = registry
        self.cache_s = cache_s
        self.on_violation = on_violation
        self.service_password = secrets.token_urlsafe(32)
        self._cache: dict[str, tuple[float, Device | None]] = {}
        self.refused_connects = 0
        self.refused_topics = 0

    def service_credentials(self) -> tuple[str, str]:
        """(username, password) for the platform's own MQTT clients."""
        return SERVICE_USER, self.service_password

    async def _device(self, device_id: str) -> Device | None:
        now = time.monotonic()
        hit = self._cache.get(device_id)
        if hit is not None and now - hit[0] < self.cache_s:
            return hit[1]
        device = await asyncio.to_thread(self.registry.get, device_id)
        self._cache[device_id] = (now, device)
        return device

    def _violation(self, kind: str, **evidence: Any) -> None:
        log.warning("MQTT %s refused: %s", kind, evidence)
        if self.on_violation is not None:
            self.on_violation({"kind": kind, **evidence})

    async def authenticate(self, client_id: str, username: str | None, password: str | None) -> bool:
        if username == SERVICE_USER:
            ok = password is not None and secrets.compare_digest(password, self.service_password)
        elif username and password:
            ok = await asyncio.to_thread(self.registry.authenticate, username, password) is not None
            self._cache.pop(username, None)
        else:
            ok = False
        if not ok:
            self.refused_connects += 1
            self._violation("connect", client_id=client_id, username=username)
        return ok

    async def allow(self, client_id: str, username: str | None, topic: str, action: str) -> bool:
        if username == SERVICE_USER:
            return True
        device = await self._device(username) if username else None
        if device is None or device.revoked:
            ok = False
        elif action == "publish":
            ok = topic_allowed(device.topic_prefix, topic)
        elif action == "subscribe":
            ok = subscribe_allowed(device.topic_prefix, topic, self.registry.topic_root)
        else:
            ok = False
        if not ok:
            self.refused_topics += 1
            self._violation(
                action,
                client_id=client_id,
                username=username,
                topic=topic,
                revoked=bool(device and device.revoked),
                allowed_prefix=device.topic_prefix if device else None,
            )
        return ok

    def stats(self) -> dict[str, int]:
        return {"refused_connects": self.refused_connects, "refused_topics": self.refused_topics}
