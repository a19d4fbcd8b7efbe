"""Centrifugal pump with rolling-element bearings that wear to failure.

Hydraulics follow the affinity laws around the rated point (flow ~ n, head ~ n^2,
power ~ n^3). Each bearing gets a life drawn from a Weibull distribution; a defect appears
at 50-75 % of that life and its severity grows exponentially to 1.0 at the end of life, when
the pump trips and is repaired (new bearing) after ``repair_hours``. Vibration feature frames
come from a kHz waveform with impacts at the bearing defect frequency (outer race, inner
race or ball, drawn per bearing life). Faults: cavitation, imbalance, leak, seal wear, and
injected constant bearing defects (``bearing_outer``, ``bearing_inner``, ``bearing_ball``).
"""

from __future__ import annotations

import math
from typing import Any

from ...core.sample import Value
from ..sensors import SensorSpec
from ..truth import TruthRecord
from ..vibration import FS_HZ, bearing_frequencies, features, synthesize
from .base import NS, Machine, TagSpec, lag

WATER_BAR_PER_M = 0.0981  # rho*g/1e5 for water, bar per metre of head
MOTOR_V = 400.0  # line voltage, V
MOTOR_PF_EFF = 0.85 * 0.93  # power factor x efficiency
WEAR_GROWTH = 3.0  # exponent of the run-to-failure curve (dimensionless)
DEFECTS = ("outer", "inner", "ball")

_V = SensorSpec(noise=0.0, quant=0.0001)  # vibration features: noise is already in the waveform

TAGS = (
    TagSpec("running", "-", "bool", description="Motor running feedback"),
    TagSpec("speed_sp", "rpm", "float", 600, 1800, "Speed setpoint (VFD)", writable=True, default=1480.0),
    TagSpec("speed", "rpm", "float", 0, 1900, "Shaft speed", sensor=SensorSpec(2.0, 1.0)),
    TagSpec("flow", "m3/h", "float", 0, 400, "Discharge flow", sensor=SensorSpec(1.0, 0.1, 0.3)),
    TagSpec("suction_pressure", "bar", "float", -1, 6, "Suction pressure", sensor=SensorSpec(0.01, 0.001)),
    TagSpec(
        "discharge_pressure", "bar", "float", 0, 16, "Discharge pressure", sensor=SensorSpec(0.03, 0.01, 0.01)
    ),
    TagSpec("motor_current", "A", "float", 0, 250, "Motor current", sensor=SensorSpec(0.5, 0.1)),
    TagSpec("power", "kW", "float", 0, 150, "Electrical power", sensor=SensorSpec(0.2, 0.1)),
    TagSpec(
        "bearing_temp",
        "degC",
        "float",
        -20,
        150,
        "Drive-end bearing temperature",
        sensor=SensorSpec(0.2, 0.1, 0.1),
    ),
    TagSpec(
        "seal_leakage", "l/min", "float", 0, 20, "Mechanical seal leakage", sensor=SensorSpec(0.01, 0.01)
    ),
    TagSpec("run_hours", "h", "float", 0, 1e6, "Running hours since bearing change"),
    TagSpec("vib_rms", "g", "float", 0, 50, "Vibration RMS (12.8 kHz frame)", sensor=_V),
    TagSpec("vib_peak", "g", "float", 0, 200, "Vibration peak", sensor=_V),
    TagSpec("vib_crest", "-", "float", 0, 50, "Vibration crest factor", sensor=_V),
    TagSpec("vib_kurtosis", "-", "float", 0, 200, "Vibration kurtosis (3 = Gaussian)", sensor=_V),
    TagSpec("vib_1x", "g", "float", 0, 20, "Amplitude at shaft speed (imbalance)", sensor=_V),
    TagSpec("env_bpfo", "g", "float", 0, 20, "Envelope amplitude at BPFO", sensor=_V),
    TagSpec("env_bpfi", "g", "float", 0, 20, "Envelope amplitude at BPFI", sensor=_V),
    TagSpec("env_bsf", "g", "float", 0, 20, "Envelope amplitude at 2xBSF", sensor=_V),
    TagSpec("vib_ftf", "g", "float", 0, 20, "Amplitude at cage frequency FTF", sensor=_V),
)

VIB_TAGS = {
    "vib_rms": "rms",
    "vib_peak": "peak",
    "vib_crest": "crest",
    "vib_kurtosis": "kurtosis",
    "vib_1x": "x1",
    "env_bpfo": "bpfo",
    "env_bpfi": "bpfi",
    "env_bsf": "bsf",
    "vib_ftf": "ftf",
}

