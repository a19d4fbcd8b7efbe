"""Edge vibration features: the microcontroller-sized cousin of
:func:`shopfloor.analytics.maintenance.features.segment_features`.

The full feature vector of the maintenance package adds Hilbert envelope spectra at the bearing
defect frequencies (several FFTs of the whole segment and the shaft speed as input). At the edge we
keep what one real FFT and two passes over the segment give, computed identically here (NumPy) and
in the generated C (:mod:`shopfloor.tinyml.cfeatures`):

* 7 waveform statistics: log RMS, log peak, crest factor, log kurtosis, skewness, shape and impulse
  factors (as :func:`~shopfloor.analytics.maintenance.features.waveform_stats`);
* ``bands`` log shares of spectral power in equal-width bands from 0 to Nyquist, from the FFT of the
  mean-removed segment under a *periodic* Hann window, bins ``k = 0 .. N/2`` falling into band
  ``min(k * bands // (N/2), bands - 1)``.

>>> import numpy as np
>>> vf = VibrationFeatures(length=256, bands=8)
>>> t = np.arange(256)
>>> F = vf.transform(np.sin(2 * np.pi * 32 * t / 256)[None, :])
>>> F.shape, len(vf.names)
((1, 15), 15)
>>> int(np.argmax(F[0, 7:]))  # bin 32 of 128 lies in band 32 * 8 // 128 = 2
2
"""

from __future__ import annotations

import numpy as np

from shopfloor.core.errors import ConfigError

STATS = ("log_rms", "log_peak", "crest", "log_kurtosis", "skewness", "shape", "impulse")
TINY = 1e-12
FLOOR = 1e-9


class VibrationFeatures:
    """Waveform statistics and band-power shares of fixed-length segments (rows)."""

    def __init__(self, length: int = 2048, bands: int = 16) -> None:
        if length < 8 or length & (length - 1):
            raise ConfigError(f"vibration feature length {length} must be a power of two >= 8")
        if not 1 <= bands <= length // 2:
            raise ConfigError(f"vibration feature bands {bands} must be between 1 and {length // 2}")
        self.length = length
        self.bands = bands
        n = np.arange(length)
        self._window = 0.5 - 0.5 * np.cos(2 * np.pi * n / length)
        half = length // 2
        self._band = np.minimum(np.arange(half + 1) * bands // half, bands - 1)

    @property
    def names(self) -> list[str]:
        return [*STATS, *(f"band{b}" for b in range(self.bands))]

    @property
    def n_features(self) -> int:
        return len(STATS) + self.bands

    def settings(self) -> dict[str, int | str]:
        """What a model file stores to rebuild this extractor."""
        return {"kind": "vibration", "length": self.length, "bands": self.bands}

    @classmethod
    def from_settings(cls, s: dict) -> VibrationFeatures:
        if s.get("kind") != "vibration":
            raise ConfigError(f"unknown feature extraction {s.get('kind')!r}; this runtime knows 'vibration'")
        return cls(int(s["length"]), int(s["bands"]))

    def transform(self, segs: np.ndarray) -> np.ndarray:
        """Feature rows of segments ``segs`` (n x length)."""
        x = np.atleast_2d(np.asarray(segs, dtype=float))
        if x.shape[1] != self.length:
            raise ConfigError(f"segments have {x.shape[1]} samples, the features expect {self.length}")
        mean = x.mean(axis=1, keepdims=True)
        c = x - mean
        var = np.mean(c * c, axis=1)
        sd = np.sqrt(var)
        sd[sd == 0] = TINY
        rms = np.sqrt(np.mean(x * x, axis=1))
        rms[rms == 0] = TINY
        peak = np.max(np.abs(x), axis=1)
        mean_abs = np.mean(np.abs(x), axis=1)
        mean_abs[mean_abs == 0] = TINY
        kurt = np.mean(c**4, axis=1) / sd**4
        skew = np.mean(c**3, axis=1) / sd**3
        p = np.abs(np.fft.rfft(c * self._window, axis=1)) ** 2
        e = np.zeros((x.shape[0], self.bands))
        for b in range(self.bands):
            e[:, b] = p[:, self._band == b].sum(axis=1)
        total = e.sum(axis=1, keepdims=True)
        total[total == 0] = 1.0
        stats = np.column_stack(
            [
                np.log(rms),
                np.log(np.maximum(peak, TINY)),
                peak / rms,
                np.log(np.maximum(kurt, TINY)),
                skew,
                rms / mean_abs,
                peak / mean_abs,
            ]
        )
        return np.hstack([stats, np.log(e / total + FLOOR)])
