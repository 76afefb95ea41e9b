"""Inference statistics against statsmodels OLS (to 1e-8 relative), and intervals in predict."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest

import linfit
from linfit.predict import predict_csv

from .conftest import SAMPLES, fit_json

sm = pytest.importorskip("statsmodels.api")

CASES = [
    # (seed, n, p, intercept, offset)
    (0, 30, 1, True, 0.0),
    (1, 200, 3, True, 0.0),
    (2, 50, 2, False, 0.0),
    (3, 500, 1, False, 5.0),
    (4, 80, 4, True, 1000.0),
]


def _data(seed, n, p, offset):
    rng = np.random.default_rng(seed)
    X = rng.normal(offset, 2.0, (n, p))
    y = X @ rng.normal(0, 0.3, p) + 0.5 + rng.normal(0, 3.0, n)
    return X, y


def close(a, b, rel=1e-8):
    assert a == pytest.approx(b, rel=rel, abs=1e-300)


@pytest.mark.parametrize(("seed", "n", "p", "intercept", "offset"), CASES)
def test_statistics_match_statsmodels(seed, n, p, intercept, offset):
    X, y = _data(seed, n, p, offset)
    m = linfit.fit_arrays(X, y, intercept=intercept, stats=True)
    exog = sm.add_constant(X, prepend=True) if intercept else X
    ref = sm.OLS(y, exog).fit()
    names = (["(Intercept)"] if intercept else []) + m.features
    ci = ref.conf_int(alpha=0.05)
    for i, name in enumerate(names):
        c = m.stats["coef"][name]
        close(c["estimate"], ref.params[i], 1e-10)
        close(c["se"], ref.bse[i])
        close(c["t"], ref.tvalues[i])
        close(c["p"], ref.pvalues[i])
        close(c["ci_low"], ci[i, 0])
        close(c["ci_high"], ci[i, 1])
    f = m.stats["fit"]
    assert f["n"] == n and f["df_resid"] == ref.df_resid
    close(f["sigma"], np.sqrt(ref.scale))
    close(f["r2"], ref.rsquared)
    close(f["adj_r2"], ref.rsquared_adj)
    close(f["f"], ref.fvalue)
    close(f["f_p"], ref.f_pvalue)
    close(f["loglik"], ref.llf)
    close(f["aic"], ref.aic)
    close(f["bic"], ref.bic)
    assert f["r2_kind"] == ("centred" if intercept else "uncentred")
    # condition number: of the design with unit-norm columns
    A = exog / np.linalg.norm(exog, axis=0)
    close(f["cond"], np.linalg.cond(A), rel=1e-6)


def test_other_level():
    X, y = _data(9, 40, 2, 0.0)
    m = linfit.fit_arrays(X, y, stats=True)
    m.stats  # noqa: B018
    from linfit.accumulate import DesignStats
    from linfit.fitting import fit_problem
    from linfit.solvers import Problem

    st = DesignStats(2)
    st.update(X, y)
    out = fit_problem(Problem(st, ["a", "b"], "y", True, X, y), level=0.9)
    ref = sm.OLS(y, sm.add_constant(X)).fit().conf_int(alpha=0.1)
    coef = out.model.stats["coef"]
    # a feature named b keeps its own statistics beside the intercept's
    for i, name in enumerate(["(Intercept)", "a", "b"]):
        close(coef[name]["ci_low"], ref[i, 0])
        close(coef[name]["ci_high"], ref[i, 1])
    assert out.model.stats["fit"]["level"] == 0.9


@pytest.mark.parametrize("kind", ["confidence", "prediction"])
@pytest.mark.parametrize("intercept", [True, False])
def test_predict_intervals_match_statsmodels(kind, intercept):
    X, y = _data(5, 60, 2, 3.0)
    m = linfit.fit_arrays(X, y, features=["a", "b"], intercept=intercept, stats=True)
    new = np.array([[0.0, 1.0], [3.0, 3.0], [10.0, -4.0]])
    buf = io.StringIO()
    csv = pd.DataFrame(new, columns=["a", "b"]).to_csv(index=False)
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as fh:
        fh.write(csv)
    predict_csv(m, fh.name, buf, interval=kind, level=0.95)
    got = pd.read_csv(io.StringIO(buf.getvalue()))
    exog = sm.add_constant(X) if intercept else X
    new_exog = sm.add_constant(new, has_constant="add") if intercept else new
    frame = sm.OLS(y, exog).fit().get_prediction(new_exog).summary_frame(alpha=0.05)
    lo, hi = (
        ("mean_ci_lower", "mean_ci_upper")
        if kind == "confidence"
        else ("obs_ci_lower", "obs_ci_upper")
    )
    np.testing.assert_allclose(got["y_pred"], frame["mean"], rtol=1e-10)
    np.testing.assert_allclose(got["y_pred_lower"], frame[lo], rtol=1e-8)
    np.testing.assert_allclose(got["y_pred_upper"], frame[hi], rtol=1e-8)


def test_stats_in_cli_table_and_json():
    doc = fit_json(SAMPLES / "noisy_line.csv")
    assert set(doc["stats"]["coef"]) == {"(Intercept)", "x"}
    assert set(doc["stats"]["coef"]["x"]) >= {"estimate", "se", "t", "p", "ci_low", "ci_high"}
    assert set(doc["stats"]["fit"]) >= {
        "n",
        "df_resid",
        "sigma",
        "r2",
        "adj_r2",
        "f",
        "f_p",
        "loglik",
        "aic",
        "bic",
        "cond",
        "level",
    }
    gd = fit_json(SAMPLES / "noisy_line.csv", "--method", "gd")
    assert "stats" not in gd
    gd = fit_json(SAMPLES / "noisy_line.csv", "--method", "gd", "--stats", "--epochs", "400")
    assert gd["stats"]["assumes_convergence"] is True
    assert gd["stats"]["coef"]["x"]["se"] == pytest.approx(
        doc["stats"]["coef"]["x"]["se"], rel=1e-6
    )
    no = fit_json(SAMPLES / "noisy_line.csv", "--no-stats")
    assert "stats" not in no


def test_no_intercept_table_says_uncentred():
    from .conftest import run_cli

    proc = run_cli("fit", SAMPLES / "tutorial_points.csv", "--no-intercept")
    assert "R² (uncentred: no intercept)" in proc.stdout
    assert (
        json.loads(
            run_cli("fit", SAMPLES / "tutorial_points.csv", "--no-intercept", "--json").stdout
        )["metrics"]["r2_kind"]
        == "uncentred"
    )
