"""Fault classifier on synthetic bearing signals (impulse trains at the defect frequencies)."""

from __future__ import annotations

import numpy as np

from shopfloor.analytics.maintenance.classify import FaultClassifier, feature_matrix, segments
from shopfloor.analytics.maintenance.features import SKF_6205

FS = 12000.0


def signal(kind: str, fr: float, n: int, rng: np.random.Generator) -> np.ndarray:
    x = rng.normal(0, 0.05, n)
    if kind == "normal":
        return x
    rate = SKF_6205.bpfo(fr) if kind == "outer" else SKF_6205.bpfi(fr)
    t = np.arange(160) / FS
    ring = np.exp(-t * 800) * np.sin(2 * np.pi * 3300 * t)
    for k in np.arange(0, n / FS, 1 / rate):
        i = int(k * FS)
        x[i : i + 160] += 0.5 * ring[: n - i]
    return x


def test_classifier_generalises_to_another_speed():
    rng = np.random.default_rng(0)
    kinds = ("normal", "outer", "inner")
    F, y = [], []
    for kind in kinds:
        segs = segments(signal(kind, 1797 / 60, 2048 * 12, rng), 2048)
        F.append(feature_matrix(segs, FS, 1797 / 60))
        y += [kind] * len(segs)
    m = FaultClassifier(trees=100).fit(np.vstack(F), np.array(y))
    for kind in kinds:
        segs = segments(signal(kind, 1730 / 60, 2048 * 4, rng), 2048)
        assert (m.predict(feature_matrix(segs, FS, 1730 / 60)) == kind).mean() >= 0.75
    assert segments(np.arange(5000.0), 2048).shape == (2, 2048)


def test_speed_perturbation_moves_defect_lines():
    from shopfloor.analytics.maintenance.classify import stretch, training_features
    from shopfloor.analytics.maintenance.features import envelope_spectrum

    rng = np.random.default_rng(1)
    fr = 1797 / 60
    x = signal("outer", fr, 2048 * 6, rng)
    slow = stretch(x, 1.04)
    assert len(slow) == round(len(x) * 1.04)
    f, a = envelope_spectrum(slow, FS)
    peak = f[np.argmax(a * (f > 50) * (f < 200))]
    assert abs(peak - SKF_6205.bpfo(fr / 1.04)) < 3.0  # the slower shaft's BPFO
    F = training_features(x, 2048, FS, fr, factors=(0.98, 1.0, 1.02))
    assert F.shape[0] == 6 + 6 + 6 - 1  # 0.98 x 12288 samples gives only 5 whole segments
