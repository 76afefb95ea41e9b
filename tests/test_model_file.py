"""The model file: the intercept's key (schema 2), reading version-1 files, and a corpus of
damaged files that `linfit predict` must refuse with one line (exit 6)."""

from __future__ import annotations

import copy
import io
import json
import os
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import linfit
from linfit.errors import DataError, ModelFileError, OutputError
from linfit.limits import MAX_MODEL_BYTES
from linfit.model import INTERCEPT, SCHEMA_VERSION, load_model, parse_model_text

from .conftest import run_cli

V1 = Path(__file__).resolve().parent / "data" / "model_v1"


def _errors(proc) -> list[str]:
    return [ln for ln in proc.stderr.splitlines() if ln.startswith("Error:")]


# -- the intercept's key -----------------------------------------------------------------
def test_feature_named_b_keeps_its_own_statistics_and_the_intercepts(tmp_path):
    """Columns named b, w and intercept: four coefficients, four sets of statistics."""
    sm = pytest.importorskip("statsmodels.api")
    data = V1 / "collide.csv"
    proc = run_cli("fit", data, "--save", tmp_path / "m.json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads((tmp_path / "m.json").read_text())
    assert doc["schema_version"] == SCHEMA_VERSION == 2
    coef = doc["stats"]["coef"]
    assert list(coef) == [INTERCEPT, "b", "w", "intercept"]
    frame = pd.read_csv(data)
    X = frame[["b", "w", "intercept"]].to_numpy()
    ref = sm.OLS(frame["y"].to_numpy(), sm.add_constant(X)).fit()
    for i, name in enumerate(coef):
        assert coef[name]["estimate"] == pytest.approx(ref.params[i], rel=1e-10)
        assert coef[name]["se"] == pytest.approx(ref.bse[i], rel=1e-8)
    # the top-level fields keep their meaning: w maps feature → coefficient, b is the intercept
    assert doc["b"] == coef[INTERCEPT]["estimate"]
    assert doc["w"]["b"] == coef["b"]["estimate"]
    # the table's intercept row shows the intercept's standard error, not the feature's
    row = next(ln for ln in proc.stdout.splitlines() if "b (intercept)" in ln).split()
    assert row[:2] == ["b", "(intercept)"]
    assert float(row[3]) == pytest.approx(ref.bse[0], rel=1e-5)  # shown to 6 digits
    assert float(row[3]) != pytest.approx(ref.bse[1], rel=1e-2)


@pytest.mark.parametrize(
    "args", [["--x", "(Intercept)", "--y", "y"], ["--x", "y", "--y", "(Intercept)"]]
)
def test_a_column_named_like_the_intercept_is_refused(tmp_path, args):
    data = tmp_path / "d.csv"
    data.write_text("(Intercept),y\n1,2\n2,3.5\n3,5.1\n4,6\n")
    proc = run_cli("fit", data, *args)
    assert proc.returncode == 4, proc.stderr
    errors = _errors(proc)
    assert len(errors) == 1 and "'(Intercept)'" in errors[0] and "rename" in errors[0]
    assert "Traceback" not in proc.stderr


def test_library_refuses_the_intercepts_name():
    with pytest.raises(DataError, match="Intercept"):
        linfit.fit_arrays(np.arange(5.0), np.arange(5.0) ** 2, features=[INTERCEPT])


def test_version_2_round_trip(tmp_path):
    m = linfit.fit(str(V1 / "collide.csv"))
    m.save(str(tmp_path / "m.json"))
    loaded = load_model(str(tmp_path / "m.json"))
    assert loaded.to_doc() == m.to_doc()
    assert loaded.stats["coef"][INTERCEPT]["se"] != loaded.stats["coef"]["b"]["se"]


def test_a_model_larger_than_the_loader_reads_is_not_saved(tmp_path, monkeypatch):
    """What --save writes, predict must read: both use MAX_MODEL_BYTES."""
    import linfit.model as model_module

    m = linfit.fit(str(V1 / "data.csv"))
    path = tmp_path / "m.json"
    size = len(m.to_json()) + 1
    monkeypatch.setattr(model_module, "MAX_MODEL_BYTES", size)
    m.save(str(path))  # exactly at the limit: written, and read back
    assert load_model(str(path)).to_doc() == m.to_doc()
    monkeypatch.setattr(model_module, "MAX_MODEL_BYTES", size - 1)
    path.unlink()
    with pytest.raises(OutputError, match="--no-stats"):
        m.save(str(path))
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ModelFileError, match="larger than"):
        path.write_text(m.to_json() + "\n")
        load_model(str(path))


