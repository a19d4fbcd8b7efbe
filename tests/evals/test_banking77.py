"""``shopfloor eval banking77`` on small slices of the data in its original layout."""

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from shopfloor.core.errors import ConfigError
from shopfloor.evals import banking77, run_suite

SRC = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "banking77"


@pytest.fixture
def dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    if not (SRC / "train.csv").is_file():
        pytest.skip(f"BANKING77 not found at {SRC}")
    monkeypatch.setenv("SHOPFLOOR_BANKING77_BACKEND", "tfidf")  # the light default; fast
    by: dict[str, list[dict[str, str]]] = {}
    with (SRC / "train.csv").open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            by.setdefault(row["category"], []).append(row)
    train, test = tmp_path / "train", tmp_path / "test"
    train.mkdir()
    test.mkdir()
    for d, sl in ((train, slice(0, 25)), (test, slice(25, 30))):
        name = "train.csv" if d is train else "test.csv"
        with (d / name).open("w", encoding="utf-8", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=["text", "category"])
            w.writeheader()
            for rows in by.values():
                w.writerows(rows[sl])
    return train, test


def test_official_protocol(dirs: tuple[Path, Path]) -> None:
    r = run_suite("banking77", dirs[0], dirs[1])
    assert r["protocol"] == "official" and r["backend"] == "tfidf"
    assert r["test_texts"] == 77 * 5 and r["classes"] == 77
    assert 0.6 < r["accuracy"] <= 1.0 and 0.5 < r["macro_f1"] <= 1.0
    assert r["ms_per_text"] > 0
    few = banking77.run(dirs[0], dirs[1], backend="tfidf", shots=5)
    assert few["train_texts"] == 77 * 5 and few["accuracy"] < r["accuracy"]


def test_holdout_when_no_test_file_and_cli(dirs: tuple[Path, Path]) -> None:
    from shopfloor.cli import app

    res = CliRunner().invoke(
        app, ["eval", "banking77", "--data", str(dirs[0]), "--test-data", str(dirs[0]), "--json"]
    )
    assert res.exit_code == 0, res.output
    r = json.loads(res.output.strip().splitlines()[-1])
    assert r["protocol"] == "holdout" and r["test_texts"] == 77 * 5


def test_bad_layout_is_named(tmp_path: Path) -> None:
    (tmp_path / "train.csv").write_text("sentence,label\nhi,x\n")
    with pytest.raises(ConfigError, match="text,category"):
        run_suite("banking77", tmp_path, tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ConfigError, match=r"train\.csv: not found"):
        run_suite("banking77", empty, None)
