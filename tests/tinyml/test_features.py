"""Edge vibration features: NumPy definition, and the generated C computing the same numbers."""

from __future__ import annotations

import numpy as np
import pytest

from shopfloor.core.errors import ConfigError
from shopfloor.tinyml.convert import export
from shopfloor.tinyml.features import VibrationFeatures
from shopfloor.tinyml.verify import run_features_c


def test_waveform_statistics_match_their_definitions() -> None:
    x = np.sin(np.linspace(0, 64 * np.pi, 1024, endpoint=False))
    f = VibrationFeatures(1024, 8).transform(x[None, :])[0]
    assert f[2] == pytest.approx(np.sqrt(2), rel=1e-3)  # crest factor of a sine
    assert np.exp(f[3]) == pytest.approx(1.5, rel=1e-3)  # kurtosis of a sine
    shares = np.exp(f[7:])
    assert shares.sum() == pytest.approx(1.0, abs=1e-6)
    assert int(np.argmax(shares)) == 0  # 32 cycles in 1024 samples: bin 32 of 512, band 0 of 8


def test_band_of_a_tone_follows_its_frequency() -> None:
    vf = VibrationFeatures(256, 8)
    n = np.arange(256)
    for b in range(8):
        k = b * 16 + 8  # middle of band b (128 bins / 8 bands)
        f = vf.transform(np.cos(2 * np.pi * k * n / 256)[None, :])[0]
        assert int(np.argmax(f[7:])) == b


def test_bad_settings_and_shapes_are_named() -> None:
    with pytest.raises(ConfigError, match="power of two"):
        VibrationFeatures(1000)
    with pytest.raises(ConfigError, match="segments have 100 samples"):
        VibrationFeatures(256).transform(np.zeros((2, 100)))


@pytest.mark.parametrize("length,bands", [(512, 16), (2048, 16)])
def test_c_features_equal_numpy(segments, length, bands, tmp_path) -> None:
    from sklearn.ensemble import RandomForestClassifier

    X, y = segments
    rng = np.random.default_rng(0)
    segs = np.tile(X, (1, length // X.shape[1])) if length > X.shape[1] else X
    segs = segs + 0.01 * rng.standard_normal(segs.shape)
    vf = VibrationFeatures(length, bands)
    F = vf.transform(segs)
    model = export(RandomForestClassifier(3, random_state=0).fit(F, y), f"feat{length}", features=vf)
    zero = np.zeros((1, length))  # silent input: every guard against division by zero
    c = run_features_c(model, np.vstack([segs[:40], zero]), tmp_path)
    py = vf.transform(np.vstack([segs[:40].astype(np.float32), zero]).astype(float))
    assert c.shape == py.shape
    assert np.all(np.isfinite(c))
    assert np.max(np.abs(c - py)) < 1e-3
