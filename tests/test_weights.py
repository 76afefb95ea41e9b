"""Weighted least squares (--weights) against R's lm(weights=), numbers pasted from R 4.2.2.

The R code (data: tests/data/r/mtcars.csv, exported from R's mtcars):

    options(digits = 17)
    d <- read.csv("tests/data/r/mtcars.csv")
    show <- function(m) { s <- summary(m)
      print(unname(coef(s)[, 1:4]))
      print(unname(c(s$sigma, s$r.squared, s$adj.r.squared, s$fstatistic[1],
                     as.numeric(logLik(m)))))
      print(unname(s$df[2])) }
    show(lm(mpg ~ wt, d, weights = hp))
    show(lm(mpg ~ wt + hp + qsec, d, weights = 1 / disp))
    d$w <- d$hp; d$w[c(1, 5, 9)] <- 0
    show(lm(mpg ~ wt + hp, d, weights = w))
    m <- lm(mpg ~ wt, d, weights = hp)
    nd <- data.frame(wt = c(2.5, 4))
    print(unname(predict(m, nd, interval = "prediction")))
    print(unname(predict(m, nd, interval = "confidence")))

R prints 17 digits; agreement is asserted to 1e-9 relative.
"""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pandas as pd
import pytest

from linfit import parallel
from linfit.fitting import fit_problem, read_dataset
from linfit.predict import predict_csv

from .conftest import run_cli

MTCARS = "tests/data/r/mtcars.csv"
TOL = 1e-9

# (estimate, se, t, p) per coefficient; then sigma, r2, adj r2, F, logLik; then residual df
R_HP = (
    [
        (34.0047783847828313, 1.9947706445143831, 17.0469615032163873, 5.5858950256067998e-17),
        (-4.5687772793318437, 0.5490327115384197, -8.3215028600570626, 2.7431222424613739e-09),
    ],
    (35.41973120144461262, 0.69772510894380024, 0.68764927924192687, 69.24740984993795223,
     -80.41530110350529981),
    30,
)  # fmt: skip
R_INV_DISP = (
    [
        (28.060656499463206615, 8.540331484169930931, 3.28566362458828332,
         2.7389243851616619e-03),
        (-5.363583830568093624, 0.927214926779386772, -5.78461764975905801,
         3.2721842732822388e-06),
        (-0.014904887124431099, 0.017885775459516588, -0.83333748420175824,
         4.1170699419436363e-01),
        (0.638903508040131740, 0.447183464103726613, 1.42872793680030763,
         1.6414395673540247e-01),
    ],
    (0.21274909650339283, 0.83241420235790597, 0.81445858118196734, 46.35953243841984772,
     -78.30236546497799566),
    28,
)  # fmt: skip
R_ZERO = (
    [
        (35.227100841502618778, 1.7508095623232777793, 20.1204640410789111,
         2.2461572598488217e-17),
        (-3.503295085948056720, 0.5416158994152211470, -6.4682279263414157,
         7.4395698590141174e-07),
        (-0.027880315538905773, 0.0071737393166609207, -3.8864411303814852,
         6.2821889078617133e-04),
    ],
    (29.80252750011342400, 0.80915057021371073, 0.79446984484553462, 55.11652523435479623,
     -67.10787728966303689),
    26,
)  # fmt: skip
R_PRED = [(22.582835186453224, -49.770458888411341, 94.936129261317788),
          (15.729669267455456, -56.616870907065554, 88.076209441976459)]  # fmt: skip
R_CONF = [(22.582835186453224, 21.035256111540697, 24.130414261365750),
          (15.729669267455456, 14.538991841424547, 16.920346693486366)]  # fmt: skip


def close(a: float, b: float, tol: float = TOL) -> bool:
    return math.isclose(a, b, rel_tol=tol, abs_tol=0.0)


def check(model, ref) -> None:
    coefs, fit, df = ref
    for (name, c), (est, se, t, p) in zip(model.stats["coef"].items(), coefs):
        assert close(c["estimate"], est), name
        assert close(c["se"], se), name
        assert close(c["t"], t), name
        assert close(c["p"], p, 1e-7), name  # tail probabilities: scipy's and R's t CDF
    f = model.stats["fit"]
    for key, want in zip(("sigma", "r2", "adj_r2", "f", "loglik"), fit):
        assert close(f[key], want), key
    assert f["df_resid"] == df


@pytest.fixture
def cars(tmp_path):
    d = pd.read_csv(MTCARS)
    d["inv_disp"] = 1.0 / d["disp"]  # repr round-trips: the same doubles as R's 1 / disp
    w = d["hp"].astype(float).copy()
    w.iloc[[0, 4, 8]] = 0.0
    d["w"] = w
    path = tmp_path / "cars.csv"
    d.to_csv(path, index=False)
    return path


