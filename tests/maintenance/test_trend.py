"""RUL from a degradation trend: exact on a clean exponential, honest intervals on a noisy one,
nothing while the score does not grow."""

import math

import numpy as np

from shopfloor.analytics.maintenance.trend import DegradationTrend


def test_no_estimate_without_a_growing_trend() -> None:
    trend = DegradationTrend(min_points=10)
    for i in range(50):
        trend.learn_one(i * 60.0, 3.0 + 0.01 * math.sin(i))  # high but flat
    assert trend.predict_one() is None or trend.predict_one()[0] > 10 * 86_400
    trend.learn_one(51 * 60.0, 0.5)  # back to normal: the trend starts over
    assert trend.predict_one() is None


def test_interval_covers_the_truth_on_noisy_growth() -> None:
    rng = np.random.default_rng(0)
    hits = 0
    for _ in range(40):
        rate = rng.uniform(0.015, 0.05)  # per hour: the failure level is 9 to 170 h ahead
        trend = DegradationTrend(failure_level=50.0, min_points=30)
        for h in range(60):
            trend.learn_one(h * 3600.0, math.exp(0.5 + rate * h + rng.normal(0, 0.15)))
        est = trend.predict_one()
        assert est is not None
        rul, lo, hi = est
        assert lo <= rul <= hi
        true = (math.log(50.0) - 0.5) / rate - 59
        hits += lo / 3600 <= true <= hi / 3600
    assert hits >= 30  # a nominal 90 % interval, checked loosely on 40 trials
