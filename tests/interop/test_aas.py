"""AAS v3 export/import of the asset model round-trips (JSON and XML), through basyx."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shopfloor.core.assets import Plant
from shopfloor.core.errors import PlantModelError
from shopfloor.sim.simulation import DEFAULT_PLANT

pytest.importorskip("basyx.aas", reason="AAS export needs the 'interop' extra (basyx-python-sdk)")

from shopfloor.interop.aas import export_plant, import_plant


def _canon(plant: Plant) -> dict:
    d = plant.to_dict()
    d["asset"] = sorted(d["asset"], key=lambda a: a["path"])
    return d


@pytest.mark.parametrize("suffix", [".json", ".xml"])
def test_papermill_round_trip(tmp_path: Path, suffix: str) -> None:
    plant = Plant.load(DEFAULT_PLANT)
    path = tmp_path / f"plant{suffix}"
    assert export_plant(plant, path) == len(plant)
    back = import_plant(path)
    assert _canon(back) == _canon(plant)
    pump = back.asset("riverside/papermaking/pm1/stock_pump")
    assert pump.attributes["rated_power_kw"] == 45 and isinstance(pump.attributes["ball_d_mm"], float)
    assert back.tag("riverside/papermaking/pm1/stock_pump", "speed_sp").writable


def test_json_has_shells_submodels_and_series_links(tmp_path: Path) -> None:
    plant = Plant.from_dict(
        {
            "plant": {"enterprise": "acme", "name": "Test"},
            "asset": [
                {
                    "path": "s/a/l/m",
                    "kind": "press",
                    "attributes": {"ideal_cycle_s": 2.5, "recipe": {"a": [1, 2]}},
                    "tag": [{"name": "power", "unit": "kW", "low": 0, "high": 50}],
                }
            ],
        }
    )
    path = tmp_path / "p.json"
    export_plant(plant, path, endpoint="https://mes.example/api/v1/history")
    doc = json.loads(path.read_text())
    shells = {s["id"]: s for s in doc["assetAdministrationShells"]}
    assert "urn:shopfloor:acme:aas:s/a/l/m" in shells
    assert shells["urn:shopfloor:acme:aas:s/a/l/m"]["assetInformation"]["globalAssetId"] == (
        "urn:shopfloor:acme:asset:s/a/l/m"
    )
    series = next(sm for sm in doc["submodels"] if sm["id"] == "urn:shopfloor:acme:sm:s/a/l/m:timeseries")
    power = series["submodelElements"][0]
    link = next(e for e in power["value"] if e["idShort"] == "LinkedSegment")
    values = {e["idShort"]: e["value"] for e in link["value"]}
    assert values == {"Endpoint": "https://mes.example/api/v1/history", "Query": "asset=s/a/l/m&tag=power"}
    back = import_plant(path)
    assert back.asset("s/a/l/m").attributes == {"ideal_cycle_s": 2.5, "recipe": {"a": [1, 2]}}  # JSON kept
    assert back.tag("s/a/l/m", "power").high == 50


def test_bad_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(PlantModelError, match="does not exist"):
        import_plant(tmp_path / "none.json")
    empty = tmp_path / "empty.json"
    empty.write_text('{"assetAdministrationShells": [], "submodels": []}')
    with pytest.raises(PlantModelError, match="no shopfloor asset shells"):
        import_plant(empty)
    broken = tmp_path / "broken.json"
    broken.write_text('{"assetAdministrationShells": [')
    with pytest.raises(PlantModelError, match="is not valid"):
        import_plant(broken)
    with pytest.raises(PlantModelError, match=r"\.json or \.xml"):
        export_plant(Plant.load(DEFAULT_PLANT), tmp_path / "plant.txt")
