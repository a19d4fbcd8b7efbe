"""The shape every simulated machine shares: tags, setpoints, faults, sensors.

A machine model declares its tags (:class:`TagSpec`: unit, type, limits, description, how
the sensor measures it). The plant file lists the tags an asset exposes; the machine emits
exactly those and warns about tags it cannot produce. ``step`` computes the
true process values for one tick; :meth:`Machine.sample` passes them through the sensor
models and returns typed samples.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ...core.assets import Asset
from ...core.sample import Sample, Value
from ..sensors import SensorBank, SensorSpec
from ..truth import TruthRecord

if TYPE_CHECKING:
    from ..simulation import Simulation

log = logging.getLogger(__name__)

NS = 1_000_000_000
SENSOR_FAULTS = ("stuck", "dropout", "spike", "drift")


@dataclass(frozen=True, slots=True)
class TagSpec:
    """What a machine model knows about one of its tags (mirrors the plant-file tag)."""

    name: str
    unit: str
    type: str = "float"
    low: float | None = None
    high: float | None = None
    description: str = ""
    writable: bool = False
    sensor: SensorSpec | None = None
    default: Value | None = None
    enum: tuple[str, ...] = ()

    def plant_entry(self) -> dict[str, Any]:
        """This tag as a plant-file table."""
        out: dict[str, Any] = {"name": self.name, "unit": self.unit, "type": self.type}
        if self.low is not None:
            out["low"] = self.low
        if self.high is not None:
            out["high"] = self.high
        out["description"] = self.description
        if self.writable:
            out["writable"] = True
        return out


@dataclass(slots=True)
class ActiveFault:
    """A fault in progress on a machine."""

    severity: float
    end_ns: int | None
    record: TruthRecord
    started_ns: int = 0
    extra: dict[str, float] = field(default_factory=dict)


class Machine:
    """Base class of the machine models (one module per kind under ``sim/machines``)."""

    kind: ClassVar[str] = ""
    TAGS: ClassVar[tuple[TagSpec, ...]] = ()
    FAULTS: ClassVar[tuple[str, ...]] = ()

    def __init__(self, asset: Asset, rng: np.random.Generator, sim: Simulation) -> None:
        self.asset = asset
        self.path = asset.path
        self.rng = rng
        self.sim = sim
        self.truth = sim.ground_truth
        self.attrs: dict[str, Any] = dict(asset.attributes)
        specs = {s.name: s for s in self.TAGS}
        self.specs = specs
        unknown = [t.name for t in asset.tags if t.name not in specs]
        if unknown:
            log.warning("asset %s (%s): the simulator produces no tags %s", self.path, self.kind, unknown)
        self.tags = [t for t in asset.tags if t.name in specs]
        self.types = {t.name: t.type for t in self.tags}
        self._numeric = [t.name for t in self.tags if specs[t.name].sensor is not None and t.type == "float"]
        self._passthrough = [t.name for t in self.tags if t.name not in set(self._numeric)]
        self.sensors = SensorBank(
            self.path,
            self._numeric,
            [specs[n].sensor or SensorSpec() for n in self._numeric],
            rng,
            self.truth,
            random_faults=sim.sensor_faults,
            limits=(
                [_finite(asset.tag(n).low, -np.inf) for n in self._numeric],  # type: ignore[union-attr]
                [_finite(asset.tag(n).high, np.inf) for n in self._numeric],  # type: ignore[union-attr]
            ),
        )
        self.setpoints: dict[str, Value] = {
            s.name: self.attrs.get(s.name, s.default)
            for s in self.TAGS
            if s.writable and s.default is not None
        }
        self.faults: dict[str, ActiveFault] = {}
        self.snapshot: tuple[float, np.ndarray] | None = None
        self._frame_ns: int | None = None

    # -- to implement ----------------------------------------------------------------------

    def step(self, now_ns: int, dt_s: float) -> dict[str, Value]:
        """Advance the physics by ``dt_s`` to ``now_ns`` and return the true tag values."""
        raise NotImplementedError

    def on_write(self, tag: str, value: Value) -> None:
        """React to a validated setpoint write (default: store it)."""
        self.setpoints[tag] = value

    def draw_faults(self, now_ns: int, dt_s: float) -> None:
        """Start random faults the plant produces by itself (default: none)."""

    # -- shared machinery ------------------------------------------------------------------

    def sample(self, now_ns: int, dt_s: float) -> list[Sample]:
        """One tick: expire faults, draw new ones, run the physics, measure, type the values."""
        self._expire(now_ns)
        self.draw_faults(now_ns, dt_s)
        true = self.step(now_ns, dt_s)
        out: list[Sample] = []
        if self._numeric:
            nan = float("nan")
            arr = np.array([nan if (v := true.get(n)) is None else float(v) for n in self._numeric])
            meas, present = self.sensors.measure(arr, now_ns, dt_s)
            for name, v, ok in zip(self._numeric, meas.tolist(), present.tolist(), strict=True):
                if ok:
                    out.append(Sample(self.path, name, now_ns, v))
        types = self.types
        for name in self._passthrough:
            v = true.get(name)
            if v is None:
                continue
            t = types[name]
            if t == "float":
                v = float(v)
            elif t == "int":
                v = round(float(v))
            elif t == "bool":
                v = bool(v)
            else:
                v = str(v)
            out.append(Sample(self.path, name, now_ns, v))
        return out

    def vibration_due(self, now_ns: int) -> bool:
        """Whether a vibration frame is due (every tick, or every ``sim.vibration_period_s``)."""
        period = self.sim.vibration_period_s
        if self._frame_ns is not None and period > 0 and now_ns - self._frame_ns < period * NS * 0.999:
            return False
        self._frame_ns = now_ns
        return True

    def hazard(self, per_day: float, dt_s: float) -> bool:
        """True with the probability that an event of rate ``per_day`` happens within ``dt_s``."""
        return bool(self.rng.random() < -np.expm1(-per_day * dt_s / 86_400.0))

    def start_fault(
        self, kind: str, severity: float, duration_s: float | None, now_ns: int, injected: bool = False
    ) -> TruthRecord:
        """Begin (or replace) a fault of ``kind`` and record it in the ground truth."""
        old = self.faults.pop(kind, None)
        if old is not None:
            self.truth.close(old.record, now_ns)
        rec = self.truth.open(self.path, kind, now_ns, severity, injected=injected)
        end = None if duration_s is None else now_ns + int(duration_s * NS)
        self.faults[kind] = ActiveFault(float(severity), end, rec, now_ns)
        return rec

    def stop_fault(self, kind: str, now_ns: int) -> None:
        """End a fault (e.g. after repair)."""
        f = self.faults.pop(kind, None)
        if f is not None:
            self.truth.close(f.record, now_ns)

    def fault(self, kind: str) -> float:
        """Severity of an active fault, 0.0 when none."""
        f = self.faults.get(kind)
        return f.severity if f is not None else 0.0

    def inject_fault(
        self, kind: str, severity: float, duration_s: float | None, tag: str | None
    ) -> TruthRecord:
        """Inject a machine fault (one of ``FAULTS``) or a sensor fault on ``tag``."""
        now = self.sim.now_ns
        if kind in SENSOR_FAULTS:
            if tag is None or tag not in self.sensors.index:
                raise ValueError(
                    f"sensor fault {kind!r} on {self.path} needs tag= one of {sorted(self.sensors.index)}"
                )
            return self.sensors.force(kind, tag, now, duration_s or 60.0, severity)
        if kind not in self.FAULTS:
            raise ValueError(
                f"{self.path} ({self.kind}) has no fault {kind!r}; "
                f"known: {sorted(self.FAULTS) + list(SENSOR_FAULTS)}"
            )
        return self.start_fault(kind, severity, duration_s, now, injected=True)

    def _expire(self, now_ns: int) -> None:
        for kind in [k for k, f in self.faults.items() if f.end_ns is not None and now_ns >= f.end_ns]:
            f = self.faults.pop(kind)
            self.truth.close(f.record, f.end_ns or now_ns)

    def state(self) -> dict[str, Any]:
        """Hidden true state for tests and ground truth (override to add more)."""
        return {"faults": {k: f.severity for k, f in self.faults.items()}}


def lag(current: float, target: float, dt_s: float, tau_s: float) -> float:
    """Exact first-order lag step (stable for any ``dt_s``).

    >>> round(lag(0.0, 1.0, 10.0, 10.0), 4)
    0.6321
    """
    return target + (current - target) * float(np.exp(-dt_s / tau_s))


def _finite(v: float | None, default: float) -> float:
    return default if v is None else float(v)
