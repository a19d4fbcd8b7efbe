"""Sensor models: what a real transmitter does to a true process value.

Each physical measurement gets Gaussian noise, quantization (the transmitter's resolution),
a slow calibration drift, and occasional faults drawn at random: dropouts (no sample),
stuck readings (the last value repeated) and spikes (one wild sample). Every sensor fault is
written to the ground truth with the tag it hit.

The bank is vectorised per machine: one call handles all of a machine's numeric sensors.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from .truth import GroundTruth, TruthRecord

log = logging.getLogger(__name__)

# Random sensor-fault hazards, per sensor per day (kept low: a month of history holds tens
# of each kind across the plant).
STUCK_PER_DAY = 0.01
SPIKE_PER_DAY = 0.2
DROPOUT_PER_DAY = 0.3
STUCK_DURATION_S = (300.0, 3600.0)
DROPOUT_DURATION_S = (5.0, 300.0)
DAY_S = 86_400.0


@dataclass(frozen=True, slots=True)
class SensorSpec:
    """How one tag is measured: noise sigma and resolution, in the tag's unit."""

    noise: float = 0.0
    quant: float = 0.0
    drift_per_day: float = 0.0  # random-walk sigma of the calibration bias, unit/sqrt(day)


class SensorBank:
    """The numeric sensors of one machine."""

    def __init__(
        self,
        asset: str,
        names: list[str],
        specs: list[SensorSpec],
        rng: np.random.Generator,
        truth: GroundTruth,
        random_faults: bool = True,
        limits: tuple[list[float], list[float]] | None = None,
    ) -> None:
        self.asset = asset
        self.names = names
        self.index = {n: i for i, n in enumerate(names)}
        n = len(names)
        self.noise = np.array([s.noise for s in specs], dtype=float)
        self.quant = np.array([s.quant for s in specs], dtype=float)
        self.drift = np.array([s.drift_per_day for s in specs], dtype=float)
        self.bias = np.zeros(n)
        lo, hi = limits if limits is not None else ([-np.inf] * n, [np.inf] * n)
        self.lo = np.array(lo, dtype=float)
        self.hi = np.array(hi, dtype=float)
        self.last = np.full(n, np.nan)
        self.stuck_until = np.zeros(n, dtype=np.int64)
        self.dropout_until = np.zeros(n, dtype=np.int64)
        self.spike_next = np.zeros(n, dtype=bool)
        self.rng = rng
        self.truth = truth
        self.random_faults = random_faults
        self._has_drift = bool(self.drift.any())
        qi = np.flatnonzero(self.quant > 0)
        self._qi = qi if len(qi) else None
        self._stuck_max = 0  # latest end of any stuck period (skip the mask when past it)
        self._drop_max = 0
        self._spike = False
        self._thresholds: tuple[float, np.ndarray] | None = None

    def force(self, kind: str, tag: str, now_ns: int, duration_s: float, severity: float) -> TruthRecord:
        """Inject a sensor fault (``stuck``, ``dropout``, ``spike`` or ``drift``) on one tag."""
        i = self.index[tag]
        end = now_ns + int(duration_s * 1e9)
        if kind == "stuck":
            self.stuck_until[i] = end
            self._stuck_max = max(self._stuck_max, end)
        elif kind == "dropout":
            self.dropout_until[i] = end
            self._drop_max = max(self._drop_max, end)
        elif kind == "spike":
            self.spike_next[i] = True
            self._spike = True
            return self.truth.event(self.asset, "sensor_spike", now_ns, severity, tag, "injected")
        elif kind == "drift":
            self.bias[i] += severity * max(self.noise[i], 1e-3) * 20.0
            return self.truth.open(self.asset, "sensor_drift", now_ns, severity, tag, injected=True)
        else:
            raise ValueError(f"unknown sensor fault {kind!r}")
        rec = self.truth.open(self.asset, f"sensor_{kind}", now_ns, severity, tag, injected=True)
        rec.end_ns = end
        return rec

    def measure(self, true: np.ndarray, now_ns: int, dt_s: float) -> tuple[np.ndarray, np.ndarray]:
        """Measured values and a mask of the samples that exist (False = dropout or no reading).

        ``true`` holds NaN for a tag with no reading this tick (e.g. no vibration frame due).
        """
        n = len(true)
        rng = self.rng
        x = true + self.bias + self.noise * rng.standard_normal(n)
        if self._has_drift:
            self.bias += self.drift * np.sqrt(dt_s / DAY_S) * rng.standard_normal(n)
        if self._qi is not None:
            qi = self._qi
            q = self.quant[qi]
            x[qi] = np.round(np.round(x[qi] / q) * q, 9)
        if self.random_faults:
            self._draw_faults(now_ns, dt_s)
        if self._spike:
            sign = np.where(rng.random(n) < 0.5, -1.0, 1.0)
            mag = 8.0 * np.maximum(self.noise, 1e-3) + 0.3 * np.abs(true)
            x = np.where(self.spike_next, x + sign * mag, x)
            self.spike_next[:] = False
            self._spike = False
        np.clip(x, self.lo, self.hi, out=x)  # a transmitter saturates at the ends of its range
        if now_ns < self._stuck_max:
            stuck = (self.stuck_until > now_ns) & ~np.isnan(self.last)
            x = np.where(stuck, self.last, x)
        valid = ~np.isnan(true)  # False exactly where there is no reading
        self.last = np.where(valid, x, self.last)
        if now_ns < self._drop_max:
            valid = valid & (self.dropout_until <= now_ns)
        return x, valid

    def _draw_faults(self, now_ns: int, dt_s: float) -> None:
        n = len(self.names)
        if self._thresholds is None or self._thresholds[0] != dt_s:
            days = dt_s / DAY_S
            per = [SPIKE_PER_DAY * days, STUCK_PER_DAY * days, DROPOUT_PER_DAY * days]
            self._thresholds = (dt_s, np.repeat(per, n))
        u = self.rng.random(3 * n)
        hits = np.flatnonzero(u < self._thresholds[1])
        for h in hits.tolist():
            kind, i = divmod(h, n)
            name = self.names[i]
            if kind == 0:
                self.spike_next[i] = True
                self._spike = True
                self.truth.event(self.asset, "sensor_spike", now_ns, 1.0, name)
            elif kind == 1 and self.stuck_until[i] <= now_ns:
                end = now_ns + int(self.rng.uniform(*STUCK_DURATION_S) * 1e9)
                self.stuck_until[i] = end
                self._stuck_max = max(self._stuck_max, end)
                self.truth.open(self.asset, "sensor_stuck", now_ns, 1.0, name).end_ns = end
            elif kind == 2 and self.dropout_until[i] <= now_ns:
                end = now_ns + int(self.rng.uniform(*DROPOUT_DURATION_S) * 1e9)
                self.dropout_until[i] = end
                self._drop_max = max(self._drop_max, end)
                self.truth.open(self.asset, "sensor_dropout", now_ns, 1.0, name).end_ns = end
