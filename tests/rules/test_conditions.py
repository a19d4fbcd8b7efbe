"""Each condition kind with deadband and on/off delays, driven by a ManualClock."""

from __future__ import annotations

from typing import Any

import pytest

from shopfloor.core.clock import NS, ManualClock
from shopfloor.core.sample import Quality, Sample
from shopfloor.rules.binding import Binding
from shopfloor.rules.conditions import Delay, Match, Rate, Stale, Threshold
from shopfloor.rules.expr import Expression
from shopfloor.rules.model import Rule

from .conftest import PUMP1, T0


def states(binding: Binding) -> str:
    return binding.alarm.state.value


class Feeder:
    """Drives one binding: samples at the clock's time, ticks, collected transitions."""

    def __init__(self, **rule: Any) -> None:
        self.clock = ManualClock(T0)
        self.rule = Rule.model_validate({"id": "r", "asset": PUMP1, **rule})
        self.b = Binding(self.rule, PUMP1, started=T0)
        self.values: dict[str, Any] = {}
        self.events: list[str] = []

    def feed(self, tag: str, value: Any, after_s: float = 0, quality: Quality = Quality.GOOD) -> str:
        self.clock.advance(int(after_s * NS))
        now = self.clock.now_ns()
        if quality:
            self.values[tag] = value
        out: list[Any] = []
        self.b.on_sample(Sample(PUMP1, tag, now, value, quality), now, self.values, out)
        self.events += [t.event.value for _, t in out]
        return states(self.b)

    def tick(self, after_s: float = 0) -> str:
        self.clock.advance(int(after_s * NS))
        out: list[Any] = []
        self.b.on_tick(self.clock.now_ns(), out)
        self.events += [t.event.value for _, t in out]
        return states(self.b)


def test_high_with_deadband() -> None:
    f = Feeder(tag="bearing_temp", kind="high", limit=90, deadband=5)
    assert f.feed("bearing_temp", 89.9) == "normal"
    assert f.feed("bearing_temp", 90.0) == "normal"  # at the limit is not above it
    assert f.feed("bearing_temp", 90.5) == "unacknowledged"
    assert f.feed("bearing_temp", 86.0) == "unacknowledged"  # inside the deadband: still active
    assert f.feed("bearing_temp", 85.0) == "rtn_unacknowledged"  # out of the deadband
    assert f.events == ["activate", "clear"]


def test_low_with_deadband() -> None:
    f = Feeder(tag="flow", kind="low", limit=20, deadband=2)
    assert f.feed("flow", 19) == "unacknowledged"
    assert f.feed("flow", 21.5) == "unacknowledged"
    assert f.feed("flow", 22) == "rtn_unacknowledged"


def test_on_delay_completes_on_a_later_sample_or_on_the_tick() -> None:
    f = Feeder(tag="vib_rms", kind="high", limit=5, on_delay="10s")
    assert f.feed("vib_rms", 6) == "normal"
    assert f.feed("vib_rms", 7, after_s=5) == "normal"
    assert f.feed("vib_rms", 7, after_s=5) == "unacknowledged"  # 10 s above the limit
    g = Feeder(tag="vib_rms", kind="high", limit=5, on_delay="10s")
    g.feed("vib_rms", 6)
    assert g.tick(after_s=9) == "normal"
    assert g.tick(after_s=1) == "unacknowledged"  # no sample needed


def test_on_delay_restarts_when_the_condition_drops() -> None:
    f = Feeder(tag="vib_rms", kind="high", limit=5, on_delay="10s")
    f.feed("vib_rms", 6)
    f.feed("vib_rms", 4, after_s=8)  # a dip: the delay starts again
    f.feed("vib_rms", 6, after_s=1)
    assert f.tick(after_s=9) == "normal"
    assert f.tick(after_s=1) == "unacknowledged"


def test_off_delay_holds_the_alarm() -> None:
    f = Feeder(tag="vib_rms", kind="high", limit=5, off_delay="30s")
    assert f.feed("vib_rms", 6) == "unacknowledged"
    assert f.feed("vib_rms", 1, after_s=1) == "unacknowledged"
    assert f.tick(after_s=29) == "unacknowledged"
    assert f.feed("vib_rms", 6, after_s=0.5) == "unacknowledged"  # back: off delay cancelled
    assert f.feed("vib_rms", 1, after_s=1) == "unacknowledged"
    assert f.tick(after_s=30) == "rtn_unacknowledged"
    assert f.events == ["activate", "clear"]


def test_rate_of_change_uses_sample_time_per_unit() -> None:
    f = Feeder(tag="bearing_temp", kind="rate", limit=2, per="1m", direction="rise", deadband=0.5)
    assert f.feed("bearing_temp", 60.0) == "normal"  # first sample: no rate yet
    assert f.feed("bearing_temp", 61.0, after_s=60) == "normal"  # 1 degC/min
    assert f.feed("bearing_temp", 64.0, after_s=60) == "unacknowledged"  # 3 degC/min
    assert f.feed("bearing_temp", 65.8, after_s=60) == "unacknowledged"  # 1.8: in the deadband
    assert f.feed("bearing_temp", 66.0, after_s=60) == "rtn_unacknowledged"  # 0.2
    assert f.feed("bearing_temp", 50.0, after_s=60) == "rtn_unacknowledged"  # falling: not "rise"


