"""Heteroskedasticity-consistent covariances (--cov HC0…HC3) against R's sandwich::vcovHC.

Numbers pasted from R 4.2.2 with r-cran-sandwich (data: tests/data/r/mtcars.csv):

    library(sandwich); options(digits = 17)
    d <- read.csv("tests/data/r/mtcars.csv")
    m <- lm(mpg ~ wt + hp, d); mw <- lm(mpg ~ wt, d, weights = hp)
    for (t in c("HC0", "HC1", "HC2", "HC3")) {
      V <- vcovHC(m, type = t); b <- coef(m)[-1]
      print(unname(sqrt(diag(V))))                                 # R_SE
      print(unname(sqrt(diag(vcovHC(mw, type = t)))))             # R_SE_WEIGHTED
      print(unname(as.numeric(t(b) %*% solve(V[-1, -1]) %*% b / 2)))  # R_WALD_F
    }
    V <- vcovHC(m, type = "HC3"); se <- sqrt(diag(V)); t <- coef(m) / se
    print(unname(2 * pt(-abs(t), m$df.residual)))                 # R_P_HC3 (lmtest::coeftest)
    nd <- data.frame(wt = c(2.5, 4), hp = c(100, 200)); X <- cbind(1, as.matrix(nd))
    f <- drop(X %*% coef(m)); s <- sqrt(diag(X %*% V %*% t(X))); q <- qt(0.975, m$df.residual)
    print(unname(cbind(f, f - q * s, f + q * s)))                  # R_CONF_HC3
    d$w <- d$hp; d$w[c(1, 5, 9)] <- 0
    print(sqrt(diag(vcovHC(lm(mpg ~ wt + hp, d, weights = w), type = "HC0"))))  # R_ZERO_HC0
"""

from __future__ import annotations

import io
import json
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from linfit import parallel
from linfit.errors import UsageError
from linfit.fitting import fit_problem, read_dataset
from linfit.model import load_model
from linfit.predict import predict_csv
from linfit.robust import reread_rows, spooled_stdin

from .conftest import run_cli

MTCARS = "tests/data/r/mtcars.csv"

R_SE = {
    "HC0": (1.9389139564175543740, 0.6199275052898950422, 0.0066460579081831029),
    "HC1": (2.0367350019129633054, 0.6512037548099433026, 0.0069813612520214169),
    "HC2": (2.0776099435146271333, 0.6877654817358431760, 0.0078250293975150754),
    "HC3": (2.2298054034362313480, 0.7685190503578176457, 0.0093851379086475548),
}
R_SE_WEIGHTED = {
    "HC0": (2.2557731104815866, 0.6528857516740717),
    "HC1": (2.32975245059137892, 0.67429750485594298),
    "HC2": (2.46467557472931409, 0.72424681624812359),
    "HC3": (2.7064010334770479, 0.8066810513237952),
}
R_WALD_F = {
    "HC0": 51.159350669497925,
    "HC1": 46.363161544232511,
    "HC2": 42.931779056875634,
    "HC3": 35.730112438732334,
}
R_P_HC3 = (2.0572658542840368e-16, 2.2330897778625582e-05, 2.0569636267884950e-03)
R_CONF_HC3 = [
    (24.355398562219392, 22.866713914286208, 25.844083210152576),
    (15.361357750396273, 13.891337149722720, 16.831378351069826),
]
R_ZERO_HC0 = (1.8458955923563558077, 0.5725700137865656902, 0.0056980459908346198)


def close(a, b, tol=1e-9):
    return math.isclose(a, b, rel_tol=tol, abs_tol=0.0)


def fit(path, x, cov, weights=None, **kw):
    data = read_dataset(path, x, "mpg", weights=weights, **kw)
    return fit_problem(data.problem, cov=cov).model


@pytest.mark.parametrize("cov", ["HC0", "HC1", "HC2", "HC3"])
def test_hc_matches_sandwich(cov):
    m = fit(MTCARS, ["wt", "hp"], cov)
    coefs = list(m.stats["coef"].values())
    for c, se in zip(coefs, R_SE[cov]):
        assert close(c["se"], se)
        assert close(c["t"], c["estimate"] / se)
    assert close(m.stats["fit"]["f"], R_WALD_F[cov])
    assert m.stats["fit"]["cov_type"] == cov
    assert m.stats["fit"]["df_resid"] == 29  # t on the residual df, as lmtest::coeftest
    w = fit(MTCARS, ["wt"], cov, weights="hp")
    for c, se in zip(w.stats["coef"].values(), R_SE_WEIGHTED[cov]):
        assert close(c["se"], se)


def test_hc3_p_values_and_confidence_intervals(tmp_path):
    m = fit(MTCARS, ["wt", "hp"], "HC3")
    for c, p in zip(m.stats["coef"].values(), R_P_HC3):
        assert close(c["p"], p, 1e-7)
    path = tmp_path / "m.json"
    m.save(str(path))
    loaded = load_model(str(path))
    assert loaded.inference["cov_type"] == "HC3"
    new = tmp_path / "new.csv"
    new.write_text("wt,hp\n2.5,100\n4,200\n")
    out = io.StringIO()
    predict_csv(loaded, str(new), out, interval="confidence")
    got = pd.read_csv(io.StringIO(out.getvalue()))
    vals = got[[c for c in got.columns if c not in ("wt", "hp")]].to_numpy()
    for row, want in zip(vals, R_CONF_HC3):
        for g, r in zip(row, want):
            assert close(float(g), r)


