"""The control suite end to end: seeded scenario, control off vs on, CLI without --data."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from shopfloor.cli import app
from shopfloor.core.errors import ConfigError
from shopfloor.evals import run_suite
from shopfloor.evals.control import run


def test_control_beats_no_control():
    out = run(items=900)
    off, on, spc = (out["policies"][k] for k in ("off", "on", "spc"))
    assert off["out_of_spec_rate"] > 0.1  # the disturbances matter without control
    assert out["out_of_spec_reduction"] >= 0.8
    assert on["cpk"] >= 1.33 and on["ppk"] >= 1.33
    assert on["scrap_kg"] < off["scrap_kg"] and on["kwh_per_good_item"] < off["kwh_per_good_item"]
    assert off["setpoint_moves"] == 1 and on["setpoint_moves"] > 10
    assert spc["spc_corrections"] > 0 and spc["corrections"][0]["status"] == "applied"
    lo, hi = out["scenario"]["limits"]["low"], out["scenario"]["limits"]["high"]
    assert lo <= on["rpm_range"][0] and on["rpm_range"][1] <= hi
    json.dumps(out)


def test_same_seed_same_result():
    assert run(items=200, seed=4) == run(items=200, seed=4)


def test_cli_runs_without_data():
    result = CliRunner().invoke(app, ["eval", "control", "--json"])
    assert result.exit_code == 0, result.output
    last = json.loads(result.output.strip().splitlines()[-1])
    assert last["suite"] == "control" and last["targets"]["reduction_ge_80pct"]


def test_data_rules(tmp_path):
    with pytest.raises(ConfigError, match="no --data"):
        run_suite("control", tmp_path)
    with pytest.raises(ConfigError, match="needs --data"):
        run_suite("skab", None)
