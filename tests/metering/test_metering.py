"""Contracts, tiered tariffs, the usage hash chain and monthly statements, on the embedded store."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path

import pytest

from shopfloor.core.errors import ConfigError
from shopfloor.core.sample import Sample
from shopfloor.metering import (
    Ledger,
    Tariff,
    Tier,
    build,
    load_contracts,
    month_range,
    record_usage,
    render,
    verify,
)
from shopfloor.metering.ledger import GENESIS, Record, seal
from shopfloor.store.embedded import EmbeddedStore

H = 3_600_000_000_000
CONTRACTS = """
[[contract]]
id = "c-pump"
customer = "Nordic Board AB"
asset = "riverside/papermaking/pm1/stock_pump"
metric = "run_hours"
tag = "run_hours"
[contract.tariff]
base_fee = 200.0
minimum = 500.0
tiers = [ { up_to = 10, price = 10.0 }, { price = 5.0 } ]

[[contract]]
id = "c-cutter"
customer = "Nordic Board AB"
asset = "riverside/converting/line1/cutter"
metric = "cycles"
tag = "blade_cuts"
currency = "SEK"
[contract.tariff]
tiers = [ { price = 0.01 } ]

[[contract]]
id = "c-wrapper"
customer = "Pack & Go"
asset = "riverside/packaging/pack1/wrapper"
metric = "run_hours"
tag = "state"
[contract.tariff]
tiers = [ { price = 30.0 } ]
"""


def test_tiers_and_minimum() -> None:
    t = Tariff(base_fee=50, minimum=0, tiers=[Tier(up_to=100, price=1.0), Tier(up_to=200, price=0.5)])
    # beyond a closed last tier, usage is priced at the last tier
    assert [(x.quantity, x.amount) for x in t.lines(250)] == [(100.0, 100.0), (150.0, 75.0)]
    assert Tariff(base_fee=10, minimum=500, tiers=[Tier(price=1.0)]).charge(20) == 500
    with pytest.raises(ValueError, match="ascending"):
        Tariff(tiers=[Tier(up_to=100, price=1), Tier(up_to=50, price=1)])
    with pytest.raises(ValueError, match="only the last tier"):
        Tariff(tiers=[Tier(price=1), Tier(up_to=50, price=1)])


def test_bad_contract_file_names_the_contract(tmp_path: Path) -> None:
    p = tmp_path / "c.toml"
    p.write_text(CONTRACTS.replace('metric = "cycles"', 'metric = "smiles"'))
    with pytest.raises(ConfigError, match="contract 'c-cutter': metric"):
        load_contracts(p)


def _chain(n: int) -> list[Record]:
    out, prev = [], GENESIS
    for i in range(1, n + 1):
        r = seal(i, prev, {"contract": "c", "quantity": float(i)})
        out.append(r)
        prev = r.hash
    return out


def test_verify_detects_modified_deleted_reordered_and_truncated() -> None:
    recs = _chain(5)
    assert verify(recs).ok
    modified = list(recs)
    modified[2] = Record(3, recs[2].prev, recs[2].hash, {"contract": "c", "quantity": 0.5})
    v = verify(modified)
    assert not v.ok and any("record 3" in p and "modified" in p for p in v.problems)
    deleted = recs[:2] + recs[3:]
    assert any("record 4" in p for p in verify(deleted).problems)
    reordered = [recs[0], recs[2], recs[1], recs[3], recs[4]]
    assert not verify(reordered).ok
    anchor = (recs[-1].seq, recs[-1].hash)
    assert verify(recs, anchor).ok
    assert not verify(recs[:-1], anchor).ok  # the tail was cut off


async def _store_with_usage(tmp_path: Path, start: int) -> EmbeddedStore:
    store = EmbeddedStore(tmp_path / "ts.duckdb")
    await store.open()
    pump, cutter, wrapper = (
        "riverside/papermaking/pm1/stock_pump",
        "riverside/converting/line1/cutter",
        "riverside/packaging/pack1/wrapper",
    )
    samples = []
    for i in range(49):  # 2 days hourly; run-hour counter +0.5 h per hour; a reset at hour 30
        ts = start - H + i * H
        samples.append(Sample(pump, "run_hours", ts, 1000.0 + 0.5 * i if i < 30 else 0.5 * (i - 29)))
        samples.append(Sample(cutter, "blade_cuts", ts, 1000 * i))
        samples.append(Sample(wrapper, "state", ts, "running" if i % 2 == 0 else "down"))
    await store.write(samples)
    return store


async def test_usage_records_statements_and_tamper_evidence(tmp_path: Path) -> None:
    (tmp_path / "c.toml").write_text(CONTRACTS)
    contracts = {c.id: c for c in load_contracts(tmp_path / "c.toml")}
    start, _ = month_range("2026-11")
    store = await _store_with_usage(tmp_path, start)
    ledger = await Ledger(tmp_path / "metering.db").open()
    try:
        day1 = await record_usage(store, ledger, list(contracts.values()), start, start + 24 * H)
        day2 = await record_usage(store, ledger, list(contracts.values()), start + 24 * H, start + 47 * H)
        q = {r.body["contract"]: r.body["quantity"] for r in day1}
        assert q == {"c-pump": 12.0, "c-cutter": 24_000.0, "c-wrapper": 12.0}
        q2 = {r.body["contract"]: r.body["quantity"] for r in day2}
        # 2.5 h up to the reset, 0.5 h counted at the reset (the new value), 8.5 h after it
        assert q2["c-pump"] == pytest.approx(11.5)
        records = await ledger.records()
        assert len(records) == 6 and (await ledger.verify()).ok

        st = build(contracts["c-pump"], "2026-11", records, await ledger.verify())
        qty = st["quantity"]
        assert qty == pytest.approx(12.0 + q2["c-pump"])
        assert st["total"] == pytest.approx(max(500.0, 200 + 10 * 10 + 5 * (qty - 10)), abs=0.01)
        assert st["chain"]["verified"] and st["chain"]["last_hash"] == day2[0].hash
        assert json.loads(render(st, "json"))["total"] == st["total"]
        rows = list(csv.reader(io.StringIO(render(st, "csv").decode())))
        assert rows[0][0] == "section" and [r[0] for r in rows].count("usage") == 2
        assert rows[-1][0] == "total" and float(rows[-1][8]) == st["total"]
        pytest.importorskip("fpdf", reason="PDF statements need the 'report' extra (fpdf2)")
        pdf = render(st, "pdf")
        assert pdf.startswith(b"%PDF-") and len(pdf) > 1000
    finally:
        await ledger.close()
        await store.close()

    # tamper with the file behind the ledger's back: change one quantity
    con = sqlite3.connect(tmp_path / "metering.db")
    body = json.loads(con.execute("SELECT body FROM usage WHERE seq = 2").fetchone()[0])
    body["quantity"] = 1.0
    con.execute("UPDATE usage SET body = ? WHERE seq = 2", (json.dumps(body),))
    con.commit()
    con.close()
    ledger = await Ledger(tmp_path / "metering.db").open()
    try:
        v = await ledger.verify()
        assert not v.ok and v.problems == ["record 2: content does not match its hash (modified)"]
    finally:
        await ledger.close()


def test_unknown_format_and_bad_month() -> None:
    from shopfloor.metering import StatementError

    with pytest.raises(StatementError, match="YYYY-MM"):
        month_range("Nov 2026")
    with pytest.raises(StatementError, match="unknown statement format 'xls'"):
        render({}, "xls")
