from pathlib import Path

import pytest

from shopfloor.core.assets import Level, Plant
from shopfloor.core.errors import PlantModelError

PLANT_TOML = """
[plant]
enterprise = "acme"
name = "ACME Riverside"

[[asset]]
path = "riverside"
name = "Riverside mill"

[[asset]]
path = "riverside/converting/line1/cutter"
kind = "cutter"

[[asset.tag]]
name = "cutting_force"
unit = "N"
low = 0
high = 5000

[[asset.tag]]
name = "state"
type = "str"

[[asset]]
path = "riverside/converting/line1/cutter/blade"

[[asset.tag]]
name = "cuts"
type = "int"
"""


def test_load_toml_builds_the_isa95_tree(tmp_path: Path) -> None:
    f = tmp_path / "plant.toml"
    f.write_text(PLANT_TOML)
    plant = Plant.load(f)
    assert plant.name == "ACME Riverside"
    assert [a.path for a in plant.roots()] == ["riverside"]
    assert plant.asset("riverside").level is Level.SITE
    assert plant.asset("riverside/converting").level is Level.AREA  # implicit parent
    assert plant.asset("riverside/converting/line1").level is Level.LINE
    assert plant.asset("riverside/converting/line1/cutter").level is Level.MACHINE
    assert plant.asset("riverside/converting/line1/cutter/blade").level is Level.COMPONENT
    tag = plant.tag("riverside/converting/line1/cutter", "cutting_force")
    assert (tag.unit, tag.low, tag.high, tag.type) == ("N", 0.0, 5000.0, "float")
    assert plant.tag("riverside/converting/line1/cutter", "state").type == "str"
    assert [a.path for a in plant.descendants("riverside/converting/line1")] == [
        "riverside/converting/line1/cutter",
        "riverside/converting/line1/cutter/blade",
    ]


def test_yaml_and_round_trip(tmp_path: Path) -> None:
    import tomllib

    import yaml

    data = tomllib.loads(PLANT_TOML)
    f = tmp_path / "plant.yaml"
    f.write_text(yaml.safe_dump(data))
    plant = Plant.load(f)
    again = Plant.from_dict(plant.to_dict())
    assert sorted(a.path for a in again.assets()) == sorted(a.path for a in plant.assets())
    assert again.tag("riverside/converting/line1/cutter/blade", "cuts").type == "int"


@pytest.mark.parametrize(
    ("asset", "message"),
    [
        ({"path": "Bad Name"}, "segment 'Bad Name'"),
        ({"path": "s/a/l/m", "tag": [{"name": "t", "unit": "furlongs_per_blorp"}]}, "unknown unit"),
        ({"path": "s/a/l/m", "tag": [{"name": "t", "low": 5, "high": 1}]}, "low 5.0 is above high 1.0"),
        ({"path": "s/a/l/m", "tag": [{"name": "t", "type": "complex"}]}, "type"),
        ({"path": "s/a/l/m", "colour": "red"}, "colour"),
        ({"path": "s/data"}, "reserved"),
    ],
)
def test_invalid_plant_names_what_is_wrong(asset: dict, message: str) -> None:
    with pytest.raises(PlantModelError) as err:
        Plant.from_dict({"asset": [asset]})
    assert message in str(err.value)
    assert "asset" in str(err.value)


def test_duplicate_assets_and_tags_are_refused() -> None:
    with pytest.raises(PlantModelError, match="declared twice"):
        Plant.from_dict({"asset": [{"path": "s"}, {"path": "s"}]})
    with pytest.raises(PlantModelError, match=r"tag 't' is declared twice"):
        Plant.from_dict({"asset": [{"path": "s/a/l/m", "tag": [{"name": "t"}, {"name": "t"}]}]})


def test_level_must_descend() -> None:
    with pytest.raises(PlantModelError, match="must be below its parent"):
        Plant.from_dict({"asset": [{"path": "s/a", "level": "site"}]})


def test_unreadable_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(PlantModelError, match=r"nope\.toml"):
        Plant.load(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[[asset]\npath=")
    with pytest.raises(PlantModelError, match="not valid"):
        Plant.load(bad)
