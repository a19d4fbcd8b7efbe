"""RUL model: operating conditions, per-condition normalisation, causal features, intervals."""

from __future__ import annotations

import numpy as np

from shopfloor.analytics.maintenance import (
    ConditionScaler,
    OperatingConditions,
    RULRegressor,
    coverage,
    last_rows,
    rmse,
    window_features,
)

CENTRES = np.array(
    [[0, 0, 100], [10, 0.25, 100], [20, 0.7, 100], [25, 0.62, 60], [35, 0.84, 100], [42, 0.84, 100]],
    dtype=float,
)
OFFSETS = np.random.default_rng(42).normal(0, 5, (len(CENTRES), 4))


def fleet(n_units: int, rng: np.random.Generator, conditions: bool = True):
    """Synthetic run-to-failure fleet: 4 sensors = condition offset + exponential wear + noise."""
    units, settings, sensors, rul = [], [], [], []
    for u in range(n_units):
        life = int(rng.integers(130, 260))
        c = rng.integers(0, len(CENTRES), life) if conditions else np.zeros(life, int)
        wear = np.exp(3 * np.arange(life) / life) / 20
        units += [u] * life
        settings.append(CENTRES[c] + rng.normal(0, 0.002, (life, 3)))
        sensors.append(OFFSETS[c] + wear[:, None] * [1, -1, 2, 0] + rng.normal(0, 0.05, (life, 4)))
        rul.append(np.arange(life - 1, -1, -1.0))
    return np.array(units), np.vstack(settings), np.vstack(sensors), np.concatenate(rul)


def test_conditions_found_and_normalised():
    rng = np.random.default_rng(0)
    _u, s, x, _ = fleet(20, rng)
    oc = OperatingConditions().fit(s)
    assert oc.k == 6
    cond = oc.predict(s)
    sc = ConditionScaler().fit(x, cond, oc.k)
    z = sc.transform(x, cond)
    for c in range(6):
        assert np.allclose(z[cond == c].mean(axis=0), 0, atol=1e-9)
    # the constant 4th sensor wear component is 0 but noise remains: kept; a truly constant column is dropped
    x2 = np.column_stack([x, np.full(len(x), 7.0)])
    assert ConditionScaler().fit(x2, cond, oc.k).keep.tolist() == [True] * 4 + [False]


def test_window_features_are_causal():
    rng = np.random.default_rng(1)
    units = np.repeat([0, 1], 50)
    Z = rng.normal(size=(100, 3))
    F = window_features(units, Z, window=10)
    Z2 = Z.copy()
    Z2[30:50] += 100  # change the future of unit 0
    F2 = window_features(units, Z2, window=10)
    assert np.allclose(F[:30], F2[:30]) and np.allclose(F[50:], F2[50:])
    assert last_rows(units).tolist() == [49, 99]


def test_rul_regressor_multi_condition_with_intervals():
    rng = np.random.default_rng(2)
    u, s, x, r = fleet(40, rng)
    m = RULRegressor(iterations=80, folds=3, learning_rate=0.1).fit(u, s, x, r)
    assert m.conditions.k == 6
    ut, st, xt, rt = fleet(25, np.random.default_rng(3))
    pred, lo, hi = m.predict_interval(ut, st, xt, alpha=0.1)
    truth = np.minimum(rt, 125)
    assert rmse(pred, truth) < 20
    assert np.all(lo <= pred) and np.all(pred <= hi)
    assert coverage(lo, hi, truth) > 0.75
