"""Which batches live shorter in the field, and which process parameters set them apart.

:func:`compare_batches` runs the k-sample log-rank test over all batches, then one batch
against the rest of the fleet, Holm-corrected for the number of batches, and flags those that
fail significantly sooner (more failures than expected under the pooled hazard).
:func:`distinguishing_parameters` ranks the recorded parameters of the batches (settings,
raw-material properties, quality results) by how far the flagged batches lie from the
others, in robust z units (median and MAD of the unflagged batches).

>>> t = [5, 6, 7, 8, 9] * 4 + [50, 60, 70, 80, 90] * 4
>>> g = ["A"] * 20 + ["B"] * 10 + ["C"] * 10
>>> [b.batch for b in compare_batches([1.0 * x for x in t], None, g).flagged]
['A']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .survival import LifeDataError, as_life_data, log_rank


@dataclass(slots=True)
class BatchLife:
    """One batch against the rest of the fleet."""

    batch: str
    units: int
    failures: int
    expected: float
    ratio: float
    chi2: float
    p_value: float
    p_adjusted: float = 1.0
    flagged: bool = False


@dataclass(slots=True)
class BatchComparison:
    """The overall test and the per-batch results, most significant first."""

    chi2: float
    dof: int
    p_value: float
    batches: list[BatchLife] = field(default_factory=list)

    @property
    def flagged(self) -> list[BatchLife]:
        return [b for b in self.batches if b.flagged]

    def to_dict(self) -> dict[str, Any]:
        return {
            "chi2": self.chi2,
            "dof": self.dof,
            "p_value": self.p_value,
            "batches": [asdict(b) for b in self.batches],
        }


def compare_batches(
    times: Sequence[float] | np.ndarray,
    events: Sequence[int] | np.ndarray | None,
    batches: Sequence[str] | np.ndarray,
    alpha: float = 0.01,
    min_units: int = 3,
) -> BatchComparison:
    """Log-rank comparison of field life across batches (batches under ``min_units`` are skipped)."""
    t, e = as_life_data(times, events)
    g = np.asarray(batches).astype(str)
    if g.shape != t.shape:
        raise LifeDataError(f"batches must be as long as times ({t.size}), got {g.size}")
    names, counts = np.unique(g, return_counts=True)
    keep = set(names[counts >= min_units].tolist())
    mask = np.isin(g, list(keep))
    if len(keep) < 2:
        raise LifeDataError(f"need at least two batches with {min_units}+ units, got {len(keep)}")
    t, e, g = t[mask], e[mask], g[mask]
    overall = log_rank(t, e, g)
    out = BatchComparison(overall.chi2, overall.dof, overall.p_value)
    for b in sorted(keep):
        one = log_rank(t, e, np.where(g == b, "this", "rest"))
        i = one.groups.index("this")
        out.batches.append(
            BatchLife(
                batch=b,
                units=int((g == b).sum()),
                failures=int(one.observed[i]),
                expected=one.expected[i],
                ratio=one.ratio("this"),
                chi2=one.chi2,
                p_value=one.p_value,
            )
        )
    # Holm step-down correction over the batches
    order = sorted(out.batches, key=lambda b: b.p_value)
    m = len(order)
    running = 0.0
    for k, b in enumerate(order):
        running = max(running, min(1.0, (m - k) * b.p_value))
        b.p_adjusted = running
        b.flagged = running < alpha and b.ratio > 1.0
    out.batches = order
    return out


@dataclass(slots=True)
class ParameterShift:
    """How far the flagged batches sit from the others on one parameter."""

    parameter: str
    kind: str
    flagged_mean: float
    others_median: float
    z: float


def distinguishing_parameters(
    profiles: Mapping[str, Mapping[str, float]],
    flagged: Sequence[str],
    kinds: Mapping[str, str] | None = None,
    reference: Sequence[str] | None = None,
) -> list[ParameterShift]:
    """Parameters ranked by ``|z|`` of the flagged batches against the unflagged ones.

    ``profiles`` maps batch -> {parameter: value}; ``kinds`` optionally labels each parameter
    (``setting``, ``material``, ``quality``); ``reference`` names the batches to compare
    against (default: all that are not in ``flagged``). The scale is 1.4826 x MAD of the unflagged
    batches, floored at 1 % of their median's magnitude so a constant setpoint that moved
    still ranks first without dividing by zero.
    """
    bad = [b for b in flagged if b in profiles]
    good = [b for b in (reference if reference is not None else profiles) if b in profiles and b not in bad]
    if not bad or len(good) < 2:
        raise LifeDataError(f"need flagged batches and at least two others; got {len(bad)} and {len(good)}")
    params = sorted({p for b in profiles for p in profiles[b]})
    out: list[ParameterShift] = []
    for p in params:
        gv = np.array([profiles[b][p] for b in good if p in profiles[b]], dtype=float)
        bv = np.array([profiles[b][p] for b in bad if p in profiles[b]], dtype=float)
        gv, bv = gv[np.isfinite(gv)], bv[np.isfinite(bv)]
        if gv.size < 2 or bv.size == 0:
            continue
        med = float(np.median(gv))
        scale = max(1.4826 * float(np.median(np.abs(gv - med))), 0.01 * abs(med), 1e-9)
        z = (float(bv.mean()) - med) / scale
        out.append(ParameterShift(p, (kinds or {}).get(p, ""), float(bv.mean()), med, z))
    out.sort(key=lambda s: -abs(s.z))
    return out


def explain_batches(
    profiles: Mapping[str, Mapping[str, float]],
    flagged: Sequence[str],
    kinds: Mapping[str, str] | None = None,
    causes: Sequence[str] = ("setting", "material"),
    top: int = 3,
) -> dict[str, list[ParameterShift]]:
    """Per flagged batch, the parameters of the ``causes`` kinds that set it apart most.

    Each flagged batch is compared with the unflagged batches only, so two bad batches with
    different causes (one setpoint excursion, one off-spec raw material) are explained apart.
    """
    ref = [b for b in profiles if b not in set(flagged)]
    out: dict[str, list[ParameterShift]] = {}
    for b in flagged:
        if b not in profiles:
            continue
        shifts = distinguishing_parameters(profiles, [b], kinds, reference=ref)
        out[b] = [s for s in shifts if not kinds or s.kind in causes][:top]
    return out
