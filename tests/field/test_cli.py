"""``shopfloor field ...`` commands on real files."""

import json
from pathlib import Path

from typer.testing import CliRunner

from shopfloor.cli import app


def test_ingest_feedback_alarms_and_trace(tmp_path: Path) -> None:
    db = tmp_path / "field.db"
    f = tmp_path / "tickets.jsonl"
    lines = [
        json.dumps({"text": "RB-100 sheets cracked along the edges", "ts": "2026-02-01T10:00:00Z"}),
        "not json",
        json.dumps({"text": "Invoice has the wrong price"}),
    ]
    f.write_text("\n".join(lines) + "\n")
    run = CliRunner().invoke
    r = run(app, ["field", "ingest", str(f), "--db", str(db)])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output.strip().splitlines()[-1])
    assert out["accepted"] == 2 and out["rejected"][0]["index"] == 1
    r = run(app, ["field", "feedback", "--topic", "edge_crack", "--db", str(db)])
    rows = [json.loads(x) for x in r.output.strip().splitlines()]
    assert len(rows) == 1 and rows[0]["models"] == ["RB-100"]
    r = run(app, ["field", "trace", "L1-20260101-0001-00001", "--db", str(db)])
    assert r.exit_code != 0 and "no known batch" in str(r.exception)
    r = run(app, ["field", "ingest", str(tmp_path / "missing.jsonl"), "--db", str(db)])
    assert r.exit_code != 0
    assert run(app, ["field", "--help"]).exit_code == 0
