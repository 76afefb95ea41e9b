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


def _check_statistics(d: dict, ref: dict) -> None:
    """The report's Durbin–Watson, Jarque–Bera and Breusch–Pagan equal R's to 1e-8."""
    for key, want in [
        ("durbin_watson", ref["dw"]),
        (("jarque_bera", "statistic"), ref["jb"]),
        (("jarque_bera", "p"), ref["jb_p"]),
        (("breusch_pagan", "statistic"), ref["bp"]),
        (("breusch_pagan", "p"), ref["bp_p"]),
    ]:
        value = d[key] if isinstance(key, str) else d[key[0]][key[1]]
        assert value == pytest.approx(want, rel=1e-8), (ref["model"], key)
    assert d["breusch_pagan"]["df"] == ref["bp_df"]


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


# -- fit --diagnostics: the per-row file and the checks ------------------------------------
@pytest.mark.parametrize("ref", REFS, ids=[r["model"] for r in REFS])
def test_fit_diagnostics_file_and_checks_equal_r(ref, tmp_path):
    out = tmp_path / "diag.csv"
    proc = run_cli("fit", R / ref["file"], *_fit_args(ref), "--diagnostics", out, "--json")
    assert proc.returncode == 0, proc.stderr
    got = pd.read_csv(out, keep_default_na=False, na_values=[""])
    n_rows = len(ref["resid"])
    assert got["line"].tolist() == list(range(2, n_rows + 2))  # every row, in order
    target = _target(ref)
    for c in ("resid", "rstandard", "rstudent", "cooks"):
        _close(got[f"{target}_{c}"], ref[c], f"{ref['model']}: {c}")
    d = json.loads(proc.stdout)["diagnostics"]
    fitted = [r is not None for r in ref["resid"]]
    assert d["n"] == sum(fitted)
    _check_statistics(d, ref)
    # flagged rows, counted from R's rstudent and cooks.distance
    t = np.array([np.nan if v is None else v for v in ref["rstudent"]])
    cook = np.array([np.nan if v is None else v for v in ref["cooks"]])
    assert d["rstudent_over"] == int((np.abs(t) > 3).sum())
    assert d["cooks_over"] == int((cook > 4 / d["n"]).sum())
    if d["worst"]:
        assert d["worst"][0]["line"] == int(np.nanargmax(cook)) + 2
        assert d["worst"][0]["cooks"] == pytest.approx(np.nanmax(cook), rel=1e-8)


def test_fit_diagnostics_table_block(tmp_path):
    proc = run_cli(
        "fit",
        R / "mtcars.csv",
        "--x",
        "wt,hp",
        "--y",
        "mpg",
        "--diagnostics",
        tmp_path / "d.csv",
        env={"COLUMNS": "100"},
    )
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert "diagnostics" in text and "Durbin-Watson" in text and "Breusch-Pagan (df 2)" in text
    assert "flagged rows, worst first" in text
    assert max(len(line) for line in text.splitlines()) <= 100
    # Chrysler Imperial (line 18) has mtcars' largest Cook's distance for mpg ~ wt + hp
    flagged = text.split("flagged rows, worst first")[1].split("\n")
    first_row = next(line for line in flagged if line.strip()[:1].isdigit())
    assert first_row.split()[0] == "18"


def test_fit_diagnostics_refusals(tmp_path):
    data = (R / "trees.csv").read_text()
    proc = run_cli(
        "fit", "-", "--x", "Girth", "--y", "Volume", "--diagnostics", tmp_path / "d.csv",
        "--engine", "dask", input=data,
    )  # fmt: skip
    assert proc.returncode == 2 and "--engine local" in proc.stderr
    proc = run_cli(
        "fit",
        R / "trees.csv",
        "--x",
        "Girth",
        "--y",
        "Volume",
        "--no-stats",
        "--diagnostics",
        tmp_path / "d.csv",
    )
    assert proc.returncode == 2 and "--no-stats" in proc.stderr
    copy = tmp_path / "trees.csv"
    copy.write_text(data)
    proc = run_cli("fit", copy, "--x", "Girth", "--y", "Volume", "--diagnostics", copy)
    assert proc.returncode != 0 and proc.stderr.startswith("Error: ")
    assert copy.read_text() == data
    assert not (tmp_path / "d.csv").exists()
    for p in (proc,):
        assert len(p.stderr.strip().splitlines()) == 1


def test_fit_diagnostics_several_files_equal_one(tmp_path):
    """mtcars split in two files: the same checks as one file (Durbin-Watson runs across the
    boundary), the worst rows name their file, lines restart in the second file."""
    lines = (R / "mtcars.csv").read_text().splitlines(keepends=True)
    (tmp_path / "a.csv").write_text("".join(lines[:17]))
    (tmp_path / "b.csv").write_text(lines[0] + "".join(lines[17:]))
    args = ["--x", "wt,hp", "--y", "mpg", "--json"]
    one = run_cli("fit", R / "mtcars.csv", *args, "--diagnostics", tmp_path / "one.csv")
    two = run_cli(
        "fit", tmp_path / "a.csv", tmp_path / "b.csv", *args, "--diagnostics", tmp_path / "two.csv"
    )
    assert one.returncode == 0 and two.returncode == 0, two.stderr
    d1, d2 = json.loads(one.stdout)["diagnostics"], json.loads(two.stdout)["diagnostics"]
    for key in ("durbin_watson", "rstudent_over", "cooks_over"):
        assert d2[key] == pytest.approx(d1[key], rel=1e-10)
    assert d2["worst"][0]["file"].endswith("b.csv") and d2["worst"][0]["line"] == 2
    got = pd.read_csv(tmp_path / "two.csv")
    assert len(got) == 32 and got["line"].tolist()[15:18] == [17, 2, 3]


