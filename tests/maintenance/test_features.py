"""Vibration features on synthetic signals with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from shopfloor.analytics.maintenance.features import (
    SKF_6205,
    Bearing,
    band_energies,
    defect_features,
    envelope_spectrum,
    line_amplitude,
    segment_features,
    severity_zone,
    velocity_rms,
    waveform_stats,
)

FS = 12000.0


def test_bearing_frequencies_cwru_drive_end():
    # SKF 6205-2RS JEM (CWRU drive end): defect frequencies as multiples of the shaft frequency
    fr = 1797 / 60
    assert SKF_6205.bpfo(fr) == pytest.approx(3.5848 * fr, rel=1e-4)
    assert SKF_6205.bpfi(fr) == pytest.approx(5.4152 * fr, rel=1e-4)
    assert SKF_6205.bsf(fr) == pytest.approx(4.7135 / 2 * fr, rel=1e-3)
    assert SKF_6205.ftf(fr) == pytest.approx(0.39828 * fr, rel=1e-3)
    # BPFO + BPFI = number of balls x shaft frequency, for any geometry
    b = Bearing(balls=12, ball_diameter=7.9, pitch_diameter=38.5, contact_angle=15.0)
    assert b.bpfo(25.0) + b.bpfi(25.0) == pytest.approx(12 * 25.0)


def test_envelope_spectrum_shows_modulation_frequency():
    t = np.arange(int(FS)) / FS
    fm = 107.0
    x = (1 + 0.8 * np.cos(2 * np.pi * fm * t)) * np.sin(2 * np.pi * 3000.0 * t)
    f, a = envelope_spectrum(x, FS)
    assert abs(f[np.argmax(a[1:]) + 1] - fm) <= 1.0
    assert line_amplitude(f, a, fm) == pytest.approx(0.8, rel=0.05)
    # the carrier itself is gone from the envelope
    assert line_amplitude(f, a, 3000.0) < 0.01


def test_defect_features_pick_the_faulty_race():
    rng = np.random.default_rng(0)
    fr = 29.95
    t = np.arange(8192) / FS
    ring = np.exp(-t[:120] * 900) * np.sin(2 * np.pi * 3500 * t[:120])
    x = rng.normal(0, 0.05, len(t))
    for k in np.arange(0, t[-1], 1 / SKF_6205.bpfo(fr)):
        i = int(k * FS)
        x[i : i + 120] += ring[: len(x) - i]
    feats = defect_features(x, FS, fr)
    assert feats["envhp_bpfo_1"] > 3 * feats["envhp_bpfi_1"]
    assert feats["env_bpfo_1"] > 3 * feats["env_bpfi_1"]
    assert np.all(np.isfinite(segment_features(x, FS, fr)))


def test_waveform_stats_and_bands():
    t = np.arange(int(FS)) / FS
    s = waveform_stats(np.sin(2 * np.pi * 50 * t))
    assert s["crest"] == pytest.approx(np.sqrt(2), rel=1e-3)
    assert s["kurtosis"] == pytest.approx(1.5, rel=1e-3)
    g = waveform_stats(np.random.default_rng(1).normal(size=200000))
    assert g["kurtosis"] == pytest.approx(3.0, abs=0.05)
    e = band_energies(np.sin(2 * np.pi * 1000 * t), FS, bands=6)  # 1 kHz bands
    assert e.sum() == pytest.approx(1.0)
    assert e.argmax() == 1


def test_velocity_and_severity_zones():
    t = np.arange(int(FS)) / FS
    # 5 mm/s peak velocity at 50 Hz: a = 2 pi f v
    v_peak = 5e-3
    accel_g = 2 * np.pi * 50 * v_peak * np.cos(2 * np.pi * 50 * t) / 9.80665
    v = velocity_rms(accel_g, FS)
    assert v == pytest.approx(5 / np.sqrt(2), rel=0.01)
    assert severity_zone(v, "group2_rigid") == "C"
    assert severity_zone(v, "group2_flexible") == "B"
    assert [severity_zone(x, "I") for x in (0.5, 1.0, 3.0, 5.0)] == ["A", "B", "C", "D"]
    with pytest.raises(ValueError, match="machine class"):
        severity_zone(1.0, "nope")
