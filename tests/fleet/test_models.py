"""Parametric life models against a published worked example, and recovery with censoring.

Published example: the ball-bearing endurance data of Lieblein & Zelen (1956, J. Res. NBS
57:273), 23 failures in millions of revolutions, analysed in Lawless, "Statistical Models
and Methods for Lifetime Data", 2nd ed. (Wiley 2003), chapter 5: Weibull MLE shape 2.102 and
scale 81.88 (u = 4.405, b = 0.476), log-normal MLE mu = 4.150 and sigma = 0.522.
"""

import numpy as np
import pytest

from shopfloor.analytics.fleet import LifeDataError, best_fit, fit_life

BEARINGS = [
    17.88,
    28.92,
    33.00,
    41.52,
    42.12,
    45.60,
    48.48,
    51.84,
    51.96,
    54.12,
    55.56,
    67.80,
    68.64,
    68.64,
    68.88,
    84.12,
    93.12,
    98.64,
    105.12,
    105.84,
    127.92,
    128.04,
    173.40,
]


def test_weibull_mle_matches_lawless_ball_bearings() -> None:
    m = fit_life(BEARINGS, family="weibull")
    assert m.shape == pytest.approx(2.102, abs=0.002)
    assert m.scale == pytest.approx(81.88, abs=0.02)
    assert m.mu == pytest.approx(4.405, abs=0.001) and m.sigma == pytest.approx(0.476, abs=0.001)
    lo, b10, hi = m.b_life(0.10)
    assert b10 == pytest.approx(81.88 * (-np.log(0.9)) ** (1 / 2.102), rel=1e-3)
    assert lo < b10 < hi


def test_lognormal_mle_matches_lawless_ball_bearings() -> None:
    m = fit_life(BEARINGS, family="lognormal")
    assert m.mu == pytest.approx(4.150, abs=0.001)
    assert m.sigma == pytest.approx(0.522, abs=0.001)
    # complete data: the MLE is the mean and the (1/n) standard deviation of log t
    assert m.mu == pytest.approx(np.log(BEARINGS).mean(), abs=1e-5)
    assert best_fit(BEARINGS).family in ("weibull", "lognormal")


def _censored_sample(seed: int, n: int, beta: float, eta: float, gamma: float = 0.0):
    rng = np.random.default_rng(seed)
    life = gamma + eta * rng.weibull(beta, n)
    stop = rng.uniform(0.3, 2.0, n) * (gamma + eta)  # staggered entry: random censoring
    return np.minimum(life, stop), life <= stop, gamma + eta * (-np.log(0.9)) ** (1 / beta)


def test_weibull_recovers_parameters_under_heavy_censoring() -> None:
    t, e, b10_true = _censored_sample(1, 3000, 1.8, 1000.0)
    assert 0.3 < 1 - e.mean() < 0.7  # heavily censored
    m = fit_life(t, e, "weibull")
    assert m.shape == pytest.approx(1.8, rel=0.06)
    assert m.scale == pytest.approx(1000.0, rel=0.04)
    lo, _, hi = m.b_life(0.10)
    assert lo < b10_true < hi
    naive = fit_life(t[e], None, "weibull")  # ignoring the censored units underestimates life
    assert naive.scale < 0.8 * m.scale


def test_three_parameter_weibull_finds_the_failure_free_period() -> None:
    t, e, b10_true = _censored_sample(2, 2000, 2.0, 300.0, gamma=200.0)
    m3 = fit_life(t, e, "weibull3")
    m2 = fit_life(t, e, "weibull")
    assert m3.gamma == pytest.approx(200.0, abs=25.0)
    assert m3.shape == pytest.approx(2.0, rel=0.15)
    assert m3.loglik > m2.loglik + 10
    lo, _, hi = m3.b_life(0.10)
    assert lo < b10_true < hi
    assert m3.to_dict()["location"] == m3.gamma


def test_fit_errors_name_the_problem() -> None:
    with pytest.raises(LifeDataError, match="at least 2 failures"):
        fit_life([1.0, 2.0, 3.0], [1, 0, 0])
    with pytest.raises(LifeDataError, match="unknown life model"):
        fit_life(BEARINGS, family="gamma")
