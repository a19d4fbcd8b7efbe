"""Fixtures for connector tests: the embedded broker stands in for an external one."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from shopfloor.broker.embedded import EmbeddedBroker


@pytest.fixture
async def external_broker() -> AsyncIterator[EmbeddedBroker]:
    b = EmbeddedBroker("127.0.0.1", 0)
    await b.start()
    yield b
    await b.stop()
