"""NAB scoring reproduces NAB's own scorer tests (numenta/NAB tests/unit/scorer_test.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from shopfloor.evals import nab
from shopfloor.evals.nabscore import PROFILES, FileSweep, Profile, best_threshold, normalised

# the cost matrix of NAB's scorer_test.py
COST = Profile(tp=1.1, fp=0.11, fn=1.2)
NAB_DATA = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "nab"


def _score(pred: list[int], windows: list[tuple[int, int]], probation: int) -> float:
    sweep = FileSweep.build(len(pred), windows, probation, COST)
    return sweep.score_at(np.array(pred, dtype=float), 0.5)


@pytest.mark.parametrize(
    ("pred", "windows", "probation", "expected"),
    [
        ([0] * 5, [], 0, 0.0),  # testNull
        ([0, 1, 0, 1, 0], [], 0, -2 * 0.11),  # testFalsePositives
        ([0] * 7, [(1, 2), (4, 5)], 0, -2 * 1.2),  # testFalseNegatives
        ([0, 1, 0, 1, 0], [], 4, 0.0),  # testFalsePositivesInProbationary
        ([0, 1, 0, 1, 0], [], 3, -0.11),  # testFalsePositivesBeforeAndAfterProbationary
        ([0, 0, 1, 0, 0, 0, 0], [(1, 2)], 0, 0.8482836399575131 * 1.1 / 0.9866142981514305),
        ([0, 0, 1, 0, 0, 0, 0], [(1, 2), (4, 5)], 0, 0.8482836399575131 * 1.1 / 0.9866142981514305 - 1.2),
        ([0, 0, 0, 0, 1, 0, 0], [(4, 5)], 0, 1.1),  # testTruePositives2
        ([0, 0, 0, 0, 1, 1, 0], [(4, 5)], 0, 1.1),  # testTruePositives3
        ([0, 0, 1, 0, 1, 0, 0], [(1, 2), (4, 5)], 0, 0.8482836399575131 * 1.1 / 0.9866142981514305 + 1.1),
    ],
)
def test_reproduces_nab_scorer_tests(pred, windows, probation, expected):
    assert _score(pred, windows, probation) == pytest.approx(expected)


def test_best_threshold_matches_brute_force():
    rng = np.random.default_rng(3)
    sweeps, scores = [], []
    for n in (300, 500):
        sweeps.append(FileSweep.build(n, [(n // 2, n // 2 + 20)], None, PROFILES["standard"]))
        scores.append(rng.random(n).round(2))
    thr, raw = best_threshold(sweeps, scores)
    brute = max(
        sum(s.score_at(x, t) for s, x in zip(sweeps, scores, strict=True))
        for t in np.unique(np.concatenate(scores))
    )
    assert raw == pytest.approx(max(brute, -2.0))
    assert sum(s.score_at(x, thr) for s, x in zip(sweeps, scores, strict=True)) == pytest.approx(raw)


def test_normalisation_bounds():
    p = PROFILES["standard"]
    assert normalised(-p.fn * 4, 4, p) == 0.0
    assert normalised(p.tp * 4, 4, p) == 100.0


@pytest.mark.skipif(not NAB_DATA.exists(), reason=f"NAB data not found at {NAB_DATA}")
def test_perfect_and_null_detectors_on_the_corpus():
    """Perfect = 100 and null = 0 on the shared corpus, as in NAB's scoreboard."""
    labels = json.loads((NAB_DATA / "labels" / "combined_windows.json").read_text())
    prof = PROFILES["standard"]
    sweeps, perfect, null = [], [], []
    for path in sorted((NAB_DATA / "data").glob("*/*.csv"))[:8]:
        t, _ = nab.read_series(path)
        rows = nab.window_rows(t, labels[f"{path.parent.name}/{path.name}"], path.name)
        sweeps.append(FileSweep.build(len(t), rows, None, prof))
        p = np.zeros(len(t))
        for left, _right in rows:
            p[left] = 1.0
        perfect.append(p)
        null.append(np.zeros(len(t)))
    n_win = sum(s.n_windows for s in sweeps)
    assert n_win > 0
    assert normalised(best_threshold(sweeps, perfect)[1], n_win, prof) == pytest.approx(100.0)
    assert normalised(best_threshold(sweeps, null)[1], n_win, prof) == pytest.approx(0.0)


@pytest.mark.skipif(not NAB_DATA.exists(), reason=f"NAB data not found at {NAB_DATA}")
def test_reproduces_published_numenta_score_on_rogue_agent_key_hold():
    """numenta/NAB results/numenta (commit 0767135): the Numenta HTM detector at its
    standard-profile threshold 0.5126953125 has, on realKnownCause/rogue_agent_key_hold.csv,
    one row at or above the threshold after probation (2014-07-17 16:30:00, anomaly_score
    0.722230663304; the published counts are TP 1 row, FP 0 rows), and its published
    per-file score (numenta_standard_scores.csv) is -0.867400232622."""
    name = "realKnownCause/rogue_agent_key_hold.csv"
    t, _ = nab.read_series(NAB_DATA / "data" / name)
    labels = json.loads((NAB_DATA / "labels" / "combined_windows.json").read_text())
    rows = nab.window_rows(t, labels[name], name)
    scores = np.zeros(len(t))
    scores[int(np.searchsorted(t, np.datetime64("2014-07-17T16:30:00")))] = 0.722230663304
    sweep = FileSweep.build(len(t), rows, None, PROFILES["standard"])
    assert sweep.score_at(scores, 0.5126953125) == pytest.approx(-0.867400232622, abs=1e-9)
    assert sweep.counts_at(scores, 0.5126953125) == {"tp": 1, "fn": 1, "fp": 0}
