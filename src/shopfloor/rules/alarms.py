"""The ISA-18.2 alarm state machine: pure logic, no I/O.

An alarm is one rule applied to one asset. Its *state* follows ISA-18.2's alarm state
transition diagram::

                    activate                      ack
      NORMAL ──────────────────▶ UNACKNOWLEDGED ──────────▶ ACKNOWLEDGED
        ▲ ▲                        │       ▲                     │
        │ │ ack             clear  │       │ activate            │ clear
        │ │                        ▼       │                     │
        │ └─────────────────── RTN_UNACKNOWLEDGED                │
        └────────────────────────────────────────────────────────┘

    NORMAL, UNACKNOWLEDGED, ACKNOWLEDGED, RTN_UNACKNOWLEDGED ── shelve ──▶ SHELVED
    SHELVED ── unshelve / shelve time over ──▶ UNACKNOWLEDGED if active, else NORMAL
    any ── suppress (by design: the rule's suppress_when) ──▶ SUPPRESSED ── unsuppress ──▶ back
    any ── out of service ──▶ OUT_OF_SERVICE ── return to service ──▶ UNACKNOWLEDGED or NORMAL

The state is derived from a few flags so the three "removed from annunciation" states
combine correctly (out of service wins over suppressed, suppressed over shelved): while
removed, the process condition is still tracked (``active``), and when the alarm comes back
it is annunciated again (UNACKNOWLEDGED) if the condition is active, or NORMAL if not.

>>> a = AlarmState()
>>> [apply(a, e, 0).to_state.value for e in (Event.ACTIVATE, Event.ACK, Event.CLEAR)]
['unacknowledged', 'acknowledged', 'normal']
>>> apply(a, Event.ACK, 0)
Traceback (most recent call last):
...
shopfloor.core.errors.AlarmError: cannot acknowledge an alarm in state 'normal' (nothing to acknowledge)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ..core.errors import AlarmError


class State(StrEnum):
    """ISA-18.2 alarm states."""

    NORMAL = "normal"
    UNACKNOWLEDGED = "unacknowledged"
    ACKNOWLEDGED = "acknowledged"
    RTN_UNACKNOWLEDGED = "rtn_unacknowledged"
    SHELVED = "shelved"
    SUPPRESSED = "suppressed"
    OUT_OF_SERVICE = "out_of_service"


class Event(StrEnum):
    """What can happen to an alarm: process events, operator actions, timers."""

    ACTIVATE = "activate"  # the condition became true (after delays)
    CLEAR = "clear"  # the condition returned to normal
    ACK = "ack"
    SHELVE = "shelve"
    UNSHELVE = "unshelve"
    SHELVE_EXPIRED = "shelve_expired"
    SUPPRESS = "suppress"  # suppressed by design (the rule's suppress_when became true)
    UNSUPPRESS = "unsuppress"
    REMOVE = "out_of_service"
    RESTORE = "return_to_service"
    COMMENT = "comment"


REMOVED = frozenset({State.SHELVED, State.SUPPRESSED, State.OUT_OF_SERVICE})
ACTIVE_STATES = frozenset({State.UNACKNOWLEDGED, State.ACKNOWLEDGED})
OPERATOR_EVENTS = frozenset(
    {Event.ACK, Event.SHELVE, Event.UNSHELVE, Event.REMOVE, Event.RESTORE, Event.COMMENT}
)


@dataclass(slots=True)
class AlarmState:
    """The flags of one alarm; :attr:`state` is derived from them."""

    active: bool = False  # the process condition (after delays)
    acked: bool = True  # the current or last occurrence has been acknowledged
    shelved_until: int | None = None  # epoch ns; None when not shelved
    suppressed: bool = False  # by design
    out_of_service: bool = False
    since: int = 0  # when the state last changed (epoch ns)
    activated_at: int | None = None  # start of the current/last occurrence
    activations: int = 0  # occurrences since the alarm was created
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def state(self) -> State:
        if self.out_of_service:
            return State.OUT_OF_SERVICE
        if self.suppressed:
            return State.SUPPRESSED
        if self.shelved_until is not None:
            return State.SHELVED
        if self.active:
            return State.ACKNOWLEDGED if self.acked else State.UNACKNOWLEDGED
        return State.NORMAL if self.acked else State.RTN_UNACKNOWLEDGED

    def flags(self) -> dict[str, Any]:
        """The persisted form (see :meth:`from_flags`)."""
        return {
            "active": self.active,
            "acked": self.acked,
            "shelved_until": self.shelved_until,
            "suppressed": self.suppressed,
            "out_of_service": self.out_of_service,
            "since": self.since,
            "activated_at": self.activated_at,
            "activations": self.activations,
        }

    @classmethod
    def from_flags(cls, raw: dict[str, Any]) -> AlarmState:
        return cls(
            active=bool(raw.get("active", False)),
            acked=bool(raw.get("acked", True)),
            shelved_until=raw.get("shelved_until"),
            suppressed=bool(raw.get("suppressed", False)),
            out_of_service=bool(raw.get("out_of_service", False)),
            since=int(raw.get("since", 0) or 0),
            activated_at=raw.get("activated_at"),
            activations=int(raw.get("activations", 0) or 0),
        )


@dataclass(slots=True, frozen=True)
class Transition:
    """One journal entry: what happened, from which state to which."""

    event: Event
    from_state: State
    to_state: State
    ts: int
    user: str = ""
    comment: str = ""

    @property
    def annunciated(self) -> bool:
        """A new alarm the operator sees (what EEMUA 191 counts)."""
        return self.to_state is State.UNACKNOWLEDGED and self.from_state is not State.UNACKNOWLEDGED


def _refused(event: Event, state: State, why: str) -> AlarmError:
    verb = {
        Event.ACK: "acknowledge",
        Event.SHELVE: "shelve",
        Event.UNSHELVE: "unshelve",
        Event.REMOVE: "take out of service",
        Event.RESTORE: "return to service",
    }.get(event, event.value)
    return AlarmError(f"cannot {verb} an alarm in state {state.value!r} ({why})")


def apply(
    alarm: AlarmState,
    event: Event,
    ts: int,
    *,
    user: str = "",
    comment: str = "",
    until: int | None = None,
) -> Transition | None:
    """Apply ``event`` at ``ts`` to ``alarm`` (mutated); the transition, or None if nothing changed.

    Operator actions that make no sense in the current state raise :class:`AlarmError`;
    process events that change nothing (a clear while normal) return None. ``until`` is the
    end of a shelve (epoch ns).
    """
    before = alarm.state
    if event is Event.ACTIVATE:
        if alarm.active:
            return None
        alarm.active = True
        alarm.activated_at = ts
        alarm.activations += 1
        if before not in REMOVED:
            alarm.acked = False
    elif event is Event.CLEAR:
        if not alarm.active:
            return None
        alarm.active = False
    elif event is Event.ACK:
        if before not in (State.UNACKNOWLEDGED, State.RTN_UNACKNOWLEDGED):
            raise _refused(event, before, "nothing to acknowledge")
        alarm.acked = True
    elif event is Event.SHELVE:
        if before in (State.SUPPRESSED, State.OUT_OF_SERVICE):
            raise _refused(event, before, "it is not annunciated")
        if until is None or until <= ts:
            raise AlarmError("a shelve needs an end time after now")
        alarm.shelved_until = until
    elif event in (Event.UNSHELVE, Event.SHELVE_EXPIRED):
        if alarm.shelved_until is None:
            raise _refused(Event.UNSHELVE, before, "it is not shelved")
        alarm.shelved_until = None
    elif event is Event.SUPPRESS:
        if alarm.suppressed:
            return None
        alarm.suppressed = True
    elif event is Event.UNSUPPRESS:
        if not alarm.suppressed:
            return None
        alarm.suppressed = False
    elif event is Event.REMOVE:
        if alarm.out_of_service:
            raise _refused(event, before, "it already is")
        alarm.out_of_service = True
        alarm.shelved_until = None
    elif event is Event.RESTORE:
        if not alarm.out_of_service:
            raise _refused(event, before, "it is in service")
        alarm.out_of_service = False
    elif event is Event.COMMENT:
        return Transition(event, before, before, ts, user, comment)
    else:  # pragma: no cover - exhaustive
        raise AlarmError(f"unknown alarm event {event!r}")
    if before in REMOVED and alarm.state not in REMOVED:
        alarm.acked = not alarm.active  # back in annunciation: an active alarm is new again
    after = alarm.state
    if after is not before:
        alarm.since = ts
    return Transition(event, before, after, ts, user, comment)
