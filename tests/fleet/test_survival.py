"""Kaplan-Meier and log-rank against a published worked example.

Data: the Freireich et al. (1963, Blood 21:699) leukaemia remission trial, weeks in remission,
``+`` censored. 6-MP: 6,6,6,6+,7,9+,10,10+,11+,13,16,17+,19+,20+,22,23,25+,32+,32+,34+,35+;
placebo: 1,1,2,2,3,4,4,5,5,8,8,8,8,11,11,12,12,15,17,22,23 (no censoring).
Published estimates: Kleinbaum & Klein, "Survival Analysis: A Self-Learning Text", 3rd ed.
(Springer 2012), chapter 2: the 6-MP product-limit table S(t) = .857, .807, .753, .690, .627,
.538, .448 at t = 6, 7, 10, 13, 16, 22, 23, the log-rank statistic 16.79 (1 d.f.) comparing the
two groups with O1 - E1 = 9 - 19.25. The Greenwood standard errors .076, .087, .096, .107, .114,
.128, .135 are those R's ``survfit`` prints for this data set.
"""

import numpy as np
import pytest

from shopfloor.analytics.fleet import LifeDataError, kaplan_meier, log_rank

MP_T = [6, 6, 6, 6, 7, 9, 10, 10, 11, 13, 16, 17, 19, 20, 22, 23, 25, 32, 32, 34, 35]
MP_E = [1, 1, 1, 0, 1, 0, 1, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0]
PLACEBO = [1, 1, 2, 2, 3, 4, 4, 5, 5, 8, 8, 8, 8, 11, 11, 12, 12, 15, 17, 22, 23]


def test_kaplan_meier_matches_the_published_table() -> None:
    km = kaplan_meier(MP_T, MP_E)
    assert km.times == [6, 7, 10, 13, 16, 22, 23]
    assert np.round(km.survival, 3).tolist() == [0.857, 0.807, 0.753, 0.690, 0.627, 0.538, 0.448]
    assert np.round(km.std_err, 3).tolist() == [0.076, 0.087, 0.096, 0.107, 0.114, 0.128, 0.135]
    assert km.at_risk == [21, 17, 15, 12, 11, 7, 6]
    assert all(lo < s < hi for lo, s, hi in zip(km.lower, km.survival, km.upper, strict=True))
    assert km.at(5.9) == 1.0 and km.at(40) == pytest.approx(0.448, abs=5e-4)


def test_log_rank_matches_the_published_statistic() -> None:
    lr = log_rank(MP_T + PLACEBO, MP_E + [1] * 21, ["6-MP"] * 21 + ["placebo"] * 21)
    assert lr.chi2 == pytest.approx(16.79, abs=0.01)
    assert lr.dof == 1 and lr.p_value < 1e-4
    assert lr.observed == [9, 21]
    assert lr.expected[0] == pytest.approx(19.25, abs=0.01)  # Kleinbaum & Klein: E1 = 19.25
    assert lr.ratio("placebo") > 1 > lr.ratio("6-MP")


def test_log_rank_same_distribution_is_not_significant() -> None:
    rng = np.random.default_rng(4)
    t = rng.weibull(2.0, 600) * 100
    assert log_rank(t, None, np.repeat(["a", "b", "c"], 200)).p_value > 0.01


def test_bad_life_data_is_named() -> None:
    with pytest.raises(LifeDataError, match="positive"):
        kaplan_meier([1.0, -2.0], [1, 1])
    with pytest.raises(LifeDataError, match="equally long"):
        kaplan_meier([1.0, 2.0], [1])
    with pytest.raises(LifeDataError, match="two groups"):
        log_rank([1.0, 2.0], [1, 1], ["a", "a"])
