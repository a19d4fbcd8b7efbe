"""The default plant file: loads, is complete, and matches what the simulator produces."""

from __future__ import annotations

from shopfloor.core.assets import Plant
from shopfloor.sim import DEFAULT_PLANT, Simulation
from shopfloor.sim.machines import MODELS
from shopfloor.sim.plantgen import render


def test_default_plant_loads(plant: Plant) -> None:
    assert DEFAULT_PLANT.name == "papermill.toml"
    kinds = {a.kind for a in plant.assets() if a.kind}
    assert kinds == set(MODELS)
    machines = [a for a in plant.assets() if a.kind]
    assert 12 <= len(machines) <= 20
    assert 150 <= sum(len(a.tags) for a in machines) <= 300


def test_every_tag_is_described(plant: Plant) -> None:
    for asset, tag in plant.tags():
        assert tag.description, f"{asset.path}/{tag.name}"
        assert tag.unit, f"{asset.path}/{tag.name} has no unit"
        if tag.type in ("float", "int"):
            assert tag.low is not None and tag.high is not None, f"{asset.path}/{tag.name} has no limits"
    writable = {(a.path.rsplit("/", 1)[1], t.name) for a, t in plant.tags() if t.writable}
    assert ("calender", "nip_pressure_sp") in writable
    assert ("stock_pump", "speed_sp") in writable
    assert ("cutter", "blade_change") in writable
    assert all(name.endswith("_sp") or name in ("blade_change", "thickness_target") for _, name in writable)


def test_plant_file_is_generated_from_models() -> None:
    assert DEFAULT_PLANT.read_text(encoding="utf-8") == render()


def test_simulator_emits_every_plant_tag(make_sim) -> None:  # type: ignore[no-untyped-def]
    sim: Simulation = make_sim(seed=1, sensor_faults=False)
    samples = sim.step(1.0)
    emitted = {(s.asset, s.tag) for s in samples}
    declared = {(a.path, t.name) for a, t in sim.plant.tags()}
    assert emitted == declared
    for s in samples:
        tag = sim.plant.tag(s.asset, s.tag)
        expected = {"float": float, "int": int, "bool": bool, "str": str}[tag.type]
        assert type(s.value) is expected, (s.key, s.value)
