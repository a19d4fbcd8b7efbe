"""Fixtures for the store tests: a fresh embedded store and state store per test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from shopfloor.core.settings import StoreSettings
from shopfloor.store.embedded import EmbeddedStore
from shopfloor.store.state import StateStore


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[EmbeddedStore]:
    s = EmbeddedStore(tmp_path / "data" / "timeseries.duckdb", StoreSettings())  # type: ignore[call-arg]
    await s.open()
    yield s
    await s.close()


@pytest.fixture
async def state(tmp_path: Path) -> AsyncIterator[StateStore]:
    s = StateStore(tmp_path / "data" / "state.db")
    await s.open()
    yield s
    await s.close()
