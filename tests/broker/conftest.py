"""Fixtures for the broker tests: an embedded broker on a free port, with its hook collected."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from shopfloor.broker.embedded import EmbeddedBroker


class Received:
    def __init__(self) -> None:
        self.messages: list[tuple[str, bytes]] = []

    async def __call__(self, batch: list[tuple[str, bytes]]) -> None:
        self.messages.extend(batch)


@pytest.fixture
def received() -> Received:
    return Received()


@pytest.fixture
async def broker(received: Received) -> AsyncIterator[EmbeddedBroker]:
    b = EmbeddedBroker("127.0.0.1", 0, on_batch=received)
    await b.start()
    yield b
    await b.stop()
