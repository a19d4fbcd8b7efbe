"""EEMUA 191 figures: alarm rate per operator per 10 minutes, floods, standing, chattering."""

from __future__ import annotations

from shopfloor.core.clock import NS
from shopfloor.rules.metrics import compute

MIN = 60 * NS
HOUR = 60 * MIN
NOW = 100 * HOUR


def test_rates_floods_and_assessment() -> None:
    # 12 alarms in one 10-minute window an hour ago (a flood), 2 in the latest window
    flood = [(NOW - HOUR + i * NS, f"a{i}", "low") for i in range(12)]
    latest = [(NOW - 5 * MIN, "b", "high"), (NOW - MIN, "c", "medium")]
    m = compute(flood + latest, [], now=NOW)
    assert m["annunciated"] == 14 and m["rate"]["latest_window"] == 2
    assert m["rate"]["peak"] == 12 and m["rate"]["flood_windows"] == 1
    assert m["rate"]["flood_share"] == round(1 / 144, 4)
    assert m["rate"]["average"] == round(14 / 144, 3)
    assert m["rate"]["assessment"] == "manageable"  # low average, but a flood
    two = compute(flood + latest, [], now=NOW, operators=2)
    assert two["rate"]["peak"] == 6 and two["rate"]["flood_windows"] == 0
    assert two["rate"]["assessment"] == "very likely acceptable"
    assert m["priorities"]["low"] == {"count": 12, "share": round(12 / 14, 4)}
    assert compute([], [], now=NOW)["rate"]["average"] == 0


def test_old_annunciations_fall_out_of_the_period() -> None:
    m = compute([(NOW - 25 * HOUR, "old", "low")], [], now=NOW)
    assert m["annunciated"] == 0


def test_chattering_and_bad_actors() -> None:
    chatter = [(NOW - 30 * MIN + i * 15 * NS, "chatty", "low") for i in range(4)]  # 4 in 45 s
    spread = [(NOW - 30 * MIN + i * 2 * MIN, "slow", "low") for i in range(5)]  # 5, 2 min apart
    m = compute(sorted(chatter + spread), [], now=NOW)
    assert m["chattering"] == [{"alarm_id": "chatty", "max_in_window": 4}]
    assert m["bad_actors"][0] == {"alarm_id": "slow", "count": 5}


def test_standing_and_stale_alarms() -> None:
    alarms = [
        {"id": "a", "state": "unacknowledged", "activated_at": NOW - 2 * HOUR},
        {"id": "b", "state": "acknowledged", "activated_at": NOW - 30 * HOUR},
        {"id": "c", "state": "normal", "activated_at": NOW - 50 * HOUR},
        {"id": "d", "state": "shelved", "activated_at": None},
    ]
    m = compute([], alarms, now=NOW)
    assert m["standing"]["count"] == 2
    assert m["standing"]["stale"] == [{"alarm_id": "b", "active_since": NOW - 30 * HOUR}]
    assert m["states"] == {"acknowledged": 1, "normal": 1, "shelved": 1, "unacknowledged": 1}
