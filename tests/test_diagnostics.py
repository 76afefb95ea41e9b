"""Regression diagnostics (linfit.diagnostics; predict --diagnostics, fit --diagnostics) against
R's lm() on real data sets.

The references are R 4.2's, made by tests/data/r/diagnostics_references.R (its R code is there,
beside the numbers it writes to tests/data/r/diagnostics_references.json, 17 significant
digits): residuals(), hatvalues(), rstandard(), rstudent() and cooks.distance() of
lm(..., na.action = na.exclude), so rows R drops for a missing value are NA in place, as linfit
leaves them empty. Agreement is checked to 1e-8 relative.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from .conftest import run_cli

R = Path(__file__).parent / "data" / "r"
REFS = json.loads((R / "diagnostics_references.json").read_text())
COLUMNS = ("resid", "hat", "rstandard", "rstudent", "cooks")


def _fit_args(ref: dict) -> list[str]:
    """linfit fit arguments for a reference model."""
    if ref["kind"] == "formula":
        return ["--formula", ref["model"]]
    y, rhs = (s.strip() for s in ref["model"].split("~"))
    terms = [t.strip() for t in rhs.split("+")]
    args = ["--y", y, "--x", ",".join(t for t in terms if t != "0")]
    return args + (["--no-intercept"] if "0" in terms else [])


def _target(ref: dict) -> str:
    return ref["model"].split("~")[0].strip()


def _close(got, want, what: str) -> None:
    want = np.array([np.nan if v is None else v for v in want], dtype=float)
    got = np.asarray(got, dtype=float)
    assert np.array_equal(np.isnan(got), np.isnan(want)), what
    ok = ~np.isnan(want)
    scale = np.abs(want[ok]).max()
    np.testing.assert_allclose(got[ok], want[ok], rtol=1e-8, atol=1e-10 * scale, err_msg=what)


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    out = {}
    for ref in REFS:
        path = tmp_path_factory.mktemp("m") / "model.json"
        proc = run_cli("fit", R / ref["file"], *_fit_args(ref), "--save", path, "-q")
        assert proc.returncode == 0, proc.stderr
        out[ref["model"]] = path
    return out


@pytest.mark.parametrize("ref", REFS, ids=[r["model"] for r in REFS])
def test_predict_diagnostics_equal_r(ref, models):
    proc = run_cli("predict", models[ref["model"]], R / ref["file"], "--diagnostics")
    assert proc.returncode == 0, proc.stderr
    got = pd.read_csv(io.StringIO(proc.stdout), keep_default_na=False, na_values=[""])
    assert len(got) == len(ref["resid"])  # every row, in order (NA rows in place)
    target = _target(ref)
    for c in COLUMNS:
        want = ref[c]
        if c == "hat":  # R's na.exclude pads hatvalues with 0; linfit leaves those rows empty,
            # or, where only the target is missing, gives the row's leverage
            fitted = [r is not None for r in ref["resid"]]
            h = got[f"{target}_hat"].to_numpy()
            assert not np.isnan(h[fitted]).any()
            _close(h[fitted], np.asarray(want)[fitted], f"{ref['model']}: hat")
            continue
        _close(got[f"{target}_{c}"], want, f"{ref['model']}: {c}")


def test_predict_diagnostics_json_lines(models):
    ref = REFS[1]  # trees, through a formula
    proc = run_cli("predict", models[ref["model"]], R / ref["file"], "--diagnostics", "-f", "json")
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    _close([r["log(Volume)_rstudent"] for r in rows], ref["rstudent"], "rstudent")


def test_no_target_column_leaves_leverage_only(tmp_path, models):
    ref = REFS[0]
    data = pd.read_csv(R / ref["file"]).drop(columns=["mpg"])
    data.to_csv(tmp_path / "new.csv", index=False)
    proc = run_cli("predict", models[ref["model"]], tmp_path / "new.csv", "--diagnostics")
    assert proc.returncode == 0, proc.stderr
    assert "no target column 'mpg'" in proc.stderr
    got = pd.read_csv(io.StringIO(proc.stdout))
    _close(got["mpg_hat"], ref["hat"], "hat")
    assert got["mpg_resid"].isna().all() and got["mpg_cooks"].isna().all()


def test_diagnostics_need_inference(tmp_path):
    m = tmp_path / "m.json"
    assert (
        run_cli(
            "fit", R / "trees.csv", "--x", "Girth", "--y", "Volume", "--no-stats", "--save", m, "-q"
        ).returncode
        == 0
    )
    proc = run_cli("predict", m, R / "trees.csv", "--diagnostics")
    assert proc.returncode == 6
    assert proc.stderr.startswith("Error: ") and "'inference' block" in proc.stderr
    assert "--diagnostics" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_diagnostics_column_clash(tmp_path, models):
    ref = REFS[0]
    data = pd.read_csv(R / ref["file"])
    data["mpg_hat"] = 1
    data.to_csv(tmp_path / "d.csv", index=False)
    proc = run_cli("predict", models[ref["model"]], tmp_path / "d.csv", "--diagnostics")
    assert proc.returncode == 2 and "'mpg_hat'" in proc.stderr


def test_rows_without_target_get_their_leverage(models):
    """airquality rows with Ozone missing but the features present: h = x(XᵀX)⁻¹xᵀ of the
    fitted rows' design (numpy, from scratch), residual columns empty."""
    ref = REFS[3]
    proc = run_cli("predict", models[ref["model"]], R / ref["file"], "--diagnostics")
    got = pd.read_csv(io.StringIO(proc.stdout), keep_default_na=False, na_values=["", "NA"])
    d = pd.read_csv(R / ref["file"])
    X = np.column_stack([np.ones(len(d)), d[["Solar.R", "Wind", "Temp"]].to_numpy(float)])
    fitted = ~np.isnan(X).any(axis=1) & d["Ozone"].notna().to_numpy()
    new = ~np.isnan(X).any(axis=1) & d["Ozone"].isna().to_numpy()
    assert new.sum() > 0
    G = np.linalg.inv(X[fitted].T @ X[fitted])
    want = np.einsum("ij,jk,ik->i", X[new], G, X[new])
    np.testing.assert_allclose(got["Ozone_hat"].to_numpy()[new], want, rtol=1e-8)
    assert got.loc[new, ["Ozone_resid", "Ozone_rstudent", "Ozone_cooks"]].isna().all().all()
