"""LinearModel: the fitted line, its JSON document, atomic save and a strict loader.

The document (``schema: linfit-model``, ``schema_version: 2``) is what ``fit --format json``
prints, what ``--save`` writes and what ``predict`` reads. Required fields: ``schema``,
``schema_version``, ``target``, ``features``, ``w`` (feature → coefficient) and ``b``.
Version 2 names the intercept ``(Intercept)`` wherever it shares a mapping with the features
(``stats.coef``); version 1 named it ``b``, which a feature called ``b`` overwrote. Version-1
files are still read (their ``b`` entry is renamed on loading).

Loading a model only parses JSON: it never executes anything. The loader reads at most
``MAX_MODEL_BYTES``, bounds how many JSON values a file of that size may hold, and checks
the type and shape of every field it uses, so that a damaged file is one ``ModelFileError``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, NoReturn

import numpy as np

from .atomic import atomic_write_text
from .errors import DataError, ModelFileError, OutputError, quote
from .limits import MAX_MODEL_BYTES, MAX_PARAMS

SCHEMA = "linfit-model"
SCHEMA_VERSION = 2
SUPPORTED_VERSIONS = (1, 2)
#: The intercept's key in mappings shared with the features (R's name; a column may not
#: take it, so no feature can collide with the intercept).
INTERCEPT = "(Intercept)"
#: Least bytes of file per JSON value (counted as commas, colons, brackets and braces): the
#: parsed document then takes under 10× the file's size (tests/test_model_file.py measures
#: it). The files linfit writes have 12 to 15 bytes per value, 8 to 10 when minified.
MIN_BYTES_PER_VALUE = 8
#: Longest integer literal read (a seed has 20 digits at most; longer ones are damage).
MAX_INT_DIGITS = 40
_REFIT = "refit it with linfit fit DATA --save MODEL"


def check_names(features: list[str], target: str, source: str = "the data") -> None:
    """Refuse a feature or target named like the intercept's key (``(Intercept)``)."""
    for name, role in [(f, "feature") for f in features] + [(target, "target")]:
        if name == INTERCEPT:
            raise DataError(
                f"{source}: the {role} column is named {INTERCEPT!r}, the name linfit's "
                "model document gives the intercept; rename that column"
            )


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
    #: The formula's design (terms, levels, coefficient names): predict re-applies it.
    design: Any = None  # design.DesignSpec
    #: fit --diagnostics' summary (outliers, influence, residual tests): reported, not read.
    diagnostics: dict[str, Any] | None = None
    #: The weights column of a weighted fit (R's lm(weights=)), or None.
    weights: str | None = None
    #: The file the model was loaded from, for messages (not part of the document).
    source: str | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        check_names(self.features, self.target)

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
        if self.design is not None:
            doc["formula"] = self.design.to_data()
        if self.diagnostics is not None:
            doc["diagnostics"] = self.diagnostics
        if self.weights is not None:
            doc["weights"] = self.weights
        return finite_or_null(doc)

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_doc(), indent=indent, allow_nan=False)

    def save(self, path: str) -> None:
        """Write the document atomically (temporary file, then rename); a document larger
        than the loader reads (``MAX_MODEL_BYTES``) is refused, not written."""
        text = self.to_json() + "\n"
        size = len(text.encode("utf-8"))
        if size > MAX_MODEL_BYTES:
            raise OutputError(
                f"{path}: the model would take {size / 2**20:.0f} MB, more than the "
                f"{MAX_MODEL_BYTES >> 20} MB a model file may hold (linfit predict would refuse "
                "it); its inference block grows with the square of the features and its "
                "history with the epochs: fit with --no-stats, or log fewer epochs"
            )
        atomic_write_text(path, text)

    @classmethod
    def from_doc(cls, doc: Any, source: str = "model") -> LinearModel:
        """Validate a parsed document and build the model; errors name the file and field."""
        if not isinstance(doc, dict):
            raise ModelFileError(
                f"{source}: not a linfit model (expected a JSON object, found {describe(doc)}); "
                "make one with linfit fit DATA --save MODEL"
            )
        version = check_schema(doc, source, "linfit fit DATA --save MODEL")
        for key in ("target", "features", "w", "b"):
            if key not in doc:
                raise ModelFileError(f"{source}: required field {key!r} is missing; {_REFIT}")
        v = FieldChecker(source)
        features = doc["features"]
        if (
            not isinstance(features, list)
            or not features
            or not all(isinstance(f, str) for f in features)
            or len(set(features)) != len(features)
        ):
            v.fail("features", "a non-empty list of unique column names", features)
        if len(features) > MAX_PARAMS:
            v.fail("features", f"a list of at most {MAX_PARAMS} names", features)
        target = v.typed("target", doc["target"], str, "a column name")
        if INTERCEPT in features or target == INTERCEPT:
            raise ModelFileError(
                f"{source}: a feature or the target is named {INTERCEPT!r}, the name the "
                "model document gives the intercept; rename that column and refit"
            )
        w = v.by_feature("w", doc["w"], features)
        b = v.number("b", doc["b"])
        intercept = v.typed("intercept", doc.get("intercept", True), bool, "true or false")
        center = c = None
        cen = doc.get("center")
        if cen is not None:
            v.typed("center", cen, dict, 'an object {"x": {feature: value}, "y": value}')
            if "y" not in cen:
                v.fail("center", 'an object {"x": {feature: value}, "y": value}', cen)
            center = v.by_feature("center.x", cen.get("x"), features)
            c = v.number("center.y", cen["y"])
        stats = v.optional("stats", doc.get("stats"), dict, "an object")
        if stats is not None:
            stats = _check_stats(v, stats, features, intercept, version)
        inference = v.optional("inference", doc.get("inference"), dict, "an object")
        if inference is not None:
            _check_inference(v, inference, len(features), intercept)
        design = None
        if doc.get("formula") is not None:
            from .design import DesignSpec

            try:
                design = DesignSpec.from_data(doc["formula"])
            except (ValueError, TypeError, RecursionError) as exc:
                v.fail("formula", f"a parsed formula ({exc})", doc["formula"])
            if design.names != list(features):
                v.fail(
                    "formula", "a design whose coefficient names are the features", doc["formula"]
                )
        return cls(
            features=list(features),
            target=target,
            w=w,
            b=b,
            intercept=intercept,
            method=v.typed("method", doc.get("method", "unknown"), str, "a method name"),
            n_samples=v.count("n_samples", doc.get("n_samples", 0)),
            metrics=v.optional("metrics", doc.get("metrics"), dict, "an object") or {},
            center=center,
            c=c,
            solver=v.optional("solver", doc.get("solver"), dict, "an object") or {},
            history=_check_history(v, doc.get("history")),
            stats=stats,
            inference=inference,
            data=v.optional("data", doc.get("data"), dict, "an object") or {},
            design=design,
            weights=v.optional("weights", doc.get("weights"), str, "a column name"),
            source=source,
        )


