"""AI4I 2020 suite on a stratified slice of the shared file."""

from __future__ import annotations

from pathlib import Path

import pytest

from shopfloor.core.errors import ConfigError
from shopfloor.evals import ai4i, run_suite

SHARED = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "ai4i2020" / "ai4i2020.csv"


def test_slice(tmp_path):
    if not SHARED.exists():
        pytest.skip(f"AI4I 2020 not found at {SHARED}")
    lines = SHARED.read_text().splitlines()
    header, rows = lines[0], lines[1:]
    keep = [r for i, r in enumerate(rows) if i < 1200 or "1" in r.split(",")[8:]]
    (tmp_path / "ai4i2020.csv").write_text("\n".join([header, *keep]) + "\n")
    res = ai4i.run(tmp_path, k=3, iterations=40, learning_rate=0.1)
    mf = res["machine_failure"]
    assert mf["positives"] == 339
    assert mf["roc_auc"] > 0.85 and mf["macro_f1"] > 0.7
    ft = res["failure_type"]
    assert {"none", "HDF", "PWF", "OSF", "TWF"} <= set(ft["classes"])
    assert ft["per_class"]["HDF"]["f1"] > 0.7


def test_bad_files(tmp_path):
    with pytest.raises(ConfigError, match="no CSV"):
        run_suite("ai4i", tmp_path)
    (tmp_path / "ai4i2020.csv").write_text("UDI,Type\n1,L\n")
    with pytest.raises(ConfigError, match="missing columns"):
        run_suite("ai4i", tmp_path)
