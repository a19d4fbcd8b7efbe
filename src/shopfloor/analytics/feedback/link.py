"""Complaints traced to production batches.

Each complaint's serial numbers are resolved to batches (through a genealogy's
``batch_of``); per batch the number of complaints is compared with what the reference
complaint rate per unit shipped predicts (exact Poisson upper tail, Holm-corrected over
batches). The reference rate is pooled over the batches not flagged so far, repeated until
the flagged set stops changing, so several bad batches do not mask each other.

>>> units = {"A": 100, "B": 100, "C": 100, "D": 100}
>>> serials = [["A-1"]] * 2 + [["B-1"]] * 3 + [["C-7"]] * 2 + [["D-3"]] * 25 + [[]] * 4
>>> res = link_complaints(serials, lambda s: s.split("-")[0], units)
>>> [b.batch for b in res.flagged], res.unresolved
(['D'], 4)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from scipy import stats


@dataclass(slots=True)
class BatchComplaints:
    batch: str
    complaints: int
    units: int
    expected: float
    ratio: float
    p_value: float
    p_adjusted: float = 1.0
    flagged: bool = False


@dataclass(slots=True)
class ComplaintLinks:
    batches: list[BatchComplaints] = field(default_factory=list)
    resolved: int = 0
    unresolved: int = 0

    @property
    def flagged(self) -> list[BatchComplaints]:
        return [b for b in self.batches if b.flagged]

    def to_dict(self) -> dict[str, Any]:
        return {
            "resolved": self.resolved,
            "unresolved": self.unresolved,
            "batches": [asdict(b) for b in self.batches],
        }


def link_complaints(
    serials: Iterable[Sequence[str]],
    batch_of: Callable[[str], str | None],
    units: Mapping[str, int],
    alpha: float = 0.01,
) -> ComplaintLinks:
    """Complaints per batch against the pooled rate; ``serials`` holds each complaint's serials."""
    counts: Counter[str] = Counter()
    out = ComplaintLinks()
    for ss in serials:
        batches = {b for b in (batch_of(s) for s in ss) if b is not None}
        if not batches:
            out.unresolved += 1
            continue
        out.resolved += 1
        for b in batches:
            counts[b] += 1
    total_units = sum(units.values())
    if total_units <= 0:
        return out
    flagged: set[str] = set()
    for _ in range(10):  # the reference rate leaves out the batches already found (robust to many bad ones)
        ref = [b for b in units if b not in flagged]
        ref_units = sum(units[b] for b in ref)
        rate = sum(counts[b] for b in ref) / ref_units if ref_units else 0.0
        out.batches = []
        for b, n_units in units.items():
            exp = rate * n_units
            c = counts.get(b, 0)
            p = float(stats.poisson.sf(c - 1, exp)) if exp > 0 else 1.0
            out.batches.append(BatchComplaints(b, c, n_units, exp, c / exp if exp > 0 else 0.0, p))
        out.batches.sort(key=lambda x: x.p_value)
        m, running = len(out.batches), 0.0
        for k, bc in enumerate(out.batches):
            running = max(running, min(1.0, (m - k) * bc.p_value))
            bc.p_adjusted = running
            bc.flagged = running < alpha and bc.ratio > 1.0
        now = {bc.batch for bc in out.flagged}
        if now == flagged or len(now) > len(units) // 2:
            break
        flagged = now
    return out
