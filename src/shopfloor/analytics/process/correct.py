"""Self-correction: an SPC chart watches a loop's output; on a signal the loop corrects itself.

:class:`Supervisor` feeds every measured item to an EWMA chart centred on the target. When the
chart signals a drift, the estimated shift (the EWMA statistic minus the target) is taken into
the controller's model offset, the loop proposes the corrected setpoint (applied at once in a
closed loop, waiting for an operator in advisory mode) and the chart restarts. Each correction
is a :class:`Correction` record that tracks capability (Cpk) and mean over the items since the
chart last restarted (at most ``window``) before the signal and, once they are in, over the
``window`` items after the move (which may overlap later corrections).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Mapping
from dataclasses import asdict, dataclass

from shopfloor.analytics.quality import EWMA, capability
from shopfloor.core.errors import ConfigError

from .control import EwmaR2R
from .loop import ControlLoop

log = logging.getLogger(__name__)


@dataclass
class Correction:
    """One SPC-triggered correction and its effect on capability."""

    index: int
    rule: str
    shift: float
    old: float | None
    new: float | None
    status: str
    cpk_before: float | None
    cpk_after: float | None = None
    mean_before: float | None = None
    mean_after: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def _cpk(values, lsl: float, usl: float) -> tuple[float | None, float | None]:
    if len(values) < 5:
        return None, None
    try:
        cap = capability(list(values), lsl=lsl, usl=usl)
    except ConfigError:
        return None, None
    return cap.cpk, cap.mean


class Supervisor:
    """EWMA-chart supervision of one loop's quality characteristic, with self-correction."""

    def __init__(
        self,
        loop: ControlLoop,
        controller: EwmaR2R,
        sigma: float,
        lsl: float,
        usl: float,
        lam: float = 0.2,
        L: float = 3.0,
        window: int = 50,
    ) -> None:
        if sigma <= 0:
            raise ConfigError(f"supervisor: sigma {sigma} must be positive")
        self.loop, self.controller, self.lsl, self.usl, self.window = loop, controller, lsl, usl, window
        self.chart = EWMA(controller.target, sigma, lam=lam, L=L)
        self._recent: deque[float] = deque(maxlen=window)
        self._tracking: list[tuple[Correction, list[float]]] = []
        self.corrections: list[Correction] = []
        self.n = 0

    def learn_one(self, y: float, x_next: Mapping[str, float]) -> Correction | None:
        """Take one measured item; ``x_next`` holds the measured inputs of the next item."""
        index = self.n
        self.n += 1
        for corr, after in self._tracking:
            after.append(float(y))
            if len(after) == self.window:
                corr.cpk_after, corr.mean_after = _cpk(after, self.lsl, self.usl)
        self._tracking = [(c, a) for c, a in self._tracking if len(a) < self.window]
        violations = self.chart.learn_one(y)
        self._recent.append(float(y))
        if not violations:
            return None
        # before: the items since the chart last restarted (what it signalled on)
        cpk_before, mean_before = _cpk(self._recent, self.lsl, self.usl)
        self._recent.clear()
        shift = self.chart.z - self.controller.target
        self.controller.offset += shift
        old = self.loop.setpoint
        rec = self.loop.propose(
            self.controller.predict_one(x_next),
            f"SPC {violations[0].rule}: output mean shifted by {shift:+.4g}; bias corrected",
        )
        corr = Correction(
            index,
            violations[0].rule,
            shift,
            old,
            rec.new if rec else None,
            rec.status if rec else "no move",
            cpk_before,
            None,
            mean_before,
        )
        log.info("loop %s: SPC signal at item %d, shift %.4g, %s", self.loop.name, index, shift, corr.status)
        self.corrections.append(corr)
        self._tracking.append((corr, []))
        self.chart.start()
        return corr
