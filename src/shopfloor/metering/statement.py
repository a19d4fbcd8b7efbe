"""Monthly statements of a contract: usage records of the month, tiered charges, the chain head.

Rendered as JSON, CSV (one row per usage record, then the charge lines) and PDF (fpdf2, in the
optional ``report`` extra). A statement names the hash of the last record it covers, so the
customer can have the usage chain verified against it later.

>>> month_range("2026-02")
(1769904000000000000, 1772323200000000000)
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from typing import Any

from ..core.errors import ShopfloorError
from .contracts import Contract
from .ledger import Record, Verification


class StatementError(ShopfloorError):
    """A statement cannot be produced (bad month, unknown format, PDF library missing)."""


def month_range(month: str) -> tuple[int, int]:
    """``YYYY-MM`` -> [first instant, first instant of the next month) in epoch ns (UTC)."""
    try:
        start = datetime.strptime(month, "%Y-%m").replace(tzinfo=UTC)
    except ValueError:
        raise StatementError(f"month {month!r} must be YYYY-MM") from None
    nxt = (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else start.replace(month=start.month + 1)
    )
    return int(start.timestamp()) * 10**9, int(nxt.timestamp()) * 10**9


def _iso(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def build(contract: Contract, month: str, records: list[Record], chain: Verification) -> dict[str, Any]:
    """The statement as a dict: usage lines (records whose period starts in the month), charges."""
    start, end = month_range(month)
    lines = [r for r in records if r.body.get("contract") == contract.id and start <= r.body["start"] < end]
    qty = sum(float(r.body["quantity"]) for r in lines)
    t = contract.tariff
    charges = [{"description": "base fee", "quantity": 1.0, "price": t.base_fee, "amount": t.base_fee}]
    charges += [c.model_dump() for c in t.lines(qty)]
    subtotal = sum(c["amount"] for c in charges)
    if subtotal < t.minimum:
        gap = t.minimum - subtotal
        charges.append({"description": "minimum charge top-up", "quantity": 1.0, "price": gap, "amount": gap})
    total = round(sum(c["amount"] for c in charges), 2)
    for c in charges:
        c["amount"] = round(c["amount"], 2)
    return {
        "contract": contract.id,
        "customer": contract.customer,
        "asset": contract.asset,
        "metric": contract.metric,
        "unit": contract.unit,
        "currency": contract.currency,
        "month": month,
        "period": {"start": _iso(start), "end": _iso(end)},
        "usage": [
            {
                "seq": r.seq,
                "start": _iso(r.body["start"]),
                "end": _iso(r.body["end"]),
                "quantity": r.body["quantity"],
                "hash": r.hash,
            }
            for r in lines
        ],
        "quantity": round(qty, 6),
        "charges": charges,
        "total": total,
        "chain": {
            "verified": chain.ok,
            "records": chain.checked,
            "problems": chain.problems,
            "last_hash": lines[-1].hash if lines else None,
        },
    }


def to_json(statement: dict[str, Any]) -> str:
    return json.dumps(statement, indent=2)


def to_csv(statement: dict[str, Any]) -> str:
    """Usage rows then charge rows; the first column says which."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(
        ["section", "contract", "customer", "item", "start", "end", "quantity", "price", "amount", "hash"]
    )
    c, cust = statement["contract"], statement["customer"]
    for u in statement["usage"]:
        w.writerow(
            ["usage", c, cust, f"record {u['seq']}", u["start"], u["end"], u["quantity"], "", "", u["hash"]]
        )
    for ch in statement["charges"]:
        w.writerow(
            ["charge", c, cust, ch["description"], "", "", ch["quantity"], ch["price"], ch["amount"], ""]
        )
    w.writerow(
        ["total", c, cust, statement["currency"], "", "", statement["quantity"], "", statement["total"], ""]
    )
    return buf.getvalue()


def to_pdf(statement: dict[str, Any]) -> bytes:
    """A one-page (or more) PDF statement; needs ``pip install 'shopfloor[report]'`` (fpdf2)."""
    try:
        from fpdf import FPDF
    except ImportError as err:
        raise StatementError("PDF statements need fpdf2: pip install 'shopfloor[report]'") from err
    s = statement
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 10, f"Usage statement {s['month']}", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=10)
    for label, value in (
        ("Customer", s["customer"]),
        ("Contract", s["contract"]),
        ("Asset", s["asset"]),
        ("Metric", f"{s['metric']} ({s['unit']})"),
        ("Period", f"{s['period']['start']} to {s['period']['end']}"),
    ):
        pdf.cell(0, 6, f"{label}: {value}", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    with pdf.table(col_widths=(60, 30, 30, 30), text_align=("LEFT", "RIGHT", "RIGHT", "RIGHT")) as table:
        table.row(["Item", "Quantity", f"Price ({s['currency']})", f"Amount ({s['currency']})"])
        for ch in s["charges"]:
            table.row(
                [ch["description"], f"{ch['quantity']:.2f}", f"{ch['price']:.4f}", f"{ch['amount']:.2f}"]
            )
        table.row(["Total", f"{s['quantity']:.2f}", "", f"{s['total']:.2f}"])
    pdf.ln(4)
    pdf.set_font("Helvetica", size=8)
    chain = s["chain"]
    status = "verified" if chain["verified"] else "NOT VERIFIED: " + "; ".join(chain["problems"][:3])
    pdf.multi_cell(
        pdf.epw, 4, f"Usage records: {len(s['usage'])}; hash chain {status}.", new_x="LMARGIN", new_y="NEXT"
    )
    if chain["last_hash"]:
        pdf.multi_cell(
            pdf.epw, 4, f"Last record hash (SHA-256): {chain['last_hash']}", new_x="LMARGIN", new_y="NEXT"
        )
    return bytes(pdf.output())


def render(statement: dict[str, Any], fmt: str) -> bytes:
    if fmt == "json":
        return to_json(statement).encode()
    if fmt == "csv":
        return to_csv(statement).encode()
    if fmt == "pdf":
        return to_pdf(statement)
    raise StatementError(f"unknown statement format {fmt!r}: use csv, json or pdf")
