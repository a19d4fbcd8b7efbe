"""The command path against real endpoints: the simulated PLC's OPC UA server, the embedded
MQTT broker with the simulated plant's MQTT endpoint, a real state store. No transport mocks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from shopfloor.broker.embedded import EmbeddedBroker
from shopfloor.bus.memory import MemoryBus
from shopfloor.core.assets import Plant
from shopfloor.core.clock import NS, ManualClock
from shopfloor.core.errors import CommandRefused
from shopfloor.core.sample import Sample, Value
from shopfloor.core.settings import AlarmActionSettings, CommandSettings, InterlockSettings
from shopfloor.rules import RuleEngine, load_rules_text
from shopfloor.rules.commands import CommandService, UnknownCommand
from shopfloor.rules.commands.mqtt import MqttTransport
from shopfloor.rules.commands.transport import OpcUaTransport
from shopfloor.sim import DEFAULT_PLANT, Simulation
from shopfloor.sim.mqtt import MqttEndpoint
from shopfloor.sim.opcua import OpcUaEndpoint
from shopfloor.sim.registers import OPCUA_NAMESPACE
from shopfloor.store.state import StateStore

PUMP = "riverside/papermaking/pm1/stock_pump"
WRAPPER = "riverside/packaging/pack1/wrapper"
CUTTER = "riverside/converting/line1/cutter"


class Plc:
    """The simulated plant, its OPC UA server, and the latest value of every tag."""

    def __init__(self) -> None:
        self.plant = Plant.load(DEFAULT_PLANT)
        self.sim = Simulation(self.plant, seed=3, sensor_faults=False, waveform_samples=256)
        self.values: dict[tuple[str, str], Value] = {}
        self.step()
        self.ua = OpcUaEndpoint(self.sim)

    def step(self) -> None:
        for s in self.sim.step(1.0):
            self.values[(s.asset, s.tag)] = s.value

    async def latest(self, asset: str, tag: str) -> Value | None:
        return self.values.get((asset, tag))


pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def plc() -> AsyncIterator[Plc]:  # one OPC UA server for the module (it takes seconds to start)
    p = Plc()
    await p.ua.start()
    try:
        yield p
    finally:
        await p.ua.stop()


@pytest_asyncio.fixture(loop_scope="module")
async def state(tmp_path: Path) -> AsyncIterator[StateStore]:
    s = StateStore(tmp_path / "state.db")
    await s.open()
    yield s
    await s.close()


def opcua(plc: Plc) -> OpcUaTransport:
    return OpcUaTransport(plc.plant, plc.ua.url, OPCUA_NAMESPACE, "ns=1;s={asset}/{tag}")


def settings(**kw: Any) -> CommandSettings:
    return CommandSettings(**{"timeout_s": 10.0, **kw})


async def test_setpoint_is_written_read_back_and_audited(plc: Plc, state: StateStore) -> None:
    audited: list[tuple[Any, ...]] = []

    async def audit(*args: Any) -> None:
        audited.append(args)

    bus = MemoryBus()
    events = bus.subscribe("events", "test")
    svc = CommandService(plc.plant, state, opcua(plc), settings(), latest=plc.latest, bus=bus, audit=audit)
    await svc.start()
    try:
        out = await svc.submit(PUMP, "speed_sp", 1450.5, "alice", "raise flow")
        assert out["state"] == "confirmed", out
        assert out["result"]["readback"] == pytest.approx(1450.5)
        assert out["result"]["confirmation"] == "readback"
        assert plc.sim.setpoint(PUMP, "speed_sp") == pytest.approx(1450.5)
        got = await svc.get(out["id"])
        assert [(t["from"], t["to"]) for t in got["trail"]] == [
            ("", "requested"),
            ("requested", "approved"),
            ("approved", "sent"),
            ("sent", "confirmed"),
        ]
        assert got["trail"][0]["user"] == "alice"
        await svc.flush_audit()
        assert [a[1] for a in audited] == [
            "command.requested",
            "command.approved",
            "command.sent",
            "command.confirmed",
        ]
        batch = await asyncio.wait_for(events.__aiter__().__anext__(), 2)
        assert batch[0]["type"] == "command" and batch[0]["id"] == out["id"]
        listed = await svc.list(asset="riverside/papermaking")
        assert [c["id"] for c in listed] == [out["id"]]
        with pytest.raises(UnknownCommand):
            await svc.get("nope")
    finally:
        await svc.stop()
        await bus.close()


async def test_interlocks_refuse_with_reason_and_are_audited(plc: Plc, state: StateStore) -> None:
    locks = [
        InterlockSettings(asset="riverside/*/*/*", tag="speed_sp", max_step=200, max_rate_per_s=1.0),
        InterlockSettings(mode_tag="state", modes=["running", "idle"]),
    ]
    svc = CommandService(plc.plant, state, opcua(plc), settings(interlocks=locks), latest=plc.latest)
    await svc.start()
    try:
        before = plc.sim.setpoint(PUMP, "speed_sp")
        cases = [
            ((PUMP, "speed_sp", 5000.0), "out_of_limits"),
            ((PUMP, "no_such_tag", 80.0), "unknown_tag"),
            ((CUTTER, "cut_rate", 50.0), "not_writable"),
            ((PUMP, "speed_sp", float("nan")), "bad_value"),
            ((PUMP, "speed_sp", float(before) + 250), "step_too_large"),
        ]
        for (asset, tag, value), reason in cases:
            out = await svc.submit(asset, tag, value, "bob")
            assert (out["state"], out["result"]["reason"]) == ("refused", reason), out
            assert out["result"]["error"]
        plc.values[(WRAPPER, "state")] = "down"
        out = await svc.submit(WRAPPER, "speed_sp", 90.0, "bob")
        assert (out["state"], out["result"]["reason"]) == ("refused", "mode")
        assert "down" in out["result"]["error"]
        plc.values[(WRAPPER, "state")] = "running"
        assert (await svc.submit(WRAPPER, "speed_sp", 90.0, "bob"))["state"] == "confirmed"
        # rate of change: a second big move right after the first is too fast
        first = await svc.submit(PUMP, "speed_sp", float(before) + 100, "bob")
        assert first["state"] == "confirmed"
        plc.values[(PUMP, "speed_sp")] = float(before) + 100
        second = await svc.submit(PUMP, "speed_sp", float(before) + 200, "bob")
        assert (second["state"], second["result"]["reason"]) == ("refused", "rate_limit")
        trail = (await svc.get(second["id"]))["trail"]
        assert [t["to"] for t in trail] == ["requested", "refused"]
        assert svc.counts["refused"] == 7
        with pytest.raises(CommandRefused):  # the SetpointSink raises on a refusal
            await svc.write(PUMP, "speed_sp", 5000.0, "loop says so")
    finally:
        await svc.stop()


async def test_critical_commands_need_a_second_person(plc: Plc, state: StateStore, tmp_path: Path) -> None:
    locks = [InterlockSettings(asset=CUTTER, tag="cut_rate_sp", critical=True)]
    svc = CommandService(plc.plant, state, opcua(plc), settings(interlocks=locks), latest=plc.latest)
    await svc.start()
    try:
        out = await svc.submit(CUTTER, "cut_rate_sp", 60.0, "alice", "new grade")
        assert (out["state"], out["critical"]) == ("requested", True)
        with pytest.raises(CommandRefused, match="second person"):
            await svc.approve(out["id"], "alice")
        rejected = await svc.submit(CUTTER, "cut_rate_sp", 70.0, "alice")
        assert (await svc.reject(rejected["id"], "carol", "not now"))["state"] == "refused"
    finally:
        await svc.stop()
    # a restart keeps the command awaiting approval
    svc = CommandService(plc.plant, state, opcua(plc), settings(interlocks=locks), latest=plc.latest)
    await svc.start()
    try:
        done = await svc.approve(out["id"], "carol", "checked")
        assert (done["state"], done["approved_by"]) == ("confirmed", "carol")
        assert plc.sim.setpoint(CUTTER, "cut_rate_sp") == pytest.approx(60.0)
        trail = (await svc.get(out["id"]))["trail"]
        assert [(t["to"], t["user"]) for t in trail] == [
            ("requested", "alice"),
            ("approved", "carol"),
            ("sent", "system"),
            ("confirmed", "system"),
        ]
        with pytest.raises(CommandRefused, match="not awaiting approval"):
            await svc.approve(out["id"], "dave")
    finally:
        await svc.stop()


async def test_device_refusal_is_a_failure_with_the_reason(plc: Plc, state: StateStore) -> None:
    # the platform's plant file allows more than the PLC does: the PLC refuses (BadOutOfRange)
    raw = plc.plant.to_dict()
    for a in raw["asset"]:
        for t in a.get("tag", []):
            if a["path"] == PUMP and t["name"] == "speed_sp":
                t["high"] = 5000
    wide = Plant.from_dict(raw)
    transport = OpcUaTransport(wide, plc.ua.url, OPCUA_NAMESPACE, "ns=1;s={asset}/{tag}")
    svc = CommandService(wide, state, transport, settings(), latest=plc.latest)
    await svc.start()
    try:
        out = await svc.submit(PUMP, "speed_sp", 3000.0, "alice")
        assert (out["state"], out["result"]["reason"]) == ("failed", "device_refused"), out
        assert "BadOutOfRange" in out["result"]["error"]
    finally:
        await svc.stop()


@pytest_asyncio.fixture(loop_scope="module")
async def broker() -> AsyncIterator[EmbeddedBroker]:
    b = EmbeddedBroker("127.0.0.1", 0)
    await b.start()
    try:
        yield b
    finally:
        await b.stop()


async def test_mqtt_command_topic_and_timeout(broker: EmbeddedBroker, state: StateStore) -> None:
    plant = Plant.load(DEFAULT_PLANT)
    sim = Simulation(plant, seed=4, sensor_faults=False, waveform_samples=256)
    sim.step(1.0)
    transport = MqttTransport("127.0.0.1", broker.port, client_id="cmd-test")
    svc = CommandService(plant, state, transport, settings(timeout_s=0.5, interlocks=[]))
    await svc.start()
    try:
        # nobody listens on the command topic yet: the result never arrives
        out = await svc.submit(PUMP, "speed_sp", 1500.0, "alice")
        assert (out["state"], out["result"]["reason"]) == ("failed", "timeout"), out
        assert "0.5 s" in out["result"]["error"]
        endpoint = MqttEndpoint(sim, "127.0.0.1", broker.port)
        await endpoint.start()
        try:
            svc.settings.timeout_s = 10.0
            out = await svc.submit(PUMP, "speed_sp", 1550.0, "alice")
            assert out["state"] == "confirmed", out
            assert out["result"]["confirmation"] == "device_ack"
            assert sim.setpoint(PUMP, "speed_sp") == pytest.approx(1550.0)
        finally:
            await endpoint.stop()
    finally:
        await svc.stop()


async def test_an_alarm_issues_a_command(plc: Plc, state: StateStore) -> None:
    text = f'[[rule]]\nid = "force_high"\nasset = "{CUTTER}"\ntag = "cutting_force"\n'
    rules = load_rules_text(text + 'kind = "high"\nlimit = 1600\n')
    bus = MemoryBus()
    engine = RuleEngine(plc.plant, bus, state, rules, tick_s=60)
    action = AlarmActionSettings(rule="force_high", tag="cut_rate_sp", value=40.0)
    svc = CommandService(plc.plant, state, opcua(plc), settings(actions=[action]), latest=plc.latest, bus=bus)
    await engine.start()
    await svc.start()
    try:
        await bus.publish("samples", [Sample(CUTTER, "cutting_force", plc.sim.now_ns, 1800.0)])
        for _ in range(500):
            done = [c for c in await svc.list(state=["confirmed"]) if c["tag"] == "cut_rate_sp"]
            if done:
                break
            await asyncio.sleep(0.02)
        assert done and done[0]["requested_by"] == "rule:force_high"
        assert "force_high@" in done[0]["reason"]
        assert plc.sim.setpoint(CUTTER, "cut_rate_sp") == pytest.approx(40.0)
    finally:
        await svc.stop()
        await engine.stop()
        await bus.close()


async def test_a_restart_resolves_open_commands(broker: EmbeddedBroker, state: StateStore) -> None:
    plant = Plant.load(DEFAULT_PLANT)
    clock = ManualClock(1_700_000_000 * NS)
    locks = [InterlockSettings(asset=CUTTER, tag="cut_rate_sp", critical=True)]
    cfg = settings(interlocks=locks, approval_timeout_s=600)

    def service() -> CommandService:
        return CommandService(
            plant, state, MqttTransport("127.0.0.1", broker.port, client_id="cmd-r"), cfg, clock=clock
        )

    svc = service()
    await svc.start()
    # nobody answers on the command topic: the command stays "sent" when the service stops
    sent = await svc.submit(PUMP, "speed_sp", 1500.0, "alice", wait=False)
    for _ in range(200):
        if (await svc.get(sent["id"]))["state"] == "sent":
            break
        await asyncio.sleep(0.01)
    pending = await svc.submit(CUTTER, "cut_rate_sp", 60.0, "alice")
    await svc.stop()
    clock.advance(601 * NS)  # the approval window is over while the platform is down
    svc = service()
    await svc.start()
    try:
        for cid, why in ((sent["id"], "interrupted by a restart"), (pending["id"], "approval timed out")):
            got = await svc.get(cid)
            assert (got["state"], got["result"]["reason"], got["result"]["error"]) == (
                "failed",
                "restart",
                why,
            )
            assert got["trail"][-1]["user"] == "system"
    finally:
        await svc.stop()
