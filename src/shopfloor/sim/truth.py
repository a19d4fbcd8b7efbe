"""Ground truth: every injected fault and degradation state the simulator produced.

Detectors, RUL models and OEE calculations are scored against these records. A record is
(asset, kind, start, end, severity) plus the tag for sensor faults and a free-text detail.
``end_ns`` is ``None`` while the condition is still active; ``severity`` is 0..1 (the peak
reached so far for degradations).

>>> gt = GroundTruth()
>>> r = gt.open("s/a/l/pump", "cavitation", 10, severity=0.4)
>>> gt.close(r, 20)
>>> [(x.kind, x.start_ns, x.end_ns, x.severity) for x in gt]
[('cavitation', 10, 20, 0.4)]
>>> gt.active(15)[0].kind, gt.active(25)
('cavitation', [])
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from ..core.clock import iso


@dataclass(slots=True)
class TruthRecord:
    """One fault, degradation or event, with when it started and ended."""

    asset: str
    kind: str
    start_ns: int
    end_ns: int | None = None
    severity: float = 1.0
    tag: str = ""
    detail: str = ""
    injected: bool = False
    """True when requested through :meth:`Simulation.inject_fault`, False when the plant drew it."""

    def overlaps(self, ts_ns: int) -> bool:
        """Whether the record is active at ``ts_ns`` (instant events match their own time)."""
        end = self.end_ns
        if end is None:
            return ts_ns >= self.start_ns
        if end == self.start_ns:
            return ts_ns == end
        return self.start_ns <= ts_ns < end

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form, with ISO times next to the nanoseconds."""
        out = asdict(self)
        out["start"] = iso(self.start_ns)
        out["end"] = iso(self.end_ns) if self.end_ns is not None else None
        return out


class GroundTruth:
    """The append-only list of truth records of one simulation."""

    def __init__(self) -> None:
        self._records: list[TruthRecord] = []

    def open(
        self,
        asset: str,
        kind: str,
        start_ns: int,
        severity: float = 1.0,
        tag: str = "",
        detail: str = "",
        injected: bool = False,
    ) -> TruthRecord:
        """Start a record (end unknown yet) and return it for later update/close."""
        rec = TruthRecord(asset, kind, start_ns, None, float(severity), tag, detail, injected)
        self._records.append(rec)
        return rec

    def event(
        self, asset: str, kind: str, ts_ns: int, severity: float = 1.0, tag: str = "", detail: str = ""
    ) -> TruthRecord:
        """Record an instant event (start == end)."""
        rec = TruthRecord(asset, kind, ts_ns, ts_ns, float(severity), tag, detail)
        self._records.append(rec)
        return rec

    @staticmethod
    def close(record: TruthRecord, end_ns: int, severity: float | None = None) -> None:
        """End an open record (idempotent: a closed record keeps its first end)."""
        if record.end_ns is None:
            record.end_ns = end_ns
        if severity is not None:
            record.severity = float(severity)

    def __iter__(self) -> Iterator[TruthRecord]:
        return iter(self._records)

    def __len__(self) -> int:
        return len(self._records)

    @property
    def records(self) -> list[TruthRecord]:
        """All records, oldest first (a copy)."""
        return list(self._records)

    def select(self, asset: str | None = None, kind: str | None = None) -> list[TruthRecord]:
        """Records filtered by asset path and/or kind."""
        return [
            r
            for r in self._records
            if (asset is None or r.asset == asset) and (kind is None or r.kind == kind)
        ]

    def active(self, ts_ns: int) -> list[TruthRecord]:
        """Records active at ``ts_ns``."""
        return [r for r in self._records if r.overlaps(ts_ns)]

    def to_json(self) -> str:
        """All records as a JSON array."""
        return json.dumps([r.to_dict() for r in self._records])

    def to_csv(self, path: str | Path) -> int:
        """Write all records as CSV (header row first); returns the number of records."""
        names = [f.name for f in fields(TruthRecord)]
        with Path(path).open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow([*names, "start", "end"])
            for r in self._records:
                d = r.to_dict()
                writer.writerow([d[n] if d[n] is not None else "" for n in [*names, "start", "end"]])
        return len(self._records)
