"""Returns forecast and batch comparison on fleets drawn from known distributions."""

import numpy as np
import pytest

from shopfloor.analytics.fleet import fit_life
from shopfloor.analytics.fleet.compare import compare_batches, distinguishing_parameters, explain_batches
from shopfloor.analytics.fleet.forecast import forecast_returns
from shopfloor.analytics.fleet.models import LifeModel
from shopfloor.analytics.fleet.survival import LifeDataError


def _fleet(seed: int, n: int = 4000, beta: float = 2.0, eta: float = 24.0):
    """Units entering service uniformly over 24 months; life in months (1 month of use per month)."""
    rng = np.random.default_rng(seed)
    age = rng.uniform(0.1, 24.0, n)
    life = eta * rng.weibull(beta, n)
    return age, life


def test_forecast_expected_counts_match_the_conditional_probabilities() -> None:
    m = LifeModel("weibull", np.log(24.0), 0.5, 0.0, np.zeros((2, 2)), 0.0, 0, 0)
    fc = forecast_returns(m, ages=[6.0, 12.0], rates=1.0, months=2, draws=50)
    sf = lambda t: np.exp(-((t / 24.0) ** 2))  # noqa: E731
    want0 = sum((sf(a) - sf(a + 1)) / sf(a) for a in (6.0, 12.0))
    assert fc.expected[0] == pytest.approx(want0, rel=1e-9)
    assert fc.cumulative[1] == pytest.approx(fc.expected[0] + fc.expected[1])


def test_forecast_bounds_cover_what_actually_happens() -> None:
    age, life = _fleet(5)
    failed = life <= age
    m = fit_life(np.where(failed, life, age), failed, "weibull")
    alive = ~failed
    fc = forecast_returns(m, age[alive], 1.0, months=6, conf=0.95, seed=1)
    # what the true lives do over the next six months
    rel = life[alive] - age[alive]
    actual = [int(((rel > k) & (rel <= k + 1)).sum()) for k in range(6)]
    inside = sum(lo <= a <= hi for lo, a, hi in zip(fc.lower, actual, fc.upper, strict=True))
    assert inside >= 5, (actual, fc.lower, fc.upper)
    assert all(lo <= ex <= hi for lo, ex, hi in zip(fc.lower, fc.expected, fc.upper, strict=True))
    with pytest.raises(LifeDataError, match="rates"):
        forecast_returns(m, [1.0], 0.0)


def test_compare_flags_only_the_short_lived_batch_and_names_its_parameter() -> None:
    rng = np.random.default_rng(11)
    batches = [f"B{i:02d}" for i in range(12)]
    times, events, groups, profiles = [], [], [], {}
    for b in batches:
        eta = 300.0 if b == "B07" else 1000.0
        life = eta * rng.weibull(1.8, 60)
        stop = rng.uniform(100, 900, 60)
        times += np.minimum(life, stop).tolist()
        events += (life <= stop).tolist()
        groups += [b] * 60
        profiles[b] = {
            "press.pressure_sp": 150.0 + (60.0 if b == "B07" else 0.0),
            "press.density": float(rng.normal(720, 20)),
            "press.speed_sp": 500.0,
        }
    res = compare_batches(times, events, groups)
    assert [b.batch for b in res.flagged] == ["B07"]
    assert res.batches[0].batch == "B07" and res.batches[0].ratio > 2
    assert res.p_value < 1e-6
    kinds = {"press.pressure_sp": "setting", "press.density": "material", "press.speed_sp": "setting"}
    shifts = distinguishing_parameters(profiles, ["B07"], kinds)
    assert shifts[0].parameter == "press.pressure_sp" and shifts[0].z > 10
    assert explain_batches(profiles, ["B07"], kinds)["B07"][0].parameter == "press.pressure_sp"


def test_compare_flags_nothing_when_batches_are_alike() -> None:
    rng = np.random.default_rng(12)
    life = 1000.0 * rng.weibull(1.8, 600)
    stop = rng.uniform(100, 900, 600)
    res = compare_batches(np.minimum(life, stop), life <= stop, np.repeat([f"B{i}" for i in range(10)], 60))
    assert res.flagged == []
