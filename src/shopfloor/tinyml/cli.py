"""``shopfloor tinyml export|verify``: models to C99 and the NumPy edge runtime, proven equal.

The data readers here (CWRU records, SKAB files, through :mod:`shopfloor.evals`) belong to the
shell, not to the library: the library modules of ``shopfloor.tinyml`` take arrays.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

tinyml_app = typer.Typer(
    help="Edge AI: export models to C99 and the NumPy edge runtime, verify them (docs/tinyml.md).",
    no_args_is_help=True,
)
USE_CASES = ("cwru-vibration", "cwru-mlp", "cwru-detector", "skab-pump")
SEGMENT = 2048


def register(app: typer.Typer) -> None:
    app.add_typer(tinyml_app, name="tinyml")


def load_cwru(root: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """CWRU segments: the first 70 % of every record (speed-perturbed) trains, the rest tests."""
    from ..analytics.maintenance.classify import segments, stretch
    from ..evals import cwru

    Str, ytr, Ste, yte = [], [], [], []
    for rec in cwru.find_records(Path(root)):
        assert rec.signal is not None
        n = len(rec.signal) // SEGMENT
        cut = round(n * cwru.TRAIN_SHARE)
        for f in cwru.AUGMENT:
            s = segments(stretch(rec.signal[: cut * SEGMENT], f), SEGMENT)
            Str.append(s)
            ytr += [rec.label] * len(s)
        s = segments(rec.signal[cut * SEGMENT : n * SEGMENT], SEGMENT)
        Ste.append(s)
        yte += [rec.label] * len(s)
    return np.vstack(Str), np.array(ytr), np.vstack(Ste), np.array(yte)


def load_skab(root: Path) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Every labelled SKAB file: (name, 8 sensor columns, anomaly labels)."""
    from ..evals import skab

    out = []
    for path in skab.find_files(Path(root)):
        ex = skab.read_file(path)
        out.append((ex.name, ex.X, ex.anomaly))
    return out


def _use_case(name: str, data: Path, model_name: str | None, version: str, quantize: str | None) -> Any:
    from ..core.errors import ConfigError
    from . import usecases

    if name.startswith("cwru"):
        Str, ytr, Ste, yte = load_cwru(data)
        if name == "cwru-vibration":
            return usecases.vibration_classifier(Str, ytr, Ste, yte, name=model_name or name, version=version)
        if name == "cwru-mlp":
            return usecases.vibration_mlp(Str, ytr, Ste, yte, name=model_name or name, quantize=quantize)
        normal = ytr == "normal"
        if not normal.any():
            raise ConfigError(f"{data}: no normal_*.mat record to train the detector on")
        return usecases.vibration_detector(Str[normal], Ste, yte != "normal", name=model_name or name)
    if name == "skab-pump":
        files = load_skab(data)
        free = sorted(Path(data).rglob("anomaly-free*.csv"))
        if not files:
            raise ConfigError(f"{data}: no SKAB files")
        _, X, _labels = files[0]
        train = X[:400]
        if free:  # the anomaly-free run is the natural training set of a pump model
            from ..evals import skab

            with free[0].open(encoding="utf-8-sig") as fh:
                head = fh.readline().strip().split(";")
                cols = [head.index(c) for c in skab.SENSORS]
                train = np.array([[float(r.split(";")[c]) for c in cols] for r in fh if r.strip()])
        model = usecases.pump_detector(train, X, name=model_name or name)
        return model, {"train_rows": len(train), "verify_rows": len(X)}
    raise ConfigError(f"unknown use case {name!r}: choose one of {', '.join(USE_CASES)}")