def fit(path, x, y="mpg", weights=None, **kw):
    data = read_dataset(path if isinstance(path, list) else str(path), x, y, weights=weights, **kw)
    return fit_problem(data.problem).model


def test_weighted_one_feature_matches_r():
    m = fit(MTCARS, ["wt"], weights="hp")
    check(m, R_HP)
    assert m.weights == "hp" and m.to_doc()["weights"] == "hp"


def test_weighted_three_features_matches_r(cars):
    check(fit(cars, ["wt", "hp", "qsec"], weights="inv_disp"), R_INV_DISP)


def test_weighted_formula_matches_r(cars):
    data = read_dataset(str(cars), formula="mpg ~ wt + hp + qsec", weights="inv_disp")
    check(fit_problem(data.problem).model, R_INV_DISP)


def test_zero_weights_count_as_r_counts_them(cars):
    m = fit(cars, ["wt", "hp"], weights="w")
    check(m, R_ZERO)
    assert m.n_samples == 32  # the rows stay in the data, not in the degrees of freedom


def test_unit_weights_equal_unweighted(tmp_path):
    d = pd.read_csv(MTCARS)
    d["one"] = 1.0
    path = tmp_path / "ones.csv"
    d.to_csv(path, index=False)
    a, b = fit(path, ["wt", "hp"], weights="one"), fit(path, ["wt", "hp"])
    for k in ("sigma", "r2", "f", "loglik", "aic"):
        assert close(a.stats["fit"][k], b.stats["fit"][k], 1e-12), k
    assert np.allclose(a.w, b.w, rtol=1e-12, atol=0)


def test_prediction_intervals_as_predict_lm(tmp_path):
    m = fit(MTCARS, ["wt"], weights="hp")
    new = tmp_path / "new.csv"
    new.write_text("wt\n2.5\n4\n")  # new rows have weight 1, as predict.lm assumes
    for kind, ref in (("prediction", R_PRED), ("confidence", R_CONF)):
        out = io.StringIO()
        predict_csv(m, str(new), out, interval=kind)
        got = pd.read_csv(io.StringIO(out.getvalue()))
        cols = [c for c in got.columns if c != "wt"]
        for row, want in zip(got[cols].to_numpy(), ref):
            for g, r in zip(row, want):
                assert close(float(g), r), (kind, row, want)


def test_negative_weight_is_an_error_naming_the_line(tmp_path):
    path = tmp_path / "neg.csv"
    path.write_text("x,y,w\n1,2,1\n2,3,0.5\n3,5,-2\n4,4,1\n")
    r = run_cli("fit", path, "-x", "x", "-y", "y", "--weights", "w")
    assert r.returncode == 4
    assert "negative weight -2" in r.stderr and "line 4" in r.stderr
    assert "Traceback" not in r.stderr
    r = run_cli("fit", path, "-F", "y ~ x", "--weights", "w")
    assert r.returncode == 4 and "line 4" in r.stderr


def test_missing_weight_drops_the_row(tmp_path):
    full = tmp_path / "full.csv"
    full.write_text("x,y,w\n1,2,1\n2,3,0.5\n3,5,2\n4,4,1\n5,7,3\n")
    gap = tmp_path / "gap.csv"
    gap.write_text("x,y,w\n1,2,1\n2,3,0.5\n3,5,2\n9,9,\n4,4,1\n5,7,3\n")
    for extra in ((), ("-F", "y ~ x")):
        base = extra if extra else ("-x", "x", "-y", "y")
        a = json.loads(run_cli("fit", full, *base, "--weights", "w", "--json").stdout)
        r = run_cli("fit", gap, *base, "--weights", "w", "--json")
        assert r.returncode == 0, r.stderr
        b = json.loads(r.stdout)
        assert b["data"]["rows_dropped"] == 1
        assert math.isclose(a["w"]["x"], b["w"]["x"], rel_tol=1e-12)
    r = run_cli("fit", gap, "-x", "x", "-y", "y", "--weights", "w", "--na", "raise")
    assert r.returncode == 4 and "line 5" in r.stderr


def test_weights_column_chosen_twice(tmp_path):
    r = run_cli("fit", MTCARS, "-x", "wt,hp", "-y", "mpg", "--weights", "hp")
    assert r.returncode == 4 and "both the weights" in r.stderr


