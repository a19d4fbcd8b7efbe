"""Measure a contract's usage over a period from the stored samples of its tag.

* a numeric counter tag (``run_hours`` in h, ``blade_cuts``, ``total_count``, ``good_count``):
  the counter's increase (a drop is a reset, counted anew);
* for ``run_hours``, a bool tag (``running``) or a str state tag (``state``): hours in the
  running state (each value held until the next sample).

>>> from shopfloor.core.sample import Sample
>>> h = 3_600_000_000_000
>>> quantity("run_hours", [Sample("p", "running", 0, True), Sample("p", "running", 2 * h, False)], 0, 3 * h)
2.0
>>> quantity("cycles", [Sample("c", "n", 0, 10), Sample("c", "n", h, 25)], 0, 3 * h)
15.0
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from ..analytics.kpi.energy import meter_delta
from ..core.errors import ShopfloorError
from ..core.sample import Quality, Sample
from .contracts import Contract

HOUR_NS = 3_600_000_000_000


class MeteringError(ShopfloorError):
    """Usage could not be measured (no data, a tag of the wrong type)."""


def quantity(metric: str, samples: Sequence[Sample], start: int, end: int) -> float:
    """Usage in ``[start, end)`` from one tag's samples (oldest first, may start before ``start``)."""
    good = [s for s in samples if s.quality != Quality.BAD]
    if not good:
        return 0.0
    if isinstance(good[0].value, bool | str):
        if metric != "run_hours":
            raise MeteringError(f"metric {metric!r} needs a numeric counter tag, not a state tag")
        total = 0
        for i, s in enumerate(good):
            running = s.value is True or s.value == "running"
            nxt = good[i + 1].ts if i + 1 < len(good) else end
            lo, hi = max(s.ts, start), min(nxt, end)
            if running and hi > lo:
                total += hi - lo
        return total / HOUR_NS
    inside = [(s.ts, float(s.value)) for s in good if start <= s.ts < end]  # type: ignore[arg-type]
    before = [(s.ts, float(s.value)) for s in good if s.ts < start]  # type: ignore[arg-type]
    readings = before[-1:] + inside
    return meter_delta(readings)


def usage_body(contract: Contract, start: int, end: int, qty: float, **extra: Any) -> dict[str, Any]:
    """The body of one usage record."""
    return {
        "contract": contract.id,
        "customer": contract.customer,
        "asset": contract.asset,
        "metric": contract.metric,
        "tag": contract.tag,
        "start": int(start),
        "end": int(end),
        "quantity": round(float(qty), 6),
        "unit": contract.unit,
        "recorded_at": time.time_ns(),
        **extra,
    }


async def measure(store: Any, contract: Contract, start: int, end: int) -> float:
    """Usage of ``contract`` in ``[start, end)`` read from a :class:`TimeSeriesStore`.

    The counter's last reading of the day before is fetched too, so usage across the period's
    start is not lost.
    """
    if end <= start:
        raise MeteringError(f"empty period: start {start} must be before end {end}")
    lookback = start - 24 * HOUR_NS
    samples = await store.history(contract.asset, contract.tag, lookback, end, limit=5_000_000)
    if not samples:
        raise MeteringError(f"no samples of {contract.asset}/{contract.tag} between {lookback} and {end}")
    return quantity(contract.metric, samples, start, end)


async def record_usage(
    store: Any, ledger: Any, contracts: Sequence[Contract], start: int, end: int
) -> list[Any]:
    """Measure every contract over ``[start, end)`` and append one record each (one transaction).

    A contract whose tag has no data is recorded with quantity 0 and ``"note": "no data"`` so a
    gap in the data shows on the statement instead of vanishing.
    """
    bodies = []
    for c in contracts:
        try:
            qty = await measure(store, c, start, end)
            bodies.append(usage_body(c, start, end, qty))
        except MeteringError as err:
            bodies.append(usage_body(c, start, end, 0.0, note=str(err)))
    return await ledger.append(*bodies)
