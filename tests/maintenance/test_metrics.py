"""Scores: PHM08 and RMSE against hand-computed values."""

from __future__ import annotations

import math

import pytest

from shopfloor.analytics.maintenance import coverage, macro_f1, phm08_score, rmse


def test_phm08_hand_computed():
    # d = +10 (late): e^(10/10) - 1; d = -13 (early): e^(13/13) - 1; d = 0: 0
    assert phm08_score([20, 7, 5], [10, 20, 5]) == pytest.approx((math.e - 1) * 2)
    # d = +5: e^0.5 - 1 = 0.648721; d = -5: e^(5/13) - 1 = 0.469049
    assert phm08_score([15], [10]) == pytest.approx(0.6487212707)
    assert phm08_score([5], [10]) == pytest.approx(0.4690492)
    assert phm08_score([15], [10]) > phm08_score([5], [10])  # late costs more than early
    assert phm08_score([], []) == 0.0


def test_rmse_and_coverage():
    assert rmse([1, 2, 3], [1, 2, 3]) == 0.0
    assert rmse([0, 0], [3, 4]) == pytest.approx(math.sqrt(12.5))
    assert coverage([0, 0, 0, 0], [1, 1, 1, 1], [0.5, 1.0, 1.5, -0.1]) == 0.5


def test_macro_f1():
    assert macro_f1(["a", "a", "b", "b"], ["a", "a", "b", "b"]) == 1.0
    # class a: tp 1 fp 0 fn 1 -> 2/3; class b: tp 2 fp 1 fn 0 -> 4/5
    assert macro_f1(["a", "a", "b", "b"], ["a", "b", "b", "b"]) == pytest.approx((2 / 3 + 4 / 5) / 2)
