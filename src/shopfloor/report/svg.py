"""Small inline SVG charts for self-contained HTML reports (no scripts, no external files).

>>> svg = bar_chart(["a", "b"], {"baseline": [1.0, 2.0], "pilot": [1.5, 1.0]}, title="t")
>>> svg.startswith("<svg") and svg.count("<rect") == 4 + 2  # bars + legend swatches
True
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

PALETTE = ("#8a9bb0", "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728")


def _fmt(v: float) -> str:
    if abs(v) >= 100:
        return f"{v:,.0f}"
    if abs(v) >= 1:
        return f"{v:.1f}"
    return f"{v:.3g}"


def bar_chart(
    categories: Sequence[str],
    series: dict[str, Sequence[float | None]],
    *,
    title: str = "",
    unit: str = "",
    width: int = 640,
    height: int = 260,
) -> str:
    """Grouped vertical bars, one group per category, one colour per series (None: no bar)."""
    left, right, top, bottom = 56, 12, 28, 64
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for vs in series.values() for v in vs if v is not None]
    hi = max([0.0, *values]) or 1.0
    lo = min([0.0, *values])
    span = hi - lo or 1.0

    def y(v: float) -> float:
        return top + plot_h * (hi - v) / span

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}"'
        f' height="{height}" role="img" aria-label="{escape(title)}"'
        ' font-family="sans-serif" font-size="11">',
        f'<text x="{left}" y="16" font-size="13" font-weight="bold">{escape(title)}</text>',
        f'<line x1="{left}" y1="{y(0):.1f}" x2="{left + plot_w}" y2="{y(0):.1f}" stroke="#333"/>',
        f'<text x="{left - 6}" y="{y(hi) + 4:.1f}" text-anchor="end">{_fmt(hi)}{escape(unit)}</text>',
        f'<text x="{left - 6}" y="{y(0) + 4:.1f}" text-anchor="end">0</text>',
    ]
    n_groups, n_series = max(1, len(categories)), max(1, len(series))
    group_w = plot_w / n_groups
    bar_w = group_w * 0.8 / n_series
    for gi, cat in enumerate(categories):
        gx = left + gi * group_w + group_w * 0.1
        for si, (name, vs) in enumerate(series.items()):
            v = vs[gi] if gi < len(vs) else None
            if v is None:
                continue
            x = gx + si * bar_w
            y0, y1 = sorted((y(0), y(v)))
            parts.append(
                f'<rect x="{x:.1f}" y="{y0:.1f}" width="{bar_w * 0.92:.1f}" height="{max(0.5, y1 - y0):.1f}"'
                f' fill="{PALETTE[si % len(PALETTE)]}"><title>{escape(name)} {escape(cat)}: {_fmt(v)}'
                f"{escape(unit)}</title></rect>"
            )
        label = cat if len(cat) <= 18 else "…" + cat[-17:]
        parts.append(
            f'<text x="{gx + group_w * 0.4:.1f}" y="{top + plot_h + 14}"'
            f' text-anchor="middle">{escape(label)}</text>'
        )
    for si, name in enumerate(series):
        lx = left + si * 120
        parts.append(
            f'<rect x="{lx}" y="{height - 18}" width="10" height="10" fill="{PALETTE[si % len(PALETTE)]}"/>'
            f'<text x="{lx + 14}" y="{height - 9}">{escape(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
