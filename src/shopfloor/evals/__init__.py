"""Benchmark-dataset loaders and scorers, run by ``shopfloor eval SUITE --data DIR [--test-data DIR]``.

Each suite reads a public data set in its original layout and follows its published
protocol (see ``docs/anomaly.md``):

* ``skab``: SKAB v0.9, per-file 400-row training part; outlier F1/FAR/MAR and the
  changepoint NAB scores with 60 s windows right of each changepoint.
* ``nab``: NAB v1.1 scoring (standard, low-FP and low-FN profiles), normalised with
  the null and perfect detectors over the files present.
* ``tep``: Tennessee Eastman, detection rate per fault and false alarm rate.
* ``cmapss``, ``cwru``, ``ai4i``: remaining useful life, bearing fault classification and
  tabular failure prediction (see ``docs/maintenance.md``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path

from shopfloor.core.errors import ConfigError

#: suite name -> (module under ``shopfloor.evals``, whether it takes ``--test-data``).
#: A suite module exposes ``run(data, progress)`` or, when it takes a test
#: directory, ``run(data, test_data, progress)``. Add a line here to add a suite.
REGISTRY: dict[str, tuple[str, bool]] = {
    "skab": ("skab", False),
    "nab": ("nab", False),
    "tep": ("tep", True),
    "cmapss": ("cmapss", False),
    "cwru": ("cwru", True),
    "ai4i": ("ai4i", False),
    "control": ("control", False),
    "neu": ("neu", True),
    "banking77": ("banking77", True),
    "plant": ("plant", False),
}
SUITES: tuple[str, ...] = tuple(REGISTRY)
#: suites that generate their own data: they run with ``data=None`` (no ``--data``).
SELF_DATA: frozenset[str] = frozenset({"control", "plant"})


def run_suite(
    name: str,
    data: Path | None,
    test_data: Path | None = None,
    progress: Callable[[str, float], None] | None = None,
) -> dict:
    """Run one suite on ``data`` and return its metrics as a JSON-ready dict."""
    if name not in REGISTRY:
        raise ConfigError(f"unknown eval suite {name!r}: choose one of {', '.join(SUITES)}")
    # --- data=None for SELF_DATA suites (issue 6) ---
    if data is None and name not in SELF_DATA:
        raise ConfigError(f"eval {name} needs --data DIR (the data set in its original layout)")
    if data is not None:
        data = Path(data)
        if not data.is_dir():
            raise ConfigError(f"--data {data}: not a directory")
    # --- end ---
    module_name, takes_test = REGISTRY[name]
    module = importlib.import_module(f"{__name__}.{module_name}")
    if takes_test:
        return module.run(data, Path(test_data) if test_data is not None else None, progress)
    if test_data is not None:
        raise ConfigError(f"eval {name} takes no --test-data")
    return module.run(data, progress)