@tinyml_app.command("export")
def export_command(
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Output folder (model.npz, model.c; signed bundle).")
    ],
    use_case: Annotated[
        str | None, typer.Option(help=f"Train and export a use case: {', '.join(USE_CASES)}.")
    ] = None,
    data: Annotated[Path | None, typer.Option("--data", help="Data set directory of the use case.")] = None,
    estimator: Annotated[
        Path | None, typer.Option(help="A fitted scikit-learn estimator saved with joblib (trusted file).")
    ] = None,
    test_data: Annotated[
        Path | None,
        typer.Option("--test-data", help="Rows (.npy) stored as the verify set (with --estimator)."),
    ] = None,
    name: Annotated[str | None, typer.Option(help="Model name (default: the use case or file stem).")] = None,
    version: Annotated[str, typer.Option(help="Model version (dotted numbers).")] = "1.0.0",
    quantize: Annotated[str | None, typer.Option(help="int8: uint8 forest leaves, int8 MLP weights.")] = None,
    sign_key: Annotated[
        Path | None, typer.Option(help="Ed25519 private key (PEM): sign the folder as a model bundle.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object as the last line.")] = False,
) -> None:
    """Export a trained model to the edge runtime format and C99, optionally as a signed bundle.

    Example: shopfloor tinyml export --use-case cwru-vibration --data ../shared/datasets/cwru
    --out build/cwru --sign-key keys/models.pem
    """
    from ..core.errors import ConfigError
    from .codegen import generate
    from .convert import export
    from .model import MODEL_FILE

    report: dict[str, Any] = {}
    if use_case:
        if data is None:
            raise ConfigError("--use-case needs --data DIR")
        model, report = _use_case(use_case, data, name, version, quantize)
    elif estimator is not None:
        import joblib

        est = joblib.load(estimator)
        X = np.load(test_data, allow_pickle=False) if test_data else None
        model = export(est, name or estimator.stem, version, quantize=quantize, verify_inputs=X)
    else:
        raise ConfigError("give --use-case NAME --data DIR, or --estimator FILE.joblib")
    if sign_key is not None:
        from ..security.signing import load_private_key
        from .bundle import write_bundle

        report["bundle"] = write_bundle(model, out, load_private_key(sign_key))
    else:
        out.mkdir(parents=True, exist_ok=True)
        model.save(out / MODEL_FILE)
        (out / "model.c").write_text(generate(model))
    result = {
        "model": model.name,
        "version": model.version,
        "kind": model.kind,
        "out": str(out),
        "signed": sign_key is not None,
        **report,
    }
    text = json.dumps(result, default=str)
    typer.echo(text if as_json else json.dumps(result, indent=2, default=str))


@tinyml_app.command("verify")
def verify_command(
    model_path: Annotated[Path, typer.Argument(metavar="MODEL", help="model.npz or a bundle folder.")],
    data: Annotated[
        Path | None, typer.Option("--data", help="Test rows (.npy); default: the verify set in the model.")
    ] = None,
    public_key: Annotated[
        Path | None, typer.Option(help="Check the bundle's signature with this Ed25519 public key (PEM).")
    ] = None,
    keep: Annotated[Path | None, typer.Option(help="Keep the C, objects and harness in this folder.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object as the last line.")] = False,
) -> None:
    """Compile the model's C, run it on a test set and compare it with the Python model.

    gcc -std=c99 -Wall -Wextra -Werror -O2; reports class agreement (>= 99.9 % to pass), the largest
    score difference, flash and RAM estimates and µs per inference; exit code 1 when not passed.

    Example: shopfloor tinyml verify build/cwru --json
    """
    from .model import MODEL_FILE, TinyModel
    from .verify import verify

    if public_key is not None:
        from ..security.signing import load_public_key
        from .bundle import open_bundle

        model = open_bundle(model_path, load_public_key(public_key))
    else:
        model = TinyModel.load(model_path / MODEL_FILE if model_path.is_dir() else model_path)
    X = np.load(data, allow_pickle=False) if data else None
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
    result = verify(model, X, workdir=keep)
    text = json.dumps(result, default=str)
    typer.echo(text if as_json else json.dumps(result, indent=2, default=str))
    if not result["passed"]:
        raise typer.Exit(1)
