"""Prove the generated C equals the Python model: compile, run on a test set, compare, measure.

:func:`verify` writes the model's C file, compiles it with the host compiler
(``-std=c99 -Wall -Wextra -Werror -O2``) together with a small harness, feeds it the test rows
(the model's verify set: inputs plus the *original estimator's* classes and scores recorded at
export), and reports class agreement with the original estimator and with the NumPy runtime, the
largest score difference, flash (code + constants: ``text + data`` of the object file) and RAM
(``data + bss`` plus the stack from ``-fstack-usage``) and microseconds per inference. When
``arm-none-eabi-gcc`` is installed the same file is compiled for a Cortex-M4F and its flash given,
and also linked into a minimal program (newlib-nano) whose flash includes the C library parts used.
Sizes are of the model's object file; libm functions it calls (``logf``, ``expf``, ``sqrtf``) are
linked from the target's C library and not counted.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from shopfloor.core.errors import ConfigError

from .codegen import generate, n_scores, prefix_for
from .model import TinyModel
from .runtime import Runtime

log = logging.getLogger(__name__)

CFLAGS = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-O2"]
M4_FLAGS = ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16", "-Os", "-std=c99"]
AGREEMENT = 0.999

HARNESS = r"""#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
int %(p)s_predict(const float *x, float *scores);
static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
int main(int argc, char **argv) {
    long n, d = %(d)d, s = %(s)d, i, runs = 0;
    float *x, *scores;
    FILE *in, *out;
    volatile int sink = 0;
    double t0, t1;
    if (argc != 4) { fprintf(stderr, "usage: harness IN OUT ROWS\n"); return 2; }
    n = atol(argv[3]);
    x = malloc(sizeof(float) * (size_t)(n * d));
    scores = malloc(sizeof(float) * (size_t)s);
    in = fopen(argv[1], "rb");
    if (!x || !scores || !in || fread(x, sizeof(float), (size_t)(n * d), in) != (size_t)(n * d)) return 3;
    fclose(in);
    out = fopen(argv[2], "wb");
    if (!out) return 4;
    for (i = 0; i < n; i++) {
        int c = %(p)s_predict(x + i * d, scores);
        fwrite(&c, sizeof(int), 1, out);
        fwrite(scores, sizeof(float), (size_t)s, out);
    }
    fclose(out);
    t0 = now();
    do {
        for (i = 0; i < n; i++) sink += %(p)s_predict(x + i * d, scores);
        runs++;
        t1 = now();
    } while (t1 - t0 < %(seconds)f);
    printf("%%.6f\n", (t1 - t0) * 1e6 / (double)(runs * n));
    return 0;
}
"""


FEATURE_HARNESS = r"""#include <stdio.h>
#include <stdlib.h>
void %(p)s_features(const float *seg, float *out);
int main(int argc, char **argv) {
    long n, i, d = %(d)d, f = %(f)d;
    float *x, *out;
    FILE *in, *fo;
    if (argc != 4) return 2;
    n = atol(argv[3]);
    x = malloc(sizeof(float) * (size_t)(n * d));
    out = malloc(sizeof(float) * (size_t)f);
    in = fopen(argv[1], "rb");
    if (!x || !out || !in || fread(x, sizeof(float), (size_t)(n * d), in) != (size_t)(n * d)) return 3;
    fclose(in);
    fo = fopen(argv[2], "wb");
    if (!fo) return 4;
    for (i = 0; i < n; i++) {
        %(p)s_features(x + i * d, out);
        fwrite(out, sizeof(float), (size_t)f, fo);
    }
    fclose(fo);
    return 0;
}
"""


class CompileError(ConfigError):
    """The host compiler rejected the generated C (the message carries its output)."""


def _run(cmd: list[str], cwd: Path) -> str:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300, check=False)
    if proc.returncode != 0:
        raise CompileError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr.strip()[-4000:]}")
    return proc.stdout


def _size(tool: str, obj: Path, cwd: Path) -> dict[str, int]:
    """``text``, ``data``, ``bss`` of an object file from binutils ``size`` (Berkeley format)."""
    line = _run([tool, str(obj)], cwd).strip().splitlines()[-1].split()
    return {"text": int(line[0]), "data": int(line[1]), "bss": int(line[2])}


def _stack(su: Path) -> int:
    """Upper bound of the stack: the frames of every function in the file added up."""
    if not su.exists():
        return 0
    return sum(int(line.split("\t")[1]) for line in su.read_text().splitlines() if "\t" in line)


M4_MAIN = """int %(p)s_predict(const float *x, float *scores);
static float x[%(d)d], scores[%(s)d];
volatile int sink;
int main(void) { sink = %(p)s_predict(x, scores); return 0; }
"""


def _m4_image(arm: str, model: TinyModel, workdir: Path) -> int | None:
    """Flash of a whole Cortex-M4 program calling the model (newlib-nano, libm, start-up code
    included; ``--gc-sections``), or None when the target C library is not installed."""
    p = prefix_for(model.name)
    (workdir / "m4main.c").write_text(M4_MAIN % {"p": p, "d": model.n_inputs, "s": n_scores(model)})
    flags = [*M4_FLAGS, "-ffunction-sections", "-fdata-sections", "--specs=nano.specs", "--specs=nosys.specs"]
    try:
        _run([arm, *flags, "-Wl,--gc-sections", "m4main.c", f"{p}.c", "-lm", "-o", "m4.elf"], workdir)
    except CompileError as err:
        log.warning("no Cortex-M4 image (is libnewlib-arm-none-eabi installed?): %s", err)
        return None
    size = _size(shutil.which("arm-none-eabi-size") or "arm-none-eabi-size", workdir / "m4.elf", workdir)
    return size["text"] + size["data"]


def compiler() -> str:
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        raise ConfigError("no C compiler found (install gcc) for tinyml verify")
    return cc


def build(model: TinyModel, workdir: Path) -> dict[str, Any]:
    """Write and compile the model's C in ``workdir``; sizes of the host (and Cortex-M4) object."""
    p = prefix_for(model.name)
    src = workdir / f"{p}.c"
    src.write_text(generate(model))
    cc = compiler()
    _run([cc, *CFLAGS, "-fstack-usage", "-c", src.name, "-o", f"{p}.o"], workdir)
    size = _size(shutil.which("size") or "size", workdir / f"{p}.o", workdir)
    out: dict[str, Any] = {
        "c_file": str(src),
        "c_lines": src.read_text().count("\n"),
        "flash_bytes": size["text"] + size["data"],
        "ram_bytes": size["data"] + size["bss"] + _stack(workdir / f"{p}.su"),
        "ram_static_bytes": size["data"] + size["bss"],
        "host_size": size,
        "cortex_m4_flash_bytes": None,
    }
    arm = shutil.which("arm-none-eabi-gcc")
    if arm:
        _run([arm, *M4_FLAGS, "-Wall", "-Wextra", "-Werror", "-c", src.name, "-o", f"{p}.m4.o"], workdir)
        m4 = _size(shutil.which("arm-none-eabi-size") or "arm-none-eabi-size", workdir / f"{p}.m4.o", workdir)
        out["cortex_m4_flash_bytes"] = m4["text"] + m4["data"]
        out["cortex_m4_size"] = m4
        out["cortex_m4_linked_flash_bytes"] = _m4_image(arm, model, workdir)
    return out


