"""NumPy edge runtime against scikit-learn, and the model file format."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from shopfloor.core.errors import ConfigError
from shopfloor.tinyml.convert import export
from shopfloor.tinyml.model import ModelFormatError, TinyModel
from shopfloor.tinyml.runtime import Runtime, load


def _estimators(X, y):
    from sklearn.covariance import EllipticEnvelope
    from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier
    from sklearn.mixture import GaussianMixture
    from sklearn.neural_network import MLPClassifier
    from sklearn.preprocessing import StandardScaler

    sc = StandardScaler().fit(X)
    Z = sc.transform(X)
    return [
        (RandomForestClassifier(8, max_depth=7, random_state=0).fit(X, y), None),
        (ExtraTreesClassifier(8, max_leaf_nodes=40, random_state=0).fit(X, y), None),
        (MLPClassifier((12,), max_iter=200, random_state=0).fit(Z, y), sc),
        (MLPClassifier((6,), activation="tanh", max_iter=200, random_state=0).fit(X, y > 1), None),
        (GaussianMixture(3, random_state=0).fit(Z), sc),
        (GaussianMixture(2, covariance_type="tied", random_state=0).fit(X), None),
        (GaussianMixture(2, covariance_type="spherical", random_state=0).fit(X), None),
        (EllipticEnvelope(random_state=0).fit(X[:, :5]), None),
    ]


def test_runtime_scores_equal_sklearn(table) -> None:
    X, y = table
    for est, sc in _estimators(X, y):
        Xi = X[:, : est.n_features_in_]
        rt = Runtime(export(est, "m", scaler=sc, threshold=-20.0))
        Z = sc.transform(Xi) if sc is not None else Xi
        s = rt.scores(Xi)
        name = type(est).__name__
        if rt.kind in ("forest", "mlp"):
            assert np.allclose(s, est.predict_proba(Z), atol=1e-5), name
            assert np.mean(rt.predict(Xi) == est.predict_proba(Z).argmax(axis=1)) >= 0.999, name
        elif rt.kind == "gmm":
            assert np.allclose(s[:, 0], est.score_samples(Z), rtol=1e-5, atol=1e-3), name
        else:
            assert np.allclose(s[:, 0], est.decision_function(Z), rtol=1e-5, atol=1e-3), name
            assert np.array_equal(rt.predict(Xi) == 1, est.predict(Z) == -1)


def test_quantized_forest_keeps_the_classes(table) -> None:
    from sklearn.ensemble import RandomForestClassifier

    X, y = table
    est = RandomForestClassifier(10, max_depth=8, random_state=0).fit(X, y)
    rt = Runtime(export(est, "q", quantize="int8"))
    assert np.mean(rt.predict(X) == est.predict_proba(X).argmax(axis=1)) >= 0.99
    assert np.max(np.abs(rt.scores(X) - est.predict_proba(X))) <= 0.5 / 255 + 1e-6


def test_save_load_roundtrip_and_predict_one(table, tmp_path) -> None:
    from sklearn.ensemble import RandomForestClassifier

    X, y = table
    est = RandomForestClassifier(4, max_depth=5, random_state=0).fit(X, y.astype(str))
    path = export(est, "rt", "2.1.0", verify_inputs=X[:50]).save(tmp_path / "m.npz")
    rt = load(path)
    assert rt.model.version == "2.1.0" and rt.classes == ["0", "1", "2", "3"]
    assert rt.predict_one(X[0]) == est.predict(X[:1])[0]
    assert rt.model.verify_set()[0].shape == (50, 10)
    with pytest.raises(ConfigError, match="expects rows of 10 values"):
        rt.predict(X[:, :3])
    bad = X[:3].copy()
    bad[1, 4] = np.nan
    with pytest.raises(ConfigError, match=r"rows \[1\] contain NaN"):
        rt.predict(bad)


def test_analytics_fault_classifier_exports(table) -> None:
    from shopfloor.analytics.maintenance.classify import FaultClassifier

    X, y = table
    labels = np.array(["normal", "IR007", "OR014", "B021"])[y]
    fc = FaultClassifier(trees=5).fit(X, labels)
    rt = Runtime(export(fc, "fc"))
    assert rt.classes == sorted(set(labels.tolist()))
    assert rt.predict_labels(X[:200]) == fc.predict(X[:200]).tolist()


def test_bad_model_files_are_refused(tmp_path) -> None:
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ModelFormatError, match="not a tinyml model file"):
        TinyModel.load(tmp_path / "junk.npz")
    with pytest.raises(ModelFormatError, match="does not exist"):
        TinyModel.load(tmp_path / "missing.npz")
    with pytest.raises(ModelFormatError, match="unknown kind"):
        TinyModel("svm", "x", "1.0", {"n_inputs": 1, "classes": []})
    with pytest.raises(ModelFormatError, match="cannot export KMeans"):
        from sklearn.cluster import KMeans

        export(KMeans(2, n_init=1).fit(np.random.default_rng(0).normal(size=(20, 2))), "k")


def test_runtime_needs_no_sklearn(table, tmp_path) -> None:
    from sklearn.ensemble import RandomForestClassifier

    X, y = table
    path = export(RandomForestClassifier(3, random_state=0).fit(X, y), "edge").save(tmp_path / "m.npz")
    code = (
        "import sys; from shopfloor.tinyml.runtime import load; import numpy as np; "
        f"rt = load({str(path)!r}); rt.predict(np.zeros((2, 10))); "
        "print('sklearn' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
