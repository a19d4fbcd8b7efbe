"""Parametric life models fitted by maximum likelihood to right-censored data.

Weibull (2 and 3 parameters) and log-normal are log-location-scale models: with
``z = (log(t - gamma) - mu) / sigma`` the Weibull is the smallest-extreme-value
distribution of ``z`` (shape ``beta = 1/sigma``, scale ``eta = exp(mu)``) and the log-normal
the normal one. Parameters are estimated as ``(mu, log sigma[, gamma])``; their covariance
is the inverse of the observed information (a numerical Hessian), and bounds on a life
quantile such as B10 are the Fisher-matrix (delta-method) bounds on ``log t_p``.

>>> m = fit_life([2.0, 3.0, 4.0, 5.0, 7.0], family="weibull")
>>> round(m.shape, 2), round(m.scale, 2)
(2.66, 4.74)
>>> lo, est, hi = m.b_life(0.10)
>>> lo < est < hi
True
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from scipy import optimize, stats

from .survival import LifeDataError, as_life_data

Family = Literal["weibull", "weibull3", "lognormal"]
FAMILIES: tuple[str, ...] = ("weibull", "weibull3", "lognormal")


def _logpdf_z(family: str, z: np.ndarray) -> np.ndarray:
    return z - np.exp(z) if family != "lognormal" else stats.norm.logpdf(z)


def _logsf_z(family: str, z: np.ndarray) -> np.ndarray:
    return -np.exp(z) if family != "lognormal" else stats.norm.logsf(z)


def _cdf_z(family: str, z: np.ndarray) -> np.ndarray:
    return -np.expm1(-np.exp(z)) if family != "lognormal" else stats.norm.cdf(z)


def _ppf_z(family: str, p: float | np.ndarray) -> np.ndarray:
    p = np.asarray(p, dtype=float)
    return np.log(-np.log1p(-p)) if family != "lognormal" else stats.norm.ppf(p)


def loglik(
    family: str, t: np.ndarray, e: np.ndarray, mu: float, log_sigma: float, gamma: float = 0.0
) -> float:
    """Log-likelihood of right-censored data (``e`` True for failures)."""
    sigma = np.exp(log_sigma)
    x = t - gamma
    if np.any(x[e] <= 0):
        return -np.inf
    live = x > 0  # a censored unit that stopped before gamma carries no information
    z = (np.log(x[live]) - mu) / sigma
    ev = e[live]
    ll = _logpdf_z(family, z[ev]) - log_sigma - np.log(x[live][ev])
    return float(ll.sum() + _logsf_z(family, z[~ev]).sum())


def hessian(f: Callable[[np.ndarray], float], x: np.ndarray) -> np.ndarray:
    """Central-difference Hessian of a scalar function."""
    x = np.asarray(x, dtype=float)
    k = x.size
    h = 1e-4 * (1.0 + np.abs(x))
    H = np.zeros((k, k))
    for i in range(k):
        for j in range(i, k):
            ei, ej = np.zeros(k), np.zeros(k)
            ei[i], ej[j] = h[i], h[j]
            v = (f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej) + f(x - ei - ej)) / (4 * h[i] * h[j])
            H[i, j] = H[j, i] = v
    return H


@dataclass(slots=True)
class LifeModel:
    """A fitted life distribution."""

    family: str
    mu: float
    sigma: float
    gamma: float
    cov: np.ndarray = field(repr=False)
    loglik: float
    n: int
    failures: int

    @property
    def shape(self) -> float:
        """Weibull shape beta (``1/sigma``); for the log-normal, sigma of log life."""
        return 1.0 / self.sigma if self.family != "lognormal" else self.sigma

    @property
    def scale(self) -> float:
        """Weibull scale eta (``exp(mu)``); for the log-normal, the median life."""
        return float(np.exp(self.mu))

    @property
    def n_params(self) -> int:
        return 3 if self.family == "weibull3" else 2

    @property
    def aic(self) -> float:
        return 2 * self.n_params - 2 * self.loglik

    def _theta(self) -> np.ndarray:
        th = [self.mu, np.log(self.sigma)]
        return np.array([*th, self.gamma] if self.cov.shape[0] == 3 else th)

    def cdf(self, t: float | np.ndarray) -> np.ndarray:
        x = np.asarray(t, dtype=float) - self.gamma
        with np.errstate(divide="ignore"):
            z = (np.log(np.where(x > 0, x, np.nan)) - self.mu) / self.sigma
        return np.where(x > 0, _cdf_z(self.family, z), 0.0)

    def sf(self, t: float | np.ndarray) -> np.ndarray:
        return 1.0 - self.cdf(t)

    def quantile(self, p: float) -> float:
        """Life by which a fraction ``p`` has failed."""
        return float(self.gamma + np.exp(self.mu + self.sigma * _ppf_z(self.family, p)))

    def b_life(self, p: float = 0.10, conf: float = 0.95) -> tuple[float, float, float]:
        """(lower, estimate, upper) of the B-life (``p=0.10``: B10), two-sided at ``conf``."""
        if not 0 < p < 1:
            raise LifeDataError(f"p must be within (0, 1), got {p}")
        zp = float(_ppf_z(self.family, p))

        def log_tp(th: np.ndarray) -> float:
            gamma = th[2] if th.size == 3 else self.gamma
            return float(np.log(gamma + np.exp(th[0] + np.exp(th[1]) * zp)))

        th = self._theta()
        grad = np.array(
            [
                (log_tp(th + d) - log_tp(th - d)) / (2 * d.sum())
                for d in np.eye(th.size) * 1e-6 * (1 + abs(th))
            ]
        )
        se = float(np.sqrt(max(grad @ self.cov @ grad, 0.0)))
        k = stats.norm.ppf(0.5 + conf / 2)
        est = log_tp(th)
        return float(np.exp(est - k * se)), float(np.exp(est)), float(np.exp(est + k * se))

    def sample_params(self, rng: np.random.Generator, n: int) -> list[LifeModel]:
        """``n`` models drawn from the asymptotic normal distribution of the estimates."""
        th = self._theta()
        draws = rng.multivariate_normal(th, self.cov, size=n, check_valid="ignore")
        out = []
        for d in draws:
            gamma = float(min(max(d[2], 0.0), self.gamma * 2)) if d.size == 3 else self.gamma
            out.append(LifeModel(self.family, float(d[0]), float(np.exp(d[1])), gamma, self.cov, 0, 0, 0))
        return out

    def to_dict(self) -> dict[str, float | str | int]:
        lo, b10, hi = self.b_life(0.10)
        return {
            "family": self.family,
            "shape": self.shape,
            "scale": self.scale,
            "location": self.gamma,
            "loglik": self.loglik,
            "aic": self.aic,
            "n": self.n,
            "failures": self.failures,
            "b10": b10,
            "b10_lower": lo,
            "b10_upper": hi,
        }


def _fit2(family: str, t: np.ndarray, e: np.ndarray, gamma: float) -> tuple[np.ndarray, float]:
    x = np.log(np.clip(t - gamma, 1e-300, None))
    start = np.array([x.mean() + (0.5 if family != "lognormal" else 0.0), np.log(max(x.std(), 0.05))])

    def nll(th: np.ndarray) -> float:
        v = -loglik(family, t, e, th[0], th[1], gamma)
        return v if np.isfinite(v) else 1e300

    res = optimize.minimize(
        nll, start, method="Nelder-Mead", options={"xatol": 1e-9, "fatol": 1e-11, "maxiter": 4000}
    )
    res = optimize.minimize(nll, res.x, method="BFGS")
    return res.x, -float(res.fun)


def fit_life(
    times: Sequence[float] | np.ndarray,
    events: Sequence[int] | np.ndarray | None = None,
    family: Family | str = "weibull",
) -> LifeModel:
    """Maximum-likelihood fit of a ``family`` (see :data:`FAMILIES`) to right-censored data.

    ``weibull3`` profiles the likelihood over the location ``gamma`` in ``[0, first failure)``;
    when the maximum lies on that boundary the model keeps gamma fixed there (its covariance
    is then that of the two other parameters).
    """
    if family not in FAMILIES:
        raise LifeDataError(f"unknown life model {family!r}: choose one of {', '.join(FAMILIES)}")
    t, e = as_life_data(times, events)
    nf = int(e.sum())
    if nf < 2:
        raise LifeDataError(f"a {family} fit needs at least 2 failures, got {nf}")
    gamma = 0.0
    base = "lognormal" if family == "lognormal" else "weibull"
    if family == "weibull3":
        tmin = float(t[e].min())
        prof = optimize.minimize_scalar(
            lambda g: -_fit2(base, t, e, g)[1],
            bounds=(0.0, tmin * (1 - 1e-6)),
            method="bounded",
            options={"xatol": tmin * 1e-7},
        )
        gamma = float(prof.x)
    th, ll = _fit2(base, t, e, gamma)
    interior = family == "weibull3" and 1e-4 * t[e].min() < gamma < t[e].min() * (1 - 1e-4)
    if interior:
        full = np.array([*th, gamma])
        H = hessian(lambda x: loglik(base, t, e, x[0], x[1], x[2]), full)
    else:
        H = hessian(lambda x: loglik(base, t, e, x[0], x[1], gamma), th)
    try:
        cov = np.linalg.inv(-H)
    except np.linalg.LinAlgError:
        cov = np.full(H.shape, np.nan)
    return LifeModel(family, float(th[0]), float(np.exp(th[1])), gamma, cov, ll, int(t.size), nf)


def best_fit(times, events=None, families: Sequence[str] = ("weibull", "lognormal")) -> LifeModel:
    """The family with the lowest AIC among ``families``."""
    fits = [fit_life(times, events, f) for f in families]
    return min(fits, key=lambda m: m.aic)
