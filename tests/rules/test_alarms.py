"""The ISA-18.2 state machine: the full transition table, then combinations."""

from __future__ import annotations

import pytest

from shopfloor.core.errors import AlarmError
from shopfloor.rules.alarms import AlarmState, Event, State, apply

SHELF = 1_000  # shelved until (ns); the tests act at ts=10

STARTS = {
    "normal": {},
    "unack": {"active": True, "acked": False},
    "acked": {"active": True, "acked": True},
    "rtn_unack": {"active": False, "acked": False},
    "shelved": {"shelved_until": SHELF},
    "shelved_active": {"active": True, "shelved_until": SHELF},
    "suppressed": {"suppressed": True},
    "suppressed_active": {"active": True, "suppressed": True},
    "oos": {"out_of_service": True},
    "oos_active": {"active": True, "out_of_service": True},
}

N, U, A, R = State.NORMAL, State.UNACKNOWLEDGED, State.ACKNOWLEDGED, State.RTN_UNACKNOWLEDGED
SH, SU, OO = State.SHELVED, State.SUPPRESSED, State.OUT_OF_SERVICE
X = "refused"  # AlarmError
_ = None  # nothing happens (no transition)

EVENTS = [
    Event.ACTIVATE,
    Event.CLEAR,
    Event.ACK,
    Event.SHELVE,
    Event.UNSHELVE,
    Event.SUPPRESS,
    Event.UNSUPPRESS,
    Event.REMOVE,
    Event.RESTORE,
]
# fmt: off
TABLE = {  #            activate clear ack shelve unshelve suppress unsuppress remove restore
    "normal":            (U,     _,    X,  SH,    X,       SU,      _,         OO,    X),
    "unack":             (_,     R,    A,  SH,    X,       SU,      _,         OO,    X),
    "acked":             (_,     N,    X,  SH,    X,       SU,      _,         OO,    X),
    "rtn_unack":         (U,     _,    N,  SH,    X,       SU,      _,         OO,    X),
    "shelved":           (SH,    _,    X,  SH,    N,       SU,      _,         OO,    X),
    "shelved_active":    (_,     SH,   X,  SH,    U,       SU,      _,         OO,    X),
    "suppressed":        (SU,    _,    X,  X,     X,       _,       N,         OO,    X),
    "suppressed_active": (_,     SU,   X,  X,     X,       _,       U,         OO,    X),
    "oos":               (OO,    _,    X,  X,     X,       OO,      _,         X,     N),
    "oos_active":        (_,     OO,   X,  X,     X,       OO,      _,         X,     U),
}
# fmt: on
CASES = [(start, event, TABLE[start][i]) for start in TABLE for i, event in enumerate(EVENTS)]


@pytest.mark.parametrize(("start", "event", "expected"), CASES, ids=[f"{s}-{e.value}" for s, e, _ in CASES])
def test_transition_table(start: str, event: Event, expected: State | str | None) -> None:
    alarm = AlarmState(**STARTS[start])
    before = alarm.state
    if expected == X:
        with pytest.raises(AlarmError):
            apply(alarm, event, 10, user="op", until=SHELF * 2)
        assert alarm.state is before
        return
    t = apply(alarm, event, 10, user="op", until=SHELF * 2)
    if expected is None:
        assert t is None and alarm.state is before
    else:
        assert t is not None and t.from_state is before and t.to_state is expected is alarm.state
        assert t.event is event and t.user == "op"


def test_all_starts_are_what_they_say() -> None:
    names = {"unack": U, "acked": A, "rtn_unack": R, "normal": N}
    for name, flags in STARTS.items():
        expected = names.get(name) or {"shel": SH, "supp": SU, "oos": OO}[name[:4].rstrip("_")]
        assert AlarmState(**flags).state is expected, name


def test_a_full_occurrence_and_its_annunciation() -> None:
    a = AlarmState()
    t = apply(a, Event.ACTIVATE, 1)
    assert t is not None and t.annunciated and a.activated_at == 1 and a.activations == 1
    assert apply(a, Event.CLEAR, 2).to_state is R  # type: ignore[union-attr]
    again = apply(a, Event.ACTIVATE, 3)  # back before the ack: a new occurrence
    assert again is not None and again.from_state is R and again.annunciated and a.activations == 2
    assert apply(a, Event.ACK, 4).to_state is A  # type: ignore[union-attr]
    assert apply(a, Event.CLEAR, 5).to_state is N and a.since == 5  # type: ignore[union-attr]


def test_shelve_needs_an_end_after_now() -> None:
    with pytest.raises(AlarmError, match="end time"):
        apply(AlarmState(), Event.SHELVE, 10, until=5)


def test_suppression_while_shelved_returns_to_shelved() -> None:
    a = AlarmState(active=True, acked=False)
    apply(a, Event.SHELVE, 1, until=100)
    assert apply(a, Event.SUPPRESS, 2).to_state is SU  # type: ignore[union-attr]
    assert apply(a, Event.UNSUPPRESS, 3).to_state is SH  # type: ignore[union-attr]
    assert apply(a, Event.SHELVE_EXPIRED, 4).to_state is U  # type: ignore[union-attr]


def test_out_of_service_wins_and_ends_a_shelve() -> None:
    a = AlarmState()
    apply(a, Event.SHELVE, 1, until=100)
    apply(a, Event.REMOVE, 2)
    assert a.state is OO and a.shelved_until is None
    apply(a, Event.SUPPRESS, 3)
    assert a.state is OO
    assert apply(a, Event.RESTORE, 4).to_state is SU  # type: ignore[union-attr]


def test_an_acknowledged_alarm_that_was_removed_comes_back_unacknowledged() -> None:
    a = AlarmState(active=True, acked=True)
    apply(a, Event.REMOVE, 1)
    assert apply(a, Event.RESTORE, 2).to_state is U  # type: ignore[union-attr]


def test_comment_keeps_the_state_and_flags_round_trip() -> None:
    a = AlarmState(active=True, acked=False, activated_at=7, activations=3, since=7)
    t = apply(a, Event.COMMENT, 9, user="op", comment="looking at it")
    assert t is not None and t.from_state is t.to_state is U and t.comment == "looking at it"
    assert AlarmState.from_flags(a.flags()) == a
