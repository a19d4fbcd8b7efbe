"""A secure-profile platform served on a free loopback port, with one API token per role."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from shopfloor.core.assets import Plant
from shopfloor.core.settings import load_settings
from shopfloor.service import Platform

from ..api.conftest import PLANT, RULES, serving

ROLES = ("viewer", "operator", "engineer", "admin", "device")
PASSWORD = "correct horse battery"


def secure_platform(data_dir: Path, plant: dict[str, Any] | None = None, **security: Any) -> Platform:
    data_dir.mkdir(parents=True, exist_ok=True)
    rules = data_dir.parent / "rules.toml"
    rules.write_text(RULES)
    settings = load_settings(
        overrides={
            "data_dir": data_dir,
            "rules": rules,
            "api": {"port": 0},
            "mqtt": {"port": 0},
            "store": {"flush_interval_s": 0.1},
            "security": {"profile": "secure", **security},
        }
    )
    return Platform(settings, plant=Plant.from_dict(plant or PLANT))


@dataclass
class Secured:
    platform: Platform
    base: str
    tokens: dict[str, str] = field(default_factory=dict)

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"} if role in self.tokens else {}


@pytest.fixture
async def secured(tmp_path: Path) -> AsyncIterator[Secured]:
    platform = secure_platform(tmp_path / "data", login_rate_per_min=1000)
    async with serving(platform) as p:
        ident = p.security.identity
        tokens = {}
        for role in ROLES:
            _, secret = await asyncio.to_thread(ident.new_token_sync, f"t-{role}", "test", role)
            tokens[role] = secret
        await asyncio.to_thread(ident.add_user_sync, "olga", PASSWORD, "operator")
        await asyncio.to_thread(ident.add_user_sync, "vic", PASSWORD, "viewer")
        yield Secured(p, f"http://127.0.0.1:{p.http_port}", tokens)