def test_nonrobust_is_the_default_and_unchanged():
    a = fit(MTCARS, ["wt", "hp"], "nonrobust")
    b = fit_problem(read_dataset(MTCARS, ["wt", "hp"], "mpg").problem).model
    assert a.stats == b.stats and a.stats["fit"]["cov_type"] == "nonrobust"
    assert "cov_frame" not in a.inference


def test_zero_weights_follow_statsmodels(tmp_path):
    """statsmodels' WLS sandwich has no n factor; R's sandwich scales it by (n₊/n)² (n₊ rows
    of nonzero weight of n), so R's HC0 standard errors are linfit's × 29/32 here."""
    d = pd.read_csv(MTCARS)
    w = d["hp"].astype(float).copy()
    w.iloc[[0, 4, 8]] = 0.0
    d["w"] = w
    path = tmp_path / "w.csv"
    d.to_csv(path, index=False)
    m = fit(str(path), ["wt", "hp"], "HC0", weights="w")
    for c, se in zip(m.stats["coef"].values(), R_ZERO_HC0):
        assert close(c["se"] * 29 / 32, se)


def test_second_pass_rereads_files(tmp_path, monkeypatch):
    d = pd.read_csv(MTCARS)
    big = pd.concat([d] * 300, ignore_index=True)
    big["mpg"] = big["mpg"] + np.random.default_rng(3).normal(0, 1, len(big))
    one = tmp_path / "one.csv"
    big.to_csv(one, index=False)
    parts = []
    for i, (a, b) in enumerate([(0, 4000), (4000, len(big))]):
        p = tmp_path / f"p{i}.csv"
        big.iloc[a:b].to_csv(p, index=False)
        parts.append(str(p))
    ref = fit(str(one), ["wt", "hp"], "HC3", weights="qsec")
    assert ref.stats["fit"]["n"] == len(big)
    monkeypatch.setattr(parallel, "PARALLEL_MIN_BYTES", 1 << 12)
    monkeypatch.setenv("LINFIT_JOBS", "2")
    monkeypatch.setenv("LINFIT_READER", "pandas")  # two processes: for what pandas reads
    two = read_dataset(str(one), ["wt", "hp"], "mpg", weights="qsec")
    assert two.problem.X is None and two.problem.reread is not None  # read again
    models = [fit_problem(two.problem, cov="HC3").model, fit(parts, ["wt", "hp"], "HC3", "qsec")]
    f = read_dataset(str(one), formula="mpg ~ wt + hp", weights="qsec")
    assert f.problem.X is None
    models.append(fit_problem(f.problem, cov="HC3").model)
    for m in models:
        for a, b in zip(m.stats["coef"].values(), ref.stats["coef"].values()):
            assert close(a["se"], b["se"], 1e-12)


def test_stdin_rows_not_kept_is_a_usage_error():
    with pytest.raises(UsageError, match="stdin"):
        next(reread_rows(["-"], None, None, None, None, None))


def test_stdin_is_spooled_and_removed(monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"x,y\n1,2\n")))
    with pytest.raises(KeyboardInterrupt), spooled_stdin(["-", "other.csv"]) as paths:
        assert Path(paths[0]).read_bytes() == b"x,y\n1,2\n" and paths[1] == "other.csv"
        raise KeyboardInterrupt
    assert not Path(paths[0]).exists() and not Path(paths[0]).parent.exists()


def test_large_stdin_equals_the_file(tmp_path):
    """Past 2 MiB of values a certified fit keeps no rows: stdin is spooled for the pass."""
    rng = np.random.default_rng(5)
    n = 100_000  # 300,000 values: past the check, so no rows are kept
    X = rng.normal(size=(n, 2))
    y = X @ [1.0, -2.0] + 0.5 + rng.normal(size=n) * (1 + np.abs(X[:, 0]))
    path = tmp_path / "big.csv"
    pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "y": y}).to_csv(path, index=False)
    args = ("-x", "a,b", "-y", "y", "--cov", "HC2", "--json")
    a = json.loads(run_cli("fit", path, *args).stdout)
    r = run_cli("fit", "-", *args, input=path.read_bytes())
    assert r.returncode == 0, r.stderr
    b = json.loads(r.stdout)
    assert b["data"]["source"] == "<stdin>"
    for k in ("a", "b"):
        assert close(a["stats"]["coef"][k]["se"], b["stats"]["coef"][k]["se"], 1e-12)


def test_cli_cov():
    r = run_cli("fit", MTCARS, "-F", "mpg ~ wt + hp", "--cov", "hc1", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["stats"]["fit"]["cov_type"] == "HC1"
    assert close(doc["stats"]["coef"]["wt"]["se"], R_SE["HC1"][1])
    r = run_cli("fit", MTCARS, "-F", "mpg ~ wt + hp", "--cov", "HC3")
    assert "(HC3 standard errors)" in r.stdout
    r = run_cli("fit", MTCARS, "-F", "mpg ~ wt", "--cov", "HC9")
    assert r.returncode == 2 and "HC9" in r.stderr
    stdin = Path(MTCARS).read_text()
    r = run_cli("fit", "-", "-x", "wt", "-y", "mpg", "--cov", "HC3", "--json", input=stdin)
    assert r.returncode == 0, r.stderr  # small stdin: its rows are kept, no second read
