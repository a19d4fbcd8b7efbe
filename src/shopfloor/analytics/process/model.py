"""A process model learned from history: quality as a function of material and settings.

:class:`ProcessModel` is a ridge regression on the named inputs and (optionally) their pairwise
products, e.g. ``weight ~ density + screw_rpm + density*screw_rpm``. Because no input enters
squared, the prediction is linear in any one input for fixed others, so :meth:`solve` inverts
it in closed form: the setting that hits a target given the measured material.

>>> m = ProcessModel(["density", "rpm"], alpha=1e-6)
>>> rows = [{"density": d, "rpm": r} for d in (0.5, 0.6, 0.7) for r in (40.0, 60.0, 80.0)]
>>> _ = m.fit(rows, [4.0 * x["density"] * x["rpm"] + 2.0 for x in rows])
>>> round(m.predict_one({"density": 0.6, "rpm": 50.0}), 3)
122.0
>>> round(m.solve(122.0, {"density": 0.6}, "rpm"), 3)
50.0
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

import numpy as np

from shopfloor.core.errors import ConfigError


class ProcessModel:
    """Ridge regression ``y ~ inputs (+ pairwise products)`` on standardised features."""

    def __init__(self, inputs: Sequence[str], interactions: bool = True, alpha: float = 1e-3) -> None:
        if not inputs:
            raise ConfigError("process model: name at least one input")
        self.inputs = list(inputs)
        self.interactions = interactions
        self.alpha = alpha
        self._pairs = list(itertools.combinations(range(len(self.inputs)), 2)) if interactions else []
        self.coef_: np.ndarray | None = None
        self.intercept_ = 0.0
        self._mu: np.ndarray | None = None
        self._sd: np.ndarray | None = None
        self.residual_sd_ = 0.0
        self.n_ = 0

    def _row(self, x: Mapping[str, float]) -> np.ndarray:
        try:
            base = [float(x[name]) for name in self.inputs]
        except KeyError as err:
            raise ConfigError(f"process model input {err.args[0]!r} missing from {dict(x)}") from err
        return np.array(base + [base[i] * base[j] for i, j in self._pairs])

    def fit(self, X: Sequence[Mapping[str, float]], y: Sequence[float]) -> ProcessModel:
        """Fit on historical rows (input name -> value) and their measured quality."""
        A = np.array([self._row(x) for x in X])
        t = np.asarray(y, float)
        if len(A) != len(t) or len(t) < A.shape[1] + 2:
            raise ConfigError(f"process model: need more rows than {A.shape[1] + 1} and one y per row")
        if not (np.isfinite(A).all() and np.isfinite(t).all()):
            raise ConfigError("process model: history holds non-finite values")
        self._mu, self._sd = A.mean(axis=0), A.std(axis=0)
        self._sd[self._sd == 0] = 1.0
        Z = (A - self._mu) / self._sd
        ym = float(t.mean())
        w = np.linalg.solve(Z.T @ Z + self.alpha * len(t) * np.eye(Z.shape[1]), Z.T @ (t - ym))
        self.coef_ = w / self._sd
        self.intercept_ = ym - float(self._mu @ self.coef_)
        self.residual_sd_ = float(np.std(t - (A @ self.coef_ + self.intercept_), ddof=A.shape[1] + 1))
        self.n_ = len(t)
        return self

    def _need_fit(self) -> np.ndarray:
        if self.coef_ is None:
            raise ConfigError("process model: fit it on history first")
        return self.coef_

    def predict_one(self, x: Mapping[str, float]) -> float:
        return float(self._row(x) @ self._need_fit() + self.intercept_)

    def gain(self, x: Mapping[str, float], var: str) -> float:
        """``d y / d var`` at ``x`` (``var``'s own coefficient plus its interactions)."""
        coef = self._need_fit()
        k = self.inputs.index(var)
        g = coef[k]
        for n, (i, j) in enumerate(self._pairs):
            if k in (i, j):
                other = self.inputs[j if k == i else i]
                g += coef[len(self.inputs) + n] * float(x[other])
        return float(g)

    def solve(self, target: float, x: Mapping[str, float], var: str) -> float:
        """The value of ``var`` that makes the prediction equal ``target`` (others from ``x``)."""
        if var not in self.inputs:
            raise ConfigError(f"process model has no input {var!r}: inputs are {self.inputs}")
        probe = {**x, var: 0.0}
        g = self.gain(probe, var)
        if abs(g) < 1e-12:
            raise ConfigError(f"process model: {var!r} has no effect on the output at {dict(x)}")
        return (target - self.predict_one(probe)) / g
