"""Packaging machine: states with reason codes, counts for OEE, energy meter.

States are ``running``, ``idle`` (starved: the upstream machine is not running) and ``down``
with a reason code (``jam``, ``material_shortage``, ``electrical_fault``, ``changeover``,
``planned_maintenance``). Stops are drawn as Poisson events with their own duration ranges.
While running, the machine makes one unit per actual cycle (ideal cycle time divided by the
speed setpoint, plus small speed losses); a fraction is rejected. Counts only move while
running, and ``total_count = good_count + reject_count``. Power depends on the state; the
energy meter integrates it.
"""

from __future__ import annotations

from typing import Any

from ...core.sample import Value
from ..sensors import SensorSpec
from ..truth import TruthRecord
from .base import NS, Machine, TagSpec

STATES = ("running", "idle", "down")
REASONS = (
    "none",
    "starved",
    "jam",
    "material_shortage",
    "electrical_fault",
    "changeover",
    "planned_maintenance",
)
# reason: (events per running day, duration range in minutes, planned stop?)
STOPS = {
    "jam": (24.0, (1.0, 5.0)),
    "material_shortage": (2.0, (5.0, 20.0)),
    "electrical_fault": (0.15, (30.0, 120.0)),
    "changeover": (3.0, (20.0, 40.0)),
    "planned_maintenance": (0.07, (120.0, 240.0)),
}
POWER_IDLE_KW = 2.0
POWER_DOWN_KW = 0.5
POWER_RUN_KW = 10.0  # extra at 100 % speed
REJECT_BASE = 0.015

TAGS = (
    TagSpec("state", "-", "str", description="Machine state: running, idle or down", enum=STATES),
    TagSpec(
        "reason_code",
        "-",
        "str",
        description="Why the machine is not running (none when running)",
        enum=REASONS,
    ),
    TagSpec("speed_sp", "%", "float", 50, 110, "Speed setpoint, % of rated", writable=True, default=100.0),
    TagSpec("ideal_cycle_time", "s", "float", 0, 60, "Ideal (rated) cycle time per unit"),
    TagSpec(
        "cycle_time", "s", "float", 0, 120, "Actual cycle time (last tick)", sensor=SensorSpec(0.005, 0.001)
    ),
    TagSpec("good_count", "count", "int", 0, 2**31 - 1, "Good units (cumulative)"),
    TagSpec("reject_count", "count", "int", 0, 2**31 - 1, "Rejected units (cumulative)"),
    TagSpec("total_count", "count", "int", 0, 2**31 - 1, "All units (cumulative)"),
    TagSpec("power", "kW", "float", 0, 50, "Electrical power", sensor=SensorSpec(0.05, 0.01)),
    TagSpec("energy", "kWh", "float", 0, 1e9, "Energy meter (cumulative)"),
)


class Packaging(Machine):
    """A packaging machine (wrapper, case packer, palletizer) in a line."""

    kind = "packaging"
    TAGS = TAGS
    FAULTS = ("jam", "electrical_fault", "sealer_fault")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ideal = float(self.attrs.get("ideal_cycle_s", 1.0))
        self.upstream = self.attrs.get("upstream")
        self.state_ = "running"
        self.reason = "none"
        self.down_until: int | None = None
        self.good = 0
        self.rejects = 0
        self.acc = 0.0
        self.energy = 0.0
        self.cycle = self.ideal
        self._down_rec: TruthRecord | None = None

    def _go_down(self, reason: str, minutes: float, now_ns: int, severity: float = 1.0) -> None:
        self.state_, self.reason = "down", reason
        self.down_until = now_ns + int(minutes * 60 * NS)
        self._down_rec = self.truth.open(self.path, "downtime", now_ns, severity, detail=reason)
        self._down_rec.end_ns = self.down_until

    def inject_fault(
        self, kind: str, severity: float, duration_s: float | None, tag: str | None
    ) -> TruthRecord:
        if kind in ("jam", "electrical_fault"):
            self._go_down(kind, (duration_s or 300.0) / 60.0, self.sim.now_ns, severity)
            assert self._down_rec is not None
            self._down_rec.injected = True
            return self._down_rec
        return super().inject_fault(kind, severity, duration_s, tag)

    def _upstream_running(self) -> bool:
        if not self.upstream:
            return True
        m = self.sim.machines.get(str(self.upstream))
        return m is None or getattr(m, "state_", "running") == "running"

    def step(self, now_ns: int, dt_s: float) -> dict[str, Value]:
        if self.state_ == "down" and self.down_until is not None and now_ns >= self.down_until:
            self.state_, self.reason, self.down_until = "running", "none", None
        if self.state_ != "down":
            for reason, (per_day, minutes) in STOPS.items():
                if self.state_ == "running" and self.hazard(per_day, dt_s):
                    self._go_down(reason, float(self.rng.uniform(*minutes)), now_ns)
                    break
        if self.state_ != "down":
            starved = not self._upstream_running()
            self.state_, self.reason = ("idle", "starved") if starved else ("running", "none")
        speed = float(self.setpoints.get("speed_sp", 100.0)) / 100.0
        made = rejected = 0
        if self.state_ == "running":
            self.cycle = self.ideal / speed * (1.0 + abs(0.03 * self.rng.standard_normal()))
            self.acc += dt_s / self.cycle
            made = int(self.acc)
            self.acc -= made
            p = min(1.0, REJECT_BASE + 0.3 * self.fault("sealer_fault"))
            rejected = int(self.rng.binomial(made, p)) if made else 0
            power = POWER_IDLE_KW + POWER_RUN_KW * speed
        else:
            power = POWER_IDLE_KW if self.state_ == "idle" else POWER_DOWN_KW
        self.good += made - rejected
        self.rejects += rejected
        self.energy += power * dt_s / 3600.0
        return {
            "state": self.state_,
            "reason_code": self.reason,
            "speed_sp": self.setpoints.get("speed_sp", 100.0),
            "ideal_cycle_time": self.ideal,
            "cycle_time": self.cycle,
            "good_count": self.good,
            "reject_count": self.rejects,
            "total_count": self.good + self.rejects,
            "power": power,
            "energy": round(self.energy, 4),
        }

    def state(self) -> dict[str, Any]:
        out = super().state()
        out.update(state=self.state_, reason=self.reason)
        return out
