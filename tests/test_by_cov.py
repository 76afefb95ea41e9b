"""fit --by with --cov HC0–HC3: each group's sandwich standard errors, as R's
sandwich::vcovHC gives them for lm() on that group's rows (weighted too), to 1e-9; and a
clear refusal where the groups' rows are not at hand for the second pass.

R 4.x, sandwich (the numbers below, %.15g):

    library(sandwich)
    mt <- read.csv("tests/data/r/mtcars.csv")
    ir <- read.csv("tests/data/r/iris.csv")
    out <- function(label, f) for (t in c("HC0","HC1","HC2","HC3"))
        cat(label, t, sprintf("%.15g", sqrt(diag(vcovHC(f, type=t)))), "\\n")
    for (c in c(4,6,8)) out(paste0("mtcars_cyl", c), lm(mpg ~ wt, mt[mt$cyl==c,]))
    for (c in c(4,6,8)) out(paste0("mtcars_w_cyl", c),
                            lm(mpg ~ wt + hp, mt[mt$cyl==c,], weights=disp))
    for (s in unique(ir$Species))
        out(paste0("iris_", s), lm(Sepal.Length ~ Sepal.Width, ir[ir$Species==s,]))
"""

from __future__ import annotations

import json

import pytest

from .conftest import run_cli

MTCARS = "tests/data/r/mtcars.csv"
IRIS = "tests/data/r/iris.csv"

# (group, type) -> standard errors of (Intercept) and the slopes, in R's order
R_SE = {
    "mtcars_cyl4 HC0": [2.81567144666889, 1.17877220640514],
    "mtcars_cyl4 HC1": [3.11284190717265, 1.30318170731509],
    "mtcars_cyl4 HC2": [3.19970865522856, 1.37022376252133],
    "mtcars_cyl4 HC3": [3.6661041906734, 1.60539696825413],
    "mtcars_cyl6 HC0": [2.38480599707488, 0.792794926226452],
    "mtcars_cyl6 HC1": [2.82174050918193, 0.93804760703847],
    "mtcars_cyl6 HC2": [2.82238663171433, 0.933736348602287],
    "mtcars_cyl6 HC3": [3.34585673002102, 1.10202019294698],
    "mtcars_cyl8 HC0": [2.74373331038438, 0.697820322025801],
    "mtcars_cyl8 HC1": [2.96357068836423, 0.753732093521446],
    "mtcars_cyl8 HC2": [3.19163228874303, 0.825334809411618],
    "mtcars_cyl8 HC3": [3.73776132252138, 0.980215584765464],
    "mtcars_w_cyl4 HC0": [3.93556103081757, 1.03442691092609, 0.0320963339680517],
    "mtcars_w_cyl4 HC1": [4.61485437067341, 1.21297307134831, 0.0376362876690764],
    "mtcars_w_cyl4 HC2": [4.57118189209653, 1.34313040551382, 0.0397239083830878],
    "mtcars_w_cyl4 HC3": [5.36228686791723, 1.7712315350691, 0.0504554167848943],
    "mtcars_w_cyl6 HC0": [3.43418028653222, 0.902910768182574, 0.0101895555725546],
    "mtcars_w_cyl6 HC1": [4.54299349776243, 1.19443867434669, 0.0134795150076265],
    "mtcars_w_cyl6 HC2": [5.01068346726659, 1.28020682512908, 0.013334111590742],
    "mtcars_w_cyl6 HC3": [7.5822762896726, 1.88391514119963, 0.0184633083944014],
    "mtcars_w_cyl8 HC0": [3.82019779318955, 0.720556556817857, 0.00787910137474344],
    "mtcars_w_cyl8 HC1": [4.30976435241972, 0.812897428508046, 0.00888882515311307],
    "mtcars_w_cyl8 HC2": [4.4371864794207, 0.864752563762355, 0.00907423262201819],
    "mtcars_w_cyl8 HC3": [5.18867213246911, 1.04050233822643, 0.0107196211534842],
    "iris_setosa HC0": [0.292590142064365, 0.0841672424945414],
    "iris_setosa HC1": [0.298623563260896, 0.0859028321536366],
    "iris_setosa HC2": [0.308246460756857, 0.0886179869644056],
    "iris_setosa HC3": [0.325808644549081, 0.0936005843862546],
    "iris_versicolor HC0": [0.604552782987249, 0.216241628004484],
    "iris_versicolor HC1": [0.617019100374281, 0.220700687399882],
    "iris_versicolor HC2": [0.626955953134612, 0.224080310011238],
    "iris_versicolor HC3": [0.650466299026688, 0.232305382538055],
    "iris_virginica HC0": [0.745378237750495, 0.241226232728582],
    "iris_virginica HC1": [0.760748478276486, 0.246200492816195],
    "iris_virginica HC2": [0.773697014854813, 0.250902812858655],
    "iris_virginica HC3": [0.803973527268971, 0.261280249929309],
}


