"""Genealogy: serial number -> production batch -> machines, settings, material and quality.

A :class:`BatchHistorian` builds batch profiles from the platform's own samples (live from
the bus or read back from the store): an asset that reports a ``batch_id`` tag marks which
batch is being made; while it is, every numeric tag of that asset and of the other machines
on the same line (the same parent in the ISA-95 path) is summarised under that batch. Tags
are labelled ``setting`` (``*_sp``, ``*_target``), ``material`` (raw-material properties,
by default ``density``), ``quality`` (by default thickness, edge quality, inspection results)
or ``process`` (other measurements).

>>> from shopfloor.core.sample import Sample
>>> h = BatchHistorian()
>>> line = "site/area/line1"
>>> h.learn([Sample(f"{line}/press", "batch_id", 1, "B1"), Sample(f"{line}/press", "force_sp", 1, 10.0),
...          Sample(f"{line}/cutter", "edge_quality", 1, 90.0)])
>>> h.learn([Sample(f"{line}/press", "batch_id", 2, "B2"), Sample(f"{line}/press", "force_sp", 2, 12.0)])
>>> g = h.genealogy()
>>> g.add_units("B1", ["B1-00001"])
>>> g.trace("B1-00001")["params"]
{'cutter.edge_quality': 90.0, 'press.force_sp': 10.0}
>>> g.batch_of("B2-00042")  # not registered: matched by its batch prefix
'B2'
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ...core.sample import Sample

MATERIAL_TAGS = frozenset({"density", "moisture", "basis_weight", "ash"})
QUALITY_TAGS = frozenset(
    {"thickness", "edge_quality", "reject_count", "fail_count", "confidence", "out_of_spec"}
)
SKIP_TAGS = frozenset({"energy", "good_count", "total_count", "inspected_count", "item_id", "blade_cuts"})


def tag_kind(tag: str) -> str:
    """The kind of a tag for genealogy: setting, material, quality or process.

    >>> tag_kind("nip_pressure_sp"), tag_kind("density"), tag_kind("thickness"), tag_kind("speed")
    ('setting', 'material', 'quality', 'process')
    """
    if tag.endswith("_sp") or tag.endswith("_target"):
        return "setting"
    if tag in MATERIAL_TAGS:
        return "material"
    if tag in QUALITY_TAGS:
        return "quality"
    return "process"


@dataclass(slots=True)
class _Stat:
    n: int = 0
    s: float = 0.0
    ss: float = 0.0
    lo: float = math.inf
    hi: float = -math.inf

    def add(self, v: float) -> None:
        self.n += 1
        self.s += v
        self.ss += v * v
        self.lo = min(self.lo, v)
        self.hi = max(self.hi, v)

    @property
    def mean(self) -> float:
        return self.s / self.n

    @property
    def std(self) -> float:
        return math.sqrt(max(self.ss / self.n - self.mean**2, 0.0))


@dataclass(slots=True)
class BatchProfile:
    """What was recorded while one batch was made."""

    batch: str
    asset: str
    line: str
    start_ns: int
    end_ns: int
    machines: list[str] = field(default_factory=list)
    params: dict[str, float] = field(default_factory=dict)
    spread: dict[str, float] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "batch": self.batch,
            "asset": self.asset,
            "line": self.line,
            "start_ns": self.start_ns,
            "end_ns": self.end_ns,
            "machines": list(self.machines),
            "params": dict(self.params),
            "spread": dict(self.spread),
            "kinds": dict(self.kinds),
        }


class BatchHistorian:
    """Summarises samples per production batch (river-style ``learn``; feed it in time order)."""

    def __init__(self, batch_tag: str = "batch_id") -> None:
        self.batch_tag = batch_tag
        self._current: dict[str, tuple[str, str]] = {}  # line -> (batch, batch asset)
        self._stats: dict[str, dict[str, _Stat]] = {}
        self._meta: dict[str, dict[str, Any]] = {}

    @staticmethod
    def _split(asset: str) -> tuple[str, str]:
        line, _, machine = asset.rpartition("/")
        return line, machine

    def learn(self, samples: Iterable[Sample]) -> None:
        """Add a tick's (or any time-ordered chunk's) samples."""
        batch = [s for s in samples]
        for s in batch:
            if s.tag == self.batch_tag and isinstance(s.value, str) and s.value:
                line, _ = self._split(s.asset)
                self._current[line] = (s.value, s.asset)
                meta = self._meta.setdefault(
                    s.value, {"asset": s.asset, "line": line, "start": s.ts, "end": s.ts, "machines": set()}
                )
                meta["end"] = max(meta["end"], s.ts)
        for s in batch:
            if s.tag == self.batch_tag or s.tag in SKIP_TAGS or s.quality < 128:
                continue
            v = s.value
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                continue
            line, machine = self._split(s.asset)
            cur = self._current.get(line)
            if cur is None:
                continue
            self._meta[cur[0]]["machines"].add(s.asset)
            self._stats.setdefault(cur[0], {}).setdefault(f"{machine}.{s.tag}", _Stat()).add(float(v))

    def learn_one(self, sample: Sample) -> None:
        self.learn([sample])

    @property
    def batches(self) -> list[str]:
        return list(self._meta)

    def profile(self, batch: str) -> BatchProfile:
        meta = self._meta[batch]
        stats = self._stats.get(batch, {})
        return BatchProfile(
            batch=batch,
            asset=meta["asset"],
            line=meta["line"],
            start_ns=meta["start"],
            end_ns=meta["end"],
            machines=sorted(meta["machines"]),
            params={k: st.mean for k, st in sorted(stats.items())},
            spread={k: st.std for k, st in sorted(stats.items())},
            kinds={k: tag_kind(k.rsplit(".", 1)[1]) for k in sorted(stats)},
        )

    def genealogy(self) -> Genealogy:
        return Genealogy({b: self.profile(b) for b in self._meta})


class Genealogy:
    """Batch profiles plus which serial numbers came from which batch."""

    def __init__(self, profiles: dict[str, BatchProfile] | None = None) -> None:
        self.profiles: dict[str, BatchProfile] = dict(profiles or {})
        self.units: dict[str, str] = {}

    def add_units(self, batch: str, serials: Iterable[str]) -> None:
        for s in serials:
            self.units[s] = batch

    def batch_of(self, serial: str) -> str | None:
        """The batch of a serial: registered, else the longest known batch id it starts with."""
        if serial in self.units:
            return self.units[serial]
        best = None
        for b in self.profiles:
            if serial.startswith(b + "-") and (best is None or len(b) > len(best)):
                best = b
        return best

    def trace(self, serial: str) -> dict[str, Any]:
        """Everything recorded for the batch a serial number came from (KeyError if unknown)."""
        b = self.batch_of(serial)
        if b is None or b not in self.profiles:
            raise KeyError(f"serial {serial!r} traces to no known batch")
        return {"serial": serial, **self.profiles[b].to_dict()}

    def param_table(self, kinds: Iterable[str] | None = None) -> dict[str, dict[str, float]]:
        """batch -> {parameter: mean}, optionally only parameters of the given kinds."""
        want = set(kinds) if kinds is not None else None
        return {
            b: {k: v for k, v in p.params.items() if want is None or p.kinds.get(k) in want}
            for b, p in self.profiles.items()
        }
