import pytest

from shopfloor.core.errors import UnitError
from shopfloor.core.units import canonical, convert, converter


@pytest.mark.parametrize(
    ("value", "src", "dst", "expected"),
    [
        (212.0, "degF", "degC", 100.0),
        (0.0, "°C", "K", 273.15),
        (1.5, "kW", "W", 1500.0),
        (3600.0, "rpm", "Hz", 60.0),
        (1.0, "bar", "kPa", 100.0),
        (1.0, "kWh", "MJ", 3.6),
        (1.0, "in/s", "mm/s", 25.4),
        (50.0, "%", "dimensionless", 0.5),
        (2.0, "g", "m/s**2", 19.6133),
    ],
)
def test_conversions(value: float, src: str, dst: str, expected: float) -> None:
    assert convert(value, src, dst) == pytest.approx(expected, rel=1e-6)


def test_incompatible_units_are_refused_not_mixed() -> None:
    with pytest.raises(UnitError, match="different dimensions"):
        converter("degC", "bar")


def test_unknown_unit() -> None:
    with pytest.raises(UnitError, match="unknown unit 'blorp'"):
        canonical("blorp")


def test_identity_is_free() -> None:
    f = converter("N", "N")
    assert f(3.0) == 3.0
