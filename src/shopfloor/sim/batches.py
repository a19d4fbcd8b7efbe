"""A field-quality scenario: a planted process excursion, its products in the field, complaints.

:func:`run_scenario` runs the simulated plant fast (coarse ticks, rare vibration frames) and,
on one press, moves a setpoint out of its normal value for exactly one production batch
(by default the nip pressure of line 1's calender). The excursion is recorded in the ground
truth (kind ``process_excursion``: asset, tag, the batch in ``detail``), so the planted cause
is defined here, by the simulator. Products of every finished batch go to the field
(:func:`shopfloor.sim.field.field_products`), where an out-of-spec batch wears out sooner;
customers who see a failure sometimes complain, and unrelated feedback arrives all along
(:func:`complaints`).

>>> sc = run_scenario(seed=3, days=1.0, excursion_after_h=6.0, field_days=30, units_per_batch=5)
>>> rec = sc.truth
>>> rec.kind, rec.tag, rec.detail in sc.sim.batches
('process_excursion', 'nip_pressure_sp', True)
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..core.assets import Plant
from ..core.sample import Sample
from .field import DAY_NS, FieldProduct, field_products
from .simulation import DEFAULT_PLANT, NS, Simulation
from .truth import TruthRecord

#: Product model made from a batch, by batch prefix (the press's ``batch_prefix``).
PRODUCT_MODELS: dict[str, str] = {"L1": "RB-100", "L2": "RB-200"}
DEFAULT_START_NS = 1_767_225_600 * NS  # 2026-01-01T00:00:00Z

_FAILURE_TEXTS: dict[str, tuple[str, ...]] = {
    "delamination": (
        "The {model} boards are peeling apart, layers separating after a few weeks. Serial {serial}.",
        "Delamination on {model} sheets, the plies come apart. Unit {serial}",
        "my {model} board is splitting into layers!! not acceptable",
    ),
    "edge_crack": (
        "Cracks along the edges of the {model} sheets, serial {serial}. They break when folded.",
        "{model} edge cracked after light use, s/n {serial}",
        "The edges of the board crack and crumble, {model}",
    ),
    "warp": (
        "{model} boards warped badly, they curl and will not lie flat. SN {serial}",
        "Warping problem with {model}: the sheet bends out of shape. {serial}",
        "board is bowed and twisted, {model}, useless for our press",
    ),
}
_ECHO_TEXTS: dict[str, tuple[str, ...]] = {
    "delamination": (
        "Same here, my {model} boards are peeling too!",
        "Ours delaminate as well, {model} layers separating",
    ),
    "edge_crack": (
        "Same problem, {model} edges cracking here too",
        "Cracked edges on our {model} delivery as well!",
    ),
    "warp": (
        "Ours are warped too, {model} curling everywhere",
        "Same here, the {model} boards will not lie flat",
    ),
}
_OTHER_TEXTS: dict[str, tuple[str, ...]] = {
    "delivery": (
        "Our order of {model} still has not arrived, the delivery is two weeks late.",
        "Where is my shipment? Tracking has not moved for days.",
    ),
    "billing": (
        "I was charged twice on the invoice for the {model} order.",
        "Please send a corrected invoice, the price is wrong.",
    ),
    "praise": (
        "Great quality {model}, works perfectly, thank you!",
        "Very happy with the {model} boards, excellent finish.",
    ),
    "question": (
        "Is {model} suitable for food packaging? Please send the datasheet.",
        "What is the maximum print temperature for {model}?",
    ),
}


@dataclass(slots=True)
class Feedback:
    """One customer message, with the truth the generator knows (not visible to analytics)."""

    ts_ns: int
    channel: str
    text: str
    customer: str
    true_topic: str
    true_serial: str = ""
    true_batch: str = ""
    burst: int = 0
    """Non-zero for posts of one viral social-media thread (the thread's number)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class Scenario:
    """Everything a scenario produced."""

    sim: Simulation
    truth: TruthRecord
    products: list[FieldProduct]
    feedback: list[Feedback]
    now_ns: int
    models: dict[str, str] = field(default_factory=lambda: dict(PRODUCT_MODELS))

    def model_of(self, batch: str) -> str:
        return self.models.get(batch.split("-", 1)[0], "")


def run_scenario(
    seed: int = 0,
    days: float = 6.0,
    tick_s: float = 120.0,
    press: str = "riverside/converting/line1/calender",
    tag: str = "nip_pressure_sp",
    value: float = 280.0,
    excursion_after_h: float = 48.0,
    field_days: float = 75.0,
    units_per_batch: int = 100,
    start_ns: int = DEFAULT_START_NS,
    on_samples: Callable[[list[Sample]], None] | None = None,
) -> Scenario:
    """Make ``days`` of production with one planted excursion, then ship and age the products.

    The excursion starts with the first new batch on ``press`` after ``excursion_after_h``
    hours and ends with that batch. ``on_samples`` receives each tick's samples (for example
    a genealogy historian, or a store writer).
    """
    sim = Simulation(
        Plant.load(DEFAULT_PLANT),
        seed=seed,
        start_ns=start_ns,
        waveform_samples=256,
        vibration_period_s=3600.0,
    )
    machine = sim.machine(press)
    normal = sim.setpoint(press, tag)
    sim.check_write(press, tag, value)
    n_ticks = int(days * 86_400 / tick_s)
    after_ns = start_ns + int(excursion_after_h * 3600 * NS)
    rec: TruthRecord | None = None
    planted = ""
    last = None
    for _ in range(n_ticks):
        samples = sim.step(tick_s)
        cur = machine.batch.batch if machine.batch is not None else None  # type: ignore[attr-defined]
        if cur != last:
            if rec is None and sim.now_ns >= after_ns:
                # batch changed this tick: the new setpoint applies from the next tick of this batch
                sim.write(press, tag, value)
                planted = cur or ""
                rec = sim.ground_truth.open(
                    press,
                    "process_excursion",
                    sim.now_ns,
                    severity=1.0,
                    tag=tag,
                    detail=planted,
                    injected=True,
                )
            elif rec is not None and rec.end_ns is None:
                sim.write(press, tag, normal)
                sim.ground_truth.close(rec, sim.now_ns)
            last = cur
        if on_samples is not None:
            on_samples(samples)
    if rec is None:
        raise ValueError(f"no batch started on {press} after {excursion_after_h} h of {days} days")
    now = sim.now_ns + int(field_days * DAY_NS)
    finished = [b for b in sim.batches.values() if b.end_ns is not None]
    products = field_products(finished, now, units_per_batch=units_per_batch, seed=seed)
    sc = Scenario(sim, rec, products, [], now)
    sc.feedback = complaints(sc, seed=seed)
    return sc


def complaints(
    sc: Scenario,
    seed: int = 0,
    p_complain: float = 0.5,
    p_serial: float = 0.7,
    other_per_day: float = 3.0,
    p_viral: float = 0.02,
    echoes: float = 10.0,
) -> list[Feedback]:
    """Customer feedback: some failed products are complained about; other topics at random.

    A social-media complaint goes viral with probability ``p_viral``: about ``echoes`` other
    customers repeat it (same topic and model, no serial) within the next six hours. Those
    posts carry the thread's number in ``burst`` (ground truth for spike detection).
    """
    rng = np.random.default_rng([seed, zlib.crc32(b"feedback")])
    out: list[Feedback] = []
    for p in sc.products:
        if not p.failed or p.failure_ns is None or rng.random() >= p_complain:
            continue
        ts = p.failure_ns + int(rng.exponential(2.0) * DAY_NS)
        if ts > sc.now_ns:
            continue
        texts = _FAILURE_TEXTS[p.failure_mode]
        text = texts[int(rng.integers(len(texts)))]
        serial = p.serial if rng.random() < p_serial else ""
        if "{serial}" in text and not serial:
            text = text.replace(" Serial {serial}.", "").replace("{serial}", "")
        text = text.format(model=sc.model_of(p.batch), serial=serial).strip()
        channel = str(rng.choice(["support", "social", "email"]))
        out.append(
            Feedback(ts, channel, text, f"C{int(rng.integers(1, 400)):04d}", p.failure_mode, serial, p.batch)
        )
        if channel == "social" and rng.random() < p_viral:
            thread = 1 + max((f.burst for f in out), default=0)
            out[-1].burst = thread
            echo = _ECHO_TEXTS[p.failure_mode]
            for _ in range(int(rng.poisson(echoes))):
                ets = ts + int(rng.uniform(0, 6 * 3600) * NS)
                if ets <= sc.now_ns:
                    etext = echo[int(rng.integers(len(echo)))].format(model=sc.model_of(p.batch))
                    out.append(
                        Feedback(
                            ets,
                            "social",
                            etext,
                            f"C{int(rng.integers(400, 9999)):04d}",
                            p.failure_mode,
                            burst=thread,
                        )
                    )
    start = min(p.ship_ns for p in sc.products)
    n_other = int(rng.poisson(other_per_day * (sc.now_ns - start) / DAY_NS))
    topics = sorted(_OTHER_TEXTS)
    models = sorted(set(sc.models.values()))
    for _ in range(n_other):
        topic = topics[int(rng.integers(len(topics)))]
        texts = _OTHER_TEXTS[topic]
        text = texts[int(rng.integers(len(texts)))].format(model=models[int(rng.integers(len(models)))])
        ts = int(rng.integers(start, sc.now_ns))
        out.append(
            Feedback(
                ts,
                str(rng.choice(["support", "social", "email"])),
                text,
                f"C{int(rng.integers(1, 400)):04d}",
                topic,
            )
        )
    out.sort(key=lambda f: f.ts_ns)
    return out
