"""``shopfloor tinyml export|verify`` through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from shopfloor.cli import app
from shopfloor.security.signing import generate_key, save_keypair

SKAB = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "skab"
runner = CliRunner()


def _last_json(output: str) -> dict:
    return json.loads(output.strip().splitlines()[-1])


def test_export_estimator_and_verify(table, tmp_path) -> None:
    import joblib
    from sklearn.neural_network import MLPClassifier

    X, y = table
    joblib.dump(MLPClassifier((8,), max_iter=200, random_state=0).fit(X, y), tmp_path / "mlp.joblib")
    np.save(tmp_path / "x.npy", X[:300])
    out = tmp_path / "out"
    r = runner.invoke(
        app,
        [
            "tinyml",
            "export",
            "--estimator",
            str(tmp_path / "mlp.joblib"),
            "--test-data",
            str(tmp_path / "x.npy"),
            "--name",
            "cli-mlp",
            "--out",
            str(out),
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    assert _last_json(r.output)["kind"] == "mlp"
    assert (out / "model.c").read_text().count("sf_cli_mlp_predict") >= 2
    r = runner.invoke(app, ["tinyml", "verify", str(out), "--json", "--keep", str(tmp_path / "build")])
    assert r.exit_code == 0, r.output
    res = _last_json(r.output)
    assert res["passed"] and res["agreement_reference"] == 1.0 and res["rows"] == 300
    assert (tmp_path / "build" / "sf_cli_mlp.o").exists()


def test_verify_refuses_a_bundle_with_the_wrong_key(table, tmp_path) -> None:
    import joblib
    from sklearn.ensemble import RandomForestClassifier

    X, y = table
    joblib.dump(RandomForestClassifier(3, max_depth=4, random_state=0).fit(X, y), tmp_path / "rf.joblib")
    np.save(tmp_path / "x.npy", X[:100])
    save_keypair(generate_key(), tmp_path / "k.pem", tmp_path / "k.pub")
    save_keypair(generate_key(), tmp_path / "o.pem", tmp_path / "o.pub")
    args = [
        "tinyml",
        "export",
        "--estimator",
        str(tmp_path / "rf.joblib"),
        "--test-data",
        str(tmp_path / "x.npy"),
        "--out",
        str(tmp_path / "b"),
        "--sign-key",
        str(tmp_path / "k.pem"),
        "--json",
    ]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    assert _last_json(r.output)["signed"] is True
    r = runner.invoke(
        app, ["tinyml", "verify", str(tmp_path / "b"), "--public-key", str(tmp_path / "k.pub"), "--json"]
    )
    assert r.exit_code == 0 and _last_json(r.output)["passed"]
    r = runner.invoke(app, ["tinyml", "verify", str(tmp_path / "b"), "--public-key", str(tmp_path / "o.pub")])
    assert r.exit_code != 0
    assert "bad_signature" in str(r.exception) + r.output


@pytest.mark.skipif(not SKAB.is_dir(), reason=f"SKAB data set not found at {SKAB}")
def test_skab_pump_use_case(tmp_path) -> None:
    r = runner.invoke(
        app,
        [
            "tinyml",
            "export",
            "--use-case",
            "skab-pump",
            "--data",
            str(SKAB),
            "--out",
            str(tmp_path / "pump"),
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["tinyml", "verify", str(tmp_path / "pump" / "model.npz"), "--json"])
    res = _last_json(r.output)
    assert res["kind"] == "gmm" and res["agreement_reference"] >= 0.999 and res["passed"]
