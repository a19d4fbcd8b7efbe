"""The engine end to end: a real MemoryBus and a real StateStore in tmp_path."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from shopfloor.bus.memory import MemoryBus
from shopfloor.core.assets import Plant
from shopfloor.core.clock import NS, ManualClock
from shopfloor.core.errors import AlarmError, ConfigError
from shopfloor.core.sample import Sample
from shopfloor.rules.engine import RuleEngine, UnknownAlarm
from shopfloor.rules.load import load_rules_text
from shopfloor.store.state import StateStore

from .conftest import CUTTER, PUMP1, PUMP2

RULES = f"""
[[rule]]
id = "force_high"
asset = "{CUTTER}"
tag = "cutting_force"
kind = "high"
limit = 1600
deadband = 50
priority = "high"
message = "force {{value:.0f}} N"

[[rule]]
id = "vib_high"
asset = "mill/*/*/*"
asset_kind = "pump"
tag = "vib_rms"
kind = "high"
limit = 5
on_delay = "10s"
suppress_when = "not running"

[[rule]]
id = "flow_stale"
asset = "{PUMP2}"
tag = "flow"
kind = "stale"
timeout = "30s"
priority = "low"
"""
FORCE = f"force_high@{CUTTER.replace('/', '.')}"
VIB1 = f"vib_high@{PUMP1.replace('/', '.')}"
VIB2 = f"vib_high@{PUMP2.replace('/', '.')}"
STALE = f"flow_stale@{PUMP2.replace('/', '.')}"


async def until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.001)


class Rig:
    """A bus, a state store, an engine and a listener on ``events``."""

    def __init__(self, plant: Plant, path: Path, clock: ManualClock) -> None:
        self.plant, self.path, self.clock = plant, path, clock
        self.events: list[dict[str, Any]] = []

    async def start(self) -> RuleEngine:
        self.bus = MemoryBus()
        self.state = StateStore(self.path)
        await self.state.open()
        self.engine = RuleEngine(
            self.plant, self.bus, self.state, load_rules_text(RULES), clock=self.clock, tick_s=3600
        )
        sub = self.bus.subscribe("events", "test")
        self._listener = asyncio.create_task(self._listen(sub))
        await self.engine.start()
        return self.engine

    async def _listen(self, sub: Any) -> None:
        async for batch in sub:
            self.events.extend(batch)

    async def send(self, asset: str, tag: str, value: Any, after_s: float = 0) -> None:
        """Publish one sample and wait until the engine has evaluated it."""
        self.clock.advance(int(after_s * NS))
        seen = self.engine.samples
        await self.bus.publish("samples", [Sample(asset, tag, self.clock.now_ns(), value)])
        await until(lambda: self.engine.samples > seen)

    async def stop(self) -> None:
        await self.engine.stop()
        await self.bus.close()
        await self._listener
        await self.state.close()


@pytest.fixture
async def rig(plant: Plant, tmp_path: Path, clock: ManualClock) -> AsyncIterator[Rig]:
    r = Rig(plant, tmp_path / "state.db", clock)
    await r.start()
    yield r
    if r.engine._sub is not None:
        await r.stop()


def state_of(engine: RuleEngine, alarm_id: str) -> str:
    return str(engine.alarm(alarm_id)["state"])


async def test_samples_in_alarm_ack_return_to_normal_journal_and_restart(
    rig: Rig, plant: Plant, tmp_path: Path, clock: ManualClock
) -> None:
    engine = rig.engine
    assert {a["id"] for a in engine.alarms()} == {FORCE, VIB1, VIB2, STALE}
    await rig.send(CUTTER, "cutting_force", 1700.0)
    await until(lambda: state_of(engine, FORCE) == "unacknowledged")
    alarm = engine.alarm(FORCE)
    assert alarm["message"] == "force 1700 N" and alarm["priority"] == "high" and alarm["value"] == 1700.0
    await engine.ack(FORCE, "olga", "blade ordered")
    assert state_of(engine, FORCE) == "acknowledged"
    await rig.send(CUTTER, "cutting_force", 1580.0, after_s=5)  # inside the deadband
    await rig.send(CUTTER, "cutting_force", 1500.0, after_s=5)
    await until(lambda: state_of(engine, FORCE) == "normal")

    # a second alarm left unacknowledged, a third shelved, for the restart
    await rig.send(PUMP1, "running", True)
    await rig.send(PUMP1, "vib_rms", 7.0)
    await engine.tick(clock.now_ns() + 10 * NS)
    assert state_of(engine, VIB1) == "unacknowledged"
    await engine.shelve(VIB2, "olga", "2h", "sensor being replaced")
    await until(lambda: len(rig.events) == 5)

    journal = await engine.journal(alarm_id=FORCE)
    assert [(e["event"], e["from_state"], e["to_state"]) for e in reversed(journal)] == [
        ("activate", "normal", "unacknowledged"),
        ("ack", "unacknowledged", "acknowledged"),
        ("clear", "acknowledged", "normal"),
    ]
    assert journal[1]["user"] == "olga" and journal[1]["comment"] == "blade ordered"
    assert [e["event"] for e in rig.events] == ["activate", "ack", "clear", "activate", "shelve"]
    assert rig.events[0]["type"] == "alarm" and rig.events[0]["alarm_id"] == FORCE
    await rig.stop()

    again = Rig(plant, tmp_path / "state.db", clock)
    engine2 = await again.start()
    try:
        assert state_of(engine2, FORCE) == "normal"
        assert state_of(engine2, VIB1) == "unacknowledged"
        shelved = engine2.alarm(VIB2)
        assert shelved["state"] == "shelved" and shelved["shelved_until"] == clock.now_ns() + 2 * 3600 * NS
        assert engine2.alarm(FORCE)["activations"] == 1
        assert len(await engine2.journal()) == 5
        # evaluation resumes where it stopped: a low value clears the restored alarm
        await again.send(PUMP1, "vib_rms", 1.0)
        await until(lambda: state_of(engine2, VIB1) == "rtn_unacknowledged")
        await engine2.ack(VIB1, "piet")
        assert state_of(engine2, VIB1) == "normal"
    finally:
        await again.stop()


async def test_on_delay_and_stale_on_the_tick(rig: Rig, clock: ManualClock) -> None:
    engine = rig.engine
    await rig.send(PUMP1, "running", True)
    await rig.send(PUMP1, "vib_rms", 6.0)
    await engine.tick(clock.now_ns() + 9 * NS)
    assert state_of(engine, VIB1) == "normal"
    await engine.tick(clock.now_ns() + 10 * NS)
    assert state_of(engine, VIB1) == "unacknowledged"
    await engine.tick(clock.now_ns() + 31 * NS)
    assert state_of(engine, STALE) == "unacknowledged"  # pump2 never sent its flow


async def test_design_suppression_and_filters(rig: Rig) -> None:
    engine = rig.engine
    await rig.send(PUMP2, "running", False)
    await until(lambda: state_of(engine, VIB2) == "suppressed")
    assert [a["id"] for a in engine.alarms(state="suppressed")] == [VIB2]
    assert {a["id"] for a in engine.alarms(priority="medium")} == {VIB1, VIB2}
    assert {a["id"] for a in engine.alarms(asset="mill/pm")} == {VIB1, VIB2, STALE}
    assert engine.alarms(asset="mill/pm/pm1/pump") == []  # a path, not a prefix


async def test_operator_actions_are_checked(rig: Rig) -> None:
    engine = rig.engine
    with pytest.raises(AlarmError, match="nothing to acknowledge"):
        await engine.ack(FORCE, "olga")
    with pytest.raises(AlarmError, match="needs the user"):
        await engine.act(FORCE, engine_event("comment"), " ")
    with pytest.raises(AlarmError, match="at most 8h"):
        await engine.shelve(FORCE, "olga", "9h")
    with pytest.raises(UnknownAlarm):
        await engine.ack("nope", "olga")
    await engine.act(FORCE, engine_event("out_of_service"), "olga", "blade change")
    await rig.send(CUTTER, "cutting_force", 2000.0)
    await until(lambda: engine.alarm(FORCE)["active"])
    assert state_of(engine, FORCE) == "out_of_service"
    await engine.act(FORCE, engine_event("return_to_service"), "olga")
    assert state_of(engine, FORCE) == "unacknowledged"


def engine_event(name: str) -> Any:
    from shopfloor.rules.alarms import Event

    return Event(name)


async def test_rules_over_the_api_persist_and_file_rules_are_read_only(
    rig: Rig, plant: Plant, tmp_path: Path, clock: ManualClock
) -> None:
    engine = rig.engine
    body = {"id": "temp_high", "asset": PUMP1, "tag": "bearing_temp", "kind": "high", "limit": 90}
    await engine.add_rule(body, user="olga")
    await rig.send(PUMP1, "bearing_temp", 95.0)
    await until(lambda: state_of(engine, f"temp_high@{PUMP1.replace('/', '.')}") == "unacknowledged")
    await engine.add_rule({**body, "limit": 92})  # replaced: the alarm keeps its state
    assert state_of(engine, f"temp_high@{PUMP1.replace('/', '.')}") == "unacknowledged"
    assert engine.rule("temp_high").limit == 92  # type: ignore[union-attr]
    with pytest.raises(AlarmError, match="rules file"):
        await engine.add_rule({**body, "id": "force_high"})
    with pytest.raises(ConfigError, match="field 'asset'"):
        await engine.add_rule({**body, "id": "x", "asset": "mill/nowhere/*"})
    await rig.stop()

    again = Rig(plant, tmp_path / "state.db", clock)
    engine2 = await again.start()
    try:
        assert engine2.rule("temp_high") is not None and not engine2.is_file_rule("temp_high")
        assert state_of(engine2, f"temp_high@{PUMP1.replace('/', '.')}") == "unacknowledged"
        await engine2.delete_rule("temp_high")
        assert engine2.rule("temp_high") is None
        with pytest.raises(AlarmError):
            await engine2.delete_rule("force_high")
    finally:
        await again.stop()


async def test_a_sample_no_rule_watches_costs_nothing(rig: Rig) -> None:
    engine = rig.engine
    out = engine.evaluate([Sample(CUTTER, "motor_current", 0, 1.0)] * 1000)
    assert out == [] and engine.stats()["evaluated"] == 0 and engine.stats()["samples"] == 1000


def test_a_file_rule_that_fits_no_asset_fails_at_construction(plant: Plant, tmp_path: Path) -> None:
    rules = load_rules_text(RULES.replace('asset_kind = "pump"', 'asset_kind = "fan"'), "r.toml")
    with pytest.raises(
        ConfigError, match=r"r\.toml:\d+: rule 'vib_high': field 'asset': no asset of kind 'fan'"
    ):
        RuleEngine(plant, MemoryBus(), StateStore(tmp_path / "x.db"), rules)
