"""Tabular failure prediction: physics features and the classifier."""

from __future__ import annotations

import numpy as np

from shopfloor.analytics.maintenance.tabular import FailureClassifier, physics_features


def test_power_failure_rule_is_learned():
    rng = np.random.default_rng(0)
    n = 3000
    X = np.column_stack(
        [
            rng.integers(0, 3, n),
            rng.normal(300, 2, n),
            rng.normal(310, 1.5, n),
            rng.normal(1500, 180, n),
            rng.normal(40, 10, n),
            rng.uniform(0, 250, n),
        ]
    )
    power = physics_features(X)[:, 6]
    y = ((power < 3500) | (power > 9000)).astype(int)
    m = FailureClassifier(iterations=100).fit(X[:2000], y[:2000])
    pred = m.predict(X[2000:])
    assert np.mean(pred == y[2000:]) > 0.97
    assert m.predict_one(X[0]) in (0, 1)
