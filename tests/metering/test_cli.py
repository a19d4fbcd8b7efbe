"""``shopfloor metering record|statement|verify`` on an embedded data directory."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

from typer.testing import CliRunner

from shopfloor.cli import app
from shopfloor.core.sample import Sample
from shopfloor.store.embedded import EmbeddedStore

H = 3_600_000_000_000
T0 = 1_764_547_200 * 1_000_000_000  # 2025-12-01T00:00Z
CONTRACT = """
[[contract]]
id = "c-cut"
customer = "Nordic Board AB"
asset = "riverside/converting/line1/cutter"
metric = "cycles"
tag = "blade_cuts"
[contract.tariff]
minimum = 100.0
tiers = [ { price = 0.002 } ]
"""


def test_record_statement_verify(tmp_path: Path) -> None:
    async def fill() -> None:
        store = EmbeddedStore(tmp_path / "timeseries.duckdb")
        await store.open()
        await store.write(
            [
                Sample("riverside/converting/line1/cutter", "blade_cuts", T0 + i * H, 500 * (i + 1))
                for i in range(-1, 25)
            ]
        )
        await store.close()

    asyncio.run(fill())
    (tmp_path / "c.toml").write_text(CONTRACT)
    run = CliRunner().invoke
    base = ["--contracts", str(tmp_path / "c.toml"), "--data-dir", str(tmp_path)]
    r = run(
        app, ["metering", "record", *base, "--from", "2025-12-01T00:00:00Z", "--to", "2025-12-02T00:00:00Z"]
    )
    assert r.exit_code == 0, r.output
    assert "#1 c-cut: 12000 cycles" in r.output  # from the reading an hour before the period
    r = run(
        app, ["metering", "statement", *base, "--contract", "c-cut", "--month", "2025-12", "--format", "json"]
    )
    assert r.exit_code == 0, r.output
    st = json.loads(r.output)
    assert st["quantity"] == 12000 and st["total"] == 100.0  # 24 below the minimum: topped up
    pdf = tmp_path / "s.pdf"
    r = run(
        app,
        [
            "metering",
            "statement",
            *base,
            "--contract",
            "c-cut",
            "--month",
            "2025-12",
            "--format",
            "pdf",
            "-o",
            str(pdf),
        ],
    )
    assert r.exit_code == 0, r.output
    assert pdf.read_bytes().startswith(b"%PDF-")
    r = run(app, ["metering", "verify", "--data-dir", str(tmp_path)])
    assert r.exit_code == 0 and r.output.startswith("ok: 1 records, head 1:")
    anchor = r.output.split("head ")[1].strip()
    con = sqlite3.connect(tmp_path / "metering.db")
    con.execute("DELETE FROM usage WHERE seq = 1")
    con.commit()
    con.close()
    r = run(app, ["metering", "verify", "--data-dir", str(tmp_path), "--anchor", anchor])
    assert r.exit_code == 1 and "anchor" in r.output