# Random faults: (kind, per day, duration range h, severity range)
RANDOM_FAULTS = (
    ("cavitation", 0.3, (0.15, 1.0), (0.3, 1.0)),
    ("imbalance", 0.02, (24.0, 96.0), (0.3, 0.8)),
    ("leak", 0.05, (1.0, 6.0), (0.2, 0.8)),
    ("seal_wear", 0.03, (24.0, 72.0), (0.3, 1.0)),
)


class Pump(Machine):
    """Centrifugal pump, motor and two bearings (the drive-end bearing wears)."""

    kind = "pump"
    TAGS = TAGS
    FAULTS = (
        "cavitation",
        "imbalance",
        "leak",
        "seal_wear",
        "bearing_outer",
        "bearing_inner",
        "bearing_ball",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        a = self.attrs
        self.rated_rpm = float(a.get("rated_rpm", 1480.0))
        self.rated_flow = float(a.get("rated_flow_m3h", 200.0))
        self.rated_head = float(a.get("rated_head_m", 50.0))
        self.rated_power = float(a.get("rated_power_kw", 37.0))
        self.n_vanes = int(a.get("n_vanes", 6))
        self.geometry: dict[str, Any] = {
            "n_balls": int(a.get("n_balls", 9)),
            "ball_d_mm": float(a.get("ball_d_mm", 12.7)),
            "pitch_d_mm": float(a.get("pitch_d_mm", 65.0)),
            "contact_deg": float(a.get("contact_deg", 0.0)),
        }
        self.life_days = float(a.get("bearing_life_days", 20.0))
        self.repair_h = float(a.get("repair_hours", 6.0))
        self.speed = float(self.setpoints.get("speed_sp", self.rated_rpm))
        self.temp = 55.0
        self.run_hours = 0.0
        self.running = True
        self.repair_until: int | None = None
        self.wear = 0.0
        self._wear_rec: TruthRecord | None = None
        self._failure_rec: TruthRecord | None = None
        self._new_bearing(initial=True)

    # -- bearing life ----------------------------------------------------------------------

    def _new_bearing(self, initial: bool = False) -> None:
        rng = self.rng
        self.life_s = self.life_days * 86_400.0 * float(rng.weibull(2.0)) + 3600.0
        self.onset_s = self.life_s * float(rng.uniform(0.5, 0.75))
        self.defect = DEFECTS[int(rng.integers(0, 3))]
        self.age_s = self.life_s * float(rng.uniform(0.0, 0.85)) if initial else 0.0
        self.run_hours = self.age_s / 3600.0
        self.wear = 0.0
        self._wear_rec = None

    def wear_at(self, age_s: float) -> float:
        """Degradation severity 0..1 of the current bearing at a given age."""
        if age_s < self.onset_s:
            return 0.0
        x = (age_s - self.onset_s) / (self.life_s - self.onset_s)
        return min(1.0, math.expm1(WEAR_GROWTH * x) / math.expm1(WEAR_GROWTH))

    def rul_s(self) -> float:
        """True remaining useful life of the current bearing, seconds."""
        return max(0.0, self.life_s - self.age_s)

    def frequencies(self, speed_rpm: float | None = None) -> dict[str, float]:
        """Bearing defect frequencies (Hz) at a speed (default: the current one)."""
        rpm = self.speed if speed_rpm is None else speed_rpm
        return bearing_frequencies(rpm / 60.0, **self.geometry)

    def _age(self, now_ns: int, dt_s: float) -> None:
        if not self.running:
            if self.repair_until is not None and now_ns >= self.repair_until:
                if self._failure_rec is not None:
                    self.truth.close(self._failure_rec, now_ns)
                self.truth.event(self.path, "bearing_replaced", now_ns, 0.0)
                self._new_bearing()
                self.running = True
                self.repair_until = None
            return
        self.age_s += dt_s
        self.run_hours += dt_s / 3600.0
        self.wear = self.wear_at(self.age_s)
        if self.wear > 0:
            if self._wear_rec is None:
                start = now_ns - int(min(self.age_s - self.onset_s, self.age_s) * NS)
                self._wear_rec = self.truth.open(
                    self.path,
                    "bearing_wear",
                    start,
                    self.wear,
                    detail=f"{self.defect}; life_s={self.life_s:.0f}",
                )
            self._wear_rec.severity = self.wear
        if self.age_s >= self.life_s:
            if self._wear_rec is not None:
                self.truth.close(self._wear_rec, now_ns, 1.0)
            self._failure_rec = self.truth.open(self.path, "bearing_failure", now_ns, 1.0, detail=self.defect)
            self.running = False
            self.repair_until = now_ns + int(self.repair_h * 3600 * NS)

    # -- physics ---------------------------------------------------------------------------

    def draw_faults(self, now_ns: int, dt_s: float) -> None:
        for kind, per_day, dur_h, sev in RANDOM_FAULTS:
            if kind not in self.faults and self.hazard(per_day, dt_s):
                self.start_fault(
                    kind, self.rng.uniform(*sev), self.rng.uniform(*dur_h) * 3600.0, now_ns, injected=False
                )

    def step(self, now_ns: int, dt_s: float) -> dict[str, Value]:
        self._age(now_ns, dt_s)
        cav, imb, leak = self.fault("cavitation"), self.fault("imbalance"), self.fault("leak")
        seal = 0.0
        if (sw := self.faults.get("seal_wear")) is not None:
            total = (sw.end_ns - sw.started_ns) if sw.end_ns else 86_400 * NS
            seal = sw.severity * min(1.0, (now_ns - sw.started_ns) / max(total, 1))
        target = float(self.setpoints.get("speed_sp", self.rated_rpm)) if self.running else 0.0
        self.speed = lag(self.speed, target, dt_s, 3.0)
        r = self.speed / self.rated_rpm
        flow = self.rated_flow * r * (1.0 - 0.15 * cav) * (1.0 + 0.1 * leak)
        suction = 1.2 - 0.6 * cav + 0.02 * self.rng.standard_normal() * cav
        head = self.rated_head * r * r * (1.0 - 0.2 * cav) * (1.0 - 0.15 * leak)
        discharge = suction + WATER_BAR_PER_M * head if self.running else suction
        power = self.rated_power * r**3 * (1.0 + 0.08 * imb + 0.05 * self.wear + 0.1 * leak)
        current = power * 1000.0 / (math.sqrt(3) * MOTOR_V * MOTOR_PF_EFF)
        temp_target = 30.0 + 25.0 * r * r + 35.0 * self.wear**2 + 5.0 * imb
        self.temp = lag(self.temp, temp_target, dt_s, 900.0)
        vib = self._vibration(r, cav, imb) if self.vibration_due(now_ns) else {}
        return {
            **{tag: vib[feature] for tag, feature in VIB_TAGS.items() if feature in vib},
            "running": self.running,
            "speed_sp": self.setpoints.get("speed_sp", self.rated_rpm),
            "speed": self.speed,
            "flow": max(flow, 0.0),
            "suction_pressure": suction,
            "discharge_pressure": discharge,
            "motor_current": current,
            "power": power,
            "bearing_temp": self.temp,
            "seal_leakage": 0.05 + 3.0 * seal,
            "run_hours": round(self.run_hours, 3),
        }

    def _vibration(self, r: float, cav: float, imb: float) -> dict[str, float]:
        shaft_hz = max(self.speed, 1.0) / 60.0
        freqs = self.frequencies(max(self.speed, 1.0))
        sev = {d: (self.wear if d == self.defect else 0.0) for d in DEFECTS}
        for d in DEFECTS:
            sev[d] = max(sev[d], self.fault(f"bearing_{d}"))
        scale = r * r if self.running else 0.0
        x = synthesize(
            self.rng,
            self.sim.waveform_samples,
            shaft_hz,
            freqs,
            base_g=0.02 + 0.08 * max(sev.values()) ** 2,
            x1_g=(0.08 + 0.6 * imb) * scale,
            vane_g=0.05 * scale,
            n_vanes=self.n_vanes,
            outer=sev["outer"] * scale,
            inner=sev["inner"] * scale,
            ball=sev["ball"] * scale,
            cage=0.3 * max(sev.values()) * scale,
            broadband_g=0.4 * cav * scale,
        )
        self.snapshot = (FS_HZ, x)
        return features(x, shaft_hz, freqs)

    def state(self) -> dict[str, Any]:
        out = super().state()
        out.update(
            wear=self.wear,
            defect=self.defect,
            age_s=self.age_s,
            life_s=self.life_s,
            rul_s=self.rul_s(),
            running=self.running,
            frequencies=self.frequencies(),
        )
        return out
