"""A seeded simulated profile extruder: the plant for the closed-loop quality eval.

Physics (per item, one item = ``item_length_m`` of profile):

* melt throughput ``m_dot = displacement * rpm * bulk_density * efficiency`` (g/min): a
  single-screw extruder in the starve-free regime conveys a volume per revolution, so the mass
  follows the pellets' bulk density;
* screw efficiency falls slightly with speed (``efficiency = eff0 (1 - slip (rpm - 60))``) and
  with wear (``wear_per_item``), plus a slow random walk (melt temperature, regrind share);
* the quality characteristic is the profile's weight per metre ``m_dot / haul_off_speed``
  (g/m), measured by an inline gauge with noise;
* raw material arrives in batches whose bulk density differs (lot-to-lot, ``density_sd``) and
  varies inside a batch (``density_within_sd``, not measured); the hopper blends the first
  ``blend_items`` of a new batch with the old one. Each batch's density is measured by the lab
  on receipt with error ``lab_error_sd``: that is what feed-forward sees;
* energy: heaters plus drive power, the drive proportional to the torque (~ mass throughput).

The extruder is also the simulated PLC for its setpoint: :meth:`Extruder.write` takes
``(asset, tag, value, reason)`` like the platform's command path (a ``SetpointSink``) and
refuses values outside the machine's hard range.

>>> ex = Extruder(seed=1)
>>> item = ex.step()
>>> 240 < item.weight < 260, ex.write(ex.asset, "screw_rpm", 61.0, "test")["ok"]
(True, True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, Field

ASSET = "riverside/extrusion/line1/extruder"


class ExtruderSettings(BaseModel):
    """Parameters of the simulated extruder and its disturbances (defaults: a PVC profile line)."""

    target: float = Field(250.0, description="target weight per metre (g/m)")
    tolerance: float = Field(0.02, description="spec half-width as a fraction of the target (±2 %)")
    displacement: float = Field(77.16, description="screw displacement per revolution (cm³)")
    haul_off: float = Field(10.0, description="haul-off speed (m/min)")
    item_length_m: float = Field(2.0, description="profile length per item (m)")
    rpm: float = Field(60.0, description="initial screw speed (rpm)")
    rpm_range: tuple[float, float] = Field((20.0, 100.0), description="machine's hard screw speed range")
    eff0: float = Field(0.90, description="volumetric efficiency of a new screw")
    slip: float = Field(0.0015, description="efficiency loss per rpm above 60")
    wear_per_item: float = Field(5e-6, description="relative efficiency loss per item (screw/barrel wear)")
    walk_sd: float = Field(3e-4, description="random walk of efficiency per item (melt temperature, regrind)")
    density: float = Field(0.60, description="nominal pellet bulk density (g/cm³)")
    density_sd: float = Field(0.012, description="lot-to-lot density standard deviation (g/cm³)")
    density_within_sd: float = Field(0.0012, description="item-to-item density variation inside a lot")
    lab_error_sd: float = Field(0.0015, description="lab measurement error of a lot's density")
    batch_items: tuple[int, int] = Field((40, 90), description="items per material batch (min, max)")
    blend_items: int = Field(4, description="items over which the hopper blends old and new material")
    noise_sd: float = Field(0.0025, description="relative process noise of the weight per item")
    gauge_sd: float = Field(0.001, description="relative gauge noise")
    heater_kw: float = Field(18.0, description="barrel heater power (kW)")
    drive_kwh_per_kg: float = Field(0.22, description="drive energy per kg of melt")


@dataclass
class Item:
    """One produced item: what the process did and what was measured."""

    index: int
    batch: int
    rpm: float
    density: float  # true bulk density of the material used
    density_lab: float  # lab value of the item's batch (what feed-forward sees)
    weight: float  # measured weight per metre (g/m)
    mass_kg: float
    energy_kwh: float
    in_spec: bool


class Extruder:
    """The extruder process, stepped one item at a time; the PLC for ``screw_rpm``."""

    def __init__(self, settings: ExtruderSettings | None = None, seed: int = 0, asset: str = ASSET) -> None:
        self.s = settings or ExtruderSettings()
        self.asset = asset
        self.rng = np.random.default_rng(seed)
        self.rpm = self.s.rpm
        self.index = 0
        self.batch = -1
        self._eff = self.s.eff0
        self._walk = 0.0
        self._old_density = self.s.density
        self._density = self.s.density
        self._lab = self.s.density
        self._left = 0
        self._since = 0
        self.writes: list[tuple[str, float, str]] = []
        self._new_batch()

    @property
    def lsl(self) -> float:
        return self.s.target * (1 - self.s.tolerance)

    @property
    def usl(self) -> float:
        return self.s.target * (1 + self.s.tolerance)

    def _new_batch(self) -> None:
        self.batch += 1
        self._old_density = self._density
        self._density = float(self.rng.normal(self.s.density, self.s.density_sd))
        self._lab = float(self._density + self.rng.normal(0, self.s.lab_error_sd))
        lo, hi = self.s.batch_items
        self._left = int(self.rng.integers(lo, hi + 1))
        self._since = 0

    def upcoming(self) -> dict[str, float]:
        """What is known before the next item: its batch's lab density and the setpoint."""
        return {"density": self._lab, "screw_rpm": self.rpm, "batch": float(self.batch)}

    def write(self, asset: str, tag: str, value: float, reason: str) -> dict:
        """The simulated PLC: accept a new screw speed within the machine's hard range."""
        lo, hi = self.s.rpm_range
        if asset != self.asset or tag != "screw_rpm":
            return {"ok": False, "error": f"unknown point {asset}/{tag}"}
        if not (math.isfinite(value) and lo <= value <= hi):
            return {"ok": False, "error": f"screw_rpm {value} outside the machine range {lo}-{hi}"}
        self.rpm = float(value)
        self.writes.append((tag, self.rpm, reason))
        return {"ok": True, "value": self.rpm, "read_back": self.rpm}

    def step(self) -> Item:
        """Produce one item at the current screw speed."""
        s, rng = self.s, self.rng
        if self._left <= 0:
            self._new_batch()
        blend = min(1.0, (self._since + 1) / (s.blend_items + 1)) if s.blend_items else 1.0
        density = blend * self._density + (1 - blend) * self._old_density
        density += float(rng.normal(0, s.density_within_sd))
        self._walk += float(rng.normal(0, s.walk_sd))
        self._eff = s.eff0 * (1 - s.wear_per_item * self.index) * (1 + self._walk)
        eff = self._eff * (1 - s.slip * (self.rpm - 60.0))
        m_dot = s.displacement * self.rpm * density * eff  # g/min
        weight = m_dot / s.haul_off * (1 + float(rng.normal(0, s.noise_sd)))
        measured = weight * (1 + float(rng.normal(0, s.gauge_sd)))
        minutes = s.item_length_m / s.haul_off
        mass_kg = weight * s.item_length_m / 1000.0
        energy = s.heater_kw * minutes / 60.0 + s.drive_kwh_per_kg * mass_kg
        item = Item(
            self.index,
            self.batch,
            self.rpm,
            density,
            self._lab,
            measured,
            mass_kg,
            energy,
            self.lsl <= weight <= self.usl,
        )
        self.index += 1
        self._since += 1
        self._left -= 1
        return item
