"""Controllers and constraints for closed-loop setpoint adjustment.

* :class:`Limits`: setpoint range and rate limit, applied to every move (never bypassed);
* :class:`PID`: positional PID with output limits and anti-windup (conditional integration
  plus a clamped integral);
* :class:`EwmaR2R`: EWMA run-to-run controller around a :class:`~.model.ProcessModel`:
  feed-forward from the measured disturbance inputs (e.g. raw-material density) and feedback of
  the model's offset, estimated by an EWMA of the prediction errors.

>>> lim = Limits(low=30.0, high=90.0, max_step=1.5)
>>> lim.apply(60.0, 65.0)
(61.5, ['rate limit 1.5 per move'])
>>> pid = PID(kp=1.0, ki=1.0, low=-1.0, high=1.0)
>>> [round(pid.update(error=5.0, dt=1.0), 2) for _ in range(3)]
[1.0, 1.0, 1.0]
>>> round(pid.integral, 2), round(pid.update(error=-0.5, dt=1.0), 2)
(0.0, -1.0)
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from pydantic import BaseModel, model_validator

from shopfloor.core.errors import ConfigError

from .model import ProcessModel


class Limits(BaseModel):
    """Hard constraints of one setpoint: range ``[low, high]`` and ``max_step`` per move."""

    low: float
    high: float
    max_step: float | None = None

    @model_validator(mode="after")
    def _check(self) -> Limits:
        if not self.low < self.high:
            raise ValueError(f"setpoint limits: low {self.low} must be below high {self.high}")
        if self.max_step is not None and self.max_step <= 0:
            raise ValueError(f"setpoint limits: max_step {self.max_step} must be positive")
        return self

    def apply(self, old: float | None, new: float) -> tuple[float, list[str]]:
        """Clamp a wanted move; return the allowed value and what constrained it."""
        if not math.isfinite(new):
            raise ConfigError(f"setpoint {new!r}: not a finite number")
        notes: list[str] = []
        if old is not None and self.max_step is not None and abs(new - old) > self.max_step:
            new = old + math.copysign(self.max_step, new - old)
            notes.append(f"rate limit {self.max_step:g} per move")
        if new > self.high:
            new, notes = self.high, [*notes, f"high limit {self.high:g}"]
        elif new < self.low:
            new, notes = self.low, [*notes, f"low limit {self.low:g}"]
        return new, notes


class PID:
    """``u = kp e + ki ∫e + kd de/dt`` clamped to ``[low, high]`` with anti-windup.

    While the output is saturated the integral only integrates errors that drive it back
    (conditional integration) and never leaves the output range itself (clamping), so the
    controller leaves saturation as soon as the error turns.
    """

    def __init__(
        self, kp: float, ki: float = 0.0, kd: float = 0.0, low: float = -math.inf, high: float = math.inf
    ) -> None:
        if low >= high:
            raise ConfigError(f"PID output limits: low {low} must be below high {high}")
        self.kp, self.ki, self.kd, self.low, self.high = kp, ki, kd, low, high
        self.reset()

    def reset(self) -> None:
        self.integral = 0.0
        self._last: float | None = None

    def update(self, error: float, dt: float = 1.0) -> float:
        deriv = 0.0 if self._last is None or dt <= 0 else (error - self._last) / dt
        self._last = error
        trial = min(max(self.integral + self.ki * error * dt, self.low), self.high)
        u = self.kp * error + trial + self.kd * deriv
        if (u > self.high and error > 0) or (u < self.low and error < 0):
            trial = self.integral  # saturated and the error pushes further: hold the integral
            u = self.kp * error + trial + self.kd * deriv
        self.integral = trial
        return min(max(u, self.low), self.high)


class EwmaR2R:
    """Feed-forward + EWMA feedback: ``u = solve(target - offset, measured inputs)``.

    After each run, ``learn_one(x, y)`` updates ``offset <- λ (y - model(x)) + (1-λ) offset``
    where ``x`` holds the inputs the run actually had (its setting included). ``lam = 0`` turns
    the feedback off (pure feed-forward from the model).
    """

    def __init__(self, model: ProcessModel, var: str, target: float, lam: float = 0.3) -> None:
        if not 0 <= lam <= 1:
            raise ConfigError(f"EWMA run-to-run lam {lam}: must be in [0, 1]")
        self.model, self.var, self.target, self.lam = model, var, target, lam
        self.offset = 0.0
        self.n = 0

    def learn_one(self, x: Mapping[str, float], y: float) -> EwmaR2R:
        if not math.isfinite(y):
            raise ConfigError(f"run-to-run measurement {y!r}: not a finite number")
        self.offset = self.lam * (y - self.model.predict_one(x)) + (1 - self.lam) * self.offset
        self.n += 1
        return self

    def predict_one(self, x: Mapping[str, float]) -> float:
        """The setting for the next run, given its measured disturbance inputs ``x``."""
        return self.model.solve(self.target - self.offset, x, self.var)
