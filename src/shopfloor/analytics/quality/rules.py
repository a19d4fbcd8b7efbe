"""Run rules for control charts: Western Electric (1956) and Nelson (1984).

Rules look at points standardised against the chart, ``z = (x - center) / sigma`` where
``sigma`` is one third of the distance from the center line to the control limit. A rule fires
on the point that completes its pattern (so one pattern is reported once, at its end).

Western Electric (``WE``):
    1 one point beyond 3 sigma; 2 two of three beyond 2 sigma on one side;
    3 four of five beyond 1 sigma on one side; 4 eight in a row on one side.
Nelson (``NELSON``):
    1 one point beyond 3 sigma; 2 nine in a row on one side; 3 six in a row steadily
    increasing or decreasing; 4 fourteen in a row alternating up and down; 5 two of three beyond
    2 sigma on one side; 6 four of five beyond 1 sigma on one side; 7 fifteen in a row within
    1 sigma; 8 eight in a row with none within 1 sigma (either side).

>>> rules = RuleSet("nelson")
>>> [v.rule for z in [0.5] * 8 + [0.4] for v in rules.check_one(z)]
['nelson2']
>>> [v.rule for v in check([0.1, 3.5], "we")]
['we1']
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from shopfloor.core.errors import ConfigError


@dataclass(frozen=True)
class Violation:
    """One rule that fired: on which chart, at which point, and what it means."""

    rule: str
    index: int
    value: float
    description: str
    chart: str = ""
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """A JSON-ready dict (the payload of an SPC event for the rules engine)."""
        return {
            "rule": self.rule,
            "index": self.index,
            "value": self.value,
            "description": self.description,
            "chart": self.chart,
            **self.extra,
        }


def _side_count(window: list[float], k: int, limit: float, side: int) -> int:
    return sum(1 for z in window[-k:] if side * z > limit)


def _beyond3(h: list[float]) -> bool:
    return abs(h[-1]) > 3.0


def _k_of_m(k: int, m: int, limit: float):
    def rule(h: list[float]) -> bool:
        if len(h) < k:
            return False
        z = h[-1]
        side = 1 if z > 0 else -1
        return side * z > limit and _side_count(h[-m:], m, limit, side) >= k

    return rule


def _run_one_side(n: int):
    def rule(h: list[float]) -> bool:
        if len(h) < n:
            return False
        tail = h[-n:]
        return all(z > 0 for z in tail) or all(z < 0 for z in tail)

    return rule


def _trend(n: int):
    def rule(h: list[float]) -> bool:
        if len(h) < n:
            return False
        d = [b - a for a, b in zip(h[-n:-1], h[-n + 1 :], strict=True)]
        return all(x > 0 for x in d) or all(x < 0 for x in d)

    return rule


def _alternating(n: int):
    def rule(h: list[float]) -> bool:
        if len(h) < n:
            return False
        d = [b - a for a, b in zip(h[-n:-1], h[-n + 1 :], strict=True)]
        return all(x != 0 for x in d) and all(a * b < 0 for a, b in itertools.pairwise(d))

    return rule


def _within1(n: int):
    def rule(h: list[float]) -> bool:
        return len(h) >= n and all(abs(z) < 1.0 for z in h[-n:])

    return rule


def _outside1(n: int):
    def rule(h: list[float]) -> bool:
        return len(h) >= n and all(abs(z) > 1.0 for z in h[-n:])

    return rule


_RULES = {
    "we": [
        ("we1", _beyond3, "one point beyond 3 sigma"),
        ("we2", _k_of_m(2, 3, 2.0), "two of three points beyond 2 sigma on one side"),
        ("we3", _k_of_m(4, 5, 1.0), "four of five points beyond 1 sigma on one side"),
        ("we4", _run_one_side(8), "eight points in a row on one side of the center line"),
    ],
    "nelson": [
        ("nelson1", _beyond3, "one point beyond 3 sigma"),
        ("nelson2", _run_one_side(9), "nine points in a row on one side of the center line"),
        ("nelson3", _trend(6), "six points in a row steadily increasing or decreasing"),
        ("nelson4", _alternating(14), "fourteen points in a row alternating up and down"),
        ("nelson5", _k_of_m(2, 3, 2.0), "two of three points beyond 2 sigma on one side"),
        ("nelson6", _k_of_m(4, 5, 1.0), "four of five points beyond 1 sigma on one side"),
        ("nelson7", _within1(15), "fifteen points in a row within 1 sigma (stratification)"),
        ("nelson8", _outside1(8), "eight points in a row beyond 1 sigma on either side (mixture)"),
    ],
    "limits": [("limits", _beyond3, "one point beyond the control limits")],
}


class RuleSet:
    """Streaming rule checker over standardised points.

    ``rules`` is ``"we"``, ``"nelson"`` or ``"limits"`` (3-sigma only), or a list of rule names
    (e.g. ``["we1", "nelson3"]``).
    """

    def __init__(self, rules: str | Iterable[str] = "we", chart: str = "") -> None:
        if isinstance(rules, str):
            if rules not in _RULES:
                raise ConfigError(f"rules {rules!r}: choose we, nelson, limits or a list of rule names")
            self._rules = list(_RULES[rules])
        else:
            known = {r[0]: r for group in _RULES.values() for r in group}
            wanted = list(rules)
            unknown = [r for r in wanted if r not in known]
            if unknown:
                raise ConfigError(f"unknown run rules {unknown}: known are {sorted(known)}")
            self._rules = [known[r] for r in wanted]
        self.chart = chart
        self._h: deque[float] = deque(maxlen=15)
        self.n = 0

    def reset(self) -> None:
        """Forget the history (after the process was corrected or the limits recomputed)."""
        self._h.clear()

    def check_one(self, z: float, value: float | None = None) -> list[Violation]:
        """Add one standardised point; return the rules it completes."""
        self._h.append(float(z))
        h = list(self._h)
        index = self.n
        self.n += 1
        return [
            Violation(name, index, z if value is None else value, text, self.chart)
            for name, rule, text in self._rules
            if rule(h)
        ]


def check(z: Iterable[float], rules: str | Iterable[str] = "we") -> list[Violation]:
    """History form: every violation in a sequence of standardised points."""
    rs = RuleSet(rules)
    out: list[Violation] = []
    for v in z:
        out.extend(rs.check_one(v))
    return out
