"""Process capability: Cp, Cpk (within-subgroup sigma) and Pp, Ppk (overall sigma) with intervals.

* within sigma: ``R̄/d2`` for subgroups (2-D input), ``MR̄/d2`` for individuals (1-D input),
  or given as ``sigma_within``;
* overall sigma: the sample standard deviation of all values;
* confidence intervals (Montgomery §8.3.5): Cp and Pp by the chi-square distribution,
  ``Ĉp sqrt(χ²(α/2, n-1)/(n-1)) <= Cp <= Ĉp sqrt(χ²(1-α/2, n-1)/(n-1))``; Cpk and Ppk by
  Bissell's normal approximation ``Ĉpk (1 ± z sqrt(1/(9 n Ĉpk²) + 1/(2(n-1))))``.

>>> cap = capability([[74.0, 74.01], [73.99, 74.0], [74.02, 74.0]], lsl=73.95, usl=74.05)
>>> cap.n, round(cap.cp, 2) > 1
(6, True)
>>> round(cp_interval(2.29, 20)[0], 2), round(cp_interval(2.29, 20)[1], 2)
(1.57, 3.01)
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from shopfloor.core.errors import ConfigError

from .constants import d2


@dataclass
class Capability:
    """Capability indices of one characteristic; ``*_ci`` are (low, high) at ``confidence``."""

    n: int
    mean: float
    sigma_within: float
    sigma_overall: float
    cp: float | None
    cpk: float
    pp: float | None
    ppk: float
    cp_ci: tuple[float, float] | None
    cpk_ci: tuple[float, float]
    pp_ci: tuple[float, float] | None
    ppk_ci: tuple[float, float]
    out_of_spec: float
    confidence: float = 0.95

    def to_dict(self) -> dict:
        return asdict(self)


def cp_interval(cp: float, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Two-sided chi-square interval for Cp (or Pp) estimated from ``n`` values."""
    from scipy.stats import chi2

    a = 1 - confidence
    lo = cp * math.sqrt(float(chi2.ppf(a / 2, n - 1)) / (n - 1))
    hi = cp * math.sqrt(float(chi2.ppf(1 - a / 2, n - 1)) / (n - 1))
    return lo, hi


def cpk_interval(cpk: float, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Bissell's approximate two-sided interval for Cpk (or Ppk).

    >>> lo, hi = cpk_interval(1.33, 20)
    >>> round(lo, 2), round(hi, 2)
    (0.88, 1.78)
    """
    from scipy.stats import norm

    z = float(norm.ppf(1 - (1 - confidence) / 2))
    if cpk == 0:
        w = z * math.sqrt(1 / (2 * (n - 1)))
        return -w, w
    w = z * math.sqrt(1 / (9 * n * cpk * cpk) + 1 / (2 * (n - 1)))
    return cpk * (1 - w), cpk * (1 + w)


def _indices(mean: float, sigma: float, lsl: float | None, usl: float | None):
    if sigma <= 0:
        raise ConfigError("capability: the data have no spread (sigma is 0)")
    c = (usl - lsl) / (6 * sigma) if lsl is not None and usl is not None else None
    sides = []
    if usl is not None:
        sides.append((usl - mean) / (3 * sigma))
    if lsl is not None:
        sides.append((mean - lsl) / (3 * sigma))
    return c, min(sides)


def capability(
    data,
    lsl: float | None = None,
    usl: float | None = None,
    sigma_within: float | None = None,
    confidence: float = 0.95,
) -> Capability:
    """Capability of ``data`` (1-D individuals or 2-D equal-size subgroups) against the specs."""
    if lsl is None and usl is None:
        raise ConfigError("capability: give lsl, usl or both")
    if lsl is not None and usl is not None and usl <= lsl:
        raise ConfigError(f"capability: usl {usl} must be above lsl {lsl}")
    arr = np.asarray(data, float)
    if arr.ndim not in (1, 2) or arr.size < 2 or not np.isfinite(arr).all():
        raise ConfigError("capability: need at least 2 finite values (1-D) or subgroups (2-D)")
    if sigma_within is None:
        if arr.ndim == 2 and arr.shape[1] >= 2:
            sigma_within = float(np.ptp(arr, axis=1).mean()) / d2(arr.shape[1])
        else:
            sigma_within = float(np.abs(np.diff(arr.ravel())).mean()) / d2(2)
    flat = arr.ravel()
    n = flat.size
    mean = float(flat.mean())
    sigma_overall = float(flat.std(ddof=1))
    cp, cpk = _indices(mean, sigma_within, lsl, usl)
    pp, ppk = _indices(mean, sigma_overall, lsl, usl)
    oos = float(
        np.mean(
            (flat < (lsl if lsl is not None else -np.inf)) | (flat > (usl if usl is not None else np.inf))
        )
    )
    return Capability(
        n=n,
        mean=mean,
        sigma_within=sigma_within,
        sigma_overall=sigma_overall,
        cp=cp,
        cpk=cpk,
        pp=pp,
        ppk=ppk,
        cp_ci=cp_interval(cp, n, confidence) if cp is not None else None,
        cpk_ci=cpk_interval(cpk, n, confidence),
        pp_ci=cp_interval(pp, n, confidence) if pp is not None else None,
        ppk_ci=cpk_interval(ppk, n, confidence),
        out_of_spec=oos,
        confidence=confidence,
    )
