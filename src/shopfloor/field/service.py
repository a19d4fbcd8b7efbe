"""The field service: ingest feedback, keep units and genealogy, answer traces and batch reports.

Feedback ingest validates every item (a :class:`FeedbackIn`); a bad one is rejected with a
message naming the field, counted, and kept in the ``rejected`` table; the rest go on. Each
accepted text is read (topic, sentiment, urgency, models, serials), linked to batches through
the genealogy, stored, and fed to the topic spike detector, whose alarms are stored and
returned at once.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from typing import Any

import numpy as np
from pydantic import BaseModel, Field, ValidationError, field_validator

from ..analytics.feedback.link import link_complaints
from ..analytics.feedback.spike import TopicSpikeDetector
from ..analytics.feedback.text import DEFAULT_COMPLAINTS, FeedbackAnalyzer
from ..analytics.fleet.compare import compare_batches, explain_batches
from ..analytics.fleet.forecast import forecast_returns
from ..analytics.fleet.genealogy import BatchProfile, Genealogy
from ..analytics.fleet.models import best_fit
from ..analytics.fleet.survival import LifeDataError
from ..core.clock import parse_ts
from ..core.errors import ShopfloorError
from .store import FieldStore

log = logging.getLogger(__name__)

DEFAULT_MODELS: tuple[str, ...] = ("RB-100", "RB-200")
DAY_H = 24.0
MONTH_DAYS = 30.44


class FieldSettings(BaseModel):
    """Settings of the field service."""

    db: str = Field(":memory:", description="SQLite file of the field records (':memory:' for scratch)")
    models: list[str] = Field(list(DEFAULT_MODELS), description="Product models to recognise in texts")
    complaint_topics: list[str] = Field(list(DEFAULT_COMPLAINTS), description="Topics that are complaints")
    spike_bucket_s: float = Field(3600.0, gt=0, description="Spike detector bucket length, seconds")
    spike_window: int = Field(6, ge=1, description="Spike detector window, buckets")
    spike_alpha: float = Field(1e-4, gt=0, lt=1, description="Spike detector false-alarm probability")
    spike_min_count: int = Field(5, ge=1, description="Fewest messages in a window that can alarm")
    alpha: float = Field(0.01, gt=0, lt=1, description="Significance of batch comparisons (Holm-corrected)")


class FeedbackIn(BaseModel):
    """One feedback message as it arrives (API body item, JSONL line or CSV row)."""

    text: str = Field(min_length=1, max_length=10_000)
    ts: str | int | float | None = Field(None, description="When: ISO 8601, epoch ns, or omitted (now)")
    channel: str = Field("api", max_length=64)
    customer: str = Field("", max_length=128)

    @field_validator("text")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("text is blank")
        return v

    def ts_ns(self) -> int:
        if self.ts is None:
            return time.time_ns()
        try:
            return parse_ts(self.ts)
        except ValueError as err:
            raise ValueError(f"ts: {err}") from None


class FieldError(ShopfloorError, ValueError):
    """A field request that cannot be answered (names what is missing)."""


class FieldService:
    """Feedback, units in the field and genealogy, with their analyses."""

    def __init__(self, settings: FieldSettings | None = None, store: FieldStore | None = None) -> None:
        self.settings = s = settings or FieldSettings()
        self.store = store or FieldStore(s.db)
        self.analyzer = FeedbackAnalyzer(models=s.models, complaint_topics=s.complaint_topics)
        self.spikes = TopicSpikeDetector(
            bucket_s=s.spike_bucket_s,
            window=s.spike_window,
            alpha=s.spike_alpha,
            min_count=s.spike_min_count,
            topics=set(s.complaint_topics),
        )
        self.genealogy = Genealogy({b["batch"]: BatchProfile(**b) for b in self.store.batches()})
        self.counters = {"accepted": 0, "rejected": 0, "alarms": 0}
        self._lock = threading.Lock()  # ingest runs in worker threads; the detector is stateful

    # feedback -----------------------------------------------------------------------------
    def ingest_feedback(self, items: Iterable[Any]) -> dict[str, Any]:
        """Validate, read, link, store and watch a batch of feedback items (dicts)."""
        with self._lock:
            return self._ingest(items)

    def _ingest(self, items: Iterable[Any]) -> dict[str, Any]:
        rows: list[dict[str, Any]] = []
        rejected: list[dict[str, Any]] = []
        alarms: list[dict[str, Any]] = []
        now = time.time_ns()
        for i, raw in enumerate(items):
            try:
                item = raw if isinstance(raw, FeedbackIn) else FeedbackIn.model_validate(raw)
                ts = item.ts_ns()
                r = self.analyzer.analyze(item.text)
            except (ValidationError, ValueError, ShopfloorError) as err:
                reason = _reason(err)
                rejected.append({"index": i, "reason": reason})
                self.store.add_rejected(now, reason, json.dumps(raw, default=str)[:20_000])
                self.counters["rejected"] += 1
                continue
            batches = sorted({b for b in (self.genealogy.batch_of(x) for x in r.serials) if b})
            rows.append(
                {
                    "ts_ns": ts,
                    "channel": item.channel,
                    "customer": item.customer,
                    "text": item.text,
                    **r.to_dict(),
                    "batches": batches,
                }
            )
        rows.sort(key=lambda x: x["ts_ns"])
        for row in rows:
            alarm = self.spikes.learn_one(row["ts_ns"], row["topic"])
            if alarm is not None:
                a = alarm.to_dict()
                self.store.add_alarm(a)
                alarms.append(a)
                log.warning(
                    "complaint spike: %d %r messages in %.0f h (expected %.1f)",
                    alarm.count,
                    alarm.topic,
                    alarm.window_s / 3600,
                    alarm.expected,
                )
        self.store.add_feedback(rows)
        self.counters["accepted"] += len(rows)
        self.counters["alarms"] += len(alarms)
        if rejected:
            log.info(
                "feedback: %d accepted, %d rejected (first: %s)",
                len(rows),
                len(rejected),
                rejected[0]["reason"],
            )
        return {"accepted": len(rows), "rejected": rejected, "alarms": alarms}

    # units and genealogy ------------------------------------------------------------------
    def set_genealogy(self, genealogy: Genealogy) -> None:
        self.genealogy.profiles.update(genealogy.profiles)
        self.genealogy.units.update(genealogy.units)
        self.store.upsert_batches([p.to_dict() for p in genealogy.profiles.values()])

    def add_units(self, units: Sequence[dict[str, Any]]) -> None:
        """Units in the field (serial, batch, ship_ns, usage_hours, failed, failure_ns, ...)."""
        self.store.upsert_units(units)
        for u in units:
            if u.get("batch"):
                self.genealogy.units[u["serial"]] = u["batch"]

    def trace(self, serial: str) -> dict[str, Any]:
        """Serial -> its unit record, batch, machines, settings, material and quality."""
        try:
            out = self.genealogy.trace(serial)
        except KeyError as err:
            raise FieldError(str(err.args[0])) from None
        out["unit"] = self.store.unit(serial)
        return out

    # analyses -----------------------------------------------------------------------------
    def batch_report(self, now_ns: int | None = None, months: int = 6) -> dict[str, Any]:
        """Field life per batch (log-rank), complaints per batch, causes, fleet model, forecast."""
        units = [u for u in self.store.units() if (u["usage_hours"] or 0) > 0 and u["batch"]]
        if len(units) < 10:
            raise FieldError(f"need at least 10 units in the field with usage, have {len(units)}")
        t = np.array([u["usage_hours"] for u in units], dtype=float)
        e = np.array([bool(u["failed"]) for u in units])
        g = [u["batch"] for u in units]
        try:
            life = compare_batches(t, e, g, alpha=self.settings.alpha)
        except LifeDataError as err:
            raise FieldError(f"cannot compare batches: {err}") from err
        flagged = [b.batch for b in life.flagged]
        table = self.genealogy.param_table()
        kinds = {k: v for p in self.genealogy.profiles.values() for k, v in p.kinds.items()}
        causes = explain_batches(table, flagged, kinds) if len(table) > len(flagged) + 1 else {}
        per_batch: dict[str, int] = {}
        for b in g:
            per_batch[b] = per_batch.get(b, 0) + 1
        links = link_complaints(
            self.store.complaint_serials(), self.genealogy.batch_of, per_batch, alpha=self.settings.alpha
        )
        report: dict[str, Any] = {
            "units": len(units),
            "failures": int(e.sum()),
            "field_life": life.to_dict(),
            "flagged_by_field_life": flagged,
            "flagged_by_complaints": [b.batch for b in links.flagged],
            "complaints": links.to_dict(),
            "causes": {b: [asdict(s) for s in v] for b, v in causes.items()},
        }
        if e.sum() >= 2:
            model = best_fit(t, e, ("weibull", "lognormal"))
            report["life_model"] = model.to_dict()
            now = now_ns if now_ns is not None else time.time_ns()
            alive = [u for u in units if not u["failed"]]
            if alive:
                age_days = np.array([max((now - u["ship_ns"]) / 86_400e9, 1e-3) for u in alive])
                ages = np.array([u["usage_hours"] for u in alive], dtype=float)
                rates = np.clip(ages / age_days * MONTH_DAYS, 1e-6, None)
                report["forecast"] = forecast_returns(model, ages, rates, months=months).to_dict()
        return report


def _reason(err: Exception) -> str:
    if isinstance(err, ValidationError):
        e = err.errors()[0]
        where = ".".join(str(x) for x in e.get("loc", ())) or "item"
        return f"{where}: {e.get('msg', 'invalid')}"
    return str(err)
