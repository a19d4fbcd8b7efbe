"""The ``analytics`` role: score every asset's rows as they stream and publish derived tags.

See the package docstring for the tags. Per asset:

1. **rows**: samples of the asset's numeric sensor tags (float and int tags that are not
   setpoints) are grouped by timestamp; a row is complete when a sample with a later timestamp
   arrives, and tags missing from it carry their last good value forward. Bad-quality values
   are skipped.
2. **learning**: the first ``train_rows`` complete rows train a :class:`MEWMA`; the model goes
   into the registry as a new version (data window, features, limits) and scoring starts.
   At start-up an asset's latest registered model is loaded instead, so a restart scores at
   once. :meth:`StreamingScorer.retrain` discards the model in use and learns again from the
   next rows. Each sensor's value is clipped to its training mean +/- ``clip_sigma`` standard
   deviations before scoring, so one wild value (a sensor spike) cannot dominate the smoothed
   state, while a lasting shift still accumulates.
3. **scoring**: every later row gets a score; derived samples carry the row's timestamp.

In production mode run one ``shopfloor worker --role analytics`` (per-asset state lives in
that process; partitioning assets over several workers is not built yet).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..analytics.anomaly import MEWMA
from ..analytics.maintenance.trend import DegradationTrend
from ..bus.base import Bus
from ..core.assets import Plant, Tag
from ..core.errors import BusError, ShopfloorError
from ..core.sample import Quality, Sample
from .consumer import BusFollower
from .registry import ModelNotFound, ModelRegistry

log = logging.getLogger(__name__)

KIND = "mewma"
DERIVED: dict[str, Tag] = {
    "anomaly_score": Tag(
        name="anomaly_score", unit="", description="Anomaly score (1 = edge of normal operation)"
    ),
    "health": Tag(
        name="health", unit="%", low=0, high=100, description="Health index from the anomaly score"
    ),
    "anomaly_top": Tag(name="anomaly_top", type="str", description="Sensors furthest from normal"),
    "rul_h": Tag(name="rul_h", unit="h", description="Remaining useful life from the score's trend"),
    "rul_low_h": Tag(name="rul_low_h", unit="h", description="RUL, low end of the 90 % interval"),
    "rul_high_h": Tag(name="rul_high_h", unit="h", description="RUL, high end of the 90 % interval"),
}
RUL_EVERY = 10  # rows between RUL estimates
RUL_MIN_ERRORS = 50  # compared estimates of completed lives before calibration applies


def health_of(score: float) -> float:
    """100 while the score is within normal operation (<= 1), then 100 / score.

    >>> health_of(0.4), health_of(2.0), health_of(10.0)
    (100.0, 50.0, 10.0)
    """
    if not math.isfinite(score):
        return 0.0
    return round(100.0 if score <= 1.0 else 100.0 / score, 2)


@dataclass
class _Asset:
    path: str
    features: list[str]
    model: MEWMA | None = None
    card: dict[str, Any] | None = None
    training: list[dict[str, float]] = field(default_factory=list)
    train_from: int = 0
    row_ts: int | None = None
    last: dict[str, float] = field(default_factory=dict)
    score: float | None = None
    scored: int = 0
    clip: dict[str, tuple[float, float]] = field(default_factory=dict)
    trend: DegradationTrend | None = None
    rul: tuple[float, float, float] | None = None
    kind: str = ""
    rul_log: list[tuple[int, float]] = field(default_factory=list)  # (ts, raw estimate s) this life


def _clip_limits(
    rows: list[dict[str, float]], features: list[str], k: float
) -> dict[str, tuple[float, float]]:
    """Per feature: training mean -/+ ``k`` standard deviations (at least 1e-9 wide)."""
    out = {}
    for f in features:
        col = [r[f] for r in rows]
        mean = sum(col) / len(col)
        sd = math.sqrt(sum((v - mean) ** 2 for v in col) / max(1, len(col) - 1))
        half = max(k * sd, 1e-9 * max(1.0, abs(mean)))
        out[f] = (round(mean - half, 9), round(mean + half, 9))
    return out


class StreamingScorer(BusFollower):
    """Subscribe to ``samples``, publish derived samples; see the module docstring."""

    def __init__(
        self,
        plant: Plant,
        bus: Bus,
        registry: ModelRegistry,
        *,
        train_rows: int = 240,
        min_features: int = 2,
        top: int = 3,
        clip_sigma: float = 8.0,
        failure_score: float = 50.0,
        name: str = "analytics",
    ) -> None:
        if train_rows < 20:
            raise ShopfloorError(f"train_rows must be at least 20, got {train_rows}")
        super().__init__(bus, name)
        self.plant = plant
        self.registry = registry
        self.train_rows = train_rows
        self.top = top
        self.clip_sigma = clip_sigma
        self.failure_score = failure_score
        self.assets: dict[str, _Asset] = {}
        self.rul_errors: dict[str, deque[float]] = {}  # asset kind -> log(true RUL / estimate)
        for asset in plant.assets():
            feats = [
                t.name
                for t in asset.tags
                if t.type in ("float", "int") and not t.writable and t.name not in DERIVED
            ]
            if len(feats) >= min_features:
                self.assets[asset.path] = _Asset(asset.path, feats, kind=asset.kind)
                for tag in DERIVED.values():
                    plant.add_derived_tag(asset.path, tag)
        self.rows = self.published = self.trained = 0
        self.last_error = ""

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        for a in self.assets.values():
            try:
                model, card = await asyncio.to_thread(self.registry.load, a.path, KIND)
            except ModelNotFound:
                continue
            if card.get("features") == a.features:
                model.reset()
                a.model, a.card = model, card
                a.clip = {
                    f: (float(lo), float(hi))
                    for f, (lo, hi) in card.get("params", {}).get("clip", {}).items()
                }
        await super().start()
        loaded = sum(a.model is not None for a in self.assets.values())
        log.info(
            "analytics: scoring %d assets (%d models loaded from the registry)", len(self.assets), loaded
        )

    async def handle(self, batch: list[Sample]) -> None:
        derived = self.process(batch)
        if derived:
            try:
                await self.bus.publish("samples", derived)
                self.published += len(derived)
            except BusError as err:
                self.last_error = str(err)
                log.warning("analytics: publishing %d derived samples failed: %s", len(derived), err)
        await self._save_new_models()

    # -- compute ------------------------------------------------------------------------------

    def process(self, batch: list[Sample]) -> list[Sample]:
        """Feed accepted samples; returns the derived samples of the rows they completed."""
        out: list[Sample] = []
        assets = self.assets
        for s in batch:
            a = assets.get(s.asset)
            if a is None or s.tag in DERIVED:
                continue
            if a.row_ts is not None and s.ts > a.row_ts:
                self._row(a, a.row_ts, out)
            if a.row_ts is None or s.ts > a.row_ts:
                a.row_ts = s.ts
            v = s.value
            if s.quality == Quality.GOOD and type(v) in (float, int) and math.isfinite(v):
                a.last[s.tag] = float(v)
        return out

    def _row(self, a: _Asset, ts: int, out: list[Sample]) -> None:
        if len(a.last) < len(a.features):
            return  # not every sensor seen yet
        row = {f: a.last[f] for f in a.features}
        if a.clip:  # a single wild value (a sensor spike) must not dominate the smoothed state
            for f, (lo, hi) in a.clip.items():
                v = row[f]
                row[f] = lo if v < lo else hi if v > hi else v
        self.rows += 1
        if a.model is None:
            if not a.training:
                a.train_from = ts
            a.training.append(row)
            if len(a.training) >= self.train_rows:
                self._fit(a, ts)
            return
        score = a.model.score_one(row)
        a.score = score
        a.scored += 1
        out.append(Sample(a.path, "anomaly_score", ts, round(float(score), 4)))
        out.append(Sample(a.path, "health", ts, health_of(score)))
        if score > 1.0:
            ranked = sorted(a.model.contributions().items(), key=lambda kv: -kv[1])[: self.top]
            out.append(Sample(a.path, "anomaly_top", ts, ", ".join(f"{k} {v:.1f}σ" for k, v in ranked)))
        if a.trend is None:
            a.trend = DegradationTrend(failure_level=self.failure_score)
        a.trend.learn_one(ts / 1e9, score)
        if a.scored % RUL_EVERY == 0:
            a.rul = self._calibrated(a, ts, a.trend.predict_one())
            if a.rul is not None:
                for tag, seconds in zip(("rul_h", "rul_low_h", "rul_high_h"), a.rul, strict=True):
                    out.append(Sample(a.path, tag, ts, round(seconds / 3600.0, 2)))

    def _fit(self, a: _Asset, ts: int) -> None:
        model = MEWMA().fit(a.training)
        a.clip = _clip_limits(a.training, a.features, self.clip_sigma)
        model.reset()
        kept = [
            k
            for k, keep in zip(model.keys or [], model.keep_ if model.keep_ is not None else [], strict=False)
            if keep
        ]
        a.card = {
            "pending": True,
            "window": (a.train_from, ts),
            "features": a.features,
            "metrics": {"train_rows": len(a.training), "limit": round(model.limit_, 4), "sensors_used": kept},
            "params": {"alpha": model.alpha, "wander_max": model.wander_max, "clip": a.clip},
        }
        a.model = model
        a.training = []
        self.trained += 1

    async def _save_new_models(self) -> None:
        for a in self.assets.values():
            card = a.card
            if a.model is None or card is None or not card.get("pending"):
                continue
            try:
                a.card = await asyncio.to_thread(
                    self.registry.save,
                    a.path,
                    KIND,
                    a.model,
                    window=card["window"],
                    features=card["features"],
                    metrics=card["metrics"],
                    params=card["params"],
                )
                log.info(
                    "analytics: %s model v%d trained on %d rows", a.path, a.card["version"], self.train_rows
                )
            except OSError as err:
                self.last_error = f"saving the model of {a.path}: {err}"
                log.error("analytics: %s", self.last_error)

    def _calibrated(
        self, a: _Asset, ts: int, raw: tuple[float, float, float] | None
    ) -> tuple[float, float, float] | None:
        """The trend's estimate, corrected by how earlier estimates for this kind of asset
        compared with the time that was really left (once ``RUL_MIN_ERRORS`` are known)."""
        if raw is None:
            return None
        if len(a.rul_log) < 5000:
            a.rul_log.append((ts, raw[0]))
        errors = self.rul_errors.get(a.kind)
        if not errors or len(errors) < RUL_MIN_ERRORS or raw[0] <= 0:
            return raw
        q05, q50, q95 = np.quantile(np.asarray(errors), [0.05, 0.5, 0.95])
        cap = 60 * 86_400.0
        return tuple(min(cap, raw[0] * math.exp(q)) for q in (q50, q05, q95))  # type: ignore[return-value]

    def retrain(self, asset: str, renewed: bool = False) -> dict[str, Any]:
        """Learn ``asset`` again from its next ``train_rows`` rows.

        ``renewed``: the worn part was just replaced (its life ended now), so every RUL estimate
        made during that life is compared with the time that was really left; the log-ratios
        calibrate later estimates for assets of the same kind.
        """
        a = self.assets.get(asset)
        if a is None:
            raise ShopfloorError(f"asset {asset!r} is not scored (it needs at least two numeric sensor tags)")
        if renewed and a.rul_log and a.row_ts is not None:
            errors = self.rul_errors.setdefault(a.kind, deque(maxlen=5000))
            for ts, est in a.rul_log:
                left = (a.row_ts - ts) / 1e9
                if left > 0 and est > 0:
                    errors.append(math.log(left / est))
        a.model, a.card, a.training, a.score, a.clip = None, None, [], None, {}
        a.trend, a.rul, a.rul_log = None, None, []
        return self.status(asset)

    def status(self, asset: str) -> dict[str, Any]:
        a = self.assets.get(asset)
        if a is None:
            raise ShopfloorError(f"asset {asset!r} is not scored")
        card = a.card if a.card and not a.card.get("pending") else None
        return {
            "asset": a.path,
            "state": "scoring" if a.model is not None else "learning",
            "learned_rows": len(a.training) if a.model is None else None,
            "train_rows": self.train_rows,
            "features": a.features,
            "model_version": card["version"] if card else None,
            "score": None if a.score is None else round(a.score, 4),
            "health": None if a.score is None else health_of(a.score),
            "scored_rows": a.scored,
            "rul_h": None if a.rul is None else [round(x / 3600.0, 1) for x in a.rul],
        }

    def stats(self) -> dict[str, Any]:
        states = [a.model is not None for a in self.assets.values()]
        return {
            "assets": len(states),
            "scoring": sum(states),
            "learning": len(states) - sum(states),
            "rows": self.rows,
            "published": self.published,
            "trained": self.trained,
            "last_error": self.last_error,
        }