def run_c(
    model: TinyModel, X: np.ndarray, workdir: Path, seconds: float = 0.2
) -> tuple[np.ndarray, np.ndarray, float]:
    """Compile the harness, run the model's C on rows ``X``: (classes, scores, µs per inference)."""
    p = prefix_for(model.name)
    if not (workdir / f"{p}.o").exists():
        build(model, workdir)
    s = n_scores(model)
    (workdir / "harness.c").write_text(HARNESS % {"p": p, "d": model.n_inputs, "s": s, "seconds": seconds})
    cc = compiler()
    _run([cc, *CFLAGS, "harness.c", f"{p}.o", "-o", "harness", "-lm"], workdir)
    X = np.ascontiguousarray(np.atleast_2d(X), dtype=np.float32)
    if X.shape[1] != model.n_inputs:
        raise ConfigError(f"test rows have {X.shape[1]} values, model {model.name!r} takes {model.n_inputs}")
    X.tofile(workdir / "in.bin")
    us = float(_run(["./harness", "in.bin", "out.bin", str(len(X))], workdir).strip())
    raw = np.fromfile(workdir / "out.bin", dtype=np.dtype([("c", np.int32), ("s", np.float32, (s,))]))
    return raw["c"].astype(np.int32), raw["s"].astype(float), us


