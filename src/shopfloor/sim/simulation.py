"""The simulated plant: machines built from a plant file, stepped in simulated time.

>>> from shopfloor.core.assets import Plant
>>> sim = Simulation(Plant.load(DEFAULT_PLANT), seed=1, start_ns=1_700_000_000 * NS)
>>> samples = sim.step(1.0)
>>> sim.now_ns - 1_700_000_000 * NS, len(samples) > 100
(1000000000, True)
>>> try:
...     sim.write("riverside/converting/line1/calender", "nip_pressure_sp", 500.0)
... except WriteRefused as err:
...     print(err.reason, "-", err)
out_of_range - riverside/converting/line1/calender/nip_pressure_sp: 500.0 is out of range [50.0, 300.0]
"""

from __future__ import annotations

import logging
import math
import time
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from ..core.assets import Plant, Tag
from ..core.errors import CommandRefused
from ..core.sample import Sample, Value
from .machines import MODELS, BatchRecord, Machine
from .truth import GroundTruth, TruthRecord

log = logging.getLogger(__name__)

NS = 1_000_000_000
DEFAULT_PLANT = Path(__file__).with_name("plants") / "papermill.toml"
WAVEFORM_SAMPLES = 4096  # 0.32 s at 12.8 kHz per vibration frame
FAST_WAVEFORM_SAMPLES = 1024  # used by backfill
FAST_VIBRATION_PERIOD_S = 60.0  # backfill: one vibration feature frame per minute