def test_rate_both_directions_and_out_of_order() -> None:
    r = Rate(limit=1.0, per_ns=NS, direction="both")
    assert r.update(10.0, 1 * NS, 0, {}) is None
    assert r.update(5.0, 2 * NS, 0, {}) is True
    assert r.update(5.0, 2 * NS, 0, {}) is None  # same timestamp: no rate
    assert r.update("text", 3 * NS, 0, {}) is None
    fall = Rate(limit=1.0, per_ns=NS, direction="fall")
    fall.update(10.0, NS, 0, {})
    assert fall.update(12.0, 2 * NS, 0, {}) is False


def test_match_on_bool_and_string() -> None:
    m = Match(["down", "fault"])
    assert m.update("DOWN", 0, 0, {}) and m.update("fault", 0, 0, {}) and not m.update("running", 0, 0, {})
    f = Feeder(tag="running", kind="match", equals=False, on_delay="5s")
    f.feed("running", True)
    f.feed("running", False, after_s=1)
    assert f.tick(after_s=5) == "unacknowledged"


def test_stale_and_missing_data() -> None:
    f = Feeder(tag="flow", kind="stale", timeout="30s")
    assert f.tick(after_s=29) == "normal"
    assert f.tick(after_s=1) == "unacknowledged"  # missing since the start
    assert f.feed("flow", 100.0, after_s=1) == "rtn_unacknowledged"
    assert f.tick(after_s=20) == "rtn_unacknowledged"
    assert f.feed("flow", 0.0, after_s=20, quality=Quality.BAD) == "rtn_unacknowledged"
    assert f.tick(after_s=10) == "unacknowledged"  # bad quality is not fresh data


def test_bad_quality_neither_raises_nor_clears() -> None:
    f = Feeder(tag="bearing_temp", kind="high", limit=90)
    assert f.feed("bearing_temp", 200.0, quality=Quality.BAD) == "normal"
    assert f.feed("bearing_temp", 95.0) == "unacknowledged"
    assert f.feed("bearing_temp", 20.0, quality=Quality.BAD) == "unacknowledged"


def test_expression_across_tags_with_on_delay() -> None:
    f = Feeder(kind="expression", expr="flow < 50 and running", on_delay="5s", tag="")
    assert f.feed("flow", 10.0) == "normal"  # running unknown yet
    f.feed("running", True, after_s=1)
    assert f.tick(after_s=4) == "normal"
    assert f.tick(after_s=1) == "unacknowledged"
    assert f.feed("running", False, after_s=1) == "rtn_unacknowledged"


def test_suppressed_by_design_while_the_pump_is_stopped() -> None:
    f = Feeder(tag="vib_rms", kind="high", limit=5, suppress_when="not running")
    assert f.feed("running", False) == "suppressed"
    assert f.feed("vib_rms", 9.0) == "suppressed"  # active underneath, not annunciated
    assert f.feed("running", True, after_s=1) == "unacknowledged"  # back: re-annunciated
    assert f.events == ["suppress", "activate", "unsuppress"]


def test_shelve_expires_on_the_tick() -> None:
    f = Feeder(tag="vib_rms", kind="high", limit=5)
    f.feed("vib_rms", 9.0)
    from shopfloor.rules.alarms import Event, apply

    apply(f.b.alarm, Event.SHELVE, f.clock.now_ns(), user="op", until=f.clock.now_ns() + 60 * NS)
    assert f.tick(after_s=59) == "shelved"
    assert f.tick(after_s=1) == "unacknowledged"
    assert f.events[-1] == "shelve_expired"


def test_threshold_delay_and_stale_snapshots_round_trip() -> None:
    t = Threshold(10, 1)
    t.update(11, 0, 0, {})
    t2 = Threshold(10, 1)
    t2.restore(t.snapshot())
    assert t2.active
    d = Delay(on_ns=5)
    d.feed(True, 100)
    d2 = Delay(on_ns=5)
    d2.restore(d.snapshot(), active=False)
    assert d2.poll(105) is True
    s = Stale(10, started=0)
    s.poll(20)
    s2 = Stale(10, started=1_000)
    s2.restore(s.snapshot())
    assert s2.poll(1_001) is True  # stale before the restart stays stale


def test_message_template_and_unknown_fields() -> None:
    rule = Rule(
        id="r", asset=PUMP1, tag="bearing_temp", kind="high", limit=90, message="{tag} {value:.1f} > {limit}"
    )
    b = Binding(rule, PUMP1, unit="degC")
    b.value = 93.25
    assert b.message() == "bearing_temp 93.2 > 90.0"
    b.value = "n/a"
    assert b.message() == rule.message  # a format that does not fit falls back to the template
    with pytest.raises(ValueError, match="unknown field"):
        Rule(id="r", asset=PUMP1, tag="t", kind="high", limit=1, message="{nope}")


def test_expressions_are_restricted() -> None:
    for bad in ("__import__('os')", "open('x')", "a.b", "[x for x in y]", "lambda: 1", "_secret > 1", "x >"):
        with pytest.raises(ValueError):
            Expression(bad)
    e = Expression("max(a, b) / c > 2")
    assert e.evaluate({"a": 1, "b": 10, "c": 2}) is True
    assert e.evaluate({"a": 1, "b": 10, "c": 0}) is None  # division by zero: unknown
