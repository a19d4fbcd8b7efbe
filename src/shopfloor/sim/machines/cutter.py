"""Sheet cutter whose blade dulls with every cut.

Blade wear ``w`` grows with the cuts since the last change, ``w = (cuts / life)^1.3`` (plus a
step when the edge chips). Dulling raises the mean cutting force ``F = F0 (1 + 1.2 w)`` and
with it motor current and knife chatter (vibration), lowers the edge-quality score
(``100 - 45 w^2`` %) and makes ragged edges (rejects) likely once ``w`` nears 1 (logistic in
``w``). A blade change, written as ``blade_change = true`` or done by the crew when the blade
reaches its life, resets the wear; the change takes ``change_minutes`` of downtime.
"""

from __future__ import annotations

import math
from typing import Any

from ...core.sample import Value
from ..sensors import SensorSpec
from ..truth import TruthRecord
from ..vibration import FS_HZ, bearing_frequencies, features, synthesize
from .base import NS, Machine, TagSpec, lag

STATES = ("running", "idle", "down")
REASONS = ("none", "blade_change", "no_demand")
VOLTS_PF = 0.4 * math.sqrt(3) * 0.85  # 400 V three-phase, power factor 0.85: kW per A
WEAR_EXPONENT = 1.3
FORCE_GAIN = 1.2  # relative force increase of a fully dull blade
CURRENT_IDLE_A = 8.0  # motor current with the knife drum turning, no cutting
CURRENT_PER_KN_A = 9.0  # additional current per kN of mean cutting force at 60 cuts/min
DRUM_HZ = 25.0  # knife-drum motor shaft speed, Hz
CHATTER_HZ = 120.0  # knife chatter impact rate, Hz

_V = SensorSpec(quant=0.0001)
TAGS = (
    TagSpec("cut_rate_sp", "1/min", "float", 10, 120, "Cut rate setpoint", writable=True, default=60.0),
    TagSpec("cut_rate", "1/min", "float", 0, 130, "Actual cut rate", sensor=SensorSpec(0.2, 0.1)),
    TagSpec(
        "cutting_force",
        "N",
        "float",
        0,
        5000,
        "Mean peak cutting force per cut",
        sensor=SensorSpec(8.0, 1.0, 1.0),
    ),
    TagSpec("motor_current", "A", "float", 0, 100, "Knife-drum motor current", sensor=SensorSpec(0.1, 0.01)),
    TagSpec("vib_rms", "g", "float", 0, 50, "Vibration RMS (12.8 kHz frame)", sensor=_V),
    TagSpec("vib_peak", "g", "float", 0, 200, "Vibration peak", sensor=_V),
    TagSpec("vib_crest", "-", "float", 0, 50, "Vibration crest factor", sensor=_V),
    TagSpec("vib_kurtosis", "-", "float", 0, 200, "Vibration kurtosis", sensor=_V),
    TagSpec(
        "edge_quality",
        "%",
        "float",
        0,
        100,
        "Edge-quality score from the edge sensor",
        sensor=SensorSpec(1.0, 0.1),
    ),
    TagSpec("blade_cuts", "count", "int", 0, 1e9, "Cuts since the last blade change"),
    TagSpec("good_count", "count", "int", 0, 2**31 - 1, "Good sheets (cumulative)"),
    TagSpec("reject_count", "count", "int", 0, 2**31 - 1, "Sheets rejected for ragged edges (cumulative)"),
    TagSpec(
        "blade_change",
        "-",
        "bool",
        description="Write true to change the blade (reads false)",
        writable=True,
        default=False,
    ),
    # OEE and energy (appended: the register map of the tags above stays as it was)
    TagSpec("state", "-", "str", description="Machine state: running, idle or down", enum=STATES),
    TagSpec(
        "reason_code",
        "-",
        "str",
        description="Why the cutter is not running (none when running)",
        enum=REASONS,
    ),
    TagSpec("ideal_cycle_time", "s", "float", 0, 60, "Ideal cycle time per sheet (rated cut rate)"),
    TagSpec("total_count", "count", "int", 0, 2**31 - 1, "All sheets (cumulative)"),
    TagSpec("power", "kW", "float", 0, 100, "Knife-drum drive power", sensor=SensorSpec(0.05, 0.01)),
    TagSpec("energy", "kWh", "float", 0, 1e9, "Energy meter (cumulative)"),
)


