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

from collections.abc import Callable
from pathlib import Path

from shopfloor.core.errors import ConfigError

SUITES: tuple[str, ...] = ("skab", "nab", "tep", "cmapss", "cwru", "ai4i")


def run_suite(
    name: str,
    data: Path,
    test_data: Path | None = None,
    progress: Callable[[str, float], None] | None = None,
) -> dict:
    """Run one suite on ``data`` and return its metrics as a JSON-ready dict."""
    data = Path(data)
    if not data.is_dir():
        raise ConfigError(f"--data {data}: not a directory")
    if name == "skab":
        from . import skab

        return skab.run(data, progress)
    if name == "nab":
        from . import nab

        return nab.run(data, progress)
    if name == "tep":
        from . import tep

        return tep.run(data, Path(test_data) if test_data is not None else None, progress)
    if name == "cmapss":
        from . import cmapss

        return cmapss.run(data, progress)
    if name == "cwru":
        from . import cwru

        return cwru.run(data, Path(test_data) if test_data is not None else None, progress)
    if name == "ai4i":
        from . import ai4i

        return ai4i.run(data, progress)
    raise ConfigError(f"unknown eval suite {name!r}: choose one of {', '.join(SUITES)}")
