"""OEE (availability x performance x quality), the six big losses, downtime Pareto, MTBF, MTTR.

Inputs are what a machine reports: its **state** (``running``, ``idle`` or ``down``) with a
**reason** when it is not running, and its cumulative **good** and **reject** counters, plus the
**ideal cycle time** per unit. One :class:`OeeTracker` is fed state changes and counter readings,
in time order, on the stream (:meth:`~OeeTracker.learn_one`) or from history
(:meth:`~OeeTracker.fit`); :meth:`~OeeTracker.result` reports any window of what it has seen.

Definitions (Nakajima; the same as oee.com and ISO 22400-2):

* planned production time = window - planned stops (reasons in ``planned_reasons``)
* run time = time in state ``running``
* availability = run time / planned production time
* performance = ideal cycle time x total count / run time
* quality = good count / total count
* OEE = availability x performance x quality = good count x ideal cycle time / planned time

The six big losses are times that add up to the planned production time less the fully
productive time (good count x ideal cycle time):

* ``breakdowns``: unplanned stops not classed below
* ``setup_adjustments``: stops with a reason in ``setup_reasons`` (changeover, ...)
* ``small_stops``: idle time, stops with a reason in ``minor_reasons`` and any unplanned stop
  shorter than ``minor_stop_s`` (so they count against availability, as the machine reports
  them as stops, and are named as minor stops in the loss view)
* ``slow_cycles``: run time - ideal cycle time x total count
* ``startup_rejects``: ideal time of units rejected within ``startup_s`` after a restart
* ``production_rejects``: ideal time of the other rejected units

Counters are cumulative; a counter that goes down was reset and its new value counts as made.

>>> t = OeeTracker(ideal_cycle_s=1.0)
>>> t.learn_one({"ts": 0, "state": "running"})
>>> t.learn_one({"ts": 0, "good": 0, "reject": 0})
>>> t.learn_one({"ts": 80 * NS, "state": "down", "reason": "jam"})
>>> t.learn_one({"ts": 80 * NS, "good": 70, "reject": 2})
>>> r = t.result(0, 100 * NS)
>>> round(r.availability, 2), round(r.performance, 2), round(r.quality, 3), round(r.oee, 2)
(0.8, 0.9, 0.972, 0.7)
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from ...core.errors import ShopfloorError

NS = 1_000_000_000
PLANNED_REASONS = frozenset({"planned_maintenance", "planned_stop", "break", "no_orders", "meeting"})
SETUP_REASONS = frozenset({"changeover", "setup", "adjustment", "warmup"})
MINOR_REASONS = frozenset({"jam", "starved", "blocked", "minor_stop", "idle"})
LOSSES = (
    "breakdowns",
    "setup_adjustments",
    "small_stops",
    "slow_cycles",
    "startup_rejects",
    "production_rejects",
)


class KpiInputError(ShopfloorError):
    """A KPI input was malformed (unknown state, time going backwards, bad window)."""


@dataclass(slots=True)
class Stop:
    """One stop: ``[start, end)`` in epoch ns, the state and the reason."""

    start: int
    end: int
    state: str
    reason: str

    @property
    def seconds(self) -> float:
        return (self.end - self.start) / NS


@dataclass
class OeeResult:
    """OEE of one asset (or a combination) over one window; times in seconds."""

    window_s: float = 0.0
    planned_s: float = 0.0
    run_s: float = 0.0
    good: int = 0
    reject: int = 0
    ideal_s: float = 0.0  # ideal cycle time x total count
    good_ideal_s: float = 0.0  # fully productive time
    losses: dict[str, float] = field(default_factory=lambda: dict.fromkeys(LOSSES, 0.0))
    downtime: dict[str, dict[str, float]] = field(default_factory=dict)  # reason -> seconds, events
    failures: int = 0
    failure_s: float = 0.0

    @property
    def total(self) -> int:
        return self.good + self.reject

    @property
    def availability(self) -> float:
        return self.run_s / self.planned_s if self.planned_s > 0 else 0.0

    @property
    def performance(self) -> float:
        return self.ideal_s / self.run_s if self.run_s > 0 else 0.0

    @property
    def quality(self) -> float:
        return self.good / self.total if self.total else 0.0

    @property
    def oee(self) -> float:
        return self.availability * self.performance * self.quality

    @property
    def mtbf_s(self) -> float | None:
        """Mean run time between failures (None without a failure)."""
        return self.run_s / self.failures if self.failures else None

    @property
    def mttr_s(self) -> float | None:
        """Mean time to repair: failure downtime per failure (None without a failure)."""
        return self.failure_s / self.failures if self.failures else None

    def pareto(self) -> list[dict[str, Any]]:
        """Downtime by reason, largest first, with share and cumulative share of all downtime."""
        total = sum(d["seconds"] for d in self.downtime.values()) or 1.0
        rows, cum = [], 0.0
        for reason, d in sorted(self.downtime.items(), key=lambda kv: (-kv[1]["seconds"], kv[0])):
            cum += d["seconds"]
            rows.append(
                {
                    "reason": reason,
                    "seconds": d["seconds"],
                    "events": int(d["events"]),
                    "share": d["seconds"] / total,
                    "cumulative": cum / total,
                }
            )
        return rows

    def __add__(self, other: OeeResult) -> OeeResult:
        """Combine two results (machines of a line, shifts of a day): times and counts add up."""
        out = OeeResult()
        for name in ("window_s", "planned_s", "run_s", "good", "reject", "ideal_s", "good_ideal_s"):
            setattr(out, name, getattr(self, name) + getattr(other, name))
        out.failures = self.failures + other.failures
        out.failure_s = self.failure_s + other.failure_s
        out.losses = {k: self.losses.get(k, 0.0) + other.losses.get(k, 0.0) for k in LOSSES}
        for src in (self.downtime, other.downtime):
            for reason, d in src.items():
                mine = out.downtime.setdefault(reason, {"seconds": 0.0, "events": 0})
                mine["seconds"] += d["seconds"]
                mine["events"] += d["events"]
        return out

    def as_dict(self) -> dict[str, Any]:
        raw = asdict(self)
        raw.update(
            total=self.total,
            availability=self.availability,
            performance=self.performance,
            quality=self.quality,
            oee=self.oee,
            mtbf_s=self.mtbf_s,
            mttr_s=self.mttr_s,
            pareto=self.pareto(),
        )
        return raw


def combine(results: Iterable[OeeResult]) -> OeeResult:
    """Time-weighted OEE of several machines or windows (a line, a plant, a day of shifts)."""
    out = OeeResult()
    for r in results:
        out = out + r
    return out


class OeeTracker:
    """OEE of one machine from its state changes and counters; see the module docstring.

    ``ideal_cycle_s`` is the ideal (rated) time per unit; a ``ideal_cycle_s`` key in an event
    changes it from then on. Events are dicts with ``ts`` (epoch ns) and any of ``state``,
    ``reason``, ``good``, ``reject`` (cumulative counters) and ``ideal_cycle_s``.
    """

    STATES = ("running", "idle", "down")

    def __init__(
        self,
        ideal_cycle_s: float | None = None,
        *,
        planned_reasons: Iterable[str] = PLANNED_REASONS,
        setup_reasons: Iterable[str] = SETUP_REASONS,
        minor_reasons: Iterable[str] = MINOR_REASONS,
        failure_reasons: Iterable[str] | None = None,
        minor_stop_s: float = 0.0,
        startup_s: float = 0.0,
    ) -> None:
        self.ideal_cycle_s = ideal_cycle_s
        self.planned_reasons = frozenset(planned_reasons)
        self.setup_reasons = frozenset(setup_reasons)
        self.minor_reasons = frozenset(minor_reasons)
        self.failure_reasons = frozenset(failure_reasons) if failure_reasons is not None else None
        self.minor_stop_s = minor_stop_s
        self.startup_s = startup_s
        # state timeline: change times and (state, reason)
        self._t: list[int] = []
        self._s: list[tuple[str, str]] = []
        # counter increments: time, good, reject, ideal cycle at that time
        self._ct: list[int] = []
        self._inc: list[tuple[int, int, float]] = []
        self._last: tuple[int, int] | None = None
        self._last_ts = -(2**62)
        self.rejected_events = 0

    # -- feeding -----------------------------------------------------------------------------

    def learn_one(self, x: Mapping[str, Any]) -> None:
        """Take one state change and/or counter reading (raises KpiInputError on bad input)."""
        try:
            ts = int(x["ts"])
        except (KeyError, TypeError, ValueError):
            self.rejected_events += 1
            raise KpiInputError(f"event {dict(x)!r} needs an integer 'ts' (epoch ns)") from None
        if ts < self._last_ts:
            self.rejected_events += 1
            raise KpiInputError(f"event at {ts} is older than the previous one at {self._last_ts}")
        self._last_ts = ts
        if x.get("ideal_cycle_s") is not None:
            self.ideal_cycle_s = float(x["ideal_cycle_s"])
        if "state" in x:
            self._state(ts, str(x["state"]), str(x.get("reason") or "none"))
        if "good" in x or "reject" in x:
            self._counts(ts, x.get("good"), x.get("reject"))

    def fit(self, events: Iterable[Mapping[str, Any]]) -> OeeTracker:
        """Feed events from history (sorted here by time; state changes before counts at a tie)."""
        for x in sorted(events, key=lambda e: (int(e["ts"]), "state" not in e)):
            self.learn_one(x)
        return self

    def _state(self, ts: int, state: str, reason: str) -> None:
        if state not in self.STATES:
            self.rejected_events += 1
            raise KpiInputError(f"unknown machine state {state!r}: use one of {', '.join(self.STATES)}")
        if state == "running":
            reason = "none"
        if self._s and self._s[-1] == (state, reason):
            return
        if self._t and self._t[-1] == ts:
            self._s[-1] = (state, reason)
            return
        self._t.append(ts)
        self._s.append((state, reason))

    def _counts(self, ts: int, good: Any, reject: Any) -> None:
        prev_g, prev_r = self._last if self._last is not None else (None, None)
        g = int(good) if good is not None else (prev_g or 0)
        r = int(reject) if reject is not None else (prev_r or 0)
        if g < 0 or r < 0:
            self.rejected_events += 1
            raise KpiInputError(f"counters must not be negative, got good={g} reject={r}")
        self._last = (g, r)
        if prev_g is None or prev_r is None:
            return  # the first reading is the baseline
        dg = g - prev_g if g >= prev_g else g  # a counter that went down was reset
        dr = r - prev_r if r >= prev_r else r
        if dg or dr:
            if self.ideal_cycle_s is None:
                self.rejected_events += 1
                raise KpiInputError("no ideal cycle time: pass ideal_cycle_s or send it in an event")
            self._ct.append(ts)
            self._inc.append((dg, dr, self.ideal_cycle_s))

    # -- reporting ---------------------------------------------------------------------------

    def stops(self, start: int, end: int) -> list[Stop]:
        """Every non-running period in ``[start, end)``, clipped to the window."""
        out = []
        for i, (state, reason) in enumerate(self._s):
            s = max(self._t[i], start)
            e = min(self._t[i + 1] if i + 1 < len(self._t) else end, end)
            if state != "running" and e > s:
                out.append(Stop(s, e, state, reason))
        return out

    def _classify(self, stop: Stop) -> str:
        if stop.reason in self.planned_reasons:
            return "planned"
        if stop.reason in self.setup_reasons:
            return "setup_adjustments"
        if stop.state == "idle" or stop.reason in self.minor_reasons or stop.seconds < self.minor_stop_s:
            return "small_stops"
        return "breakdowns"

    def _restarts(self) -> list[int]:
        return [self._t[i] for i in range(1, len(self._s)) if self._s[i][0] == "running"]

    def result(self, start: int, end: int) -> OeeResult:
        """OEE over ``[start, end)``; time before the first state event is not counted.

        The last state is taken to last until ``end``: on the stream, pass the current time.
        """
        if end <= start:
            raise KpiInputError(f"empty window: start {start} must be before end {end}")
        lo = max(start, self._t[0]) if self._t else end
        hi = max(lo, end)  # the last state lasts until the window's end
        r = OeeResult(window_s=(hi - lo) / NS)
        planned_stop = 0.0
        for stop in self.stops(lo, hi):
            kind = self._classify(stop)
            if kind == "planned":
                planned_stop += stop.seconds
                continue
            r.losses[kind] += stop.seconds
            d = r.downtime.setdefault(stop.reason, {"seconds": 0.0, "events": 0})
            d["seconds"] += stop.seconds
            d["events"] += 1
            failure = (
                stop.reason in self.failure_reasons
                if self.failure_reasons is not None
                else stop.state == "down" and kind == "breakdowns"
            )
            if failure:
                r.failures += 1
                r.failure_s += stop.seconds
        r.planned_s = r.window_s - planned_stop
        r.run_s = r.planned_s - sum(r.losses[k] for k in ("breakdowns", "setup_adjustments", "small_stops"))
        restarts = self._restarts()
        i0, i1 = bisect.bisect_right(self._ct, start), bisect.bisect_right(self._ct, end)
        for ts, (dg, dr, ideal) in zip(self._ct[i0:i1], self._inc[i0:i1], strict=True):
            if ts == start:
                continue  # counted at the window's start: made before it
            r.good += dg
            r.reject += dr
            r.ideal_s += (dg + dr) * ideal
            r.good_ideal_s += dg * ideal
            k = bisect.bisect_left(restarts, ts) - 1
            startup = k >= 0 and (ts - restarts[k]) / NS <= self.startup_s
            r.losses["startup_rejects" if startup else "production_rejects"] += dr * ideal
        r.losses["slow_cycles"] = max(0.0, r.run_s - r.ideal_s)
        return r

    def trim(self, before: int) -> None:
        """Forget what happened before ``before`` (bounded memory on the stream).

        The state in force at ``before`` is kept (moved to ``before``), so later windows that
        start at or after it are unchanged.
        """
        k = bisect.bisect_right(self._t, before) - 1
        if k > 0 or (k == 0 and self._t[0] < before):
            self._t = [before, *self._t[k + 1 :]]
            self._s = self._s[k:]
        c = bisect.bisect_right(self._ct, before)
        self._ct, self._inc = self._ct[c:], self._inc[c:]

    @property
    def first_ts(self) -> int | None:
        """Time of the first state event (None before it)."""
        return self._t[0] if self._t else None

    @property
    def state(self) -> tuple[str, str] | None:
        """The current (state, reason), or None before the first state event."""
        return self._s[-1] if self._s else None


def oee_from_totals(
    planned_s: float, run_s: float, total: int, good: int, ideal_cycle_s: float
) -> dict[str, float]:
    """OEE from the totals of a shift (the textbook form).

    >>> r = oee_from_totals(420 * 60, 373 * 60, 19_271, 18_848, 1.0)
    >>> round(r["oee"], 4)
    0.7479
    """
    a = run_s / planned_s
    p = total * ideal_cycle_s / run_s
    q = good / total
    return {"availability": a, "performance": p, "quality": q, "oee": a * p * q}
