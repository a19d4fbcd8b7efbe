"""Alarm logic that turns a score stream into few, lasting alarms.

*Persistence*: the alarm rises only after ``delay`` consecutive scores above ``on``.
*Hysteresis*: once raised, it clears only when the score falls below ``off``
(``off <= on``), so a score hovering at the limit does not chatter.

>>> a = Alarm(on=2.0, off=1.0, delay=2)
>>> [a.update(s) for s in [3, 1, 3, 3, 1.5, 0.5, 3]]
[False, False, False, True, True, False, False]
>>> Alarm(on=2.0, off=1.0, delay=2).run([3, 3, 1.5, 0.5]).tolist()
[False, True, True, False]
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from shopfloor.core.errors import ConfigError


class Alarm:
    """Persistence (``delay`` samples above ``on``) and hysteresis (clear below ``off``)."""

    def __init__(self, on: float = 1.0, off: float | None = None, delay: int = 1) -> None:
        off = on if off is None else off
        if off > on or delay < 1:
            raise ConfigError(f"alarm needs off <= on and delay >= 1 (got on={on}, off={off}, delay={delay})")
        self.on = on
        self.off = off
        self.delay = delay
        self.active = False
        self._count = 0

    def update(self, score: float) -> bool:
        """Feed one score; return whether the alarm is active after it."""
        if self.active:
            if score < self.off:
                self.active = False
                self._count = 0
        else:
            self._count = self._count + 1 if score > self.on else 0
            if self._count >= self.delay:
                self.active = True
        return self.active

    def run(self, scores: Iterable[float]) -> np.ndarray:
        """Feed a whole series; return the alarm state after each score."""
        return np.array([self.update(float(s)) for s in scores], dtype=bool)
