"""Detectors, thresholds and alarm logic of shopfloor.analytics.anomaly."""

from __future__ import annotations

import numpy as np
import pytest

from shopfloor.analytics.anomaly import (
    MEWMA,
    PCA,
    SPOT,
    Alarm,
    IsolationForest,
    Likelihood,
    RangeNovelty,
    RobustZ,
    cv_limit,
    pot_threshold,
)
from shopfloor.core.errors import ConfigError


def _normal(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=(n, 2))
    return np.column_stack(
        [latent[:, 0], latent[:, 0] + 0.1 * rng.normal(size=n), latent[:, 1], latent[:, 1]]
    )


def test_pca_score_one_equals_score_many_and_flags_broken_correlation():
    det = PCA(variance=0.9).fit(_normal(1000))
    X = _normal(50, seed=1)
    X[-1] = [3.0, -3.0, 0.0, 0.0]
    many = det.score_many(X)
    assert np.allclose(many, [det.score_one(x) for x in X])
    assert many[-1] > 10 * np.median(many[:-1])


def test_mewma_streaming_equals_batch_and_dicts():
    det = MEWMA(alpha=0.2).fit(_normal(600))
    X = _normal(100, seed=2)
    det.reset()
    batch = det.score_many(X)
    det.reset()
    one = [det.score_one(x) for x in X]
    det.reset()
    keys = ["a", "b", "c", "d"]
    det.keys = keys
    as_dict = [det.score_one(dict(zip(keys, x, strict=True))) for x in X]
    assert np.allclose(batch, one) and np.allclose(batch, as_dict)


def test_mewma_detects_a_small_lasting_shift_and_skips_wandering_sensors():
    rng = np.random.default_rng(5)
    train = rng.normal(size=(400, 3))
    train[:, 2] = np.linspace(0, 30, 400) + rng.normal(size=400)  # a drifting temperature
    det = MEWMA(alpha=0.1).fit(train)
    assert det.keep_.tolist() == [True, True, False]
    test = rng.normal(size=(300, 3))
    test[150:, 0] += 2.0
    det.reset()
    s = det.score_many(test)
    assert s[:150].max() < 2.0 < np.median(s[200:])


def test_alarm_persistence_and_hysteresis():
    assert Alarm(on=1, off=0.5, delay=3).run([2, 2, 0, 2, 2, 2, 0.8, 0.4]).tolist() == [
        False, False, False, False, False, True, True, False,
    ]  # fmt: skip
    with pytest.raises(ConfigError):
        Alarm(on=1, off=2)


def test_pot_and_spot():
    rng = np.random.default_rng(0)
    x = rng.normal(size=50_000)
    z = pot_threshold(x, risk=1e-3)
    assert 2.9 < z < 3.4  # Gaussian 99.9 % quantile: 3.09
    spot = SPOT(risk=1e-3).fit(x[:10_000])
    flags = [spot.update_one(v) for v in x[10_000:20_000]]
    assert 0 < sum(flags) < 40
    assert spot.update_one(10.0)


def test_cv_limit_is_out_of_sample():
    X = np.random.default_rng(1).normal(size=(300, 30))
    inside = PCA(variance=0.9, quantile=0.99).fit(X).t2_limit_
    limit, held = cv_limit(lambda: PCA(variance=0.9, quantile=0.99), X)
    assert limit > 1.0 and len(held) == 300 and inside > 0


def test_isolation_forest_separates_outliers():
    X = _normal(500)
    f = IsolationForest(trees=50, seed=1).fit(X)
    s = f.score_many(np.vstack([X[:20], [[8, -8, 8, -8]]]))
    assert s[-1] > s[:-1].max()


def test_univariate_detectors():
    rng = np.random.default_rng(0)
    xs = np.concatenate([rng.normal(size=600), [9.0], rng.normal(size=50)])
    z = RobustZ(window=100)
    novelty, like = RangeNovelty(refractory=100), Likelihood(long=400)
    zs, ns, ls = [], [], []
    for x in xs:
        zs.append(z.score_one(x))
        z.learn_one(x)
        ns.append(novelty.learn_one(x))
        ls.append(like.learn_one(x))
    assert int(np.argmax(zs)) == 600 and 100 + int(np.argmax(ns[100:])) == 600
    assert max(ls[600:610]) > max(ls[300:600])


def test_robust_z_is_seasonality_aware():
    t = np.arange(2000)
    xs = np.sin(2 * np.pi * t / 100) * 10
    plain, seasonal = RobustZ(window=50), RobustZ(window=50, period=100)
    for x in xs[:1900]:
        plain.learn_one(x)
        seasonal.learn_one(x)
    assert seasonal.score_one(xs[1900]) < plain.score_one(xs[1900])


def test_range_novelty_sees_a_broken_daily_pattern_once():
    t = np.arange(288 * 10)
    xs = 10 + 5 * np.sin(2 * np.pi * t / 288)
    xs[288 * 8 : 288 * 8 + 40] = xs[288 * 8]  # flat for 40 samples: within the usual range
    det = RangeNovelty(period=288, refractory=100)
    out = np.array([det.learn_one(x) for x in xs])
    assert out[288 * 2 : 288 * 8].max() < 0.01
    hits = np.flatnonzero(out[288 * 2 :] > 0.1) + 288 * 2
    assert len(hits) >= 1 and 288 * 8 <= hits[0] < 288 * 8 + 40
