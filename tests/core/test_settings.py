from pathlib import Path

import pytest

from shopfloor.core.errors import ConfigError
from shopfloor.core.settings import load_settings


def test_defaults_are_embedded_and_local() -> None:
    s = load_settings()
    assert s.mode == "embedded"
    assert s.api.host == "127.0.0.1" and s.api.port == 8080
    assert s.mqtt.embedded is True


def test_file_then_env_then_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "s.toml"
    f.write_text(
        'data_dir = "/tmp/x"\n[api]\nhost = "0.0.0.0"\nport = 9000\n[store]\nflush_interval_s = 2.5\n'
    )
    s = load_settings(f)
    assert (s.api.host, s.api.port, s.store.flush_interval_s) == ("0.0.0.0", 9000, 2.5)
    monkeypatch.setenv("SHOPFLOOR_API__PORT", "7000")
    s = load_settings(f)
    assert (s.api.host, s.api.port) == ("0.0.0.0", 7000)  # env wins, file's host kept
    s = load_settings(f, {"api": {"port": 1234}})
    assert s.api.port == 1234


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("[api]\nport = 70000\n", "api.port"),
        ("[api]\nprot = 1\n", "api.prot"),
        ('mode = "cloudy"\n', "mode"),
        ("[store]\nflush_interval_s = -1\n", "store.flush_interval_s"),
        ('[bus]\nslow_consumer = "ignore"\n', "bus.slow_consumer"),
    ],
)
def test_wrong_setting_names_it(tmp_path: Path, text: str, named: str) -> None:
    f = tmp_path / "s.toml"
    f.write_text(text)
    with pytest.raises(ConfigError, match=f"setting {named}"):
        load_settings(f)


def test_wrong_env_setting_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOPFLOOR_API__PORT", "eighty")
    with pytest.raises(ConfigError, match=r"setting api\.port"):
        load_settings()


def test_bad_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_settings(tmp_path / "missing.toml")
    f = tmp_path / "broken.toml"
    f.write_text("[api\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(f)
