"""Generated C compiled with gcc -std=c99 -Wall -Wextra -Werror and compared with the Python model."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from shopfloor.tinyml.codegen import generate
from shopfloor.tinyml.convert import export
from shopfloor.tinyml.features import VibrationFeatures
from shopfloor.tinyml.verify import verify


def _check(res: dict, exact: bool = True) -> None:
    assert res["agreement_runtime"] == 1.0
    if exact:
        assert res["agreement_reference"] >= 0.999
        assert res["passed"] is True
    assert res["flash_bytes"] > 0 and res["ram_bytes"] >= 0
    assert res["us_per_inference"] > 0


@pytest.mark.parametrize("kind", ["forest", "forest-int8", "extra", "mlp", "mlp-int8", "mlp-binary"])
def test_classifiers_in_c_equal_python(table, kind, tmp_path) -> None:
    from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier
    from sklearn.neural_network import MLPClassifier
    from sklearn.preprocessing import StandardScaler

    X, y = table
    sc = StandardScaler().fit(X)
    if kind.startswith("forest"):
        est, scaler = RandomForestClassifier(8, max_depth=7, random_state=0).fit(X, y), None
    elif kind == "extra":
        est, scaler = ExtraTreesClassifier(6, random_state=0).fit(X, y), None  # fully grown: pure leaves
    elif kind == "mlp-binary":
        est, scaler = (
            MLPClassifier((6,), activation="logistic", max_iter=300, random_state=0).fit(X, y > 1),
            None,
        )
    else:
        est, scaler = MLPClassifier((16, 8), max_iter=300, random_state=0).fit(sc.transform(X), y), sc
    quantize = "int8" if kind.endswith("int8") else None
    model = export(est, f"t-{kind}", scaler=scaler, quantize=quantize, verify_inputs=X[:600])
    res = verify(model, seconds=0.01, workdir=tmp_path)
    _check(res, exact=kind != "mlp-int8")  # int8 weights: equal to the runtime, near sklearn
    if kind == "mlp-int8":
        assert res["agreement_reference"] >= 0.97
    if kind == "forest":
        q = verify(export(est, "t-q", quantize="int8", verify_inputs=X[:600]), seconds=0.01)
        assert q["flash_bytes"] < res["flash_bytes"]  # uint8 leaves pay


@pytest.mark.parametrize("cov", ["full", "diag", "tied", "spherical", "envelope"])
def test_anomaly_models_in_c_equal_python(table, cov) -> None:
    from sklearn.covariance import EllipticEnvelope
    from sklearn.mixture import GaussianMixture
    from sklearn.preprocessing import StandardScaler

    X, _ = table
    sc = StandardScaler().fit(X)
    if cov == "envelope":
        sc6 = StandardScaler().fit(X[:, :6])
        est = EllipticEnvelope(contamination=0.05, random_state=0).fit(sc6.transform(X[:, :6]))
        model = export(est, "t-env", scaler=sc6, verify_inputs=X[:, :6])
    else:
        est = GaussianMixture(3, covariance_type=cov, random_state=0).fit(sc.transform(X))
        model = export(est, f"t-gmm-{cov}", scaler=sc, verify_inputs=X)
    res = verify(model, seconds=0.01)
    _check(res)
    assert res["max_score_diff_reference"] < 1e-2
    flagged = np.mean(model.verify_set()[1])
    assert 0.0 < flagged < 0.2  # the cut really separates something


def test_vibration_pipeline_in_c(segments) -> None:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.mixture import GaussianMixture
    from sklearn.preprocessing import StandardScaler

    X, y = segments
    vf = VibrationFeatures(512, 8)
    F = vf.transform(X)
    forest = export(
        RandomForestClassifier(6, max_leaf_nodes=12, random_state=0).fit(F, y),
        "vib",
        features=vf,
        quantize="int8",
        verify_inputs=X,
    )
    res = verify(forest, seconds=0.01)
    _check(res)
    assert res["max_feature_diff"] < 1e-3
    assert res["ram_static_bytes"] >= 512 * 4  # the FFT work buffer
    sc = StandardScaler().fit(F[y == "normal"])
    gmm = GaussianMixture(1, covariance_type="diag", reg_covar=0.1, random_state=0).fit(
        sc.transform(F[y == "normal"])
    )
    cut = float(np.percentile(gmm.score_samples(sc.transform(F[y == "normal"])), 1.0))
    det = export(gmm, "vibdet", scaler=sc, features=vf, threshold=cut, verify_inputs=X)
    _check(verify(det, seconds=0.01))
    assert det.verify_set()[1][y != "normal"].mean() > 0.9  # impacts and tones are anomalies


def test_c_source_is_self_contained(table) -> None:
    from sklearn.ensemble import RandomForestClassifier

    X, y = table
    src = generate(export(RandomForestClassifier(2, max_depth=3, random_state=0).fit(X, y), "Line 1/Cutter"))
    assert "int sf_line_1_cutter_predict(const float *x, float *scores)" in src
    assert "malloc" not in src and "stdio" not in src
    assert "static const float sf_line_1_cutter_thr" in src  # float inputs and thresholds, not int16


def test_vibration_classifier_fits_its_flash_budget(segments) -> None:
    from shopfloor.tinyml.usecases import vibration_classifier

    X, y = segments
    args = (X[::2], y[::2], X[1::2], y[1::2])
    sizes = ((2, 4), (6, 8), (12, 12))
    _, rep = vibration_classifier(*args, sizes=sizes, flash_budget=1, full_trees=20)
    assert rep["compact_model"].startswith("RandomForest x2,")  # nothing fits: the smallest is kept
    big, rep_big = vibration_classifier(*args, sizes=sizes, flash_budget=64 * 1024, full_trees=20)
    assert rep_big["compact_model"].startswith("RandomForest x12,")
    assert rep_big["compact_flash_bytes"] <= 64 * 1024
    assert rep_big["accuracy_compact"] >= 0.9 and rep_big["accuracy_full"] >= 0.9
    res = verify(big, seconds=0.01)
    assert rep_big["compact_flash_bytes"] in (
        res["cortex_m4_linked_flash_bytes"],
        (res["cortex_m4_flash_bytes"] or res["flash_bytes"]) + 2048,
    )


@pytest.mark.skipif(
    shutil.which("arm-none-eabi-gcc") is None,
    reason="arm-none-eabi-gcc not installed (optional Cortex-M4 size)",
)
def test_cortex_m4_flash_is_reported(segments, tmp_path) -> None:
    from sklearn.ensemble import RandomForestClassifier

    from shopfloor.tinyml.verify import build

    X, y = segments
    vf = VibrationFeatures(512, 8)
    model = export(
        RandomForestClassifier(4, max_leaf_nodes=8, random_state=0).fit(vf.transform(X), y),
        "m4",
        features=vf,
        quantize="int8",
    )
    sizes = build(model, tmp_path)
    assert 0 < sizes["cortex_m4_flash_bytes"] < 4 * sizes["flash_bytes"]
    linked = sizes["cortex_m4_linked_flash_bytes"]  # None without newlib for the target
    assert linked is None or linked > sizes["cortex_m4_flash_bytes"]