# -- plots -------------------------------------------------------------------------------------
def test_plot_file_has_r_panels(tmp_path):
    pytest.importorskip("matplotlib")
    svg = tmp_path / "fit.svg"
    proc = run_cli("fit", R / "mtcars.csv", "--x", "wt,hp", "--y", "mpg", "--plot-file", svg, "-q")
    assert proc.returncode == 0, proc.stderr
    text = svg.read_text()
    for title in (
        "Residuals vs Fitted",
        "Normal Q-Q",
        "Scale-Location",
        "Residuals vs Leverage",
        "Cook's distance 0.5",
        "Cook's distance 1",
    ):
        assert title in text, title
    # no inference block (--no-stats): the plain figure, no second pass
    proc = run_cli(
        "fit",
        R / "mtcars.csv",
        "--x",
        "wt,hp",
        "--y",
        "mpg",
        "--no-stats",
        "--plot-file",
        svg,
        "-q",
    )
    assert proc.returncode == 0 and "Normal Q-Q" not in svg.read_text()


def test_plot_sample_is_bounded_and_keeps_flagged_rows():
    """20,000 rows through CheckSummary with a 5,000-row sample: every flagged row is among
    the plotted rows, and they number at most 5,000 + the flagged ones."""
    from linfit.diagnostics import CheckSummary, row_diagnostics

    rng = np.random.default_rng(3)
    n = 20_000
    x = rng.normal(size=n)
    y = 1 + 2 * x + rng.normal(size=n)
    y[[10, 7_000, 19_999]] += 25  # outliers
    X = x[:, None]
    A = np.column_stack([np.ones(n), X])
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    e = y - A @ coef
    _, R_ = np.linalg.qr(A)
    inference = {
        "intercept": True,
        "frame_shift": [0.0],
        "frame_scale": [1.0],
        "r": R_.tolist(),
        "sigma": float(np.sqrt(e @ e / (n - 2))),
        "df_resid": n - 2,
    }
    summary = CheckSummary(inference, sample=5_000, seed=1)
    for lo in range(0, n, 3_000):
        sl = slice(lo, lo + 3_000)
        fitted = A[sl] @ coef
        summary.update(
            np.arange(n)[sl] + 2, X[sl], fitted, row_diagnostics(inference, X[sl], y[sl], fitted)
        )
    d = row_diagnostics(inference, X, y, A @ coef)
    flagged = np.flatnonzero((np.abs(d["rstudent"]) > 3) | (d["cooks"] > 4 / n)) + 2
    rows = summary.plot_rows()
    assert set(flagged) <= set(rows["line"].astype(int))
    assert {12, 7_002, 20_001} <= set(flagged)
    assert len(rows["line"]) <= 5_000 + len(flagged)
    assert len(np.unique(rows["line"])) == len(rows["line"])
    assert summary.result()["worst"][0]["line"] in (12, 7_002, 20_001)


def test_rank_deficient_fit_is_refused_and_model_round_trips(tmp_path):
    data = tmp_path / "rd.csv"
    data.write_text("x1,x2,y\n1,2,3\n2,4,5\n3,6,8\n4,8,9\n5,10,12\n")
    out = tmp_path / "d.csv"
    proc = run_cli("fit", data, "--allow-rank-deficient", "--diagnostics", out)
    assert proc.returncode == 5 and "rank-deficient" in proc.stderr and not out.exists()
    # a model saved with its diagnostics block loads and predicts
    m = tmp_path / "m.json"
    proc = run_cli(
        "fit",
        R / "trees.csv",
        "--x",
        "Girth",
        "--y",
        "Volume",
        "--diagnostics",
        out,
        "--save",
        m,
        "-q",
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(m.read_text())["diagnostics"]["n"] == 31
    proc = run_cli("predict", m, R / "trees.csv", "--diagnostics")
    assert proc.returncode == 0, proc.stderr
    a = pd.read_csv(io.StringIO(proc.stdout))
    b = pd.read_csv(out)
    np.testing.assert_allclose(a["Volume_cooks"], b["Volume_cooks"], rtol=1e-12)


@pytest.mark.parametrize("method", [("lstsq",), ("gd", "--stats"), ("lstsq", "--no-refine")])
def test_diagnostics_of_stdin_come_from_its_copy(tmp_path, method):
    """stdin is copied while it is read, so --diagnostics gives the same table as the file
    (whatever the method), and the copy is removed afterwards."""
    import os

    mtcars = Path(__file__).parent / "data" / "r" / "mtcars.csv"
    spool = tmp_path / "tmp"
    spool.mkdir()
    args = ("--x", "wt,hp", "--y", "mpg", "--method", *method, "--quiet")
    a, b = tmp_path / "file.csv", tmp_path / "stdin.csv"
    assert run_cli("fit", mtcars, *args, "--diagnostics", a).returncode == 0
    env = dict(os.environ, TMPDIR=str(spool))
    proc = run_cli("fit", "-", *args, "--diagnostics", b, input=mtcars.read_text(), env=env)
    assert proc.returncode == 0, proc.stderr
    assert a.read_bytes() == b.read_bytes() and list(spool.iterdir()) == []
