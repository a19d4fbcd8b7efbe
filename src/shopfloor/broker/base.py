"""What every embedded broker offers the platform: start, stop, and where it listens."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Self

from ..core.errors import BrokerError


class EmbeddedBrokerBase(ABC):
    """An MQTT broker the platform starts itself; ``port`` is known once started."""

    host: str
    _port: int | None = None

    @abstractmethod
    async def start(self) -> None: ...

    @abstractmethod
    async def stop(self) -> None: ...

    @abstractmethod
    def stats(self) -> dict[str, Any]: ...

    @property
    def port(self) -> int:
        """The port the broker listens on (the chosen one when started with port 0)."""
        if self._port is None:
            raise BrokerError("the embedded broker is not started")
        return self._port

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
