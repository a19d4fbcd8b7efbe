"""Small generated models and data for the tinyml tests (trained once per session)."""

from __future__ import annotations

import shutil
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="tinyml export tests need scikit-learn (the test extra installs it)")


@pytest.fixture(scope="session", autouse=True)
def _gcc() -> None:
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed: the C export cannot be compiled")


@pytest.fixture(scope="session")
def table() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import make_classification

    X, y = make_classification(1500, 10, n_informative=6, n_classes=4, random_state=1)
    return X, y


@pytest.fixture(scope="session")
def segments() -> tuple[np.ndarray, np.ndarray]:
    """Vibration-like segments of 512 samples: three classes of tones, impacts and noise."""
    rng = np.random.default_rng(4)
    t = np.arange(512) / 12000.0
    X, y = [], []
    for i in range(150):
        c = i % 3
        x = 0.05 * rng.standard_normal(512) + 0.1 * np.sin(2 * np.pi * 30 * t + rng.uniform(0, 6))
        if c == 1:
            x[:: rng.integers(40, 60)] += rng.uniform(0.5, 1.0)
        if c == 2:
            x += 0.2 * np.sin(2 * np.pi * rng.uniform(2500, 3500) * t)
        X.append(x)
        y.append(["normal", "impacts", "tone"][c])
    return np.array(X), np.array(y)


@pytest.fixture(autouse=True)
def _quiet() -> None:
    warnings.filterwarnings("ignore", module="sklearn")