def run_features_c(model: TinyModel, X: np.ndarray, workdir: Path) -> np.ndarray:
    """The C feature extraction of ``model`` on raw segments ``X`` (rows), as float64."""
    if not model.features:
        raise ConfigError(f"model {model.name!r} has no feature extraction")
    p = prefix_for(model.name)
    if not (workdir / f"{p}.o").exists():
        build(model, workdir)
    nf = int(model.meta["n_features"])
    (workdir / "features.c").write_text(FEATURE_HARNESS % {"p": p, "d": model.n_inputs, "f": nf})
    _run([compiler(), *CFLAGS, "features.c", f"{p}.o", "-o", "features", "-lm"], workdir)
    np.ascontiguousarray(np.atleast_2d(X), dtype=np.float32).tofile(workdir / "fin.bin")
    _run(["./features", "fin.bin", "fout.bin", str(len(X))], workdir)
    return np.fromfile(workdir / "fout.bin", dtype=np.float32).reshape(-1, nf).astype(float)


def verify(
    model: TinyModel, X: np.ndarray | None = None, workdir: Path | None = None, seconds: float = 0.2
) -> dict[str, Any]:
    """Compile, run and compare; see the module docstring. ``X`` overrides the model's verify set
    (then the NumPy runtime is the only reference)."""
    ref_class = ref_score = None
    if X is None:
        vs = model.verify_set()
        if vs is None:
            raise ConfigError(f"model {model.name!r} has no verify set; pass test rows (--data FILE.npy)")
        X, ref_class, ref_score = vs
    X = np.atleast_2d(np.asarray(X, dtype=np.float32))
    with tempfile.TemporaryDirectory(prefix="shopfloor-tinyml-") as tmp:
        where = Path(workdir) if workdir is not None else Path(tmp)
        sizes = build(model, where)
        c_class, c_score, us = run_c(model, X, where, seconds)
        feat_diff = None
        if model.features:
            feat_diff = float(np.max(np.abs(run_features_c(model, X, where) - Runtime(model).features(X))))
    if workdir is None:
        sizes.pop("c_file")
    rt = Runtime(model)
    rt_score = rt.scores(X.astype(float))
    rt_class = rt.classify(rt_score)
    res: dict[str, Any] = {
        "model": model.name,
        "version": model.version,
        "kind": model.kind,
        "quantize": model.meta.get("quantize"),
        "features": model.features,
        "rows": len(X),
        "compiler": f"{compiler()} {' '.join(CFLAGS)}",
        "agreement_runtime": round(float(np.mean(c_class == rt_class)), 6),
        "max_score_diff_runtime": float(np.max(np.abs(c_score - rt_score))),
        "max_feature_diff": feat_diff,
        "us_per_inference": round(us, 3),
        **sizes,
    }
    if ref_class is not None and ref_score is not None:
        res["agreement_reference"] = round(float(np.mean(c_class == ref_class)), 6)
        res["max_score_diff_reference"] = float(np.max(np.abs(c_score - ref_score)))
        res["runtime_agreement_reference"] = round(float(np.mean(rt_class == ref_class)), 6)
        res["reference"] = model.meta.get("exported_from", "estimator")
    agreement = res.get("agreement_reference", res["agreement_runtime"])
    res["passed"] = bool(agreement >= AGREEMENT and res["agreement_runtime"] >= AGREEMENT)
    res["required_agreement"] = AGREEMENT
    log.info(
        "verified %s: agreement %.4f, %.2f us, %d B flash", model.name, agreement, us, res["flash_bytes"]
    )
    return res