class Cutter(Machine):
    """A rotary sheet cutter (knife drum) after the paper machine."""

    kind = "cutter"
    TAGS = TAGS
    FAULTS = ("blade_chip",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.f0 = float(self.attrs.get("base_force_n", 800.0))
        self.life = float(self.attrs.get("blade_life_cuts", 50_000))
        self.change_min = float(self.attrs.get("change_minutes", 10.0))
        self.cuts = float(self.rng.uniform(0, 0.8) * self.life)
        self.rate = float(self.setpoints.get("cut_rate_sp", 60.0))
        self.acc = 0.0
        self.good = 0
        self.rejects = 0
        self.last_cuts = 0
        self.last_ragged = 0
        self.change_until: int | None = None
        self.chip = 0.0
        self._change_requested = False
        self.ideal = float(self.attrs.get("ideal_cycle_s", 0.5))  # 120 cuts/min rated
        self.energy = 0.0
        self._blade_rec: TruthRecord = self.truth.open(
            self.path, "blade_wear", sim_start(self), self.wear, detail="blade present at start"
        )

    @property
    def wear(self) -> float:
        """Blade wear 0 (new) .. ~1 (dull, end of life), plus any chip."""
        return (self.cuts / self.life) ** WEAR_EXPONENT + self.chip

    def mean_force(self, wear: float | None = None) -> float:
        """True mean cutting force in N at a wear level."""
        w = self.wear if wear is None else wear
        return self.f0 * (1.0 + FORCE_GAIN * w)

    def ragged_probability(self, wear: float | None = None) -> float:
        """Probability that one cut leaves a ragged edge."""
        w = self.wear if wear is None else wear
        return 0.002 + 0.9 / (1.0 + math.exp(-(w - 0.85) * 12.0))

    def on_write(self, tag: str, value: Value) -> None:
        if tag == "blade_change":
            if value:
                self._change_requested = True
            return
        super().on_write(tag, value)

    def change_blade(self, now_ns: int) -> None:
        """Fit a new blade: wear resets; the line stops for ``change_minutes``."""
        self.truth.close(self._blade_rec, now_ns, self.wear)
        self.stop_fault("blade_chip", now_ns)
        self.truth.event(self.path, "blade_change", now_ns, 0.0)
        self.cuts = 0.0
        self.chip = 0.0
        self.change_until = now_ns + int(self.change_min * 60 * NS)
        self._blade_rec = self.truth.open(self.path, "blade_wear", now_ns, 0.0)

    def draw_faults(self, now_ns: int, dt_s: float) -> None:
        if "blade_chip" not in self.faults and self.hazard(0.05, dt_s):
            self.start_fault("blade_chip", float(self.rng.uniform(0.2, 0.5)), None, now_ns)

    def step(self, now_ns: int, dt_s: float) -> dict[str, Value]:
        if self._change_requested or self.wear >= 1.0:
            self._change_requested = False
            self.change_blade(now_ns)
        self.chip = 0.3 * self.fault("blade_chip")
        stopped = self.change_until is not None and now_ns < self.change_until
        target = 0.0 if stopped else float(self.setpoints.get("cut_rate_sp", 60.0))
        self.rate = lag(self.rate, target, dt_s, 5.0)
        self.acc += self.rate / 60.0 * dt_s
        n = int(self.acc)
        self.acc -= n
        w = self.wear
        ragged = int(self.rng.binomial(n, self.ragged_probability(w))) if n else 0
        self.cuts += n
        self.good += n - ragged
        self.rejects += ragged
        self.last_cuts, self.last_ragged = n, ragged
        self._blade_rec.severity = self.wear
        force = self.mean_force(w) if n else 0.0
        if n:
            force *= 1.0 + 0.03 * self.rng.standard_normal() / math.sqrt(n)
        current = CURRENT_IDLE_A * (self.rate > 1) + CURRENT_PER_KN_A * force / 1000.0 * self.rate / 60.0
        self.energy += current * VOLTS_PF * dt_s / 3600.0
        vib = self._vibration(w, self.rate) if self.vibration_due(now_ns) else {}
        quality = 100.0 - 45.0 * w * w - 3.0 * abs(self.rng.standard_normal()) if n else 100.0
        return {
            **{f"vib_{k}": vib[k] for k in ("rms", "peak", "crest", "kurtosis") if k in vib},
            "cut_rate_sp": self.setpoints.get("cut_rate_sp", 60.0),
            "cut_rate": self.rate,
            "cutting_force": force,
            "motor_current": current,
            "edge_quality": max(0.0, quality),
            "blade_cuts": int(self.cuts),
            "good_count": self.good,
            "reject_count": self.rejects,
            "blade_change": False,
            "state": "down" if stopped else "running" if target > 0 else "idle",
            "reason_code": "blade_change" if stopped else "none" if target > 0 else "no_demand",
            "ideal_cycle_time": self.ideal,
            "total_count": self.good + self.rejects,
            "power": round(current * VOLTS_PF, 3),
            "energy": round(self.energy, 4),
        }

    def _vibration(self, w: float, rate: float) -> dict[str, float]:
        run = 1.0 if rate > 1 else 0.05
        freqs = bearing_frequencies(DRUM_HZ, 9, 12.7, 65.0)
        x = synthesize(
            self.rng,
            self.sim.waveform_samples,
            DRUM_HZ,
            freqs,
            base_g=0.03,
            x1_g=0.1 * run,
            vane_g=0.0,
            n_vanes=0,
            impacts_hz=CHATTER_HZ,
            impacts_g=(0.2 + 1.5 * w * w) * run,
        )
        self.snapshot = (FS_HZ, x)
        return features(x, DRUM_HZ, freqs)

    def state(self) -> dict[str, Any]:
        out = super().state()
        out.update(wear=self.wear, cuts=self.cuts, mean_force=self.mean_force())
        return out


def sim_start(machine: Machine) -> int:
    """The simulation's current time (the start, while machines are being built)."""
    return machine.sim.now_ns
