"""Portable C99 from a :class:`~shopfloor.tinyml.model.TinyModel`: one self-contained ``.c`` file.

Every model gets, with ``p`` the prefix (``sf_<name>``)::

    int  p_predict(const float *x, float *scores);   /* class index; scores: S values */
    #define P_N_INPUTS, P_N_SCORES, P_N_CLASSES

``x`` is a raw input row: a segment of ``length`` samples when the model has vibration features
(extracted in C, see :mod:`shopfloor.tinyml.cfeatures`), else the feature row. Constants are
``static const`` (flash on a microcontroller); work buffers are static (RAM); there is no
``malloc`` and no libc beyond ``<math.h>``. Forest inputs are ``float`` (never int16).
"""

from __future__ import annotations

import re

import numpy as np

from .cfeatures import c_array, c_float, vibration_c
from .features import VibrationFeatures
from .model import TinyModel


def prefix_for(name: str) -> str:
    """C identifier prefix for a model name.

    >>> prefix_for("cwru-vibration v2")
    'sf_cwru_vibration_v2'
    """
    return "sf_" + re.sub(r"\W+", "_", name).strip("_").lower()


def _itype(values: np.ndarray) -> str:
    lo, hi = (int(values.min()), int(values.max())) if values.size else (0, 0)
    for t, a, b in (("int8_t", -128, 127), ("int16_t", -32768, 32767)):
        if a <= lo and hi <= b:
            return t
    return "int32_t"


def _utype(values: np.ndarray) -> str:
    hi = int(values.max()) if values.size else 0
    return "uint8_t" if hi < 256 else "uint16_t" if hi < 65536 else "uint32_t"


def _forest(m: TinyModel, p: str) -> str:
    a = m.arrays
    trees, n_cls = len(a["roots"]), len(m.classes)
    kids = np.concatenate([a["left"], a["right"], a["roots"]])
    ct = _itype(kids)
    q = "leaf_q" in a
    leaf = a["leaf_q"] if q else a["leaf"]
    # identical leaf distributions are stored once (pure leaves collapse to one-hot rows)
    uniq, inverse = np.unique(leaf, axis=0, return_inverse=True)
    inverse = np.asarray(inverse).ravel()
    out = [
        c_array(_utype(a["feature"]), p + "_feat", a["feature"]),
        c_array("float", p + "_thr", a["threshold"]),
        c_array(ct, p + "_left", a["left"]),
        c_array(ct, p + "_right", a["right"]),
        c_array(ct, p + "_roots", a["roots"]),
        c_array(_utype(inverse), p + "_leaf_row", inverse),
        c_array("uint8_t" if q else "float", p + "_leaf", uniq),
    ]
    acc, zero, scale = ("uint32_t", "0", f"(255.0f * {trees})") if q else ("float", "0.0f", f"{trees}.0f")
    out.append(f"""
static int {p}_model(const float *x, float *scores) {{
    {acc} acc[{n_cls}];
    int t, c, best = 0;
    for (c = 0; c < {n_cls}; c++) acc[c] = {zero};
    for (t = 0; t < {trees}; t++) {{
        int i = {p}_roots[t];
        const {"uint8_t" if q else "float"} *row;
        while (i >= 0) i = (x[{p}_feat[i]] <= {p}_thr[i]) ? {p}_left[i] : {p}_right[i];
        row = {p}_leaf + (size_t){p}_leaf_row[~i] * {n_cls};
        for (c = 0; c < {n_cls}; c++) acc[c] += row[c];
    }}
    for (c = 0; c < {n_cls}; c++) {{
        scores[c] = (float)acc[c] / {scale};
        if (acc[c] > acc[best]) best = c;
    }}
    return best;
}}
""")
    return "".join(out)


def _mlp(m: TinyModel, p: str) -> str:
    a, meta = m.arrays, m.meta
    layers = int(meta["layers"])
    widths = [len(a[f"b{i}"]) for i in range(layers)]
    width = max([*widths, int(meta["n_features"])])
    out = [f"static float {p}_h0[{width}], {p}_h1[{width}];\n"]
    act = {
        "relu": "v > 0.0f ? v : 0.0f",
        "tanh": "tanhf(v)",
        "logistic": "1.0f / (1.0f + expf(-v))",
        "identity": "v",
    }[meta["activation"]]
    body = []
    for i in range(layers):
        q = f"Wq{i}" in a
        w = a[f"Wq{i}"] if q else a[f"W{i}"]
        n_out, n_in = w.shape
        out.append(c_array("int8_t" if q else "float", f"{p}_W{i}", w))
        out.append(c_array("float", f"{p}_b{i}", a[f"b{i}"]))
        if q:
            out.append(c_array("float", f"{p}_s{i}", a[f"s{i}"]))
        src = "x" if i == 0 else f"{p}_h{(i - 1) % 2}"
        dst = f"{p}_h{i % 2}"
        dot = f"{p}_s{i}[j] * s" if q else "s"
        last = i == layers - 1
        body.append(f"""    for (j = 0; j < {n_out}; j++) {{
        const {"int8_t" if q else "float"} *w = {p}_W{i} + (size_t)j * {n_in};
        float s = 0.0f, v;
        for (k = 0; k < {n_in}; k++) s += {"(float)w[k]" if q else "w[k]"} * {src}[k];
        v = {p}_b{i}[j] + {dot};
        {dst}[j] = {"v" if last else act};
    }}
""")
    res = f"{p}_h{(layers - 1) % 2}"
    n_cls = len(m.classes)
    if meta["out_activation"] == "softmax":
        tail = f"""    top = {res}[0];
    for (j = 1; j < {n_cls}; j++) if ({res}[j] > top) top = {res}[j];
    for (j = 0; j < {n_cls}; j++) {{ scores[j] = expf({res}[j] - top); sum += scores[j]; }}
    for (j = 0; j < {n_cls}; j++) {{ scores[j] /= sum; if (scores[j] > scores[best]) best = j; }}
    return best;
"""
    else:
        tail = f"""    scores[1] = 1.0f / (1.0f + expf(-{res}[0]));
    scores[0] = 1.0f - scores[1];
    (void)top; (void)sum; (void)best;
    return scores[1] > scores[0] ? 1 : 0;
"""
    out.append(f"""
static int {p}_model(const float *x, float *scores) {{
    int j, k, best = 0;
    float top, sum = 0.0f;
{"".join(body)}{tail}}}
""")
    return "".join(out)