def check_schema(doc: dict[str, Any], source: str, make: str) -> int:
    """The document's schema version, after checking it is a linfit model of a version this
    linfit reads (``make``: the command that makes one, for the message)."""
    if doc.get("schema") != SCHEMA:
        raise ModelFileError(
            f"{source}: not a linfit model (field 'schema' should be {SCHEMA!r}); make one "
            f"with {make}"
        )
    version = doc.get("schema_version")
    if type(version) is not int or version not in SUPPORTED_VERSIONS:
        raise ModelFileError(
            f"{source}: model schema version {describe(version)} is not one this linfit "
            f"reads ({', '.join(map(str, SUPPORTED_VERSIONS))}); refit it with this version"
        )
    return version


class FieldChecker:
    """Type and shape checks of a document's fields; each failure names the file and field."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, name: str, should: str, value: Any, at: str = "") -> NoReturn:
        raise ModelFileError(
            f"{self.source}: {name!r} holds {describe(value)}, not {should}{at}; the file is "
            f"damaged or was not written by linfit: {_REFIT}"
        )

    def typed(self, name: str, value: Any, kind: type, should: str) -> Any:
        # bool is an int subclass: `type(...) is` keeps true from passing as 1
        ok = isinstance(value, kind) and (kind is bool or not isinstance(value, bool))
        if not ok:
            self.fail(name, should, value)
        return value

    def optional(self, name: str, value: Any, kind: type, should: str) -> Any:
        """``null`` stands for an absent optional field."""
        return None if value is None else self.typed(name, value, kind, should)

    def number(self, name: str, value: Any, null_ok: bool = False, at: str = "") -> float:
        if value is None and null_ok:
            return float("nan")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            try:
                x = float(value)
            except OverflowError:
                x = math.inf
            if math.isfinite(x):
                return x
        self.fail(name, "a finite number" + (" or null" if null_ok else ""), value, at)

    def count(self, name: str, value: Any) -> int:
        if type(value) is not int or value < 0:
            self.fail(name, "a whole number ≥ 0", value)
        return value

    def numbers(self, name: str, value: Any, n: int) -> np.ndarray:
        """A list of exactly ``n`` finite numbers."""
        if not isinstance(value, list) or len(value) != n:
            self.fail(name, f"a list of {n} numbers", value)
        for x in value:
            self.number(name, x)
        return np.array(value, dtype=np.float64)

    def by_feature(self, name: str, value: Any, features: list[str]) -> np.ndarray:
        """An object mapping each feature (and nothing else) to a finite number."""
        if not isinstance(value, dict) or set(value) != set(features):
            self.fail(name, "an object mapping each of the features to a number", value)
        at = " (feature {})".format
        return np.array([self.number(name, value[f], at=at(quote(f))) for f in features])


def _check_stats(
    v: FieldChecker, stats: dict[str, Any], features: list[str], intercept: bool, version: int
) -> dict[str, Any]:
    """``stats`` holds ``coef`` (name → object of numbers) and ``fit`` (an object).

    Version 1 keyed the intercept ``b``; it becomes ``(Intercept)`` here (unless a feature is
    named ``b``: that file's ``b`` entry is the feature's, and the intercept's was lost).
    """
    coef = v.optional("stats.coef", stats.get("coef"), dict, "an object")
    v.optional("stats.fit", stats.get("fit"), dict, "an object")
    if coef is None:
        return stats
    names = ([INTERCEPT] if intercept else []) + features
    if version == 1 and intercept and "b" in coef and "b" not in features:
        coef = {(INTERCEPT if k == "b" else k): e for k, e in coef.items()}
        stats = {**stats, "coef": coef}
    extra = set(coef) - set(names)
    if extra:
        v.fail("stats.coef", "a parameter", sorted(extra)[0], f" ({quote(', '.join(names))})")
    for k, entry in coef.items():
        v.typed(f"stats.coef.{k}", entry, dict, "an object of numbers")
        for stat, x in entry.items():
            v.number(f"stats.coef.{k}.{stat}", x, null_ok=True)
    return stats


def _check_inference(v: FieldChecker, inf: dict[str, Any], p: int, intercept: bool) -> None:
    """The block ``predict --interval`` computes with: shapes must match the features."""
    flag = v.typed("inference.intercept", inf.get("intercept"), bool, "true or false")
    if flag != intercept:
        v.fail("inference.intercept", f"{str(intercept).lower()} (as 'intercept' is)", flag)
    k = p + int(intercept)
    v.numbers("inference.frame_shift", inf.get("frame_shift"), p)
    scale = v.numbers("inference.frame_scale", inf.get("frame_scale"), p)
    if not (scale > 0).all():
        v.fail("inference.frame_scale", "a positive number", float(scale.min()))
    r = inf.get("r")
    square = f"a {k}×{k} upper-triangular matrix (a list of {k} lists of {k} numbers)"
    _check_square(v, "inference.r", r, k, square)
    R = np.array(r, dtype=np.float64)
    if np.tril(R, -1).any() or not np.diag(R).all():
        v.fail("inference.r", square + " with a nonzero diagonal", r)
    sigma = v.number("inference.sigma", inf.get("sigma"), null_ok=True)
    if sigma < 0:
        v.fail("inference.sigma", "a number ≥ 0, or null", sigma)
    v.count("inference.df_resid", inf.get("df_resid"))
    cov = inf.get("cov_frame")
    if cov is not None:  # a robust (HC) covariance in the frame: k×k numbers
        matrix = f"a {k}×{k} matrix (a list of {k} lists of {k} numbers)"
        _check_square(v, "inference.cov_frame", cov, k, matrix)


def _check_square(v: FieldChecker, name: str, value: Any, k: int, should: str) -> None:
    """A k×k matrix of finite numbers, as a list of k lists of k numbers."""
    if not isinstance(value, list) or len(value) != k:
        v.fail(name, should, value)
    for row in value:
        if not isinstance(row, list) or len(row) != k:
            v.fail(name, f"a list of {k} numbers", row, " (as a row)")
        for x in row:
            v.number(name, x)


def _check_history(v: FieldChecker, history: Any) -> list[dict[str, Any]]:
    history = v.optional("history", history, list, "a list of objects") or []
    for entry in history:
        v.typed("history", entry, dict, "an object (as an entry)")
    return history


def describe(value: Any) -> str:
    """A short description of a JSON value for a message (never the whole of a big one)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return quote(value)
    if isinstance(value, (int, float)):
        text = str(value)
        return text if len(text) <= 40 else f"a number of {len(text)} characters"
    if isinstance(value, list):
        return f"a list of {len(value)} item{'' if len(value) == 1 else 's'}"
    if isinstance(value, dict):
        return f"an object with {len(value)} key{'' if len(value) == 1 else 's'}"
    return type(value).__name__


class _Malformed(ValueError):
    """A JSON document linfit refuses although it parses (a duplicate key, a long integer)."""


def _reject_constant(token: str) -> float:
    raise ValueError(f"non-finite number {token}")


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise _Malformed(f"it holds an integer of {len(text.lstrip('-'))} digits")
    return int(text)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                break
            seen.add(key)
        raise _Malformed(f"the key {quote(key)} appears twice in one object")
    return obj


def read_model_text(path: str) -> str:
    """The model file's text: at most ``MAX_MODEL_BYTES`` read, UTF-8 (a BOM is skipped)."""
    import os
    import stat

    limit = f"{MAX_MODEL_BYTES >> 20} MB"
    too_big = (
        f"{path} is larger than {limit}, the most a model file may be (a model is kilobytes, "
        "one with a long history a few MB); is it a linfit model?"
    )
    try:
        with open(path, "rb") as fh:
            st = os.fstat(fh.fileno())
            if stat.S_ISDIR(st.st_mode):
                raise IsADirectoryError
            if stat.S_ISREG(st.st_mode) and st.st_size > MAX_MODEL_BYTES:
                raise ModelFileError(too_big)
            data = fh.read(MAX_MODEL_BYTES + 1)  # a device or FIFO has no size: read the cap
    except FileNotFoundError:
        raise ModelFileError(
            f"{path}: no such model file; make one with linfit fit DATA --save {path}"
        ) from None
    except IsADirectoryError:
        raise ModelFileError(
            f"{path} is a directory, not a model file; give the file linfit fit --save wrote"
        ) from None
    except PermissionError:
        raise ModelFileError(f"{path}: permission denied; check the file's permissions") from None
    except OSError as exc:
        why = exc.strerror or exc
        raise ModelFileError(f"{path}: cannot read the model file ({why})") from None
    if len(data) > MAX_MODEL_BYTES:
        raise ModelFileError(too_big)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ModelFileError(
            f"{path}: not a linfit model (byte {exc.start} is not UTF-8 text); make one with "
            "linfit fit DATA --save MODEL"
        ) from None


def parse_model_text(text: str, source: str) -> Any:
    """Parse JSON within bounds: values per byte, integer length, depth, unique keys."""
    if not text.strip():
        raise ModelFileError(
            f"{source} is empty; make a model with linfit fit DATA --save {source}"
        )
    values = text.count(",") + text.count(":") + text.count("[") + text.count("{")
    if values > 1000 + len(text) // MIN_BYTES_PER_VALUE:
        raise ModelFileError(
            f"{source}: not a linfit model ({values} JSON values in {len(text)} bytes, far "
            "more than a model holds); make one with linfit fit DATA --save MODEL"
        )
    try:
        return json.loads(
            text,
            parse_constant=_reject_constant,
            parse_int=_parse_int,
            object_pairs_hook=_unique_keys,
        )
    except RecursionError:
        why = "its arrays or objects are nested too deeply"
    except _Malformed as exc:
        why = str(exc)
    except ValueError as exc:
        raise ModelFileError(
            f"{source}: not valid JSON ({exc}); is it a linfit model? Make one with linfit fit "
            "DATA --save MODEL"
        ) from None
    raise ModelFileError(f"{source}: not a linfit model ({why}); {_REFIT}")


def load_model(path: str) -> LinearModel:
    """Read and validate a model file (JSON only: nothing is executed)."""
    return LinearModel.from_doc(parse_model_text(read_model_text(path), path), path)


def finite_or_null(obj: Any) -> Any:
    """Replace NaN/inf (which JSON cannot hold) by null, recursively."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, np.floating):
        v = float(obj)
        return v if math.isfinite(v) else None
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, dict):
        return {k: finite_or_null(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite_or_null(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return finite_or_null(obj.tolist())
    return obj
