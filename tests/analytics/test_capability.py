"""Capability indices and their intervals against Montgomery (6th ed.), chapter 8."""

from __future__ import annotations

import numpy as np
import pytest

from shopfloor.analytics.quality import capability, cp_interval, cpk_interval
from shopfloor.core.errors import ConfigError

from .test_spc import WIDTHS


def test_flow_width_cp():
    """Hard-bake flow width (Example 6.1 data), specs 1.00-2.00 microns: σ̂ = R̄/d2 = 0.1398, Ĉp = 1.192."""
    cap = capability(WIDTHS, lsl=1.00, usl=2.00)
    assert cap.sigma_within == pytest.approx(0.1398, abs=1e-4)
    assert cap.cp == pytest.approx(1.192, abs=1e-3)
    assert cap.cpk == pytest.approx((2.00 - 1.5056) / (3 * 0.1398), abs=2e-3)
    assert cap.n == 125 and cap.out_of_spec == 0.0
    assert cap.pp == pytest.approx(1.0 / (6 * np.std(np.ravel(WIDTHS), ddof=1)))
    lo, hi = cap.cp_ci
    assert lo < cap.cp < hi


def test_cp_interval_example_8_5():
    """USL 62, LSL 38, n = 20, s = 1.75: Ĉp = 2.29, 95 % CI 1.57 <= Cp <= 3.01."""
    cp = (62 - 38) / (6 * 1.75)
    assert cp == pytest.approx(2.29, abs=5e-3)
    lo, hi = cp_interval(2.29, 20)
    assert lo == pytest.approx(1.57, abs=5e-3) and hi == pytest.approx(3.01, abs=5e-3)


def test_cpk_interval_example_8_6():
    """n = 20, Ĉpk = 1.33: 95 % CI 0.88 <= Cpk <= 1.78 (Bissell's approximation)."""
    lo, hi = cpk_interval(1.33, 20)
    assert lo == pytest.approx(0.88, abs=5e-3) and hi == pytest.approx(1.78, abs=5e-3)


def test_interval_covers_the_true_value():
    rng = np.random.default_rng(7)
    true_cp, covered = 10.0 / (6 * 1.5), 0
    for _ in range(400):
        x = rng.normal(50, 1.5, 50)
        lo, hi = capability(x, lsl=45, usl=55, sigma_within=float(np.std(x, ddof=1))).cp_ci
        covered += lo <= true_cp <= hi
    assert 0.91 <= covered / 400 <= 0.99


def test_one_sided_and_off_center():
    rng = np.random.default_rng(3)
    x = rng.normal(10.5, 0.2, 500)
    upper = capability(x, usl=11.0)
    assert upper.cp is None and upper.cp_ci is None
    assert upper.cpk == pytest.approx(0.5 / 0.6, rel=0.1)
    both = capability(x, lsl=9.0, usl=11.0)
    assert both.cpk < both.cp and both.ppk < both.pp


def test_bad_specs_are_named():
    with pytest.raises(ConfigError, match="usl"):
        capability([1.0, 2.0, 3.0], lsl=5, usl=1)
    with pytest.raises(ConfigError, match="lsl, usl"):
        capability([1.0, 2.0, 3.0])
    with pytest.raises(ConfigError, match="spread"):
        capability([1.0, 1.0, 1.0], lsl=0, usl=2)
