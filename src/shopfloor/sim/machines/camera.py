"""Vision inspection station: one inspection result per item, with the true defect class.

Items come from the machine named in the ``source`` attribute (a cutter: its ragged-edge
sheets are the ``ragged_edge`` class) or, without a source, at ``items_per_min``. Other
defects (holes, spots, wrinkles) occur at small base rates. The classifier is right with
probability ``accuracy`` and otherwise names another class; a few good items are flagged
falsely. Each tick publishes the last item's result; every inspection of the last hours is kept
in :attr:`Camera.records` with the truth next to the prediction.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from ...core.sample import Value
from .base import Machine, TagSpec

CLASSES = ("none", "ragged_edge", "hole", "spot", "wrinkle")
BASE_RATES = {"hole": 0.002, "spot": 0.004, "wrinkle": 0.003}
FALSE_REJECT = 0.01

TAGS = (
    TagSpec("item_id", "count", "int", 0, 2**31 - 1, "Serial number of the last inspected item"),
    TagSpec("result", "-", "str", description="pass or fail for the last item", enum=("pass", "fail")),
    TagSpec("defect_class", "-", "str", description="Predicted defect class of the last item", enum=CLASSES),
    TagSpec(
        "true_class",
        "-",
        "str",
        description="True defect class of the last item (simulation ground truth)",
        enum=CLASSES,
    ),
    TagSpec("confidence", "%", "float", 0, 100, "Classifier confidence for the last item"),
    TagSpec("inspected_count", "count", "int", 0, 2**31 - 1, "Items inspected (cumulative)"),
    TagSpec("fail_count", "count", "int", 0, 2**31 - 1, "Items failed (cumulative)"),
)


@dataclass(slots=True, frozen=True)
class Inspection:
    """One item's inspection: what the camera said and what was true."""

    ts_ns: int
    item_id: int
    true_class: str
    predicted: str
    confidence: float

    @property
    def result(self) -> str:
        return "pass" if self.predicted == "none" else "fail"


class Camera(Machine):
    """A camera station inspecting every item of a line."""

    kind = "camera"
    TAGS = TAGS
    FAULTS = ("lens_dirty",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.source = self.attrs.get("source")
        self.rate = float(self.attrs.get("items_per_min", 60.0))
        self.accuracy = float(self.attrs.get("accuracy", 0.96))
        self.records: deque[Inspection] = deque(maxlen=int(self.attrs.get("keep", 20_000)))
        self.item = 0
        self.fails = 0
        self.acc = 0.0
        self.last: Inspection | None = None

    def _items(self, dt_s: float) -> tuple[int, int]:
        src = self.sim.machines.get(str(self.source)) if self.source else None
        if src is not None and hasattr(src, "last_cuts"):
            return int(src.last_cuts), int(getattr(src, "last_ragged", 0))
        self.acc += self.rate / 60.0 * dt_s
        n = int(self.acc)
        self.acc -= n
        return n, 0

    def step(self, now_ns: int, dt_s: float) -> dict[str, Value]:
        n, ragged = self._items(dt_s)
        rng = self.rng
        if n:
            truth = ["ragged_edge"] * ragged + ["none"] * (n - ragged)
            u = rng.random(n)
            edges = [0.0]
            for cls, p in BASE_RATES.items():
                edges.append(edges[-1] + p)
                for i in range(n):
                    if truth[i] == "none" and edges[-2] <= u[i] < edges[-1]:
                        truth[i] = cls
            order = rng.permutation(n)
            acc = self.accuracy * (1.0 - 0.5 * self.fault("lens_dirty"))
            right = rng.random(n)
            other = rng.integers(1, len(CLASSES), n)
            conf = rng.uniform(70, 99.5, n)
            for j in order:
                t = truth[j]
                if t == "none":
                    pred = CLASSES[int(other[j])] if right[j] < FALSE_REJECT else "none"
                elif right[j] < acc:
                    pred = t
                else:
                    alts = [c for c in CLASSES if c != t]
                    pred = alts[int(other[j]) % len(alts)]
                self.item += 1
                rec = Inspection(now_ns, self.item, t, pred, round(float(conf[j]), 1))
                self.records.append(rec)
                self.fails += pred != "none"
                self.last = rec
        last = self.last
        return {
            "item_id": self.item,
            "result": last.result if last else "pass",
            "defect_class": last.predicted if last else "none",
            "true_class": last.true_class if last else "none",
            "confidence": last.confidence if last else 100.0,
            "inspected_count": self.item,
            "fail_count": self.fails,
        }
