"""Vibration features: waveform statistics, spectra, envelope spectrum at bearing defect frequencies,
and ISO 20816 / 10816 severity zones.

Bearing defect frequencies follow from the geometry (``n`` rolling elements of diameter ``d`` on
pitch diameter ``D``, contact angle ``phi``) and the shaft frequency ``fr``:
BPFO = n/2 (1 - d/D cos phi) fr, BPFI = n/2 (1 + d/D cos phi) fr,
BSF = D/(2d) (1 - (d/D cos phi)^2) fr, FTF = 1/2 (1 - d/D cos phi) fr.

>>> b = SKF_6205
>>> round(b.bpfo(1.0), 4), round(b.bpfi(1.0), 4), round(b.bsf(1.0), 4), round(b.ftf(1.0), 4)
(3.5848, 5.4152, 2.3567, 0.3983)
>>> severity_zone(3.0, "II")
'C'
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)

G = 9.80665  # m/s^2 per g


@dataclass(frozen=True)
class Bearing:
    """Rolling-element bearing geometry: ``balls``, ball and pitch diameters (any one unit), angle (deg)."""

    balls: int
    ball_diameter: float
    pitch_diameter: float
    contact_angle: float = 0.0

    @property
    def _r(self) -> float:
        return float(self.ball_diameter / self.pitch_diameter * np.cos(np.radians(self.contact_angle)))

    def bpfo(self, shaft_hz: float) -> float:
        """Ball pass frequency, outer race (Hz)."""
        return self.balls / 2 * (1 - self._r) * shaft_hz

    def bpfi(self, shaft_hz: float) -> float:
        """Ball pass frequency, inner race (Hz)."""
        return self.balls / 2 * (1 + self._r) * shaft_hz

    def bsf(self, shaft_hz: float) -> float:
        """Ball spin frequency (Hz); a ball defect strikes at twice this rate."""
        return self.pitch_diameter / (2 * self.ball_diameter) * (1 - self._r**2) * shaft_hz

    def ftf(self, shaft_hz: float) -> float:
        """Fundamental train (cage) frequency (Hz)."""
        return 0.5 * (1 - self._r) * shaft_hz

    def frequencies(self, shaft_hz: float) -> dict[str, float]:
        """All four defect frequencies plus the shaft frequency, in Hz."""
        return {
            "shaft": shaft_hz,
            "bpfo": self.bpfo(shaft_hz),
            "bpfi": self.bpfi(shaft_hz),
            "bsf": self.bsf(shaft_hz),
            "ftf": self.ftf(shaft_hz),
        }


#: SKF 6205-2RS JEM deep-groove ball bearing (CWRU drive end), inches.
SKF_6205 = Bearing(balls=9, ball_diameter=0.3126, pitch_diameter=1.537)

#: ISO 10816-1 / 20816-1 zone limits (A/B, B/C, C/D) of velocity RMS in mm/s per machine class;
#: "group1"/"group2" with "_rigid"/"_flexible" are ISO 10816-3 (20816-3) industrial machines.
ZONE_LIMITS: dict[str, tuple[float, float, float]] = {
    "I": (0.71, 1.8, 4.5),
    "II": (1.12, 2.8, 7.1),
    "III": (1.8, 4.5, 11.2),
    "IV": (2.8, 7.1, 18.0),
    "group1_rigid": (2.3, 4.5, 7.1),
    "group1_flexible": (3.5, 7.1, 11.0),
    "group2_rigid": (1.4, 2.8, 4.5),
    "group2_flexible": (2.3, 4.5, 7.1),
}
ZONE_MEANING = {
    "A": "newly commissioned",
    "B": "unrestricted long-term operation",
    "C": "restricted operation; plan maintenance",
    "D": "damage likely",
}


def severity_zone(velocity_rms_mm_s: float, machine_class: str = "group2_rigid") -> str:
    """ISO 20816-style evaluation zone ``A``..``D`` for a broadband velocity RMS (mm/s)."""
    try:
        ab, bc, cd = ZONE_LIMITS[machine_class]
    except KeyError as err:
        raise ValueError(
            f"unknown machine class {machine_class!r}; choose one of {list(ZONE_LIMITS)}"
        ) from err
    v = float(velocity_rms_mm_s)
    return "A" if v < ab else "B" if v < bc else "C" if v < cd else "D"


def velocity_rms(accel_g: np.ndarray, fs: float, band: tuple[float, float] = (10.0, 1000.0)) -> float:
    """Velocity RMS in mm/s from an acceleration signal in g, integrated in the frequency domain.

    ``band`` is the ISO 20816 measurement band (10-1000 Hz for machines above 600 rpm).

    >>> fs, f = 10000.0, 100.0
    >>> t = np.arange(int(fs)) / fs
    >>> a = np.sin(2 * np.pi * f * t) / G  # 1 m/s^2 amplitude -> v = 1/(2 pi f) m/s
    >>> round(velocity_rms(a, fs), 3), round(1000 / (2 * 3.141592653589793 * f) / 2**0.5, 3)
    (1.125, 1.125)
    """
    x = np.asarray(accel_g, dtype=float) * G
    x = x - x.mean()
    spec = np.fft.rfft(x)
    f = np.fft.rfftfreq(len(x), 1 / fs)
    keep = (f >= band[0]) & (f <= band[1])
    v = np.zeros_like(spec)
    v[keep] = spec[keep] / (2j * np.pi * f[keep])
    vel = np.fft.irfft(v, n=len(x))
    return float(np.sqrt(np.mean(vel**2)) * 1000.0)


def waveform_stats(x: np.ndarray) -> dict[str, float]:
    """RMS, peak, crest factor, kurtosis, skewness, shape and impulse factors of a waveform.

    >>> s = waveform_stats(np.sin(np.linspace(0, 200 * np.pi, 100000)))
    >>> round(s["crest"], 3), round(s["kurtosis"], 2)
    (1.414, 1.5)
    """
    x = np.asarray(x, dtype=float)
    c = x - x.mean()
    sd = float(c.std()) or 1e-12
    rms = float(np.sqrt(np.mean(x**2))) or 1e-12
    peak = float(np.max(np.abs(x)))
    mean_abs = float(np.mean(np.abs(x))) or 1e-12
    return {
        "rms": rms,
        "peak": peak,
        "crest": peak / rms,
        "kurtosis": float(np.mean(c**4) / sd**4),
        "skewness": float(np.mean(c**3) / sd**3),
        "shape": rms / mean_abs,
        "impulse": peak / mean_abs,
    }


def band_energies(x: np.ndarray, fs: float, bands: int = 32, fmax: float | None = None) -> np.ndarray:
    """Share of signal power in ``bands`` equal-width bands from 0 to ``fmax`` (default Nyquist)."""
    x = np.asarray(x, dtype=float)
    p = np.abs(np.fft.rfft((x - x.mean()) * np.hanning(len(x)))) ** 2
    f = np.fft.rfftfreq(len(x), 1 / fs)
    edges = np.linspace(0.0, fmax or fs / 2, bands + 1)
    idx = np.clip(np.searchsorted(edges, f, side="right") - 1, 0, bands)
    e = np.bincount(idx, weights=p, minlength=bands + 1)[:bands]
    return e / (e.sum() or 1.0)


def envelope_spectrum(
    x: np.ndarray, fs: float, band: tuple[float, float] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Amplitude spectrum of the Hilbert envelope, optionally after an FFT band-pass.

    Returns ``(freqs, amplitudes)``. A carrier amplitude-modulated at ``fm`` shows a line at ``fm``.
    """
    x = np.asarray(x, dtype=float)
    n = len(x)
    spec = np.fft.fft(x - x.mean())
    f = np.fft.fftfreq(n, 1 / fs)
    h = np.zeros(n)
    h[0] = 1.0
    h[1 : (n + 1) // 2] = 2.0
    if n % 2 == 0:
        h[n // 2] = 1.0
    if band is not None:
        h = h * ((np.abs(f) >= band[0]) & (np.abs(f) <= band[1]))
    env = np.abs(np.fft.ifft(spec * h))
    env = env - env.mean()
    amp = np.abs(np.fft.rfft(env * np.hanning(n))) * 2 / (n * 0.5)
    return np.fft.rfftfreq(n, 1 / fs), amp


def line_amplitude(freqs: np.ndarray, amp: np.ndarray, target: float, tol: float = 0.03) -> float:
    """Largest amplitude within ``target * (1 +/- tol)`` (at least one bin either side)."""
    df = freqs[1] - freqs[0] if len(freqs) > 1 else 1.0
    half = max(target * tol, df)
    sel = (freqs >= target - half) & (freqs <= target + half)
    return float(amp[sel].max()) if sel.any() else 0.0


def defect_features(
    x: np.ndarray, fs: float, shaft_hz: float, bearing: Bearing = SKF_6205, harmonics: int = 3
) -> dict[str, float]:
    """Envelope-spectrum line amplitudes at the shaft and defect frequencies (1..``harmonics``),
    relative to the envelope spectrum's median level, for the raw and a high-passed envelope."""
    out: dict[str, float] = {}
    nyq = fs / 2
    for tag, band in (("env", None), ("envhp", (nyq * 0.35, nyq * 0.95))):
        f, a = envelope_spectrum(x, fs, band)
        floor = float(np.median(a[(f > 5) & (f < 600)])) or 1e-12
        for name, f0 in bearing.frequencies(shaft_hz).items():
            base = 2 * f0 if name == "bsf" else f0
            for h in range(1, harmonics + 1):
                out[f"{tag}_{name}_{h}"] = line_amplitude(f, a, h * base) / floor
    return out


def segment_features(
    x: np.ndarray, fs: float, shaft_hz: float, bearing: Bearing = SKF_6205, bands: int = 32
) -> np.ndarray:
    """One feature vector for a vibration segment (log-scaled statistics, band shares, defect lines)."""
    stats = waveform_stats(x)
    vec = [np.log(stats["rms"]), np.log(stats["peak"]), stats["crest"], np.log(stats["kurtosis"])]
    vec += [stats["skewness"], stats["shape"], stats["impulse"]]
    vec += np.log(band_energies(x, fs, bands) + 1e-9).tolist()
    vec += np.log1p(list(defect_features(x, fs, shaft_hz, bearing).values())).tolist()
    return np.asarray(vec, dtype=float)
