"""Engineering units with pint: mixed units are converted, never mixed.

Converters are cached per (from, to) pair and reduced to ``a * x + b`` so the
ingest hot path pays one multiply-add, not a pint call.

>>> conv = converter("degF", "degC")
>>> round(conv(212.0), 6)
100.0
>>> converter("kW", "W")(1.5)
1500.0
>>> canonical("°C")
'degree_Celsius'
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import pint

from .errors import UnitError

_REGISTRY: pint.UnitRegistry | None = None

# Spellings seen on plant floors that pint does not know by itself.
_ALIASES = {
    "°c": "degC",
    "°f": "degF",
    "degc": "degC",
    "degf": "degF",
    "c": "degC",
    "f": "degF",
    "rpm": "1 / minute",  # revolutions per minute: rpm -> Hz is /60 (pint would add 2*pi)
    "mm/s": "millimeter / second",
    "m3/h": "meter ** 3 / hour",
    "l/min": "liter / minute",
    "%": "percent",
    "pct": "percent",
    "kwh": "kilowatt_hour",
    "mwh": "megawatt_hour",
    "wh": "watt_hour",
    "": "dimensionless",
    "-": "dimensionless",
    "count": "dimensionless",
    "g": "g0",  # acceleration in vibration is given in g
}


def registry() -> pint.UnitRegistry:
    """The process-wide unit registry (created on first use)."""
    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = pint.UnitRegistry(autoconvert_offset_to_baseunit=True)
    return _REGISTRY


def _normalise(unit: str) -> str:
    key = unit.strip()
    return _ALIASES.get(key.lower(), key)


# What pint raises for a unit it cannot parse (it is not consistent about it).
_PARSE_ERRORS = (
    pint.errors.UndefinedUnitError,
    pint.errors.DefinitionSyntaxError,
    ValueError,
    AttributeError,
    TypeError,
    AssertionError,
)


def _unit(text: str) -> pint.Unit:
    try:
        return registry().Unit(_normalise(text))
    except _PARSE_ERRORS as err:
        raise UnitError(f"unknown unit {text!r}") from err


@lru_cache(maxsize=4096)
def canonical(unit: str) -> str:
    """pint's canonical name for a unit; raises :class:`UnitError` if unknown."""
    return str(_unit(unit))


@lru_cache(maxsize=4096)
def _linear(from_unit: str, to_unit: str) -> tuple[float, float]:
    reg = registry()
    src, dst = _unit(from_unit), _unit(to_unit)
    try:
        zero = reg.Quantity(0.0, src).to(dst).magnitude
        one = reg.Quantity(1.0, src).to(dst).magnitude
    except pint.errors.DimensionalityError as err:
        raise UnitError(f"cannot convert {from_unit!r} to {to_unit!r}: different dimensions") from err
    return float(one - zero), float(zero)


def converter(from_unit: str, to_unit: str) -> Callable[[float], float]:
    """A fast function converting values from one unit to another."""
    if from_unit == to_unit:
        return _identity
    a, b = _linear(from_unit, to_unit)
    if b == 0.0:
        if a == 1.0:
            return _identity
        return lambda x: x * a
    return lambda x: x * a + b


def convert(value: float, from_unit: str, to_unit: str) -> float:
    """Convert one value (raises :class:`UnitError`)."""
    return converter(from_unit, to_unit)(value)


def _identity(x: float) -> float:
    return x
