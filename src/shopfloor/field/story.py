"""The field story end to end on the simulated plant.

1. :func:`shopfloor.sim.batches.run_scenario` makes a few days of production with one planted
   process excursion; a :class:`~shopfloor.analytics.fleet.genealogy.BatchHistorian` records
   every batch from the plant's samples (what the platform sees, not the simulator's internals).
2. The products go to the field; their life data and the customer feedback stream (in time
   order, a day at a time, as it would arrive) go into a :class:`FieldService`.
3. The report names the batches with significantly shorter field life, the batches with too
   many complaints, the complaint spikes, and for each flagged batch the settings or material
   properties that set it apart. ``truth`` carries the simulator's planted cause for display
   only; nothing in the analysis reads it.
"""

from __future__ import annotations

import logging
from typing import Any

from ..analytics.fleet.genealogy import BatchHistorian
from ..core.clock import iso
from ..sim.batches import Scenario, run_scenario
from ..sim.field import DAY_NS
from .service import FieldService, FieldSettings

log = logging.getLogger(__name__)


def run_story(
    seed: int = 7, days: float = 6.0, field_days: float = 75.0, db: str = ":memory:", **scenario: Any
) -> dict[str, Any]:
    """Run the scenario and the analyses; returns the report (JSON-ready)."""
    historian = BatchHistorian()
    sc = run_scenario(seed=seed, days=days, field_days=field_days, on_samples=historian.learn, **scenario)
    return analyse(sc, historian, db)


def analyse(sc: Scenario, historian: BatchHistorian, db: str = ":memory:") -> dict[str, Any]:
    """The platform's side: genealogy, field life, the feedback stream, the report."""
    svc = FieldService(FieldSettings(db=db, models=sorted(set(sc.models.values()))))
    svc.set_genealogy(historian.genealogy())
    svc.add_units([{**p.to_dict(), "model": sc.model_of(p.batch)} for p in sc.products])
    start = sc.feedback[0].ts_ns if sc.feedback else sc.now_ns
    day, chunk, alarms = start, [], []
    for f in sc.feedback:
        if f.ts_ns >= day + DAY_NS and chunk:
            alarms += svc.ingest_feedback(chunk)["alarms"]
            chunk, day = [], f.ts_ns
        chunk.append({"text": f.text, "ts": f.ts_ns, "channel": f.channel, "customer": f.customer})
    if chunk:
        alarms += svc.ingest_feedback(chunk)["alarms"]
    report = svc.batch_report(now_ns=sc.now_ns)
    report["spike_alarms"] = [{**a, "time": iso(a["ts_ns"])} for a in alarms]
    report["feedback"] = {"messages": len(sc.feedback), "topics": svc.store.topic_counts()}
    flagged = report["flagged_by_field_life"]
    both = [b for b in flagged if b in set(report["flagged_by_complaints"])]
    report["summary"] = [
        {
            "batch": b,
            "line": svc.genealogy.profiles[b].line if b in svc.genealogy.profiles else "",
            "also_by_complaints": b in both,
            "cause": report["causes"].get(b, [{}])[0].get("parameter", "") if report["causes"].get(b) else "",
        }
        for b in flagged
    ]
    t = sc.truth
    report["truth"] = {
        "asset": t.asset,
        "kind": t.kind,
        "tag": t.tag,
        "batch": t.detail,
        "start": iso(t.start_ns),
        "end": iso(t.end_ns) if t.end_ns else None,
    }
    svc.store.close()
    return report
