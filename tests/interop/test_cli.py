"""``shopfloor aas export|import`` round trip through files."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from shopfloor.cli import app
from shopfloor.core.assets import Plant
from shopfloor.sim.simulation import DEFAULT_PLANT

pytest.importorskip("basyx.aas", reason="AAS export needs the 'interop' extra (basyx-python-sdk)")


def test_aas_export_then_import(tmp_path: Path) -> None:
    run = CliRunner().invoke
    aas = tmp_path / "plant.aas.xml"
    r = run(app, ["aas", "export", str(aas), "--plant", str(DEFAULT_PLANT)])
    assert r.exit_code == 0, r.output
    r = run(app, ["aas", "import", str(aas), "-o", str(tmp_path / "plant.yaml")])
    assert r.exit_code == 0, r.output
    back, orig = Plant.load(tmp_path / "plant.yaml"), Plant.load(DEFAULT_PLANT)
    assert sorted(a.path for a in back.assets()) == sorted(a.path for a in orig.assets())
    assert back.tag("riverside/packaging/pack1/wrapper", "energy").unit == "kWh"
