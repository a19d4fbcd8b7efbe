"""Process model, controllers, constraints, advisory/closed loops and self-correction."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from shopfloor.analytics.process import PID, ControlLoop, EwmaR2R, Limits, ProcessModel, Supervisor
from shopfloor.core.errors import CommandRefused, ConfigError
from shopfloor.sim.extruder import Extruder, ExtruderSettings


class Plc:
    """A sync sink that refuses values above ``refuse_above`` like a PLC's own range check."""

    def __init__(self, refuse_above: float = 1e9) -> None:
        self.writes: list[tuple[str, str, float, str]] = []
        self.refuse_above = refuse_above

    def write(self, asset, tag, value, reason):
        if value > self.refuse_above:
            raise CommandRefused(f"{tag} {value} above the PLC range")
        self.writes.append((asset, tag, value, reason))
        return {"ok": True, "read_back": value}


class AsyncPlc(Plc):
    async def write(self, asset, tag, value, reason):
        await asyncio.sleep(0)
        return super().write(asset, tag, value, reason)


def _history(n=400, seed=3):
    ex = Extruder(ExtruderSettings(), seed=seed)
    rng = np.random.default_rng(seed)
    X, y = [], []
    for i in range(n):
        if i % 40 == 0:
            ex.write(ex.asset, "screw_rpm", float(rng.uniform(50, 70)), "trial")
        item = ex.step()
        X.append({"density": item.density_lab, "screw_rpm": item.rpm})
        y.append(item.weight)
    return ex, X, y


def test_model_learns_the_extruder_and_inverts():
    _, X, y = _history()
    model = ProcessModel(["density", "screw_rpm"]).fit(X, y)
    pred = np.array([model.predict_one(x) for x in X])
    assert np.corrcoef(pred, y)[0, 1] > 0.95
    rpm = model.solve(250.0, {"density": 0.62}, "screw_rpm")
    assert model.predict_one({"density": 0.62, "screw_rpm": rpm}) == pytest.approx(250.0)
    # denser material needs a slower screw for the same weight per metre
    assert model.solve(250.0, {"density": 0.64}, "screw_rpm") < rpm
    assert model.gain({"density": 0.6, "screw_rpm": 60}, "screw_rpm") > 0
    with pytest.raises(ConfigError, match="missing"):
        model.predict_one({"density": 0.6})
    with pytest.raises(ConfigError, match="fit"):
        ProcessModel(["a"]).predict_one({"a": 1.0})
    with pytest.raises(ConfigError, match="no input"):
        model.solve(250, {"density": 0.6}, "temperature")


def test_limits_always_enforced():
    lim = Limits(low=30, high=90, max_step=2)
    assert lim.apply(60, 70) == (62, ["rate limit 2 per move"])
    assert lim.apply(89.5, 95)[0] == 90
    assert lim.apply(None, 10) == (30, ["low limit 30"])
    with pytest.raises(ValueError, match="low"):
        Limits(low=5, high=1)
    with pytest.raises(ConfigError, match="finite"):
        lim.apply(60, float("nan"))


def test_pid_anti_windup_recovers_at_once():
    pid = PID(kp=0.5, ki=0.2, low=-1.0, high=1.0)
    for _ in range(200):  # long saturation
        assert pid.update(10.0) == 1.0
    assert pid.integral <= 1.0
    assert pid.update(-3.0) < 0  # leaves saturation as soon as the error turns
    plain = PID(kp=1.0, ki=0.5)
    assert plain.update(2.0) == pytest.approx(3.0)
    assert plain.update(2.0) == pytest.approx(4.0)
    with pytest.raises(ConfigError):
        PID(1.0, low=1.0, high=0.0)


def test_ewma_r2r_removes_a_bias():
    _, X, y = _history()
    model = ProcessModel(["density", "screw_rpm"]).fit(X, y)
    ctrl = EwmaR2R(model, "screw_rpm", target=250.0, lam=0.4)
    u = ctrl.predict_one({"density": 0.6})
    for _ in range(30):  # the real process makes 5 g/m more than the model says
        x = {"density": 0.6, "screw_rpm": u}
        ctrl.learn_one(x, model.predict_one(x) + 5.0)
        u = ctrl.predict_one({"density": 0.6})
    assert ctrl.offset == pytest.approx(5.0, abs=0.01)
    assert model.predict_one({"density": 0.6, "screw_rpm": u}) + 5.0 == pytest.approx(250.0, abs=0.01)


