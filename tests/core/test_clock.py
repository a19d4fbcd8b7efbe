import pytest

from shopfloor.core.clock import NS, iso, parse_duration, parse_ts


def test_parse_ts_units_by_magnitude() -> None:
    base = 1_704_067_200
    assert parse_ts(base) == base * NS
    assert parse_ts(base * 1000) == base * NS
    assert parse_ts(base * 1_000_000) == base * NS
    assert parse_ts(base * NS) == base * NS
    assert parse_ts(base + 0.5) == base * NS + NS // 2


def test_parse_ts_iso() -> None:
    assert parse_ts("2024-01-01T00:00:00Z") == 1_704_067_200 * NS
    assert parse_ts("2024-01-01T01:00:00+01:00") == 1_704_067_200 * NS
    assert parse_ts("2024-01-01T00:00:00") == 1_704_067_200 * NS
    assert iso(parse_ts("2024-05-06T07:08:09.5Z")) == "2024-05-06T07:08:09.500000Z"


@pytest.mark.parametrize("bad", ["yesterday", True, None, float("nan"), -5, [1], float("inf")])
def test_parse_ts_rejects(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_ts(bad)


def test_parse_duration() -> None:
    assert parse_duration("30d") == 30 * 86400 * NS
    assert parse_duration("1.5h") == 5400 * NS
    assert parse_duration(2) == 2 * NS
    with pytest.raises(ValueError, match="is not like"):
        parse_duration("soon")
