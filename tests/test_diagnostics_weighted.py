"""Diagnostics of weighted fits (--weights) against R's lm(..., weights =) on real data sets:
mtcars (weights hp; with a factor(cyl) term; weights am, 19 of them 0; no intercept), iris (a
text factor, weights Sepal.Width) and airquality (rows with a missing value, weights Day).

The references are R 4.2's, made by tests/data/r/diagnostics_weighted_references.R (its R code
is there, beside the numbers it writes to tests/data/r/diagnostics_weighted_references.json, 17
significant digits): residuals(), hatvalues(), rstandard(), rstudent(), cooks.distance() of
lm(..., weights = w, na.action = na.exclude), and Durbin–Watson, Jarque–Bera and Breusch–Pagan
(Koenker) of the weighted residuals √w·e of the rows of nonzero weight, by R's own lines.
Agreement is checked to 1e-8 relative.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from .conftest import run_cli
from .test_diagnostics import _check_statistics, _close, _fit_args, _target

R = Path(__file__).parent / "data" / "r"
REFS = json.loads((R / "diagnostics_weighted_references.json").read_text())
IDS = [f"{r['model']} | {r['weights']}" for r in REFS]


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    out = {}
    for ref, name in zip(REFS, IDS):
        path = tmp_path_factory.mktemp("m") / "model.json"
        args = (*_fit_args(ref), "--weights", ref["weights"], "--save", path, "-q")
        proc = run_cli("fit", R / ref["file"], *args)
        assert proc.returncode == 0, proc.stderr
        out[name] = path
    return out


def _check_rows(got: pd.DataFrame, ref: dict) -> None:
    target = _target(ref)
    fitted = np.array([r is not None for r in ref["resid"]])
    for c in ("resid", "rstandard", "rstudent", "cooks"):
        _close(got[f"{target}_{c}"], ref[c], f"{ref['model']}: {c}")
    # R's na.exclude pads hatvalues with 0 where a value is missing; linfit gives those rows
    # their leverage, or none. A zero-weight row has none in both (R's lm.influence drops it).
    h = got[f"{target}_hat"].to_numpy()
    _close(h[fitted], np.asarray(ref["hat"], dtype=object)[fitted], f"{ref['model']}: hat")


@pytest.mark.parametrize("ref", REFS, ids=IDS)
def test_predict_diagnostics_equal_r(ref, models):
    name = f"{ref['model']} | {ref['weights']}"
    proc = run_cli("predict", models[name], R / ref["file"], "--diagnostics")
    assert proc.returncode == 0, proc.stderr
    assert "weight 1" not in proc.stderr  # the weights column was read
    got = pd.read_csv(io.StringIO(proc.stdout), keep_default_na=False, na_values=[""])
    assert len(got) == len(ref["resid"])
    _check_rows(got, ref)


@pytest.mark.parametrize("ref", REFS, ids=IDS)
def test_fit_diagnostics_file_and_checks_equal_r(ref, tmp_path):
    out = tmp_path / "diag.csv"
    args = (*_fit_args(ref), "--weights", ref["weights"], "--diagnostics", out, "--json", "-q")
    proc = run_cli("fit", R / ref["file"], *args)
    assert proc.returncode == 0, proc.stderr
    got = pd.read_csv(out, keep_default_na=False, na_values=[""])
    assert got["line"].tolist() == list(range(2, len(ref["resid"]) + 2))
    _check_rows(got, ref)
    d = json.loads(proc.stdout)["diagnostics"]
    assert d["n"] == ref["n"]  # rows of nonzero weight, as weighted.residuals keeps them
    assert d["residuals"] == "weighted"
    _check_statistics(d, ref)
    t = np.array([np.nan if v is None else v for v in ref["rstudent"]])
    cook = np.array([np.nan if v is None else v for v in ref["cooks"]])
    assert d["cooks_cut"] == pytest.approx(4 / ref["n"])
    assert d["rstudent_over"] == int((np.abs(t) > 3).sum())
    assert d["cooks_over"] == int((cook > 4 / ref["n"]).sum())
    assert d["worst"][0]["line"] == int(np.nanargmax(cook)) + 2
    assert d["worst"][0]["cooks"] == pytest.approx(np.nanmax(cook), rel=1e-8)


def test_new_data_without_the_weights_column_gets_weight_1(tmp_path, models):
    """Rows without a weight are measured as rows of weight 1 (as R's predict.lm gives new
    rows): h = x(XᵀWX)⁻¹xᵀ, from scratch with numpy; a note says so."""
    ref = REFS[0]  # mpg ~ wt + qsec, weights hp
    d = pd.read_csv(R / ref["file"])
    d.drop(columns=["hp"]).to_csv(tmp_path / "new.csv", index=False)
    proc = run_cli("predict", models[IDS[0]], tmp_path / "new.csv", "--diagnostics")
    assert proc.returncode == 0, proc.stderr
    assert "no weights column 'hp'" in proc.stderr and "weight 1" in proc.stderr
    got = pd.read_csv(io.StringIO(proc.stdout))
    X = np.column_stack([np.ones(len(d)), d[["wt", "qsec"]].to_numpy(float)])
    w = d["hp"].to_numpy(float)
    G = np.linalg.inv(X.T @ (w[:, None] * X))
    np.testing.assert_allclose(got["mpg_hat"], np.einsum("ij,jk,ik->i", X, G, X), rtol=1e-8)
    e = got["mpg_resid"].to_numpy()
    np.testing.assert_allclose(e, np.asarray(ref["resid"]), rtol=1e-8)
    sigma = json.loads(Path(models[IDS[0]]).read_text())["inference"]["sigma"]
    h = got["mpg_hat"].to_numpy()
    np.testing.assert_allclose(got["mpg_rstandard"], e / (sigma * np.sqrt(1 - h)), rtol=1e-8)


def test_missing_and_negative_weights_in_new_data(tmp_path, models):
    d = pd.read_csv(R / "mtcars.csv")
    d["hp"] = d["hp"].astype(object)
    d.loc[4, "hp"] = "NA"  # line 6
    d.to_csv(tmp_path / "na.csv", index=False)
    proc = run_cli("predict", models[IDS[0]], tmp_path / "na.csv", "--diagnostics")
    assert proc.returncode == 0, proc.stderr
    got = pd.read_csv(io.StringIO(proc.stdout), keep_default_na=False, na_values=[""])
    cols = [f"mpg_{c}" for c in ("resid", "hat", "rstandard", "rstudent", "cooks")]
    assert got.loc[4, cols].isna().all() and not np.isnan(got.loc[4, "mpg_pred"])
    assert not got.drop(index=4)[cols].isna().any().any()
    d.loc[4, "hp"] = "-3"
    d.to_csv(tmp_path / "neg.csv", index=False)
    proc = run_cli("predict", models[IDS[0]], tmp_path / "neg.csv", "--diagnostics")
    assert proc.returncode == 4 and proc.stderr.startswith("Error: ")
    assert "negative weight -3" in proc.stderr and "line 6" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_by_with_diagnostics_is_one_clear_refusal(tmp_path):
    proc = run_cli(
        "fit",
        R / "mtcars.csv",
        "--x",
        "wt",
        "--y",
        "mpg",
        "--by",
        "cyl",
        "--diagnostics",
        tmp_path / "d.csv",
    )
    assert proc.returncode == 2 and proc.stderr.startswith("Error: ")
    assert "--by" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "d.csv").exists()


def test_weighted_plot_file_has_r_panels(tmp_path):
    pytest.importorskip("matplotlib")
    svg = tmp_path / "w.svg"
    args = ("--x", "wt,hp", "--y", "mpg", "--weights", "am", "--plot-file", svg, "-q")
    proc = run_cli("fit", R / "mtcars.csv", *args)
    assert proc.returncode == 0, proc.stderr
    text = svg.read_text()
    for title in ("Residuals vs Fitted", "Normal Q-Q", "Scale-Location", "Residuals vs Leverage"):
        assert title in text, title


def test_weighted_table_says_which_residuals(tmp_path):
    args = ("--x", "wt,qsec", "--y", "mpg", "--weights", "hp", "--diagnostics", tmp_path / "d.csv")
    proc = run_cli("fit", R / "mtcars.csv", *args, "-q")
    assert proc.returncode == 0, proc.stderr
    assert "weighted residuals √w·e" in " ".join(proc.stdout.split())
    proc = run_cli(
        "fit",
        R / "mtcars.csv",
        "--x",
        "wt,qsec",
        "--y",
        "mpg",
        "--json",
        "-q",
        "--diagnostics",
        tmp_path / "d.csv",
    )
    assert json.loads(proc.stdout)["diagnostics"]["residuals"] == "raw"


def test_rows_with_a_missing_weight_are_left_out_as_the_fit_leaves_them(tmp_path):
    """mtcars with three weights missing: the fit drops those rows (--na drop), and the
    diagnostics file gives them empty cells; every other row has the figures of the fit of
    the file without them."""
    d = pd.read_csv(R / "mtcars.csv")
    d["hp"] = d["hp"].astype(object)
    gaps = [3, 10, 20]
    d.loc[gaps, "hp"] = ""
    d.to_csv(tmp_path / "gaps.csv", index=False)
    d.drop(index=gaps).to_csv(tmp_path / "kept.csv", index=False)
    args = ("--x", "wt,qsec", "--y", "mpg", "--weights", "hp", "--json", "-q")
    a = run_cli("fit", tmp_path / "gaps.csv", *args, "--diagnostics", tmp_path / "a.csv")
    b = run_cli("fit", tmp_path / "kept.csv", *args, "--diagnostics", tmp_path / "b.csv")
    assert a.returncode == 0 and b.returncode == 0, a.stderr + b.stderr
    ga = pd.read_csv(tmp_path / "a.csv", keep_default_na=False, na_values=[""])
    gb = pd.read_csv(tmp_path / "b.csv", keep_default_na=False, na_values=[""])
    cols = [f"mpg_{c}" for c in ("resid", "hat", "rstandard", "rstudent", "cooks")]
    assert ga.loc[gaps, cols].isna().all().all()
    np.testing.assert_allclose(ga.drop(index=gaps)[cols], gb[cols], rtol=1e-10)
    da, db = json.loads(a.stdout)["diagnostics"], json.loads(b.stdout)["diagnostics"]
    assert da["n"] == db["n"] == 29
    for key in ("durbin_watson", "cooks_over", "rstudent_over"):
        assert da[key] == pytest.approx(db[key], rel=1e-10)
    assert da["breusch_pagan"]["statistic"] == pytest.approx(
        db["breusch_pagan"]["statistic"], rel=1e-10
    )
