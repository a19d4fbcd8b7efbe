"""OEE of many machines on the live sample stream: one :class:`OeeTracker` per asset.

Feed every batch of samples the bus delivers (``learn_many``); ask for any machine's OEE over
a recent window (``result``). ``horizon_ns`` bounds memory: older history is trimmed.

>>> from shopfloor.core.sample import Sample
>>> live = LiveOee({"m": 1.0})
>>> live.learn_many([Sample("m", "state", 0, "running"), Sample("m", "good_count", 0, 0),
...                  Sample("m", "reject_count", 0, 0)])
>>> live.learn_many([Sample("m", "good_count", 10 * NS, 9), Sample("m", "reject_count", 10 * NS, 1)])
>>> round(live.result("m", 0, 10 * NS).oee, 2)
0.9
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from ...core.sample import Sample
from ..kpi.events import TagMap, events_from_samples
from ..kpi.oee import NS, KpiInputError, OeeResult, OeeTracker

log = logging.getLogger(__name__)
DAY_NS = 86_400 * NS


class LiveOee:
    """Per-asset trackers fed from samples; ``ideal_cycle_s`` maps asset -> ideal cycle time.

    An asset with no ideal cycle time (neither here nor an ``ideal_cycle_time`` tag) has its
    counters ignored and is listed in ``without_ideal``; its states still count.
    """

    def __init__(
        self,
        ideal_cycle_s: Mapping[str, float] | None = None,
        *,
        tags: TagMap | None = None,
        horizon_ns: int = 7 * DAY_NS,
    ) -> None:
        self.ideal = dict(ideal_cycle_s or {})
        self.tags = tags or TagMap()
        self.horizon_ns = horizon_ns
        self.trackers: dict[str, OeeTracker] = {}
        self.rejected = 0
        self.without_ideal: set[str] = set()  # assets whose counters are ignored (no ideal cycle)
        self._wanted = frozenset(self.tags.kpi_tags())
        self._latest = 0

    def learn_many(self, samples: Iterable[Sample]) -> None:
        """Take one batch (any assets, any order within the batch); bad events are counted."""
        by_asset: dict[str, list[Sample]] = {}
        for s in samples:
            if s.tag in self._wanted:
                by_asset.setdefault(s.asset, []).append(s)
        for asset, rows in by_asset.items():
            tracker = self.trackers.get(asset)
            if tracker is None:
                tracker = self.trackers[asset] = OeeTracker(self.ideal.get(asset))
            for ev in events_from_samples(rows, self.tags):
                counts = "good" in ev or "reject" in ev
                if counts and tracker.ideal_cycle_s is None and ev.get("ideal_cycle_s") is None:
                    # counters without an ideal cycle time give no OEE: keep the states only
                    ev = {k: v for k, v in ev.items() if k not in ("good", "reject")}
                    self.without_ideal.add(asset)
                try:
                    tracker.learn_one(ev)
                except KpiInputError as err:
                    self.rejected += 1
                    log.debug("oee %s: %s", asset, err)
                self._latest = max(self._latest, ev["ts"])
            tracker.trim(self._latest - self.horizon_ns)

    def result(self, asset: str, start: int, end: int) -> OeeResult:
        """OEE of one machine (KeyError naming it if it never reported a KPI tag)."""
        try:
            return self.trackers[asset].result(start, end)
        except KeyError:
            raise KeyError(f"no KPI samples from {asset!r} yet") from None
