"""The pilot ROI report: a pilot window against a baseline window, in hours, units, kWh and money.

"Start small, scale smart" made measurable: the same KPIs are computed for a baseline window
(before the platform's changes) and the pilot window, normalised per planned production hour
(downtime), per unit made (scrap, energy), so windows of different lengths compare fairly:

* downtime avoided [h] = (baseline unplanned downtime per planned hour - pilot's) x pilot
  planned hours
* scrap avoided [units] = (baseline reject rate - pilot's) x units made in the pilot
* energy saved [kWh] = (baseline kWh per good unit - pilot's) x good units in the pilot
* savings per pilot hour, annualised over ``operating_hours_per_year``; first-year ROI =
  (annual savings - annual cost - investment) / (investment + annual cost); payback in months =
  investment / monthly net savings.

Negative numbers mean the pilot did worse; the report shows them as they are.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..analytics.kpi import EmissionFactors, EnergyBaseline, OeeResult, combine
from ..core.errors import ConfigError
from .collect import MachineKpis, line_oee
from .svg import bar_chart

NS = 1_000_000_000


class Economics(BaseModel):
    """Money and carbon figures of a pilot (a TOML file, ``[economics]``); every one documented."""

    model_config = ConfigDict(extra="forbid")

    currency: str = Field("EUR", description="Currency of every amount")
    downtime_cost_per_hour: float = Field(
        1500.0, ge=0, description="Lost margin per hour of unplanned downtime"
    )
    scrap_cost_per_unit: float = Field(2.0, ge=0, description="Cost of one rejected unit")
    energy_price_per_kwh: float = Field(0.18, ge=0, description="Electricity price")
    investment: float = Field(25_000.0, ge=0, description="One-off cost of the pilot and its roll-out")
    annual_cost: float = Field(6_000.0, ge=0, description="Running cost per year (licences, hosting, care)")
    operating_hours_per_year: float = Field(6000.0, gt=0, description="Hours the plant runs per year")
    emissions: EmissionFactors = Field(default_factory=EmissionFactors)

    @classmethod
    def load(cls, path: str | Path) -> Economics:
        p = Path(path)
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as err:
            raise ConfigError(f"cannot read economics file {str(p)!r}: {err}") from err
        try:
            return cls.model_validate(data.get("economics", data))
        except ValidationError as err:
            detail = "; ".join(f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in err.errors())
            raise ConfigError(f"{p}: [economics] {detail}") from None


@dataclass
class Window:
    """Totals of one window over all machines."""

    start: int
    end: int
    machines: list[MachineKpis]

    @property
    def hours(self) -> float:
        return (self.end - self.start) / NS / 3600

    def totals(self) -> dict[str, float]:
        states = combine(m.oee for m in self.machines if m.oee is not None)  # every machine with a state
        downtime_s = sum(states.losses[k] for k in ("breakdowns", "setup_adjustments", "small_stops"))
        oee = line_oee(self.machines) or OeeResult()
        good = sum(m.good for m in self.machines)
        reject = sum(m.reject for m in self.machines)
        with_units = [m for m in self.machines if m.kwh is not None and m.good > 0]
        kwh_units = sum(m.kwh or 0.0 for m in with_units)
        good_units = sum(m.good for m in with_units)
        return {
            "hours": self.hours,
            "planned_h": states.planned_s / 3600,
            "downtime_h": downtime_s / 3600,
            "downtime_per_planned_h": downtime_s / states.planned_s if states.planned_s else 0.0,
            "oee": oee.oee,
            "availability": oee.availability,
            "performance": oee.performance,
            "quality": oee.quality,
            "good": good,
            "reject": reject,
            "reject_rate": reject / (good + reject) if good + reject else 0.0,
            "kwh": sum(m.kwh or 0.0 for m in self.machines),
            "idle_kwh": sum(m.idle_kwh or 0.0 for m in self.machines),
            "kwh_per_unit": kwh_units / good_units if good_units else 0.0,
            "good_with_energy": good_units,
            "peak_kw": max((m.peak_kw or 0.0 for m in self.machines), default=0.0),
        }


def energy_anomalies(baseline: Window, pilot: Window, threshold: float = 4.0) -> list[dict[str, Any]]:
    """Pilot 15-minute intervals drawing far more than the machine's baseline (robust z-score).

    Only excess counts: an interval far below the baseline is a stop, which the downtime
    figures already explain.
    """
    model = EnergyBaseline(window=100_000, threshold=threshold, min_count=12)
    for m in baseline.machines:
        for _, kw in m.demand:
            model.learn_one({"context": m.asset, "kwh": kw / 4})
    out = []
    for m in pilot.machines:
        for ts, kw in m.demand:
            x = {"context": m.asset, "kwh": kw / 4}
            z = model.score_one(x)
            if z is not None and z > threshold:
                out.append({"asset": m.asset, "start": ts, "kwh": kw / 4, "z": z})
    return sorted(out, key=lambda a: -a["z"])


def compare(baseline: Window, pilot: Window, econ: Economics) -> dict[str, Any]:
    """Savings and ROI of the pilot against the baseline (see the module docstring)."""
    b, p = baseline.totals(), pilot.totals()
    downtime_h = (b["downtime_per_planned_h"] - p["downtime_per_planned_h"]) * p["planned_h"]
    scrap_units = (b["reject_rate"] - p["reject_rate"]) * (p["good"] + p["reject"])
    energy_kwh = (b["kwh_per_unit"] - p["kwh_per_unit"]) * p["good_with_energy"] if b["kwh_per_unit"] else 0.0
    money = {
        "downtime": downtime_h * econ.downtime_cost_per_hour,
        "scrap": scrap_units * econ.scrap_cost_per_unit,
        "energy": energy_kwh * econ.energy_price_per_kwh,
    }
    pilot_savings = sum(money.values())
    annual = pilot_savings / pilot.hours * econ.operating_hours_per_year if pilot.hours else 0.0
    net = annual - econ.annual_cost
    spend = econ.investment + econ.annual_cost
    return {
        "baseline": b,
        "pilot": p,
        "downtime_avoided_h": downtime_h,
        "scrap_avoided_units": scrap_units,
        "energy_saved_kwh": energy_kwh,
        "co2e_avoided_kg": energy_kwh * econ.emissions.grid_kg_per_kwh,
        "savings": money,
        "pilot_savings": pilot_savings,
        "annual_savings": annual,
        "roi_first_year": (annual - spend) / spend if spend else None,
        "payback_months": econ.investment / (net / 12) if net > 0 else None,
        "currency": econ.currency,
        "economics": econ.model_dump(),
        "energy_anomalies": energy_anomalies(baseline, pilot),
    }


_INDEXED = ("downtime_per_planned_h", "reject_rate", "kwh_per_unit")


def _when(ns: int) -> str:
    return datetime.fromtimestamp(ns / NS, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _pct(v: float) -> str:
    return f"{100 * v:.1f} %"


def render_html(result: dict[str, Any], baseline: Window, pilot: Window, title: str = "Pilot report") -> str:
    """One self-contained HTML page (inline CSS and SVG)."""
    b, p, cur = result["baseline"], result["pilot"], result["currency"]
    oee_b = {m.asset: m for m in baseline.machines if m.oee is not None and m.oee.total}
    oee_p = {m.asset: m for m in pilot.machines if m.oee is not None and m.oee.total}
    names = sorted(set(oee_b) & set(oee_p))
    short = [n.rsplit("/", 1)[-1] for n in names]
    charts = [
        bar_chart(
            short,
            {
                "baseline": [oee_b[n].oee.oee * 100 for n in names],
                "pilot": [oee_p[n].oee.oee * 100 for n in names],
            },  # type: ignore[union-attr]
            title="OEE per machine",
            unit=" %",
        ),
        bar_chart(
            ["downtime", "rejects", "kWh per unit"],
            {
                "baseline": [100.0 if b[k] else None for k in _INDEXED],
                "pilot": [100.0 * p[k] / b[k] if b[k] else None for k in _INDEXED],
            },
            title="Pilot against baseline (baseline = 100; lower is better)",
        ),
        bar_chart(
            list(result["savings"]),
            {"savings in the pilot window": list(result["savings"].values())},
            title=f"Savings by source ({cur})",
        ),
    ]
    pareto = combine(m.oee for m in pilot.machines if m.oee is not None).pareto()[:8]
    if pareto:
        charts.append(
            bar_chart(
                [r["reason"] for r in pareto],
                {"pilot downtime": [r["seconds"] / 60 for r in pareto]},
                title="Downtime Pareto in the pilot (minutes)",
            )
        )
    roi = result["roi_first_year"]
    payback = result["payback_months"]
    cards = [
        ("Downtime avoided", f"{result['downtime_avoided_h']:.1f} h"),
        ("Scrap avoided", f"{result['scrap_avoided_units']:,.0f} units"),
        ("Energy saved", f"{result['energy_saved_kwh']:,.1f} kWh ({result['co2e_avoided_kg']:,.0f} kg CO2e)"),
        ("Savings in the pilot", f"{result['pilot_savings']:,.0f} {cur}"),
        ("Annualised savings", f"{result['annual_savings']:,.0f} {cur}"),
        ("First-year ROI", _pct(roi) if roi is not None else "n/a"),
        ("Payback", f"{payback:.1f} months" if payback is not None else "not within the year"),
    ]
    rows = [
        (
            "Window",
            f"{_when(baseline.start)} to {_when(baseline.end)}",
            f"{_when(pilot.start)} to {_when(pilot.end)}",
        ),
        ("Hours", f"{b['hours']:.1f}", f"{p['hours']:.1f}"),
        ("OEE", _pct(b["oee"]), _pct(p["oee"])),
        ("Availability", _pct(b["availability"]), _pct(p["availability"])),
        ("Performance", _pct(b["performance"]), _pct(p["performance"])),
        ("Quality", _pct(b["quality"]), _pct(p["quality"])),
        ("Unplanned downtime", f"{b['downtime_h']:.2f} h", f"{p['downtime_h']:.2f} h"),
        ("Units good / rejected", f"{b['good']:,} / {b['reject']:,}", f"{p['good']:,} / {p['reject']:,}"),
        ("Reject rate (every counting machine)", _pct(b["reject_rate"]), _pct(p["reject_rate"])),
        ("Energy", f"{b['kwh']:,.1f} kWh", f"{p['kwh']:,.1f} kWh"),
        ("kWh per good unit", f"{b['kwh_per_unit']:.4f}", f"{p['kwh_per_unit']:.4f}"),
        ("Idle / down energy", f"{b['idle_kwh']:,.1f} kWh", f"{p['idle_kwh']:,.1f} kWh"),
        ("Peak demand (15 min)", f"{b['peak_kw']:.1f} kW", f"{p['peak_kw']:.1f} kW"),
    ]
    notes = sorted({f"{m.asset}: {n}" for m in pilot.machines for n in m.notes})
    econ = result["economics"]
    body = [
        f"<h1>{escape(title)}</h1>",
        '<div class="cards">'
        + "".join(
            f'<div class="card"><div class="k">{escape(k)}</div><div class="v">{escape(v)}</div></div>'
            for k, v in cards
        )
        + "</div>",
        "<h2>Baseline and pilot</h2><table><tr><th></th><th>baseline</th><th>pilot</th></tr>"
        + "".join(
            f"<tr><td>{escape(a)}</td><td>{escape(x)}</td><td>{escape(y)}</td></tr>" for a, x, y in rows
        )
        + "</table>",
        "<h2>Charts</h2>" + "".join(f'<div class="chart">{c}</div>' for c in charts),
        "<h2>Assumptions</h2><table>"
        + "".join(f"<tr><td>{escape(k)}</td><td>{escape(str(v))}</td></tr>" for k, v in econ.items())
        + "</table><p>Method: see docs/kpi.md. Windows are normalised per planned hour and per unit."
        " Differences as small as the day-to-day variation of the baseline are not savings: compare"
        " windows of several days, with the same product mix.</p>",
    ]
    anomalies = result["energy_anomalies"]
    body.append(
        f"<h2>Energy anomalies</h2><p>{len(anomalies)} pilot 15-minute intervals drawing more than"
        " 4 robust standard deviations above the machine's baseline.</p>"
    )
    if anomalies:
        body.append(
            "<table><tr><th>machine</th><th>interval</th><th>kWh</th><th>z</th></tr>"
            + "".join(
                f"<tr><td>{escape(a['asset'])}</td><td>{_when(a['start'])}</td><td>{a['kwh']:.2f}</td>"
                f"<td>{a['z']:+.1f}</td></tr>"
                for a in anomalies[:10]
            )
            + "</table>"
        )
    if notes:
        body.append("<h2>Notes</h2><ul>" + "".join(f"<li>{escape(n)}</li>" for n in notes) + "</ul>")
    style = (
        "body{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222}"
        ".cards{display:flex;flex-wrap:wrap;gap:12px}"
        ".card{border:1px solid #ccc;border-radius:6px;padding:10px 14px}"
        ".k{font-size:12px;color:#666}.v{font-size:20px;font-weight:bold}"
        "table{border-collapse:collapse;margin:1em 0}"
        "td,th{border-bottom:1px solid #ddd;padding:4px 10px;text-align:left}"
        ".chart{margin:1em 0}"
    )
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"<style>{style}</style></head><body>{''.join(body)}</body></html>"
    )
