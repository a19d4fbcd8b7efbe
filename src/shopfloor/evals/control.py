"""Control suite: the same seeded disturbance scenario on the simulated extruder, control off and on.

The scenario (``shopfloor.sim.extruder``, defaults of :class:`ExtruderSettings`): a PVC profile
line makes items of 2 m, target 250 g/m ± 2 %. Raw material arrives in batches of 40-90 items
whose pellet bulk density varies lot to lot (sd 3 %) and a little item to item; the lab measures
each lot's density with a small error; the hopper blends old and new material over the first
items of a lot; the screw wears (about 4 % less output over the run) and the efficiency wanders
(melt temperature, regrind). Process noise 0.25 %, gauge noise 0.1 %.

1. history: 600 items of commissioning data in which operators ran different screw speeds
   per batch; a :class:`ProcessModel` (weight ~ density, screw speed and their product) is
   fitted to it;
2. the same production run (``items``, one seed) under four policies:

   * ``off``: the recipe screw speed for the nominal density, never changed;
   * ``feedforward``: the model's screw speed for each lot's lab density, no feedback;
   * ``spc``: feed-forward plus SPC self-correction (an EWMA chart on the weight; on a signal
     the loop corrects its bias and the effect is tracked as capability before/after);
   * ``on``: feed-forward plus EWMA run-to-run feedback (and the SPC supervisor).

Every policy writes its setpoints through a closed :class:`ControlLoop` into the extruder's
PLC (the sink), with the screw speed limited to 30-90 rpm and 2 rpm per item.
Reported per policy: out-of-spec rate (true weight outside spec), Cpk (within, MR̄/d2) and Ppk
(overall) of the measured weights with 95 % intervals, material, scrap and energy use.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np

from shopfloor.analytics.process import ControlLoop, EwmaR2R, Limits, ProcessModel, Supervisor
from shopfloor.analytics.quality import capability
from shopfloor.core.errors import ConfigError
from shopfloor.sim.extruder import Extruder, ExtruderSettings

log = logging.getLogger(__name__)

SEED = 20240611
ITEMS = 3000
HISTORY = 600
LIMITS = Limits(low=30.0, high=90.0, max_step=2.0)
POLICIES = ("off", "feedforward", "spc", "on")


def history(settings: ExtruderSettings, seed: int, items: int = HISTORY) -> tuple[list[dict], list[float]]:
    """Commissioning data: each batch run at a screw speed the operators chose (50-70 rpm)."""
    ex = Extruder(settings, seed=seed)
    rng = np.random.default_rng(seed + 1)
    X, y, batch = [], [], -1
    for _ in range(items):
        up = ex.upcoming()
        if up["batch"] != batch or ex._left == 0:
            batch = int(up["batch"])
            ex.write(ex.asset, "screw_rpm", float(rng.uniform(50.0, 70.0)), "commissioning trial")
        item = ex.step()
        X.append({"density": item.density_lab, "screw_rpm": item.rpm})
        y.append(item.weight)
    return X, y


def fit_model(X: list[dict], y: list[float]) -> tuple[ProcessModel, float]:
    """The process model and the short-term sigma of its residuals (MR̄/d2)."""
    model = ProcessModel(["density", "screw_rpm"], interactions=True, alpha=1e-4).fit(X, y)
    resid = np.asarray(y) - np.array([model.predict_one(x) for x in X])
    return model, float(np.abs(np.diff(resid)).mean() / 1.128)


def run_policy(
    policy: str, model: ProcessModel, sigma: float, settings: ExtruderSettings, seed: int, items: int
) -> dict:
    """One production run under ``policy``; returns its metrics and records."""
    if policy not in POLICIES:
        raise ConfigError(f"control policy {policy!r}: choose one of {', '.join(POLICIES)}")
    ex = Extruder(settings, seed=seed)
    ctrl = EwmaR2R(model, "screw_rpm", settings.target, lam=0.3 if policy == "on" else 0.0)
    loop = ControlLoop("weight", ex.asset, "screw_rpm", LIMITS, sink=ex, setpoint=ex.rpm, deadband=0.02)
    loop.enable("engineer:eval")
    recipe = ctrl.predict_one({"density": settings.density})
    loop.propose(recipe, f"recipe for nominal density {settings.density}")
    sup = None
    if policy in ("spc", "on"):
        sup = Supervisor(loop, ctrl, sigma, ex.lsl, ex.usl, lam=0.2, L=3.0, window=50)
    weights, true_in, mass, energy = [], [], 0.0, 0.0
    for _ in range(items):
        up = ex.upcoming()
        if policy != "off":
            loop.propose(
                ctrl.predict_one(up), f"lot density {up['density']:.4f}, offset {ctrl.offset:+.3f} g/m"
            )
        item = ex.step()
        ctrl.learn_one({"density": item.density_lab, "screw_rpm": item.rpm}, item.weight)
        if sup is not None:
            sup.learn_one(item.weight, ex.upcoming())
        weights.append(item.weight)
        true_in.append(item.in_spec)
        mass += item.mass_kg
        energy += item.energy_kwh
    w = np.asarray(weights)
    ok = np.asarray(true_in)
    cap = capability(w, lsl=ex.lsl, usl=ex.usl)
    moves = [r for r in loop.records if r.status == "applied"]
    good = int(ok.sum())
    out = {
        "items": items,
        "out_of_spec_rate": round(float(1 - ok.mean()), 5),
        "cpk": round(cap.cpk, 3),
        "cpk_ci95": [round(v, 3) for v in cap.cpk_ci],
        "ppk": round(cap.ppk, 3),
        "ppk_ci95": [round(v, 3) for v in cap.ppk_ci],
        "mean_g_per_m": round(cap.mean, 3),
        "sd_g_per_m": round(cap.sigma_overall, 3),
        "material_kg": round(mass, 2),
        "scrap_kg": round(float(np.sum(w[~ok])) * settings.item_length_m / 1000.0, 2),
        "energy_kwh": round(energy, 2),
        "kwh_per_good_item": round(energy / max(good, 1), 5),
        "kg_per_good_item": round(mass / max(good, 1), 5),
        "setpoint_moves": len(moves),
        "constrained_moves": sum(1 for r in moves if r.constraints),
        "rpm_range": [round(min(r.new for r in moves), 2), round(max(r.new for r in moves), 2)],
    }
    if sup is not None:
        out["spc_corrections"] = len(sup.corrections)
        out["corrections"] = [c.to_dict() for c in sup.corrections[:10]]
        done = [c for c in sup.corrections if c.cpk_before is not None and c.cpk_after is not None]
        if done:
            out["cpk_before_median"] = round(float(np.median([c.cpk_before for c in done])), 3)
            out["cpk_after_median"] = round(float(np.median([c.cpk_after for c in done])), 3)
    return out


def run(
    data: Path | None = None,
    progress: Callable[[str, float], None] | None = None,
    seed: int = SEED,
    items: int = ITEMS,
) -> dict:
    """Run the scenario (the suite makes its own data from the seed: give no ``data``)."""
    if data is not None:
        raise ConfigError(f"eval control generates its own data from a seed; give no --data (got {data})")
    settings = ExtruderSettings()
    step = progress or (lambda what, frac: None)
    step("history", 0.05)
    X, y = history(settings, seed)
    model, sigma = fit_model(X, y)
    results = {}
    for i, policy in enumerate(POLICIES):
        step(policy, 0.1 + 0.9 * i / len(POLICIES))
        results[policy] = run_policy(policy, model, sigma, settings, seed + 100, items)
    step("done", 1.0)
    off, on = results["off"], results["on"]
    reduction = 1 - on["out_of_spec_rate"] / off["out_of_spec_rate"] if off["out_of_spec_rate"] else 0.0
    return {
        "suite": "control",
        "seed": seed,
        "scenario": {
            "target_g_per_m": settings.target,
            "spec": [
                round(settings.target * (1 - settings.tolerance), 3),
                round(settings.target * (1 + settings.tolerance), 3),
            ],
            "lot_density_sd": settings.density_sd,
            "screw_wear_per_item": settings.wear_per_item,
            "history_items": HISTORY,
            "model_r2": round(_r2(model, X, y), 4),
            "limits": LIMITS.model_dump(),
        },
        "policies": results,
        "out_of_spec_reduction": round(reduction, 4),
        "targets": {
            "reduction_ge_80pct": reduction >= 0.8,
            "cpk_on_ge_1_33": on["cpk"] >= 1.33,
            "ppk_on_ge_1_33": on["ppk"] >= 1.33,
        },
    }


def _r2(model: ProcessModel, X: list[dict], y: list[float]) -> float:
    t = np.asarray(y)
    p = np.array([model.predict_one(x) for x in X])
    return float(1 - np.sum((t - p) ** 2) / np.sum((t - t.mean()) ** 2))