# -- version 1 -------------------------------------------------------------------------------
V1_RUNS = [  # model, data, extra arguments, the output version 1 wrote
    ("model.json", "data.csv", [], "pred.csv"),
    ("model.json", "data.csv", ["--interval", "prediction"], "pred_prediction.csv"),
    (
        "model.json",
        "data.csv",
        ["--interval", "confidence", "--level", "0.9"],
        "pred_confidence90.csv",
    ),
    ("model_nostats.json", "data.csv", [], "pred_nostats.csv"),
    ("model_gd.json", "data.csv", [], "pred_gd.csv"),
    ("model_noint.json", "data.csv", ["--interval", "confidence"], "pred_noint_confidence.csv"),
    (
        "model_collide.json",
        "collide.csv",
        ["--interval", "prediction"],
        "pred_collide_prediction.csv",
    ),
]


@pytest.mark.parametrize(("model", "data", "extra", "expected"), V1_RUNS, ids=lambda v: str(v))
def test_version_1_files_predict_as_before(model, data, extra, expected):
    proc = run_cli("predict", V1 / model, V1 / data, *extra)
    assert proc.returncode == 0, proc.stderr
    assert json.loads((V1 / model).read_text())["schema_version"] == 1
    got = pd.read_csv(io.StringIO(proc.stdout), dtype=str, keep_default_na=False)
    want = pd.read_csv(V1 / expected, dtype=str, keep_default_na=False)
    assert list(got.columns) == list(want.columns)
    data_cols = list(pd.read_csv(V1 / data, nrows=0).columns)
    pd.testing.assert_frame_equal(got[data_cols], want[data_cols])  # the text, unchanged
    new = [c for c in want.columns if c not in data_cols]
    np.testing.assert_allclose(
        got[new].to_numpy(float), want[new].to_numpy(float), rtol=1e-13, atol=0
    )


def test_version_1_statistics_are_renamed_on_loading():
    m = load_model(str(V1 / "model.json"))
    v1 = json.loads((V1 / "model.json").read_text())["stats"]["coef"]
    assert list(m.stats["coef"]) == [INTERCEPT, "x1", "x2", "x3"]
    assert m.stats["coef"][INTERCEPT] == v1["b"]
    assert m.to_doc()["schema_version"] == 2
    # in a version-1 file with a feature named b, the `b` entry is the feature's (the
    # intercept's was overwritten when it was written): it stays the feature's
    c = load_model(str(V1 / "model_collide.json"))
    assert list(c.stats["coef"]) == ["b", "w", "intercept"]
    assert c.stats["coef"]["b"]["estimate"] == c.w[0]


# -- damaged model files ---------------------------------------------------------------------
def _base() -> dict:
    """A version-2 document with stats and an inference block (features x1, x2, x3)."""
    return load_model(str(V1 / "model.json")).to_doc()


def _doc(mutate):
    def make(path: Path) -> Path:
        doc = copy.deepcopy(_base())
        mutate(doc)
        path.write_text(json.dumps(doc, indent=2))
        return path

    return make


def _text(fn):
    def make(path: Path) -> Path:
        body = fn(json.dumps(_base(), indent=2))
        path.write_bytes(body if isinstance(body, bytes) else body.encode())
        return path

    return make


def _set(*keys_and_value):
    *keys, value = keys_and_value

    def mutate(doc):
        for k in keys[:-1]:
            doc = doc[k]
        doc[keys[-1]] = value

    return mutate


def _drop(*keys):
    def mutate(doc):
        for k in keys[:-1]:
            doc = doc[k]
        del doc[keys[-1]]

    return mutate


def _r(fn):
    def mutate(doc):
        doc["inference"]["r"] = fn(doc["inference"]["r"])

    return _doc(mutate)


def _oversized(path: Path) -> Path:
    with open(path, "wb") as fh:  # sparse: no disk is used
        fh.truncate(MAX_MODEL_BYTES + 1)
    return path


def _directory(path: Path) -> Path:
    path.mkdir()
    return path


def _loop(path: Path) -> Path:
    other = path.with_name("other.json")
    os.symlink(other, path)
    os.symlink(path, other)
    return path


DEEP = "[       " * 100_000 + "]" * 100_000  # spaced, so that the values-per-byte check passes
DIGITS_401 = "1" + "0" * 400