def test_default_features_leave_the_weights_out(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("a,w,y\n1,1,2\n2,2,3.5\n3,1,5\n4,3,6.5\n5,1,9\n")
    m = fit(path, None, "y", weights="w")
    assert m.features == ["a"]


def test_files_and_processes_agree(tmp_path, cars, monkeypatch):
    d = pd.read_csv(cars)
    big = pd.concat([d] * 400, ignore_index=True)
    rng = np.random.default_rng(1)
    big["mpg"] = big["mpg"] + rng.normal(0, 1, len(big))
    one = tmp_path / "one.csv"
    big.to_csv(one, index=False)
    parts = []
    for i, (a, b) in enumerate([(0, 5000), (5000, 9000), (9000, len(big))]):
        p = tmp_path / f"part{i}.csv"
        big.iloc[a:b].to_csv(p, index=False)
        parts.append(str(p))
    x = ["wt", "hp", "qsec"]
    ref = fit(one, x, weights="w")
    several = fit(parts, x, weights="w")
    monkeypatch.setattr(parallel, "PARALLEL_MIN_BYTES", 1 << 12)
    monkeypatch.setenv("LINFIT_JOBS", "2")
    monkeypatch.setenv("LINFIT_READER", "pandas")  # two processes: for what pandas reads
    assert parallel.workers_for(str(one), keep_all_rows=False) == 2
    two = read_dataset(str(one), x, "mpg", weights="w")
    assert two.problem.X is None  # read by two processes
    two_m = fit_problem(two.problem).model
    fdata = read_dataset(str(one), formula="mpg ~ wt + hp + qsec", weights="w")
    formula = fit_problem(fdata.problem).model
    for m in (several, two_m, formula):
        assert np.allclose(m.w, ref.w, rtol=1e-12, atol=0)
        assert math.isclose(m.b, ref.b, rel_tol=1e-12)
        for k in ("sigma", "r2", "loglik"):
            assert math.isclose(m.stats["fit"][k], ref.stats["fit"][k], rel_tol=1e-12), k
        assert m.stats["fit"]["df_resid"] == ref.stats["fit"]["df_resid"]


@pytest.mark.parametrize("method", ["gd", "torch"])
def test_descent_minimises_the_weighted_loss(method):
    pytest.importorskip("torch") if method == "torch" else None
    from linfit.solvers import SolverOptions

    data = read_dataset(MTCARS, ["wt", "hp"], "mpg", weights="qsec", keep_all_rows=True)
    ref = fit_problem(data.problem).model
    opts = SolverOptions(lr=0.5, epochs=5000, tol=1e-14)
    got = fit_problem(data.problem, method, opts).model
    assert np.allclose(got.w, ref.w, rtol=1e-6)
    assert math.isclose(got.metrics["loss"], ref.metrics["loss"], rel_tol=1e-9)


def test_sgd_minimises_the_weighted_loss():
    from linfit.solvers import SolverOptions

    data = read_dataset(MTCARS, ["wt"], "mpg", weights="hp", keep_all_rows=True)
    ref = fit_problem(data.problem).model
    unweighted = fit_problem(read_dataset(MTCARS, ["wt"], "mpg").problem).model
    opts = SolverOptions(lr=0.01, epochs=3000, tol=0, batch_size=8)
    got = fit_problem(data.problem, "gd", opts).model
    # SGD's noise floor: near the weighted solution, far from the unweighted one
    assert abs(got.w[0] - ref.w[0]) < 0.1 * abs(unweighted.w[0] - ref.w[0])


def test_cli_table_says_weighted():
    r = run_cli("fit", MTCARS, "-x", "wt", "-y", "mpg", "--weights", "hp")
    assert r.returncode == 0 and "(weighted by hp)" in r.stdout
    r = run_cli("compare", MTCARS, "-x", "wt", "-y", "mpg", "--weights", "hp", "--json")
    assert r.returncode == 0, r.stderr


def test_all_zero_weights_and_too_few_weighted_rows(tmp_path):
    zero = tmp_path / "z.csv"
    zero.write_text("x,y,w\n1,2,0\n2,3,0\n3,5,0\n4,4,0\n")
    for method in ("lstsq", "gd"):
        r = run_cli("fit", zero, "-x", "x", "-y", "y", "--weights", "w", "--method", method)
        assert r.returncode == 4 and "every row's weight is 0" in r.stderr, r.stderr
    one = tmp_path / "one.csv"
    one.write_text("x,y,w\n1,2,1\n2,3,0\n3,5,0\n4,4,0\n")
    r = run_cli("fit", one, "-x", "x", "-y", "y", "--weights", "w")
    assert r.returncode == 4 and "1 row of nonzero weight" in r.stderr
