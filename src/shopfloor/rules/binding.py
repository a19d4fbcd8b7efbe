"""One rule applied to one asset: condition, delay, design suppression and the alarm.

The engine keeps one :class:`Binding` per (rule, asset) and calls :meth:`Binding.on_sample`
for each sample of a tag the rule watches and :meth:`Binding.on_tick` periodically. Both
append ``(binding, transition)`` pairs to a list the engine passes in, so a sample that
changes nothing allocates nothing.

>>> from .model import Rule
>>> from ..core.sample import Sample
>>> rule = Rule(id="t_high", asset="s/a/l/m", tag="t", kind="high", limit=90)
>>> b = Binding(rule, "s/a/l/m")
>>> out = []
>>> b.on_sample(Sample("s/a/l/m", "t", 0, 95.0), 0, {}, out)
>>> b.id, [t.to_state.value for _, t in out]
('t_high@s.a.l.m', ['unacknowledged'])
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from ..core.sample import Quality, Sample, Value
from .alarms import AlarmState, Event, Transition, apply
from .conditions import Condition, Delay, build
from .expr import Expression
from .model import Rule

log = logging.getLogger(__name__)

Out = list[tuple["Binding", Transition]]


def alarm_id(rule_id: str, asset: str) -> str:
    """The alarm's id: URL-safe, readable, unique per (rule, asset).

    >>> alarm_id("pump_vib_high", "riverside/papermaking/pm1/stock_pump")
    'pump_vib_high@riverside.papermaking.pm1.stock_pump'
    """
    return f"{rule_id}@{asset.replace('/', '.')}"


class _SafeDict(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


class Binding:
    """A rule on one asset; see the module docstring."""

    __slots__ = ("alarm", "asset", "cond", "cond_tags", "delay", "id", "rule", "suppress", "unit", "value")

    def __init__(self, rule: Rule, asset: str, started: int = 0, unit: str = "") -> None:
        self.rule = rule
        self.asset = asset
        self.unit = unit
        self.id = alarm_id(rule.id, asset)
        self.cond: Condition = build(rule, started)
        self.delay = Delay(rule.on_delay_ns, rule.off_delay_ns)
        self.suppress = Expression(rule.suppress_when) if rule.suppress_when else None
        self.cond_tags = (
            Expression(rule.expr).names if rule.kind == "expression" and rule.expr else frozenset({rule.tag})
        )
        self.alarm = AlarmState(since=started)
        self.value: Value | None = None

    # -- evaluation -------------------------------------------------------------------------------

    def on_sample(self, s: Sample, now: int, values: Mapping[str, Value], out: Out) -> None:
        """Evaluate one sample (``values``: the asset's latest values, this sample included)."""
        if s.quality is Quality.BAD:
            return  # bad data neither raises nor clears, nor counts as fresh
        tag = s.tag
        if self.suppress is not None and tag in self.suppress.names:
            suppressed = self.suppress.evaluate(values)
            if suppressed is not None and suppressed != self.alarm.suppressed:
                self._apply(Event.SUPPRESS if suppressed else Event.UNSUPPRESS, now, out)
        if tag not in self.cond_tags:
            return
        if tag == self.rule.tag:
            self.value = s.value
        raw = self.cond.update(s.value, s.ts, now, values)
        if raw is None:
            return
        changed = self.delay.feed(raw, now)
        if changed is not None:
            self._apply(Event.ACTIVATE if changed else Event.CLEAR, now, out)

    def on_tick(self, now: int, out: Out) -> None:
        """Time-driven work: stale data, pending on/off delays, shelve expiry."""
        raw = self.cond.poll(now)
        changed = self.delay.feed(raw, now) if raw is not None else self.delay.poll(now)
        if changed is not None:
            self._apply(Event.ACTIVATE if changed else Event.CLEAR, now, out)
        until = self.alarm.shelved_until
        if until is not None and now >= until:
            self._apply(Event.SHELVE_EXPIRED, now, out, user="system", comment="shelve time is over")

    def _apply(self, event: Event, now: int, out: Out, user: str = "", comment: str = "") -> None:
        t = apply(self.alarm, event, now, user=user, comment=comment)
        if t is not None:
            out.append((self, t))

    # -- views ------------------------------------------------------------------------------------

    def message(self) -> str:
        """The rule's message with this alarm's values filled in."""
        rule = self.rule
        if not rule.message:
            return rule.describe()
        fields = _SafeDict(
            id=rule.id,
            name=rule.name,
            asset=self.asset,
            tag=rule.tag,
            value=self.value,
            limit=rule.limit,
            priority=rule.priority.value,
            kind=rule.kind,
            unit=self.unit,
        )
        try:
            return rule.message.format_map(fields)
        except (ValueError, TypeError, KeyError, IndexError, AttributeError):
            return rule.message

    def entry(self, t: Transition) -> dict[str, Any]:
        """A transition of this alarm as a journal entry and bus event."""
        return {
            "type": "alarm",
            "ts": t.ts,
            "alarm_id": self.id,
            "rule_id": self.rule.id,
            "asset": self.asset,
            "tag": self.rule.tag,
            "priority": self.rule.priority.value,
            "event": t.event.value,
            "from_state": t.from_state.value,
            "to_state": t.to_state.value,
            "user": t.user,
            "comment": t.comment,
            "value": self.value,
            "message": self.message(),
        }

    def as_dict(self) -> dict[str, Any]:
        """The alarm as the API shows it."""
        a = self.alarm
        rule = self.rule
        return {
            "id": self.id,
            "rule_id": rule.id,
            "name": rule.name,
            "asset": self.asset,
            "tag": rule.tag,
            "kind": rule.kind,
            "priority": rule.priority.value,
            "state": a.state.value,
            "active": a.active,
            "acknowledged": a.acked,
            "shelved_until": a.shelved_until,
            "suppressed": a.suppressed,
            "out_of_service": a.out_of_service,
            "since": a.since,
            "activated_at": a.activated_at,
            "activations": a.activations,
            "value": self.value,
            "message": self.message(),
        }

    # -- persistence ------------------------------------------------------------------------------

    def row(self, now: int) -> tuple[Any, ...]:
        """The ``alarms`` table row (see :mod:`shopfloor.rules.journal`)."""
        cond = {"cond": self.cond.snapshot(), "delay": self.delay.snapshot()}
        return (
            self.id,
            self.rule.id,
            self.asset,
            self.rule.tag,
            self.rule.priority.value,
            self.alarm.state.value,
            json.dumps(self.alarm.flags()),
            json.dumps(cond),
            json.dumps(self.value),
            now,
        )

    def restore(self, flags: dict[str, Any], cond: dict[str, Any], value: Value | None) -> None:
        """Take over the persisted state of this alarm (after a restart)."""
        self.alarm = AlarmState.from_flags(flags)
        try:
            self.cond.restore(cond.get("cond", {}))
            self.delay.restore(cond.get("delay", {}), self.alarm.active)
        except (TypeError, ValueError) as err:
            log.warning("alarm %s: could not restore the condition state (%s); starting afresh", self.id, err)
            self.delay.active = self.alarm.active
        self.value = value
