"""Rules files: valid files load; a bad line gives an error naming file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from shopfloor.core.assets import Plant
from shopfloor.core.errors import ConfigError
from shopfloor.rules.load import load_rules, load_rules_text, rule_spans

ROOT = Path(__file__).resolve().parents[2]

GOOD = """\
# comment
[defaults]
priority = "low"
deadband = 1

[[rule]]
id = "temp_high"
asset = "mill/pm/pm1/pump1"
tag = "bearing_temp"
kind = "high"
limit = 90

[[rule]]
id = "vib_high"
asset = "mill/pm/*/*"
asset_kind = "pump"
tag = "vib_rms"
kind = "high"
limit = 7.1
on_delay = "10s"
priority = "high"
suppress_when = "not running"
"""


def test_a_good_file_loads_with_defaults(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(GOOD)
    rules = load_rules(path)
    assert [r.id for r in rules] == ["temp_high", "vib_high"]
    assert rules[0].priority.value == "low" and rules[0].deadband == 1
    assert rules[1].priority.value == "high" and rules[1].on_delay_ns == 10 * 10**9
    assert rules[1].origin == f"{path}:13"
    assert rule_spans(GOOD) == [(6, 12), (13, 22)]


def _error(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        load_rules_text(text, "plant-rules.toml")
    return str(info.value)


def test_a_bad_value_names_its_line_and_field() -> None:
    bad = GOOD.replace("limit = 7.1", 'limit = "seven"')
    msg = _error(bad)
    assert msg.startswith("plant-rules.toml:19: rule 'vib_high': field 'limit':"), msg
    assert "'seven'" in msg


def test_a_missing_field_names_the_rule_header() -> None:
    bad = GOOD.replace("limit = 90\n", "")
    assert _error(bad).startswith(
        "plant-rules.toml:6: rule 'temp_high': field 'limit': kind 'high' needs a limit"
    )


def test_an_unknown_field_and_a_bad_kind_are_named() -> None:
    assert _error(GOOD.replace("limit = 90", "limt = 90")).startswith(
        "plant-rules.toml:11: rule 'temp_high': field 'limt': Extra inputs are not permitted"
    )
    assert _error(GOOD.replace('kind = "high"\nlimit = 7.1', 'kind = "higher"\nlimit = 7.1')).startswith(
        "plant-rules.toml:18: rule 'vib_high': field 'kind':"
    )


def test_a_bad_expression_and_duration_are_named() -> None:
    msg = _error(GOOD.replace('"not running"', '"not running("'))
    assert msg.startswith("plant-rules.toml:22: rule 'vib_high': field 'suppress_when': expression"), msg
    msg = _error(GOOD.replace('"10s"', '"ten seconds"'))
    assert msg.startswith("plant-rules.toml:20: rule 'vib_high': field 'on_delay':"), msg


def test_duplicate_ids_and_toml_syntax_errors() -> None:
    msg = _error(GOOD.replace('id = "vib_high"', 'id = "temp_high"'))
    assert msg.startswith("plant-rules.toml:14: rule 'temp_high': field 'id': duplicate id (first at line 7)")
    msg = _error(GOOD.replace("limit = 90", "limit = = 90"))
    assert msg.startswith("plant-rules.toml:11: not valid TOML"), msg
    assert _error("[rules]\n").startswith("plant-rules.toml:1: unknown key 'rules'")


def test_a_missing_file() -> None:
    with pytest.raises(ConfigError, match="cannot read rules file"):
        load_rules("/nonexistent/rules.toml")


def test_the_example_rules_file_fits_the_simulated_paper_mill() -> None:
    from shopfloor.bus.memory import MemoryBus
    from shopfloor.rules.engine import RuleEngine
    from shopfloor.scoring.registry import ModelRegistry
    from shopfloor.scoring.role import StreamingScorer
    from shopfloor.sim import DEFAULT_PLANT
    from shopfloor.store.state import StateStore

    rules = load_rules(Path(DEFAULT_PLANT).with_name("papermill-rules.toml"))
    assert len(rules) >= 5
    plant = Plant.load(DEFAULT_PLANT)
    # the platform's analytics role adds its derived tags (anomaly_score, health) before the rules bind
    StreamingScorer(plant, MemoryBus(), ModelRegistry(Path("unused")))
    engine = RuleEngine(plant, MemoryBus(), StateStore(Path("unused.db")), rules)  # checks every rule
    for rule in rules:
        assert engine.assets_of(rule), rule.id
        for asset in engine.assets_of(rule):
            for tag in rule.triggers:
                assert plant.get_tag(asset, tag) is not None, (rule.id, asset, tag)
