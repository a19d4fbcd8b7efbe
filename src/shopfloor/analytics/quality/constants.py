"""Control chart constants (ASTM E2587 / Montgomery, Appendix VI).

``d2`` and ``d3`` are the mean and standard deviation of the range of ``n`` standard normal
values (tabulated for n = 2..25); ``c4`` is exact (from the gamma function). The chart factors
are derived from them the way the tables are:

>>> round(A2(5), 3), round(D4(5), 3), D3(5)
(0.577, 2.114, 0.0)
>>> round(c4(5), 4), round(B4(5), 3), round(A3(5), 3)
(0.94, 2.089, 1.427)
"""

from __future__ import annotations

import math

from shopfloor.core.errors import ConfigError

# n: (d2, d3)
_D: dict[int, tuple[float, float]] = {
    2: (1.128, 0.853),
    3: (1.693, 0.888),
    4: (2.059, 0.880),
    5: (2.326, 0.864),
    6: (2.534, 0.848),
    7: (2.704, 0.833),
    8: (2.847, 0.820),
    9: (2.970, 0.808),
    10: (3.078, 0.797),
    11: (3.173, 0.787),
    12: (3.258, 0.778),
    13: (3.336, 0.770),
    14: (3.407, 0.763),
    15: (3.472, 0.756),
    16: (3.532, 0.750),
    17: (3.588, 0.744),
    18: (3.640, 0.739),
    19: (3.689, 0.734),
    20: (3.735, 0.729),
    21: (3.778, 0.724),
    22: (3.819, 0.720),
    23: (3.858, 0.716),
    24: (3.895, 0.712),
    25: (3.931, 0.708),
}


def _check(n: int) -> None:
    if n not in _D:
        raise ConfigError(f"subgroup size {n}: control chart constants exist for n = 2..25")


def d2(n: int) -> float:
    _check(n)
    return _D[n][0]


def d3(n: int) -> float:
    _check(n)
    return _D[n][1]


def c4(n: int) -> float:
    """``sqrt(2/(n-1)) * Γ(n/2) / Γ((n-1)/2)``, the bias of the sample standard deviation."""
    if n < 2:
        raise ConfigError(f"subgroup size {n}: need at least 2")
    return math.sqrt(2.0 / (n - 1)) * math.exp(math.lgamma(n / 2) - math.lgamma((n - 1) / 2))


def A2(n: int) -> float:
    return 3.0 / (d2(n) * math.sqrt(n))


def D3(n: int) -> float:
    return max(0.0, 1.0 - 3.0 * d3(n) / d2(n))


def D4(n: int) -> float:
    return 1.0 + 3.0 * d3(n) / d2(n)


def A3(n: int) -> float:
    return 3.0 / (c4(n) * math.sqrt(n))


def B3(n: int) -> float:
    c = c4(n)
    return max(0.0, 1.0 - 3.0 * math.sqrt(1.0 - c * c) / c)


def B4(n: int) -> float:
    c = c4(n)
    return 1.0 + 3.0 * math.sqrt(1.0 - c * c) / c