def _gmm(m: TinyModel, p: str) -> str:
    a = m.arrays
    k, d = a["means"].shape
    diag = bool(m.meta["diag"])
    proj = (
        "y = diff[i] * P[i];"
        if diag
        else f"y = 0.0f; for (j = 0; j <= i; j++) y += diff[j] * P[j * {d} + i];"
    )
    return "".join(
        [
            c_array("float", p + "_means", a["means"]),
            c_array("float", p + "_pc", a["prec_chol"]),
            c_array("float", p + "_const", a["const"]),
            f"""
static int {p}_model(const float *x, float *scores) {{
    float lp[{k}], diff[{d}], top, sum = 0.0f;
    int c, i, j;
    for (c = 0; c < {k}; c++) {{
        const float *P = {p}_pc + (size_t)c * {d if diag else d * d};
        float q = 0.0f, y;
        for (i = 0; i < {d}; i++) diff[i] = x[i] - {p}_means[c * {d} + i];
        for (i = 0; i < {d}; i++) {{ {proj} q += y * y; }}
        lp[c] = {p}_const[c] - 0.5f * q;
    }}
    (void)j;
    top = lp[0];
    for (c = 1; c < {k}; c++) if (lp[c] > top) top = lp[c];
    for (c = 0; c < {k}; c++) sum += expf(lp[c] - top);
    scores[0] = top + logf(sum);
    return scores[0] < {c_float(m.meta["threshold"])} ? 1 : 0;
}}
""",
        ]
    )


def _envelope(m: TinyModel, p: str) -> str:
    a = m.arrays
    d = len(a["location"])
    return "".join(
        [
            c_array("float", p + "_loc", a["location"]),
            c_array("float", p + "_prec", a["precision"]),
            f"""
static int {p}_model(const float *x, float *scores) {{
    float diff[{d}], q = 0.0f;
    int i, j;
    for (i = 0; i < {d}; i++) diff[i] = x[i] - {p}_loc[i];
    for (i = 0; i < {d}; i++) {{
        float t = 0.0f;
        for (j = 0; j < {d}; j++) t += {p}_prec[i * {d} + j] * diff[j];
        q += diff[i] * t;
    }}
    scores[0] = -q - {c_float(m.meta["offset"])};
    return scores[0] < 0.0f ? 1 : 0;
}}
""",
        ]
    )


def n_scores(m: TinyModel) -> int:
    return len(m.classes) if m.kind in ("forest", "mlp") else 1


def generate(m: TinyModel) -> str:
    """The C99 source of model ``m`` (see the module docstring for the interface)."""
    p = prefix_for(m.name)
    nf = int(m.meta["n_features"])
    parts = [
        f"/* {m.name} {m.version}: {m.kind} exported by shopfloor.tinyml; classes: "
        f"{', '.join(m.classes)} */\n",
        "#include <math.h>\n#include <stddef.h>\n#include <stdint.h>\n\n",
        f"#define {p.upper()}_N_INPUTS {m.n_inputs}\n#define {p.upper()}_N_SCORES {n_scores(m)}\n",
        f"#define {p.upper()}_N_CLASSES {len(m.classes)}\n",
        f"int {p}_predict(const float *x, float *scores);\n",
    ]
    if m.features:
        parts.append(vibration_c(p, VibrationFeatures.from_settings(m.features)))
    parts.append({"forest": _forest, "mlp": _mlp, "gmm": _gmm, "envelope": _envelope}[m.kind](m, p))
    steps = []
    src = "x"
    if m.features:
        steps.append(f"    {p}_features(x, f);\n")
        src = "f"
    if m.scaled:
        parts.append(c_array("float", p + "_mu", m.arrays["scale_mean"]))
        parts.append(c_array("float", p + "_sd", m.arrays["scale_std"]))
        steps.append(f"    for (i = 0; i < {nf}; i++) z[i] = ({src}[i] - {p}_mu[i]) / {p}_sd[i];\n")
        src = "z"
    decl = ""
    if m.features:
        decl += f"    float f[{nf}];\n"
    if m.scaled:
        decl += f"    float z[{nf}];\n    int i;\n"
    parts.append(f"""
int {p}_predict(const float *x, float *scores) {{
{decl}{"".join(steps)}    return {p}_model({src}, scores);
}}
""")
    return "".join(parts)