CORRUPT = [  # id, how to make the file, what the one error line must say
    ("empty", _text(lambda t: ""), "is empty"),
    ("whitespace only", _text(lambda t: "  \n\t\n"), "is empty"),
    ("not JSON", _text(lambda t: "w = 1.7\n"), "not valid JSON"),
    ("truncated", _text(lambda t: t[: len(t) // 2]), "not valid JSON"),
    ("NaN", _text(lambda t: t.replace('"b": 12.01', '"b": NaN, "_": 12.01', 1)), "NaN"),
    ("b beyond a float (1e400)", _doc(_set("b", "__INF__")), "'b'"),
    ("deep nesting", _text(lambda t: DEEP), "nested too deeply"),
    ("deep nesting, packed", _text(lambda t: "[" * 100_000 + "]" * 100_000), "JSON values"),
    ("deep nesting in a field", _doc(_set("data", "__DEEP__")), "nested too deeply"),
    ("401-digit integer", _doc(_set("n_samples", "__401__")), "401 digits"),
    (
        "5000-digit integer",
        _text(lambda t: t.replace('"n_samples": 2000', '"n_samples": ' + "9" * 5000)),
        "5000 digits",
    ),
    ("duplicate key", _text(lambda t: t.replace('"b":', '"w": {}, "b":', 1)), "'w' appears twice"),
    ("a top-level list", _text(lambda t: "[1, 2]"), "expected a JSON object"),
    ("wrong schema", _doc(_set("schema", "other")), "'schema'"),
    ("schema_version true", _doc(_set("schema_version", True)), "schema version true"),
    ("schema_version string", _doc(_set("schema_version", "2")), "schema version '2'"),
    ("schema_version 99", _doc(_set("schema_version", 99)), "schema version 99"),
    ("b missing", _doc(_drop("b")), "'b'"),
    ("b a string", _doc(_set("b", "12")), "'b'"),
    ("b a list", _doc(_set("b", [1.0])), "'b'"),
    ("w a string coefficient", _doc(_set("w", "x2", "1.7")), "feature 'x2'"),
    ("w missing a feature", _doc(_drop("w", "x3")), "'w'"),
    ("features not a list", _doc(_set("features", "x1")), "'features'"),
    ("features duplicated", _doc(_set("features", ["x1", "x1", "x3"])), "'features'"),
    ("feature named (Intercept)", _doc(_set("features", ["x1", "x2", INTERCEPT])), INTERCEPT),
    ("target a number", _doc(_set("target", 5)), "'target'"),
    ("intercept a string", _doc(_set("intercept", "yes")), "'intercept'"),
    ("intercept a number", _doc(_set("intercept", 1)), "'intercept'"),
    ("n_samples a string", _doc(_set("n_samples", "2000")), "'n_samples'"),
    ("n_samples a float", _doc(_set("n_samples", 2000.5)), "'n_samples'"),
    ("n_samples negative", _doc(_set("n_samples", -1)), "'n_samples'"),
    ("n_samples 1e400", _doc(_set("n_samples", "__INF__")), "'n_samples'"),
    ("method a number", _doc(_set("method", 3)), "'method'"),
    ("metrics a list", _doc(_set("metrics", [1])), "'metrics'"),
    ("center a string", _doc(_set("center", "middle")), "'center'"),
    ("center missing y", _doc(_drop("center", "y")), "'center'"),
    ("center.x missing a feature", _doc(_drop("center", "x", "x1")), "'center.x'"),
    ("solver a string", _doc(_set("solver", "lstsq")), "'solver'"),
    ("history an object", _doc(_set("history", {"epoch": 1})), "'history'"),
    ("history of numbers", _doc(_set("history", [1, 2])), "'history'"),
    ("data a list", _doc(_set("data", [])), "'data'"),
    ("stats a list", _doc(_set("stats", [])), "'stats'"),
    ("stats.coef a string", _doc(_set("stats", "coef", "x")), "'stats.coef'"),
    ("stats.coef unknown name", _doc(_set("stats", "coef", "zz", {})), "'stats.coef'"),
    ("stats.coef a string se", _doc(_set("stats", "coef", "x1", "se", "0.1")), "stats.coef.x1.se"),
    ("stats.fit a number", _doc(_set("stats", "fit", 3)), "'stats.fit'"),
    ("inference a list", _doc(_set("inference", [])), "'inference'"),
    ("inference.intercept missing", _doc(_drop("inference", "intercept")), "inference.intercept"),
    (
        "inference.intercept wrong",
        _doc(_set("inference", "intercept", False)),
        "inference.intercept",
    ),
    ("inference.r missing", _doc(_drop("inference", "r")), "'inference.r'"),
    ("inference.r a row short", _r(lambda r: r[:-1]), "'inference.r'"),
    ("inference.r ragged", _r(lambda r: [r[0][:-1]] + r[1:]), "'inference.r'"),
    ("inference.r a string", _r(lambda r: [["1"] * len(r)] + r[1:]), "'inference.r'"),
    ("inference.r not triangular", _r(lambda r: [r[0], [1.0] * len(r)] + r[2:]), "'inference.r'"),
    ("inference.r zero diagonal", _r(lambda r: r[:-1] + [[0.0] * len(r)]), "'inference.r'"),
    ("inference.r one number", _r(lambda r: 1.0), "'inference.r'"),
    ("frame_shift short", _doc(_set("inference", "frame_shift", [0.0])), "inference.frame_shift"),
    (
        "frame_scale zero",
        _doc(_set("inference", "frame_scale", [0.0] * 3)),
        "inference.frame_scale",
    ),
    ("sigma a string", _doc(_set("inference", "sigma", "1")), "inference.sigma"),
    ("sigma negative", _doc(_set("inference", "sigma", -1.0)), "inference.sigma"),
    ("df_resid a float", _doc(_set("inference", "df_resid", 1.5)), "inference.df_resid"),
    ("df_resid negative", _doc(_set("inference", "df_resid", -3)), "inference.df_resid"),
    ("not UTF-8", _text(lambda t: t.encode().replace(b'"y"', b'"\xff"', 1)), "not UTF-8"),
    ("UTF-16", _text(lambda t: t.encode("utf-16")), "not UTF-8"),
    (
        "too many values",
        _text(lambda t: t.replace('"b":', f'"pad": [{"1," * 200_000}1], "b":', 1)),
        "JSON values",
    ),
    ("larger than the cap", _oversized, "larger than 64 MB"),
    ("/dev/zero", lambda p: Path("/dev/zero"), "larger than 64 MB"),
    ("/dev/urandom", lambda p: Path("/dev/urandom"), "larger than 64 MB"),
    ("a directory", _directory, "is a directory"),
    ("a symlink loop", _loop, "symbolic links"),
    ("missing", lambda p: p, "no such model file"),
]
SPECIAL = {'"__INF__"': "1e400", '"__401__"': DIGITS_401, '"__DEEP__"': DEEP}


@pytest.mark.parametrize(("case", "make", "says"), CORRUPT, ids=[c[0] for c in CORRUPT])
def test_damaged_model_is_one_error_line(tmp_path, case, make, says):
    model = make(tmp_path / "m.json")
    if model.is_file() and model.stat().st_size < 1 << 24:
        text = model.read_bytes()
        for token, literal in SPECIAL.items():
            text = text.replace(token.encode(), literal.encode())
        model.write_bytes(text)
    data = tmp_path / "d.csv"
    data.write_text("x1,x2,x3,y\n1,2,3,4\n")
    proc = run_cli("predict", model, data, "--interval", "prediction")
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 6, proc.stderr
    errors = _errors(proc)
    assert len(errors) == 1 and proc.stderr.strip() == errors[0], proc.stderr
    assert errors[0].startswith(f"Error: {model}"), errors[0]
    assert says in errors[0], errors[0]
    assert "internal error" not in errors[0]
    assert len(errors[0]) < 600  # no value is pasted whole into the message
    assert proc.stdout == ""


def test_at_least_thirty_kinds_of_damage():
    assert len(CORRUPT) >= 30


def test_byte_order_mark_is_read(tmp_path):
    m = tmp_path / "m.json"
    m.write_bytes(b"\xef\xbb\xbf" + (V1 / "model.json").read_bytes())
    proc = run_cli("predict", m, V1 / "data.csv")
    assert proc.returncode == 0, proc.stderr
    got = pd.read_csv(io.StringIO(proc.stdout))["y_pred"]
    want = pd.read_csv(V1 / "pred.csv")["y_pred"]
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=0)


def test_model_read_from_a_fifo(tmp_path):
    """A FIFO has no size: the loader reads it to its end (within the cap)."""
    import threading

    fifo = tmp_path / "m.json"
    os.mkfifo(fifo)
    body = (V1 / "model.json").read_bytes()

    def feed():
        with open(fifo, "wb") as fh:
            fh.write(body)

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    proc = run_cli("predict", fifo, V1 / "data.csv", "--interval", "prediction")
    writer.join(timeout=10)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0].endswith("y_pred,y_pred_lower,y_pred_upper")


def test_missing_inference_names_the_file_and_the_way_to_get_one():
    model = V1 / "model_nostats.json"
    proc = run_cli("predict", model, V1 / "data.csv", "--interval", "confidence")
    assert proc.returncode == 6
    (line,) = _errors(proc)
    assert line.startswith(f"Error: {model} has no 'inference' block") and "--stats" in line


# -- memory: what a file within the limits may cost to parse --------------------------------
@pytest.mark.parametrize(
    "unit",
    ['"abcde"', "0.00001", "[1.0000000000000]", '{"k": 1.000000000000000000}', "[{}]", "{}"],
)
def test_parsed_document_stays_within_ten_times_the_text(unit):
    """An array of small values, packed as tightly as the loader allows (or refused)."""
    n = 1 << 22
    text = "[" + ",".join([unit] * (n // (len(unit) + 1))) + "]"
    tracemalloc.start()
    try:
        parse_model_text(text, "m")
    except ModelFileError as exc:
        assert "JSON values" in str(exc)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 9 * len(text)  # plus the text itself: under 10×
