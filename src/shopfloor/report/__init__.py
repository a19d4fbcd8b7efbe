"""Reports from the platform's stored data: the pilot ROI report (``shopfloor report pilot``).

* :mod:`.collect`: KPIs of a window per machine, read from any TimeSeriesStore
* :mod:`.pilot`: baseline against pilot, savings, ROI, and the self-contained HTML page
* :mod:`.svg`: the inline SVG charts
"""

from __future__ import annotations

from typing import Any

from ..core.assets import Plant
from .collect import MachineKpis, machine_kpis, window_kpis
from .pilot import Economics, Window, compare, render_html

__all__ = [
    "Economics",
    "MachineKpis",
    "Window",
    "compare",
    "machine_kpis",
    "pilot_report",
    "render_html",
    "window_kpis",
]


async def pilot_report(
    store: Any,
    plant: Plant,
    baseline: tuple[int, int],
    pilot: tuple[int, int],
    economics: Economics | None = None,
    assets: list[str] | None = None,
) -> tuple[dict[str, Any], str]:
    """Compute the pilot comparison; returns (numbers, HTML page)."""
    econ = economics or Economics()
    b = Window(*baseline, await window_kpis(store, plant, *baseline, assets=assets))
    p = Window(*pilot, await window_kpis(store, plant, *pilot, assets=assets))
    result = compare(b, p, econ)
    result["machines"] = {
        "baseline": [m.as_dict() for m in b.machines],
        "pilot": [m.as_dict() for m in p.machines],
    }
    return result, render_html(result, b, p)
