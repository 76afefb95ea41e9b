"""LinearModel: the fitted line, its JSON document, atomic save and a strict loader.

The document (``schema: linfit-model``, ``schema_version: 1``) is what ``fit --format json``
prints, what ``--save`` writes and what ``predict`` reads. Required fields: ``schema``,
``schema_version``, ``target``, ``features``, ``w`` (feature → coefficient) and ``b``.
Loading a model only parses JSON: it never executes anything.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .atomic import atomic_write_text
from .errors import ModelFileError

SCHEMA = "linfit-model"
SCHEMA_VERSION = 1
SUPPORTED_VERSIONS = (1,)


@dataclass
class LinearModel:
    """y ≈ b + Σ w_j·x_j, with everything a script or ``predict`` needs to trust it."""

    features: list[str]
    target: str
    w: np.ndarray
    b: float
    intercept: bool = True
    method: str = "lstsq"
    n_samples: int = 0
    metrics: dict[str, Any] = field(default_factory=dict)
    center: np.ndarray | None = None  # feature values s where the prediction is c
    c: float | None = None  # prediction at x = center (accurate for offset data)
    solver: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    stats: dict[str, Any] | None = None
    inference: dict[str, Any] | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predictions for the rows of X (columns in ``features`` order)."""
        X = np.asarray(X, dtype=np.float64)
        if self.center is not None and self.c is not None:
            return self.c + (X - self.center) @ self.w
        return self.b + X @ self.w

    def equation(self, digits: int = 6) -> str:
        """The fitted line as text, e.g. ``y = 3.97 + 2.5·x``."""
        parts = [f"{self.b:.{digits}g}"] if self.intercept else []
        for f, v in zip(self.features, self.w):
            term = f"{abs(v):.{digits}g}·{f}"
            if parts:
                parts.append(("- " if v < 0 else "+ ") + term)
            else:
                parts.append(("-" if v < 0 else "") + term)
        return f"{self.target} = {' '.join(parts)}"

    # -- document -------------------------------------------------------------------------
    def to_doc(self) -> dict[str, Any]:
        from . import __version__

        doc: dict[str, Any] = {
            "schema": SCHEMA,
            "schema_version": SCHEMA_VERSION,
            "linfit_version": __version__,
            "method": self.method,
            "target": self.target,
            "features": list(self.features),
            "w": {f: float(v) for f, v in zip(self.features, self.w)},
            "b": float(self.b),
            "intercept": self.intercept,
            "n_samples": int(self.n_samples),
            "metrics": self.metrics,
        }
        if self.center is not None and self.c is not None:
            doc["center"] = {
                "x": {f: float(v) for f, v in zip(self.features, self.center)},
                "y": float(self.c),
            }
        if self.solver:
            doc["solver"] = self.solver
        if self.history:
            doc["history"] = self.history
        if self.stats is not None:
            doc["stats"] = self.stats
        if self.inference is not None:
            doc["inference"] = self.inference
        if self.data:
            doc["data"] = self.data
        return _finite_or_null(doc)

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_doc(), indent=indent, allow_nan=False)

    def save(self, path: str) -> None:
        """Write the document atomically (temporary file, then rename)."""
        atomic_write_text(path, self.to_json() + "\n")

    @classmethod
    def from_doc(cls, doc: Any, source: str = "model") -> LinearModel:
        """Validate a parsed document and build the model; errors name the problem."""
        if not isinstance(doc, dict):
            raise ModelFileError(f"{source}: not a linfit model (expected a JSON object)")
        if doc.get("schema") != SCHEMA:
            raise ModelFileError(
                f"{source}: not a linfit model (field 'schema' should be {SCHEMA!r}); make "
                "one with linfit fit DATA --save MODEL"
            )
        version = doc.get("schema_version")
        if version not in SUPPORTED_VERSIONS:
            raise ModelFileError(
                f"{source}: model schema version {version!r} is not one this linfit reads "
                f"({', '.join(map(str, SUPPORTED_VERSIONS))}); refit it with this version"
            )
        for key in ("target", "features", "w", "b"):
            if key not in doc:
                raise ModelFileError(f"{source}: required field {key!r} is missing")
        features = doc["features"]
        if (
            not isinstance(features, list)
            or not features
            or not all(isinstance(f, str) for f in features)
            or len(set(features)) != len(features)
        ):
            raise ModelFileError(f"{source}: 'features' must be a non-empty list of unique names")
        if not isinstance(doc["target"], str):
            raise ModelFileError(f"{source}: 'target' must be a column name")
        w = doc["w"]
        if not isinstance(w, dict) or set(w) != set(features):
            raise ModelFileError(f"{source}: 'w' must map each of the features to a number")
        coef = [w[f] for f in features]
        _check_numbers(source, "w", coef)
        _check_numbers(source, "b", [doc["b"]])
        center = c = None
        if doc.get("center") is not None:
            cen = doc["center"]
            if not isinstance(cen, dict) or not isinstance(cen.get("x"), dict):
                raise ModelFileError(f"{source}: 'center' must hold 'x' and 'y'")
            if set(cen["x"]) != set(features) or "y" not in cen:
                raise ModelFileError(f"{source}: 'center' must give every feature and 'y'")
            vals = [cen["x"][f] for f in features]
            _check_numbers(source, "center", vals + [cen["y"]])
            center, c = np.array(vals, dtype=np.float64), float(cen["y"])
        return cls(
            features=list(features),
            target=doc["target"],
            w=np.array(coef, dtype=np.float64),
            b=float(doc["b"]),
            intercept=bool(doc.get("intercept", True)),
            method=str(doc.get("method", "unknown")),
            n_samples=int(doc.get("n_samples", 0) or 0),
            metrics=doc.get("metrics") or {},
            center=center,
            c=c,
            solver=doc.get("solver") or {},
            history=doc.get("history") or [],
            stats=doc.get("stats"),
            inference=doc.get("inference"),
            data=doc.get("data") or {},
        )


def _check_numbers(source: str, name: str, values: list[Any]) -> None:
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ModelFileError(f"{source}: {name!r} holds {v!r}, not a finite number")


def _reject_constant(token: str) -> float:
    raise ValueError(f"non-finite number {token}")


def load_model(path: str) -> LinearModel:
    """Read and validate a model file (JSON only: nothing is executed)."""
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except FileNotFoundError:
        raise ModelFileError(f"{path}: no such model file; make one with linfit fit --save")
    except IsADirectoryError:
        raise ModelFileError(f"{path} is a directory, not a model file")
    except PermissionError:
        raise ModelFileError(f"{path}: permission denied")
    except UnicodeDecodeError:
        raise ModelFileError(f"{path}: not a linfit model (not UTF-8 JSON text)")
    if not text.strip():
        raise ModelFileError(f"{path} is empty; make a model with linfit fit DATA --save {path}")
    try:
        doc = json.loads(text, parse_constant=_reject_constant)
    except ValueError as exc:
        raise ModelFileError(f"{path}: not valid JSON ({exc}); is it a linfit model?") from None
    return LinearModel.from_doc(doc, path)


def _finite_or_null(obj: Any) -> Any:
    """Replace NaN/inf (which JSON cannot hold) by null, recursively."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, np.floating):
        v = float(obj)
        return v if math.isfinite(v) else None
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, dict):
        return {k: _finite_or_null(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite_or_null(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _finite_or_null(obj.tolist())
    return obj
