"""System alarms: trouble of the platform itself, raised as ISA-18.2 alarms by ordinary rules.

Two conditions are counted over a rolling window and published as samples of derived tags of
the plant's first site asset, so they are stored, charted, and alarmed by two built-in rules
(acknowledged, shelved and journalled like any other alarm):

* ``broker_drops_5m``: messages the external MQTT broker reported dropped (its ``$SYS``
  counter) in the last 5 minutes; rule ``system_broker_drops`` (priority high);
* ``security_events_10m``: security events of the behaviour monitor (unknown devices, topic
  violations, rate spikes, impossible values, replays, commands out of hours) in the last
  10 minutes; rule ``system_security_events`` (priority high). The events themselves, with
  their evidence, are at ``GET /api/v1/security/events``.

A count is published when it changes (including back to 0, which clears the alarm).

>>> from shopfloor.core.assets import Plant
>>> plant = Plant.from_dict({"plant": {"enterprise": "e"}, "asset": [{"path": "site/a/l/m"}]})
>>> tags = SystemTags(plant)
>>> tags.site, [r.id for r in tags.rules()]
('site', ['system_broker_drops', 'system_security_events'])
>>> tags.note_broker_drop(17, now_ns=10**9)
>>> [(s.tag, s.value) for s in tags.changed(now_ns=2 * 10**9)]
[('broker_drops_5m', 17)]
>>> [(s.tag, s.value) for s in tags.changed(now_ns=400 * 10**9)]
[('broker_drops_5m', 0)]
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from typing import Any

from ..bus.base import Bus
from ..core.assets import Plant, Tag
from ..core.errors import BusError
from ..core.sample import Sample
from .model import Rule

log = logging.getLogger(__name__)
NS = 1_000_000_000

#: tag -> (window seconds, rule id, alarm message)
COUNTERS: dict[str, tuple[int, str, str]] = {
    "broker_drops_5m": (
        300,
        "system_broker_drops",
        "MQTT broker dropped {value:.0f} messages in 5 min: raise max_queued_messages or add ingest workers",
    ),
    "security_events_10m": (
        600,
        "system_security_events",
        "{value:.0f} security events in 10 min: see Security events (GET /api/v1/security/events)",
    ),
}


class SystemTags:
    """Rolling counts of platform trouble as tags of the first site; see the module docstring."""

    def __init__(self, plant: Plant) -> None:
        roots = plant.roots()
        self.site = roots[0].path if roots else None
        self._events: dict[str, deque[tuple[int, int]]] = {tag: deque() for tag in COUNTERS}
        self._published: dict[str, int] = {}
        if self.site is not None:
            for tag, (window, _, _) in COUNTERS.items():
                plant.add_derived_tag(
                    self.site,
                    Tag(
                        name=tag,
                        type="int",
                        unit="count",
                        description=f"Platform trouble in the last {window} s",
                    ),
                )

    def rules(self) -> list[Rule]:
        """The built-in rules (none for a plant without a site)."""
        if self.site is None:
            return []
        return [
            Rule.model_validate(
                {
                    "id": rule_id,
                    "name": rule_id.replace("_", " ").capitalize(),
                    "asset": self.site,
                    "tag": tag,
                    "kind": "high",
                    "limit": 0.5,
                    "deadband": 0,
                    "priority": "high",
                    "message": message,
                }
            )
            for tag, (_, rule_id, message) in COUNTERS.items()
        ]

    def note_broker_drop(self, count: int, now_ns: int | None = None) -> None:
        self._note("broker_drops_5m", count, now_ns)

    def note_security_event(self, event: Any) -> None:
        self._note("security_events_10m", 1, getattr(event, "ts", None))

    def _note(self, tag: str, count: int, now_ns: int | None) -> None:
        self._events[tag].append((now_ns if now_ns is not None else time.time_ns(), int(count)))

    def changed(self, now_ns: int | None = None) -> list[Sample]:
        """Samples of the counts that changed since the last call (old events expire first)."""
        if self.site is None:
            return []
        now = now_ns if now_ns is not None else time.time_ns()
        out = []
        for tag, (window, _, _) in COUNTERS.items():
            events = self._events[tag]
            while events and events[0][0] < now - window * NS:
                events.popleft()
            total = sum(n for _, n in events)
            if self._published.get(tag, 0) != total:
                self._published[tag] = total
                out.append(Sample(self.site, tag, now, total))
        return out

    async def run(self, bus: Bus, every_s: float = 2.0) -> None:
        """Publish changed counts every ``every_s`` seconds until cancelled."""
        while True:
            await asyncio.sleep(every_s)
            batch = self.changed()
            if batch:
                try:
                    await bus.publish("samples", batch)
                except BusError as err:
                    log.warning("system tags: cannot publish %d samples: %s", len(batch), err)