class WriteRefused(CommandRefused):
    """A setpoint write the simulated PLC refuses; ``reason`` is machine-readable.

    Reasons: ``unknown_asset``, ``unknown_tag``, ``read_only``, ``wrong_type``, ``out_of_range``.
    """

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class Simulation:
    """A whole simulated plant, deterministic for a given seed and start time.

    ``start_ns`` defaults to the current wall-clock second. Each machine draws from its own
    random stream (seeded by the seed and its asset path), so adding a machine to the plant
    file does not change the others' histories.
    """

    def __init__(
        self,
        plant: Plant,
        seed: int = 0,
        start_ns: int | None = None,
        *,
        sensor_faults: bool = True,
        waveform_samples: int = WAVEFORM_SAMPLES,
        vibration_period_s: float = 0.0,
    ) -> None:
        self.plant = plant
        self.seed = seed
        self.now_ns = int(start_ns) if start_ns is not None else (time.time_ns() // NS) * NS
        self.start_ns = self.now_ns
        self.ground_truth = GroundTruth()
        self.sensor_faults = sensor_faults
        self.waveform_samples = waveform_samples
        self.vibration_period_s = vibration_period_s  # 0: a vibration frame every tick
        self.batches: dict[str, BatchRecord] = {}
        self.machines: dict[str, Machine] = {}
        self.endpoints: Any = None  # runtime.Endpoints while run_realtime serves this plant
        for asset in plant.assets():
            model = MODELS.get(asset.kind)
            if model is None:
                continue
            rng = np.random.default_rng([seed, zlib.crc32(asset.path.encode())])
            self.machines[asset.path] = model(asset, rng, self)
        log.info("simulated plant %r: %d machines, %d tags", plant.name, len(self.machines), self.tag_count)

    @property
    def tag_count(self) -> int:
        """Number of tags the simulator produces."""
        return sum(len(m.tags) for m in self.machines.values())

    def machine(self, asset: str) -> Machine:
        """The machine model of an asset path (KeyError naming it if none)."""
        try:
            return self.machines[asset]
        except KeyError:
            raise KeyError(f"no simulated machine at {asset!r}") from None

    def step(self, dt_s: float) -> list[Sample]:
        """Advance simulated time by ``dt_s`` seconds; return the new samples (stamped at the end)."""
        if not dt_s > 0 or not math.isfinite(dt_s):
            raise ValueError(f"dt_s must be a positive number of seconds, got {dt_s!r}")
        self.now_ns += round(dt_s * NS)
        out: list[Sample] = []
        for m in self.machines.values():
            out.extend(m.sample(self.now_ns, dt_s))
        return out

    # -- commands --------------------------------------------------------------------------

    def check_write(self, asset: str, tag: str, value: object) -> Value:
        """Validate a setpoint write like a PLC would; return the typed value or raise WriteRefused."""
        where = f"{asset}/{tag}"
        if asset not in self.machines:
            raise WriteRefused(f"{where}: no simulated machine {asset!r}", "unknown_asset")
        spec: Tag | None = self.plant.get_tag(asset, tag)
        if spec is None or tag not in self.machines[asset].specs:
            raise WriteRefused(f"{where}: no such tag", "unknown_tag")
        if not spec.writable:
            raise WriteRefused(f"{where}: tag is read-only", "read_only")
        typed = _coerce(value, spec.type)
        if typed is None:
            raise WriteRefused(f"{where}: {value!r} is not a {spec.type}", "wrong_type")
        if isinstance(typed, int | float) and not isinstance(typed, bool):
            if not math.isfinite(float(typed)):
                raise WriteRefused(f"{where}: {value!r} is not finite", "out_of_range")
            lo, hi = spec.low, spec.high
            if (lo is not None and typed < lo) or (hi is not None and typed > hi):
                raise WriteRefused(f"{where}: {typed!r} is out of range [{lo}, {hi}]", "out_of_range")
        enum = self.machines[asset].specs[tag].enum
        if enum and typed not in enum:
            raise WriteRefused(f"{where}: {typed!r} is not one of {list(enum)}", "out_of_range")
        return typed

    def write(self, asset: str, tag: str, value: object) -> None:
        """Write a setpoint; raises :class:`WriteRefused` (a ``CommandRefused``) naming why."""
        typed = self.check_write(asset, tag, value)
        self.machines[asset].on_write(tag, typed)
        log.info("setpoint %s/%s = %r", asset, tag, typed)

    def setpoint(self, asset: str, tag: str) -> Value | None:
        """The current value of a writable tag."""
        return self.machine(asset).setpoints.get(tag)

    # -- faults and truth ------------------------------------------------------------------

    def inject_fault(
        self,
        asset: str,
        kind: str,
        severity: float = 0.5,
        duration_s: float | None = None,
        tag: str | None = None,
    ) -> TruthRecord:
        """Inject a fault now; returns its ground-truth record.

        Machine faults depend on the kind (pump: ``cavitation``, ``imbalance``, ``leak``,
        ``seal_wear``, ``bearing_outer``, ``bearing_inner``, ``bearing_ball``; cutter:
        ``blade_chip``; press: ``heater_fault``, ``density_shift``; packaging: ``jam``,
        ``electrical_fault``, ``sealer_fault``; camera: ``lens_dirty``). Sensor faults
        (``stuck``, ``dropout``, ``spike``, ``drift``) need ``tag=``. ``duration_s=None``
        means until cleared by :meth:`clear_fault`.
        """
        if not 0.0 <= severity <= 1.0:
            raise ValueError(f"severity must be within 0..1, got {severity}")
        return self.machine(asset).inject_fault(kind, severity, duration_s, tag)

    def clear_fault(self, asset: str, kind: str) -> None:
        """End an open-ended injected fault."""
        self.machine(asset).stop_fault(kind, self.now_ns)

    def waveform(self, asset: str) -> tuple[float, np.ndarray]:
        """The latest vibration waveform of a pump or cutter: (sample rate Hz, samples in g)."""
        snap = self.machine(asset).snapshot
        if snap is None:
            raise LookupError(f"{asset!r} has no waveform yet (step the simulation first)")
        return snap

    def state(self, asset: str) -> dict[str, Any]:
        """Hidden true state of a machine (wear, RUL, ...), for tests and scoring."""
        return self.machine(asset).state()


def _coerce(value: object, kind: str) -> Value | None:
    """The value as the tag's type, or None if it is not one.

    >>> _coerce(3, "float"), _coerce(True, "float"), _coerce(2.0, "int"), _coerce(1, "bool")
    (3.0, None, 2, True)
    """
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return float(value)
    if kind == "int":
        if isinstance(value, bool):
            return None
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return None
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        return None
    return value if isinstance(value, str) else None
