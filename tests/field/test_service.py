"""The field service: feedback ingest with rejection, storage, traces, reports (real SQLite file)."""

import json
from pathlib import Path

import pytest

from shopfloor.analytics.fleet.genealogy import BatchProfile, Genealogy
from shopfloor.field.files import read_feedback_file
from shopfloor.field.service import FieldError, FieldService, FieldSettings

H = 3600 * 10**9


def _svc(tmp_path: Path) -> FieldService:
    return FieldService(FieldSettings(db=str(tmp_path / "field.db"), spike_window=6, spike_min_count=5))


def test_ingest_reads_links_stores_and_rejects(tmp_path: Path) -> None:
    svc = _svc(tmp_path)
    g = Genealogy(
        {"L1-20260103-0014": BatchProfile("L1-20260103-0014", "s/a/line1/press", "s/a/line1", 0, 1)}
    )
    svc.set_genealogy(g)
    res = svc.ingest_feedback(
        [
            {
                "text": "RB-100 boards peeling apart, serial L1-20260103-0014-00007",
                "ts": "2026-02-01T10:00:00Z",
                "channel": "support",
                "customer": "C0001",
            },
            {"text": "   "},
            {"txt": "wrong field"},
            {"text": "ok", "ts": "yesterday"},
            "not an object",
            {"text": "Great boards, thanks", "ts": 1_769_940_000},
        ]
    )
    assert res["accepted"] == 2
    reasons = [r["reason"] for r in res["rejected"]]
    assert [r["index"] for r in res["rejected"]] == [1, 2, 3, 4]
    assert "text" in reasons[0] and "text" in reasons[1] and "ISO 8601" in reasons[2]
    rows = svc.store.feedback()
    first = next(r for r in rows if r["topic"] == "delamination")
    assert first["batches"] == ["L1-20260103-0014"] and first["models"] == ["RB-100"]
    assert first["complaint"] and first["sentiment"] == "negative"
    assert len(svc.store.rejected()) == 4 and svc.counters["rejected"] == 4
    svc.store.close()
    again = _svc(tmp_path)  # persisted, genealogy included
    assert len(again.store.feedback()) == 2
    assert again.genealogy.batch_of("L1-20260103-0014-00001") == "L1-20260103-0014"


def test_spike_alarm_comes_back_with_the_ingest(tmp_path: Path) -> None:
    svc = _svc(tmp_path)
    base = 1_769_904_000 * 10**9
    steady = [{"text": "board warped", "ts": base + i * 8 * H} for i in range(30)]
    assert svc.ingest_feedback(steady)["alarms"] == []
    burst = [
        {"text": "Same here, boards warped and curling", "ts": base + 300 * H + i * 10**11} for i in range(8)
    ]
    res = svc.ingest_feedback(burst)
    assert [a["topic"] for a in res["alarms"]] == ["warp"]
    assert svc.store.alarms()[0]["topic"] == "warp"


def test_trace_and_report_errors(tmp_path: Path) -> None:
    svc = _svc(tmp_path)
    with pytest.raises(FieldError, match="no known batch"):
        svc.trace("XX-1")
    with pytest.raises(FieldError, match="at least 10 units"):
        svc.batch_report()


def test_feedback_files(tmp_path: Path) -> None:
    jl = tmp_path / "f.jsonl"
    jl.write_text(json.dumps({"text": "late delivery"}) + "\n{broken\n\n")
    items = list(read_feedback_file(jl))
    assert items[0] == {"text": "late delivery"} and items[1] == "{broken"
    cs = tmp_path / "f.csv"
    cs.write_text("text,channel\nboards cracked,email\n")
    assert list(read_feedback_file(cs)) == [{"text": "boards cracked", "channel": "email"}]
