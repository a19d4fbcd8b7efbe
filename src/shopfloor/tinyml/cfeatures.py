"""C99 source of the edge vibration features (:class:`~shopfloor.tinyml.features.VibrationFeatures`).

One real FFT of the segment: the ``N`` real samples are packed as ``N/2`` complex values, an
in-place radix-2 FFT runs on them and the split step recovers bins ``0 .. N/2``. Twiddles and the
Hann window come from one quarter-wave sine table of ``N/4 + 1`` floats in flash; the work buffer
is ``N`` floats of RAM. Everything is ``float`` (single-precision FPU of a Cortex-M4F); sums of the
waveform statistics are kept in ``sf_acc_t`` (float unless ``SF_ACC_DOUBLE`` is defined).
"""

from __future__ import annotations

import numpy as np

from .features import FLOOR, TINY, VibrationFeatures


def c_float(v: float) -> str:
    """A float32 literal that reads back to exactly the same float32.

    >>> c_float(0.1), c_float(-2.0), c_float(1e-9)
    ('0.100000001f', '-2.0f', '9.99999972e-10f')
    """
    s = f"{float(np.float32(v)):.9g}"
    if "e" not in s and "." not in s and "inf" not in s and "nan" not in s:
        s += ".0"
    return s + "f"


def c_array(ctype: str, name: str, values: np.ndarray, per_line: int = 8) -> str:
    """``static const`` C array definition of ``values`` (flattened)."""
    flat = np.asarray(values).ravel()
    items = [c_float(v) for v in flat] if ctype == "float" else [str(int(v)) for v in flat]
    if not items:
        items = ["0"]
    lines = [", ".join(items[i : i + per_line]) for i in range(0, len(items), per_line)]
    body = ",\n    ".join(lines)
    return f"static const {ctype} {name}[{max(len(flat), 1)}] = {{\n    {body}\n}};\n"


def vibration_c(prefix: str, vf: VibrationFeatures) -> str:
    """C functions ``void {prefix}_features(const float *seg, float *out)`` and helpers."""
    n, bands = vf.length, vf.bands
    half, quarter = n // 2, n // 4
    sine = np.sin(2 * np.pi * np.arange(quarter + 1) / n)
    p = prefix
    return f"""
/* ---- edge vibration features: {len(vf.names)} values from {n} samples ---- */
#ifdef SF_ACC_DOUBLE
typedef double sf_acc_t;
#else
typedef float sf_acc_t;
#endif
#define {p.upper()}_SEG_LEN {n}
#define {p.upper()}_N_FEATURES {vf.n_features}
{c_array("float", p + "_sine", sine)}
static float {p}_work[{n}];

/* sin and cos of 2 pi k / N for 0 <= k <= N/2, from the quarter-wave table */
static float {p}_sin(int k) {{ return (k <= {quarter}) ? {p}_sine[k] : {p}_sine[{half} - k]; }}
static float {p}_cos(int k) {{
    return (k <= {quarter}) ? {p}_sine[{quarter} - k] : -{p}_sine[k - {quarter}];
}}

/* in-place radix-2 FFT of {half} complex values (interleaved re, im) */
static void {p}_fft(float *z) {{
    int i, j = 0, len, k, m = {half};
    for (i = 1; i < m; i++) {{
        int bit = m >> 1;
        for (; j & bit; bit >>= 1) j ^= bit;
        j ^= bit;
        if (i < j) {{
            float tr = z[2 * i], ti = z[2 * i + 1];
            z[2 * i] = z[2 * j]; z[2 * i + 1] = z[2 * j + 1];
            z[2 * j] = tr; z[2 * j + 1] = ti;
        }}
    }}
    for (len = 2; len <= m; len <<= 1) {{
        int step = {n} / len, h = len >> 1;
        for (k = 0; k < h; k++) {{
            float wr = {p}_cos(k * step), wi = -{p}_sin(k * step);
            for (i = 0; i < m; i += len) {{
                float *a = z + 2 * (i + k), *b = z + 2 * (i + k + h);
                float xr = b[0] * wr - b[1] * wi, xi = b[0] * wi + b[1] * wr;
                b[0] = a[0] - xr; b[1] = a[1] - xi;
                a[0] += xr; a[1] += xi;
            }}
        }}
    }}
}}

void {p}_features(const float *seg, float *out) {{
    int i, k;
    sf_acc_t s1 = 0, s2 = 0, sa = 0, c2 = 0, c3 = 0, c4 = 0;
    float peak = 0.0f, mean, sd, rms, mean_abs, kurt, skew, total = 0.0f;
    float e[{bands}];
    float *z = {p}_work;
    for (i = 0; i < {n}; i++) {{
        float v = seg[i], a = fabsf(v);
        s1 += v; s2 += (sf_acc_t)v * v; sa += a;
        if (a > peak) peak = a;
    }}
    mean = (float)(s1 / {n});
    for (i = 0; i < {n}; i++) {{
        float c = seg[i] - mean, cc = c * c;
        int w = (i <= {half}) ? i : {n} - i;
        c2 += cc; c3 += cc * c; c4 += cc * cc;
        z[i] = c * (0.5f - 0.5f * {p}_cos(w));
    }}
    sd = sqrtf((float)(c2 / {n}));
    if (sd == 0.0f) sd = {c_float(TINY)};
    rms = sqrtf((float)(s2 / {n}));
    if (rms == 0.0f) rms = {c_float(TINY)};
    mean_abs = (float)(sa / {n});
    if (mean_abs == 0.0f) mean_abs = {c_float(TINY)};
    kurt = (float)(c4 / {n}) / (sd * sd * sd * sd);
    skew = (float)(c3 / {n}) / (sd * sd * sd);
    out[0] = logf(rms);
    out[1] = logf(peak > {c_float(TINY)} ? peak : {c_float(TINY)});
    out[2] = peak / rms;
    out[3] = logf(kurt > {c_float(TINY)} ? kurt : {c_float(TINY)});
    out[4] = skew;
    out[5] = rms / mean_abs;
    out[6] = peak / mean_abs;
    {p}_fft(z);
    for (i = 0; i < {bands}; i++) e[i] = 0.0f;
    for (k = 0; k <= {half}; k++) {{
        int a = k % {half}, b = ({half} - k) % {half}, band = k * {bands} / {half};
        float ar = z[2 * a], ai = z[2 * a + 1], br = z[2 * b], bi = -z[2 * b + 1];
        float er = 0.5f * (ar + br), ei = 0.5f * (ai + bi);
        float orr = 0.5f * (ai - bi), oi = -0.5f * (ar - br);
        float wr = {p}_cos(k), wi = -{p}_sin(k);
        float xr = er + orr * wr - oi * wi, xi = ei + orr * wi + oi * wr;
        if (band > {bands - 1}) band = {bands - 1};
        e[band] += xr * xr + xi * xi;
    }}
    for (i = 0; i < {bands}; i++) total += e[i];
    if (total == 0.0f) total = 1.0f;
    for (i = 0; i < {bands}; i++) out[7 + i] = logf(e[i] / total + {c_float(FLOOR)});
}}
"""