def test_advisory_waits_for_an_operator():
    plc = Plc()
    loop = ControlLoop("wt", "line1/ex", "screw_rpm", Limits(low=30, high=90, max_step=2), plc, setpoint=60)
    first = loop.propose(64, "feed-forward")
    second = loop.propose(58, "feed-forward, new lot")
    assert first.status == "superseded" and second.status == "pending" and plc.writes == []
    with pytest.raises(CommandRefused, match="superseded"):
        loop.approve(first.id, "operator:ana")
    rec = loop.approve(second.id, "operator:ana")
    assert (rec.status, rec.applied, rec.approved_by, rec.old, rec.new) == (
        "applied",
        True,
        "operator:ana",
        60,
        58,
    )
    assert plc.writes == [("line1/ex", "screw_rpm", 58, "feed-forward, new lot")]
    rej = loop.reject(loop.propose(50, "x").id, "operator:bo")
    assert rej.status == "rejected" and loop.setpoint == 58
    with pytest.raises(CommandRefused, match="approver"):
        loop.approve(loop.propose(57, "y").id, "")
    quiet = ControlLoop("q", "line1/ex", "screw_rpm", Limits(low=30, high=90), plc, setpoint=60, deadband=0.1)
    assert quiet.propose(60.05, "within the deadband") is None and quiet.records == []


def test_closed_loop_applies_and_records_everything():
    plc = Plc(refuse_above=61)
    loop = ControlLoop("wt", "line1/ex", "screw_rpm", Limits(low=30, high=90, max_step=1), plc, setpoint=59.5)
    assert loop.propose(70, "hold weight").status == "pending"  # advisory by default
    loop.enable("engineer:kim")
    rec = loop.propose(70, "hold weight")
    assert (rec.status, rec.new, rec.approved_by) == ("applied", 60.5, "auto:engineer:kim")
    refused = loop.propose(70, "hold weight")
    assert refused.status == "refused" and "above the PLC range" in refused.result["error"]
    assert loop.setpoint == 60.5  # a refused write leaves the setpoint where it was
    kinds = [r.status for r in loop.records]
    assert kinds == ["superseded", "mode", "applied", "refused"]
    assert all(r.to_dict()["loop"] == "wt" for r in loop.records)
    loop.disable("engineer:kim", "off")
    assert loop.propose(40, "x") is None
    with pytest.raises(ConfigError, match="mode"):
        ControlLoop("x", "a", "t", Limits(low=0, high=1), mode="auto")


async def test_async_sink():
    plc = AsyncPlc()
    loop = ControlLoop("wt", "line1/ex", "screw_rpm", Limits(low=30, high=90, max_step=2), plc, setpoint=60)
    rec = await loop.apropose(61, "advisory")
    assert rec.status == "pending"
    assert (await loop.aapprove(rec.id, "operator:ana")).status == "applied"
    loop.enable("engineer:kim")
    rec = await loop.apropose(65, "closed")
    assert (rec.status, rec.new, rec.mode) == ("applied", 63, "closed")
    assert [w[2] for w in plc.writes] == [61, 63]
    with pytest.raises(ConfigError, match="async"):
        loop.propose(64, "sync call on an async sink")


def test_supervisor_detects_drift_and_corrects():
    _, X, y = _history()
    model = ProcessModel(["density", "screw_rpm"]).fit(X, y)
    ctrl = EwmaR2R(model, "screw_rpm", target=250.0, lam=0.0)  # feed-forward only
    plc = Plc()
    loop = ControlLoop("wt", "line1/ex", "screw_rpm", Limits(low=30, high=90, max_step=5), plc, setpoint=60)
    loop.enable("engineer:kim")
    sup = Supervisor(loop, ctrl, sigma=0.8, lsl=245, usl=255, window=30)
    rng = np.random.default_rng(5)
    x = {"density": 0.6}
    loop.propose(ctrl.predict_one(x), "recipe")
    fouling, signals = 0.0, []
    for i in range(300):
        if i >= 100:
            fouling -= 0.03  # a die slowly fouls: the weight drifts down 0.03 g/m per item
        xi = {"density": 0.6, "screw_rpm": loop.setpoint}
        weight = model.predict_one(xi) + fouling + rng.normal(0, 0.8)
        corr = sup.learn_one(weight, x)
        if corr:
            signals.append(corr)
    assert signals and signals[0].index > 100  # no false alarm before the drift
    assert signals[0].shift < 0 and signals[0].status == "applied"
    assert signals[0].new > signals[0].old  # more screw speed to make up the weight
    tracked = [c for c in signals if c.mean_after is not None and c.mean_before is not None]
    assert tracked
    before = np.mean([abs(c.mean_before - 250) for c in tracked])
    after = np.mean([abs(c.mean_after - 250) for c in tracked])
    assert after < before + 0.5
    assert any("SPC ewma" in r.reason for r in loop.records)


def test_extruder_is_a_seeded_plc():
    a, b = Extruder(seed=9), Extruder(seed=9)
    b.write(b.asset, "screw_rpm", 70.0, "faster")
    ia, ib = [a.step() for _ in range(200)], [b.step() for _ in range(200)]
    assert [i.density for i in ia] == [i.density for i in ib]  # same disturbances, any setpoint
    assert np.mean([i.weight for i in ib]) > np.mean([i.weight for i in ia])
    assert np.mean([i.energy_kwh for i in ib]) > np.mean([i.energy_kwh for i in ia])
    assert len({i.batch for i in ia}) >= 3
    assert not a.write(a.asset, "screw_rpm", 500.0, "too fast")["ok"]
    assert not a.write("other", "screw_rpm", 60.0, "x")["ok"]
