"""predict (round trip, row accounting, model files, intervals) and compare (--check)."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest

import linfit
from linfit.model import LinearModel, load_model
from linfit.predict import predict_csv

from .conftest import SAMPLE_FILES, SAMPLES, run_cli


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=[p.name for p in SAMPLE_FILES])
def test_round_trip_reproduces_fit_predictions(tmp_path, path):
    model_path = tmp_path / "m.json"
    proc = run_cli("fit", path, "--save", model_path, "--quiet")
    assert proc.returncode == 0, proc.stderr
    # the saved document is the one --format json prints
    printed = json.loads(run_cli("fit", path, "--json").stdout)
    saved = json.loads(model_path.read_text())
    assert printed == saved
    out = tmp_path / "pred.csv"
    proc = run_cli("predict", model_path, path, "-o", out)
    assert proc.returncode == 0, proc.stderr
    got = pd.read_csv(out)
    data = pd.read_csv(path)
    assert len(got) == len(data)
    pd.testing.assert_frame_equal(got[data.columns], data)  # all columns, same order
    model = linfit.fit(str(path))
    own = model.predict(data[model.features].to_numpy())
    np.testing.assert_allclose(got[f"{model.target}_pred"], own, rtol=1e-12, atol=0)
    # and the model reloads to the same numbers
    loaded = load_model(str(model_path))
    np.testing.assert_array_equal(loaded.w, model.w)
    assert loaded.b == model.b


def test_missing_values_and_trailing_blank_line(tmp_path):
    m = tmp_path / "m.json"
    run_cli("fit", SAMPLES / "multi_feature.csv", "--save", m, "--quiet")
    data = tmp_path / "d.csv"
    data.write_text("id,x1,x2,x3\na,1,2,3\nb,,2,3\nc,4,NA,6\nd,7,8,9\n\n")
    proc = run_cli("predict", m, data)
    assert proc.returncode == 0
    rows = proc.stdout.strip().splitlines()
    assert rows[0] == "id,x1,x2,x3,y_pred"
    assert len(rows) == 1 + 4
    assert rows[2] == "b,,2,3," and rows[3] == "c,4,NA,6,"
    assert "2 of 4 rows have a missing feature value (first at line 3)" in proc.stderr
    model = load_model(str(m))
    assert float(rows[1].split(",")[-1]) == pytest.approx(model.predict([[1, 2, 3]])[0], rel=1e-15)


def test_predict_stdin_json_lines_and_column(tmp_path):
    m = tmp_path / "m.json"
    run_cli("fit", SAMPLES / "tutorial_points.csv", "--save", m, "--quiet")
    proc = run_cli(
        "predict", m, "-", "--format", "json", "--column", "yhat", input="x,y,label\n10,1,a\n,2,b\n"
    )
    assert proc.returncode == 0, proc.stderr
    recs = [json.loads(line) for line in proc.stdout.splitlines()]
    # input cells stay text, whatever the column; the prediction is a number (null: none)
    assert recs == [
        {"x": "10", "y": "1", "label": "a", "yhat": pytest.approx(17.0, rel=1e-14)},
        {"x": "", "y": "2", "label": "b", "yhat": None},
    ]


def test_predict_score(tmp_path):
    m = tmp_path / "m.json"
    run_cli("fit", SAMPLES / "noisy_line.csv", "--save", m, "--quiet")
    proc = run_cli("predict", m, SAMPLES / "noisy_line.csv", "--score", "-o", tmp_path / "o.csv")
    assert proc.returncode == 0
    fit = json.loads(m.read_text())["metrics"]
    line = next(ln for ln in proc.stderr.splitlines() if ln.startswith("score"))
    assert f"R² {fit['r2']:.10g}" in line
    assert f"MSE {fit['mse']:.10g}" in line


def test_predict_output_is_atomic_and_keeps_old_file_on_error(tmp_path):
    m = tmp_path / "m.json"
    run_cli("fit", SAMPLES / "tutorial_points.csv", "--save", m, "--quiet")
    out = tmp_path / "out.csv"
    out.write_text("precious\n")
    bad = tmp_path / "bad.csv"
    bad.write_text("x,y\n1,2\n" + "3,4\n" * 100_000 + "oops,5\n")
    proc = run_cli("predict", m, bad, "-o", out)
    assert proc.returncode == 4
    assert out.read_text() == "precious\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv", "m.json", "out.csv"]


def test_predict_in_chunks_matches_whole(tmp_path):
    model = linfit.fit(str(SAMPLES / "noisy_line.csv"))
    whole, chunked = io.StringIO(), io.StringIO()
    predict_csv(model, str(SAMPLES / "noisy_line.csv"), whole)
    predict_csv(model, str(SAMPLES / "noisy_line.csv"), chunked, chunk_rows=333)
    assert whole.getvalue() == chunked.getvalue()


def test_model_loading_never_executes_code(tmp_path):
    doc = {
        "schema": "linfit-model",
        "schema_version": 1,
        "target": "y",
        "features": ["x"],
        "w": {"x": 1.0},
        "b": 0.0,
        "__reduce__": "os.system('touch pwned')",
    }
    p = tmp_path / "m.json"
    p.write_text(json.dumps(doc))
    m = load_model(str(p))
    assert isinstance(m, LinearModel) and not (tmp_path / "pwned").exists()


def test_compare_check_passes_on_samples_and_fails_with_few_epochs():
    for path in SAMPLE_FILES:
        proc = run_cli("compare", path, "--check")
        assert proc.returncode == 0, (path, proc.stderr)
    proc = run_cli("compare", SAMPLES / "multi_feature.csv", "--check", "--epochs", "5")
    assert proc.returncode == 1
    err = [ln for ln in proc.stderr.splitlines() if ln.startswith("Error:")]
    assert len(err) == 1 and "gd (" in err[0] and "torch (" in err[0]


def test_compare_json_and_failed_method():
    proc = run_cli(
        "compare",
        SAMPLES / "noisy_line.csv",
        "--json",
        "--methods",
        "lstsq,gd,torch",
        "--device",
        "cuda",
    )
    docs = json.loads(proc.stdout)
    assert [d["method"] for d in docs] == ["lstsq", "gd", "torch"]
    assert docs[0]["max_abs_diff"] == 0.0
    assert docs[1]["max_abs_diff"] < 1e-3 and docs[1]["wall_time_s"] >= 0
    import torch

    if not torch.cuda.is_available():
        assert docs[2]["error"].startswith("--device cuda was asked for")
        assert proc.returncode == 1  # a method failed; the others still ran
    assert "schema" in docs[0] and docs[0]["w"]["x"] == pytest.approx(2.5, rel=1e-2)


def test_predict_keeps_the_inputs_delimiter_and_decimal_mark(tmp_path):
    m = tmp_path / "m.json"
    run_cli("fit", SAMPLES / "multi_feature.csv", "--save", m, "--quiet")
    model = load_model(str(m))
    data = tmp_path / "d.csv"
    data.write_text("id;x1;x2;x3\na;10,0025;-0,977;3,156\nb;;1;2\nc;1;2,5;-3\n")
    proc = run_cli("predict", m, data, "--sep", ";", "--decimal", ",", "--interval", "confidence")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "id;x1;x2;x3;y_pred;y_pred_lower;y_pred_upper"
    assert lines[1].startswith("a;10,0025;-0,977;3,156;") and lines[2] == "b;;1;2;;;"
    for line, x in ((lines[1], [10.0025, -0.977, 3.156]), (lines[3], [1, 2.5, -3])):
        cells = line.split(";")[4:]
        assert all("," in c and "." not in c for c in cells)
        pred, lo, hi = (float(c.replace(",", ".")) for c in cells)
        assert pred == pytest.approx(model.predict([x])[0], rel=1e-14)
        assert lo < pred < hi


def test_predictions_are_written_in_full(tmp_path):
    """Each prediction is the shortest text that reads back to the same float64 (repr)."""
    m = tmp_path / "m.json"
    run_cli("fit", SAMPLES / "multi_feature.csv", "--save", m, "--quiet")
    out = tmp_path / "p.tsv"
    src = tmp_path / "d.tsv"
    src.write_text((SAMPLES / "multi_feature.csv").read_text().replace(",", "\t"))
    proc = run_cli("predict", m, src, "-o", out, "--interval", "prediction")
    assert proc.returncode == 0, proc.stderr
    rows = out.read_text().splitlines()
    assert rows[0] == "x1\tx2\tx3\ty\ty_pred\ty_pred_lower\ty_pred_upper"
    cells = [c for row in rows[1:] for c in row.split("\t")[4:]]
    assert len(cells) == 3 * 2000 and all(c == repr(float(c)) for c in cells)
    assert max(len(c) for c in cells) >= 17  # digits beyond pandas' or %g's defaults


def test_predict_json_types(tmp_path):
    """JSON Lines: every input cell is its text (a string, whatever the column); prediction
    columns are numbers, or null where no prediction was made."""
    m = tmp_path / "m.json"
    run_cli("fit", SAMPLES / "multi_feature.csv", "--save", m, "--quiet")
    data = "x1,x2,x3,y,note\n1.50,2,3e0,,x\n,1,1,2,\n"
    proc = run_cli("predict", m, "-", "-f", "json", "--interval", "prediction", input=data)
    assert proc.returncode == 0, proc.stderr
    a, b = (json.loads(line) for line in proc.stdout.splitlines())
    assert [a[k] for k in ("x1", "x2", "x3", "y", "note")] == ["1.50", "2", "3e0", "", "x"]
    assert [b[k] for k in ("x1", "x2", "x3", "y", "note")] == ["", "1", "1", "2", ""]
    assert all(isinstance(a[k], float) for k in ("y_pred", "y_pred_lower", "y_pred_upper"))
    assert a["y_pred_lower"] < a["y_pred"] < a["y_pred_upper"]
    assert b["y_pred"] is None and b["y_pred_lower"] is None and b["y_pred_upper"] is None
    assert a["y_pred"] == pytest.approx(load_model(str(m)).predict([[1.5, 2, 3]])[0], rel=1e-14)