def _groups(*args: str) -> list[dict]:
    r = run_cli("fit", *args, "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)["groups"]


def _se(model: dict, names: list[str]) -> list[float]:
    coef = model["stats"]["coef"]
    return [coef[n]["se"] for n in names]


# each group of the JSON document is a full model document, with its group's values


@pytest.mark.parametrize("cov", ["HC0", "HC1", "HC2", "HC3"])
def test_by_cov_matches_r_vcovhc_per_group(cov):
    for g in _groups(MTCARS, "-x", "wt", "-y", "mpg", "--by", "cyl", "--cov", cov):
        want = R_SE[f"mtcars_cyl{g['group']['cyl']} {cov}"]
        assert _se(g, ["(Intercept)", "wt"]) == pytest.approx(want, rel=1e-9)
        assert g["stats"]["fit"]["cov_type"] == cov == g["inference"]["cov_type"]
    weighted = _groups(
        MTCARS, "-x", "wt,hp", "-y", "mpg", "--by", "cyl", "--weights", "disp", "--cov", cov
    )
    for g in weighted:
        want = R_SE[f"mtcars_w_cyl{g['group']['cyl']} {cov}"]
        assert _se(g, ["(Intercept)", "wt", "hp"]) == pytest.approx(want, rel=1e-9)
    for g in _groups(IRIS, "-x", "Sepal.Width", "-y", "Sepal.Length", "--by", "Species",
                     "--cov", cov):  # fmt: skip
        want = R_SE[f"iris_{g['group']['Species']} {cov}"]
        assert _se(g, ["(Intercept)", "Sepal.Width"]) == pytest.approx(want, rel=1e-9)


def test_by_cov_is_refused_where_the_rows_are_not_at_hand(tmp_path, monkeypatch):
    r = run_cli("fit", MTCARS, "-F", "mpg ~ wt", "--by", "cyl", "--cov", "HC3")
    assert r.returncode == 2 and "--by with --cov HC3" in r.stderr, r.stderr
    r = run_cli(
        "fit", MTCARS, "-x", "wt", "-y", "mpg", "--by", "cyl", "--cov", "HC1",
        env={"LINFIT_KEEP_VALUES": "10"},
    )  # fmt: skip
    assert r.returncode == 4, r.stderr
    assert r.stderr.startswith("Error: ") and r.stderr.count("\n") == 1
    assert "--by with --cov HC1 needs every group's rows in memory" in r.stderr


def test_a_grouped_hc3_model_predicts_with_each_groups_sandwich(tmp_path):
    """predict --interval confidence uses the saved group's robust covariance, as R's
    x' vcovHC(f, type="HC3") x does:

        f <- lm(mpg ~ wt, mt[mt$cyl == c, ]); V <- vcovHC(f, type = "HC3")
        x <- c(1, wt); se <- sqrt(t(x) %*% V %*% x); p <- sum(coef(f) * x)
        p + c(-1, 1) * qt(0.975, f$df.residual) * se
    """
    model = tmp_path / "m.json"
    r = run_cli("fit", MTCARS, "-x", "wt", "-y", "mpg", "--by", "cyl", "--cov", "HC3",
                "--save", model, "--quiet", "-f", "csv")  # fmt: skip
    assert r.returncode == 0, r.stderr
    r = run_cli("predict", model, "-", "--interval", "confidence", input="cyl,wt\n4,2.5\n8,3.5\n")
    assert r.returncode == 0, r.stderr
    rows = [line.split(",") for line in r.stdout.splitlines()[1:]]
    got = [[float(v) for v in row[2:]] for row in rows]
    assert got[0] == pytest.approx([25.453632859932, 22.8121635360979, 28.0951021837661], rel=1e-9)
    assert got[1] == pytest.approx([16.1944963334255, 14.849908608583, 17.539084058268], rel=1e-9)
