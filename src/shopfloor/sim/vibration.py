"""Vibration: bearing kinematics, kHz waveform synthesis, and feature frames.

Rolling-element bearing defect frequencies from geometry and shaft speed (``fr`` in Hz,
``n`` rolling elements, ball diameter ``d``, pitch diameter ``D``, contact angle ``phi``)::

    BPFO = n/2 * fr * (1 - d/D cos phi)      outer-race defect
    BPFI = n/2 * fr * (1 + d/D cos phi)      inner-race defect
    BSF  = D/(2d) * fr * (1 - (d/D cos phi)^2)  ball spin (a ball defect hits at 2*BSF)
    FTF  = fr/2 * (1 - d/D cos phi)          cage

>>> f = bearing_frequencies(25.0, n_balls=8, ball_d_mm=15.0, pitch_d_mm=75.0, contact_deg=0.0)
>>> round(f["bpfo"], 2), round(f["bpfi"], 2), round(f["bsf"], 2), round(f["ftf"], 2)
(80.0, 120.0, 60.0, 10.0)

A localized defect makes an impact each time a ball passes it; each impact rings the
structure's resonance (a few kHz). The raw spectrum then shows little at BPFO itself, but the
*envelope* (the demodulated resonance band) repeats at BPFO: that is where the features look.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

FS_HZ = 12_800.0  # waveform sample rate
RESONANCE_HZ = 3_200.0  # structural resonance excited by bearing impacts
RESONANCE_DECAY_S = 0.0015  # ring-down time constant of one impact
ENVELOPE_BAND_HZ = (2_000.0, 5_000.0)  # demodulation band around the resonance
FEATURES = ("rms", "peak", "crest", "kurtosis", "x1", "bpfo", "bpfi", "bsf", "ftf")


def bearing_frequencies(
    shaft_hz: float, n_balls: int, ball_d_mm: float, pitch_d_mm: float, contact_deg: float = 0.0
) -> dict[str, float]:
    """BPFO, BPFI, BSF and FTF in Hz for one bearing at one shaft speed."""
    ratio = ball_d_mm / pitch_d_mm * math.cos(math.radians(contact_deg))
    return {
        "bpfo": n_balls / 2.0 * shaft_hz * (1.0 - ratio),
        "bpfi": n_balls / 2.0 * shaft_hz * (1.0 + ratio),
        "bsf": pitch_d_mm / (2.0 * ball_d_mm) * shaft_hz * (1.0 - ratio**2),
        "ftf": shaft_hz / 2.0 * (1.0 - ratio),
    }


def _impulse_train(
    rng: np.random.Generator, n: int, fs: float, rate_hz: float, amp: np.ndarray | float
) -> np.ndarray:
    """Impacts at ``rate_hz`` with random 0.5 % interval variation (ball slip) and a random phase."""
    out = np.zeros(n)
    if rate_hz <= 0:
        return out
    period = fs / rate_hz
    intervals = period * (1.0 + 0.005 * rng.standard_normal(int(n / period) + 2))  # 0.5 % slip
    pos = (rng.uniform(0, period) + np.cumsum(intervals) - intervals[0]).astype(int)
    pos = pos[(pos >= 0) & (pos < n)]
    out[pos] = amp[pos] if isinstance(amp, np.ndarray) else amp
    return out


def _ring(fs: float) -> np.ndarray:
    t = np.arange(int(fs * RESONANCE_DECAY_S * 5)) / fs
    return np.exp(-t / RESONANCE_DECAY_S) * np.sin(2 * np.pi * RESONANCE_HZ * t)


def synthesize(
    rng: np.random.Generator,
    n: int,
    shaft_hz: float,
    freqs: dict[str, float],
    *,
    fs: float = FS_HZ,
    base_g: float = 0.05,
    x1_g: float = 0.1,
    vane_g: float = 0.05,
    n_vanes: int = 6,
    outer: float = 0.0,
    inner: float = 0.0,
    ball: float = 0.0,
    cage: float = 0.0,
    broadband_g: float = 0.0,
    impacts_hz: float = 0.0,
    impacts_g: float = 0.0,
) -> np.ndarray:
    """One acceleration waveform in g (``n`` samples at ``fs``).

    ``outer``/``inner``/``ball``/``cage`` are defect severities 0..1; ``broadband_g`` adds
    high-frequency noise (cavitation); ``impacts_hz``/``impacts_g`` a generic impact train
    (knife chatter on the cutter).
    """
    t = np.arange(n) / fs
    w = 2 * np.pi * shaft_hz
    phase = rng.uniform(0, 2 * np.pi, 3)
    x = x1_g * np.sin(w * t + phase[0]) + 0.3 * x1_g * np.sin(2 * w * t + phase[1])
    if n_vanes and vane_g:
        x += vane_g * np.sin(n_vanes * w * t + phase[2])
    x += base_g * rng.standard_normal(n)
    imp = np.zeros(n)
    if outer > 0:
        imp += _impulse_train(rng, n, fs, freqs["bpfo"], 4.0 * outer)
    if inner > 0:
        mod = 4.0 * inner * (1.0 + 0.4 * np.cos(w * t))  # load zone passes once per turn
        imp += _impulse_train(rng, n, fs, freqs["bpfi"], mod)
    if ball > 0:
        mod = 3.0 * ball * (1.0 + 0.5 * np.cos(2 * np.pi * freqs["ftf"] * t))
        imp += _impulse_train(rng, n, fs, 2.0 * freqs["bsf"], mod)
    if impacts_g > 0:
        imp += _impulse_train(rng, n, fs, impacts_hz, impacts_g)
    if imp.any():
        x += np.convolve(imp, _ring(fs))[:n]
    if cage > 0:
        x += 0.2 * cage * np.sin(2 * np.pi * freqs["ftf"] * t)
    if broadband_g > 0:
        hf = rng.standard_normal(n)
        hf = np.diff(hf, prepend=0.0)  # tilt the noise towards high frequencies
        x += broadband_g * hf
    return x


@lru_cache(maxsize=8)
def _hann(n: int) -> np.ndarray:
    return np.hanning(n)


def envelope_spectrum(x: np.ndarray, fs: float = FS_HZ) -> tuple[np.ndarray, np.ndarray]:
    """(frequencies, amplitude) of the envelope of the resonance band (Hilbert demodulation)."""
    n = len(x)
    spec = np.fft.fft(x)
    f = np.fft.fftfreq(n, 1 / fs)
    lo, hi = ENVELOPE_BAND_HZ
    keep = (f >= lo) & (f <= hi)  # positive band only -> analytic signal of the band
    env = np.abs(np.fft.ifft(np.where(keep, 2.0 * spec, 0.0)))
    env -= env.mean()
    amp = np.abs(np.fft.rfft(env * _hann(n))) * 4.0 / n
    return np.fft.rfftfreq(n, 1 / fs), amp


def amplitude_spectrum(x: np.ndarray, fs: float = FS_HZ) -> tuple[np.ndarray, np.ndarray]:
    """(frequencies, amplitude in g) of the raw signal (Hann window, amplitude-corrected)."""
    n = len(x)
    amp = np.abs(np.fft.rfft((x - x.mean()) * _hann(n))) * 4.0 / n
    return np.fft.rfftfreq(n, 1 / fs), amp


def _peak_near(f: np.ndarray, amp: np.ndarray, target: float) -> float:
    if target <= 0:
        return 0.0
    df = f[1] - f[0]
    half = max(2.0 * df, 0.02 * target)
    sel = (f >= target - half) & (f <= target + half)
    return float(amp[sel].max()) if sel.any() else 0.0


def features(x: np.ndarray, shaft_hz: float, freqs: dict[str, float], fs: float = FS_HZ) -> dict[str, float]:
    """One feature frame: RMS, peak, crest factor, kurtosis (all in g or -), 1x amplitude,
    and envelope amplitudes at BPFO, BPFI, 2*BSF and FTF (g)."""
    xc = x - x.mean()
    rms = float(np.sqrt(np.mean(xc**2)))
    peak = float(np.max(np.abs(xc)))
    var = float(np.mean(xc**2))
    kurt = float(np.mean(xc**4) / var**2) if var > 0 else 0.0
    f, amp = amplitude_spectrum(x, fs)
    fe, env = envelope_spectrum(x, fs)
    return {
        "rms": rms,
        "peak": peak,
        "crest": peak / rms if rms > 0 else 0.0,
        "kurtosis": kurt,
        "x1": _peak_near(f, amp, shaft_hz),
        "bpfo": _peak_near(fe, env, freqs.get("bpfo", 0.0)),
        "bpfi": _peak_near(fe, env, freqs.get("bpfi", 0.0)),
        "bsf": _peak_near(fe, env, 2.0 * freqs.get("bsf", 0.0)),
        "ftf": _peak_near(f, amp, freqs.get("ftf", 0.0)),
    }
