"""Calender press: board thickness depends on the batch's density and the machine settings.

Raw-material (furnish) density varies by batch (normal around 720 kg/m^3) and a little within
a batch. The calender nip compresses the web; the resulting thickness (caliper) follows

    t = T_REF * (RHO_REF/rho)^0.8 * (P_REF/P)^0.3 * (v/V_REF)^0.08 * (1 - 0.002 (T - TEMP_REF))

with nip pressure ``P`` (kN/m), speed ``v`` (m/min) and roll temperature ``T`` (degC). Speed,
pressure and temperature follow their setpoints with first-order lags, so a controller can
hold the thickness on target by trimming nip pressure as density changes. Every batch's
statistics are kept (:class:`BatchRecord`) so field failures can depend on process history.

>>> round(thickness_um(RHO_REF, P_REF, V_REF, TEMP_REF), 3)
100.0
>>> thickness_um(760.0, P_REF, V_REF, TEMP_REF) < 100.0  # denser furnish, thinner board
True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...core.clock import to_datetime
from ...core.sample import Value
from ..sensors import SensorSpec
from .base import Machine, TagSpec, lag

T_REF = 100.0  # thickness at the reference point, um
RHO_REF = 720.0  # kg/m^3
P_REF = 150.0  # kN/m
V_REF = 500.0  # m/min
TEMP_REF = 120.0  # degC
DENSITY_SIGMA = 30.0  # batch-to-batch density spread, kg/m^3
TOLERANCE_UM = 5.0  # thickness spec: target +- tolerance


def thickness_um(density: float, pressure: float, speed: float, temp: float) -> float:
    """Board thickness in um from furnish density and calender settings (the process model)."""
    return (
        T_REF
        * (RHO_REF / density) ** 0.8
        * (P_REF / max(pressure, 1.0)) ** 0.3
        * (max(speed, 1.0) / V_REF) ** 0.08
        * (1.0 - 0.002 * (temp - TEMP_REF))
    )


@dataclass(slots=True)
class BatchRecord:
    """Process history of one production batch on one press."""

    batch: str
    asset: str
    start_ns: int
    end_ns: int | None
    density: float
    n: int = 0
    thickness_sum: float = 0.0
    thickness_sq: float = 0.0
    out_of_spec: int = 0

    @property
    def thickness_mean(self) -> float:
        return self.thickness_sum / self.n if self.n else float("nan")

    @property
    def out_of_spec_fraction(self) -> float:
        return self.out_of_spec / self.n if self.n else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "batch": self.batch,
            "asset": self.asset,
            "start_ns": self.start_ns,
            "end_ns": self.end_ns,
            "density": self.density,
            "n": self.n,
            "thickness_mean": self.thickness_mean,
            "out_of_spec_fraction": self.out_of_spec_fraction,
        }


TAGS = (
    TagSpec("speed_sp", "m/min", "float", 200, 800, "Line speed setpoint", writable=True, default=V_REF),
    TagSpec(
        "nip_pressure_sp", "kN/m", "float", 50, 300, "Nip pressure setpoint", writable=True, default=P_REF
    ),
    TagSpec(
        "roll_temp_sp", "degC", "float", 80, 180, "Roll temperature setpoint", writable=True, default=TEMP_REF
    ),
    TagSpec("speed", "m/min", "float", 0, 850, "Line speed", sensor=SensorSpec(0.5, 0.1)),
    TagSpec("nip_pressure", "kN/m", "float", 0, 320, "Nip pressure", sensor=SensorSpec(0.5, 0.1, 0.2)),
    TagSpec("roll_temp", "degC", "float", 0, 200, "Roll surface temperature", sensor=SensorSpec(0.2, 0.1)),
    TagSpec(
        "density", "kg/m**3", "float", 500, 950, "Furnish density (online gauge)", sensor=SensorSpec(2.0, 0.1)
    ),
    TagSpec("batch_id", "-", "str", description="Current production batch"),
    TagSpec(
        "thickness",
        "um",
        "float",
        0,
        200,
        "Board thickness (caliper gauge)",
        sensor=SensorSpec(0.4, 0.01, 0.05),
    ),
    TagSpec("thickness_target", "um", "float", 50, 150, "Thickness target", writable=True, default=T_REF),
    TagSpec("power", "kW", "float", 0, 500, "Drive power", sensor=SensorSpec(0.5, 0.1)),
    TagSpec("energy", "kWh", "float", 0, 1e9, "Drive energy (cumulative)"),
)


class Press(Machine):
    """A calender press in the converting line (the process the platform controls)."""

    kind = "press"
    TAGS = TAGS
    FAULTS = ("heater_fault", "density_shift")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        sp = self.setpoints
        self.speed = float(sp.get("speed_sp", V_REF))
        self.pressure = float(sp.get("nip_pressure_sp", P_REF))
        self.temp = float(sp.get("roll_temp_sp", TEMP_REF))
        self.batch_s = float(self.attrs.get("batch_hours", 4.0)) * 3600.0
        self.prefix = str(self.attrs.get("batch_prefix", self.asset.id.upper()))
        self.energy = 0.0
        self.seq = 0
        self.batch: BatchRecord | None = None
        self.batch_left_s = 0.0
        self.wander = 0.0
        self.thickness = T_REF

    def _next_batch(self, now_ns: int) -> None:
        if self.batch is not None:
            self.batch.end_ns = now_ns
        self.seq += 1
        day = to_datetime(now_ns).strftime("%Y%m%d")
        density = float(RHO_REF + DENSITY_SIGMA * self.rng.standard_normal())
        self.batch = BatchRecord(f"{self.prefix}-{day}-{self.seq:04d}", self.path, now_ns, None, density)
        self.sim.batches[self.batch.batch] = self.batch
        self.batch_left_s = self.batch_s * float(self.rng.uniform(0.7, 1.3))
        self.wander = 0.0

    def draw_faults(self, now_ns: int, dt_s: float) -> None:
        if "heater_fault" not in self.faults and self.hazard(0.05, dt_s):
            self.start_fault(
                "heater_fault", self.rng.uniform(0.3, 1.0), self.rng.uniform(1, 4) * 3600, now_ns
            )

    def step(self, now_ns: int, dt_s: float) -> dict[str, Value]:
        self.batch_left_s -= dt_s
        if self.batch is None or self.batch_left_s <= 0:
            self._next_batch(now_ns)
        assert self.batch is not None
        sp = self.setpoints
        self.speed = lag(self.speed, float(sp["speed_sp"]), dt_s, 10.0)
        self.pressure = lag(self.pressure, float(sp["nip_pressure_sp"]), dt_s, 5.0)
        heater = self.fault("heater_fault")
        self.temp = lag(self.temp, float(sp["roll_temp_sp"]) - 40.0 * heater, dt_s, 120.0)
        # within-batch density wander: AR(1) with a 10-minute correlation time, sigma 4 kg/m^3
        a = float(self.rng.standard_normal())
        rho_c = min(1.0, dt_s / 600.0)
        self.wander = (1 - rho_c) * self.wander + (2 * rho_c) ** 0.5 * 4.0 * a
        density = self.batch.density + self.wander + 40.0 * self.fault("density_shift")
        self.thickness = thickness_um(density, self.pressure, self.speed, self.temp)
        target = float(sp.get("thickness_target", T_REF))
        b = self.batch
        b.n += 1
        b.thickness_sum += self.thickness
        b.thickness_sq += self.thickness**2
        b.out_of_spec += int(abs(self.thickness - target) > TOLERANCE_UM)
        power = 40.0 + 0.12 * self.speed + 0.4 * self.pressure + 0.3 * max(self.temp - 20.0, 0.0)
        self.energy += power * dt_s / 3600.0
        return {
            "speed_sp": sp["speed_sp"],
            "nip_pressure_sp": sp["nip_pressure_sp"],
            "roll_temp_sp": sp["roll_temp_sp"],
            "speed": self.speed,
            "nip_pressure": self.pressure,
            "roll_temp": self.temp,
            "density": density,
            "batch_id": b.batch,
            "thickness": self.thickness,
            "thickness_target": target,
            "power": power,
            "energy": round(self.energy, 4),
        }

    def state(self) -> dict[str, Any]:
        out = super().state()
        out.update(thickness=self.thickness, batch=self.batch.to_dict() if self.batch else None)
        return out
