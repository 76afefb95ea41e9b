"""Gradient descent at the defaults on 20 real regressions (issue 17), against R's lm().

The data are R's and statsmodels' bundled data sets, target first then the features, in
tests/data/real/. The R ones and every coefficient below come from
tests/data/real/make_real.R (run in that folder with R 4.2.2: ``lm(target ~ ., data)`` on
each CSV); the statsmodels ones were written with (statsmodels 0.15)::

    import statsmodels.api as sm
    d = sm.datasets.macrodata.load_pandas().data
    d[["realgdp", "realcons", "realinv", "realgovt", "unemp"]].to_csv("macrodata.csv", index=False)
    d = sm.datasets.statecrime.load_pandas().data
    d[["murder", "poverty", "hs_grad", "urban", "single"]].to_csv("statecrime.csv", index=False)
    d = sm.datasets.fair.load_pandas().data  # 6366 rows: every 20th kept
    d.iloc[::20][["affairs", "rate_marriage", "age", "yrs_married", "children", "religious",
                  "educ"]].to_csv("fair.csv", index=False)
    d = sm.datasets.ccard.load_pandas().data
    d[["AVGEXP", "AGE", "INCOME", "INCOMESQ", "OWNRENT"]].to_csv("ccard.csv", index=False)
    d = sm.datasets.spector.load_pandas().data
    d[["GRADE", "GPA", "TUCE", "PSI"]].to_csv("spector.csv", index=False)
    sm.datasets.copper.load_pandas().data.to_csv("copper.csv", index=False)

Coefficients are compared on compare's unit-free scale: w·sd(x)/sd(y), and the intercept
through the fitted mean, (b + w·x̄ − ȳ)/sd(y); a difference d passes when
d ≤ tol·max(1, |reference|).
"""

from __future__ import annotations

import csv

import numpy as np
import pytest

from linfit.fitting import fit_problem, read_dataset
from linfit.solvers import SolverOptions
from linfit.solvers._descent import coordinates

from .conftest import ROOT

REAL = ROOT / "tests" / "data" / "real"

#: lm() coefficients, intercept first (R: sprintf("%.17g", coef(fit))).
R_COEF = {
    "airquality": [
        -64.342078928591604,
        0.059820589968498511,
        -3.3335913055127464,
        1.6520929109927132,
    ],
    "attitude": [
        10.787076385709765,
        0.61318760780969872,
        -0.073050143099527509,
        0.3203321163761102,
        0.081732133531966358,
        0.038381447302053104,
        -0.21705668158650118,
    ],
    "ccard": [
        -237.14651360146533,
        -3.081814037694155,
        234.34702701923609,
        -14.996844177685041,
        27.940908389308429,
    ],
    "copper": [
        283.95522107899961,
        15.043154497305325,
        1442.8858429454353,
        -64.122980445394589,
        2450.3845241206627,
        187.23071265378599,
    ],
    "fair": [
        5.1895044157410437,
        -0.2953256040369559,
        -0.022999685069919801,
        -0.050726594733443077,
        0.12058188016468939,
        -0.30908870975783886,
        -0.097348901400623175,
    ],
    "freeny": [
        -10.472607103823568,
        0.12386461383197181,
        -0.75424008215469851,
        0.76746092618392936,
        1.3305577449852615,
    ],
    "iris": [1.8559974929175469, 0.65083715931321795, 0.70913195913672855, -0.55648266016702441],
    "lifecyclesavings": [
        28.566086540746795,
        -0.46119314712276754,
        -1.6914976767495367,
        -0.00033690186914134848,
        0.40969492787067102,
    ],
    "longley": [
        -3482.2586345958148,
        0.015061872271372779,
        -0.035819179292591,
        -0.02020229803816824,
        -0.010332268671735891,
        -0.051104105653579195,
        1.8291514646135503,
    ],
    "macrodata": [
        551.19987939223597,
        1.3208388627959691,
        0.25001101209549886,
        0.11153149239296942,
        -5.2120982083369203,
    ],
    "mtcars_five": [
        16.533569595148023,
        0.0087201758834606121,
        -0.020598080744702409,
        -4.3854638878424916,
        2.0157745584685665,
        0.64014990134591176,
    ],
    "mtcars_wt_hp": [37.227270116447201, -3.8778307424046821, -0.031772946982161002],
    "rock": [-407.06898430223913, 2.1933705958533056, 2992.3143119028432, 2.5491837685377168],
    "spector": [
        -1.4980171203996071,
        0.46385167930975896,
        0.010495122237428314,
        0.37855478792602132,
    ],
    "stackloss": [
        -39.919674420123961,
        0.71564020048528332,
        1.2952861243885729,
        -0.1521225191486526,
    ],
    "state_x77": [
        70.94322411112951,
        5.1800363834827201e-05,
        -2.180423782531887e-05,
        0.033820321355291262,
        -0.30112317045182962,
        0.048929478881717087,
        -0.0057350011035554645,
        -7.3831661447743399e-08,
    ],
    "statecrime": [
        -44.102415945293615,
        0.41214991688490504,
        0.30592683558741285,
        0.010888116399213749,
        0.63737459464248536,
    ],
    "swiss": [
        66.915181678968693,
        -0.17211397094145539,
        -0.25800823983472415,
        -0.87094006293942372,
        0.10411533074376744,
        1.077048140690988,
    ],
    "trees": [-57.987658918380951, 4.7081605030175115, 0.33925123424470127],
    "usjudgeratings": [
        -2.1194296817932976,
        0.012796377391844227,
        0.3648402720148986,
        0.12539913785469739,
        0.06669097606623188,
        -0.19452702661702564,
        0.27829293160545687,
        -0.0019601113337665323,
        -0.13579097219528305,
        0.54781767983287233,
        -0.068061595391474036,
        0.26881191916193387,
    ],
}


def _problem(name: str):
    path = REAL / f"{name}.csv"
    with open(path, newline="") as fh:
        header = next(csv.reader(fh))
    return read_dataset(str(path), x=header[1:], y=header[0], keep_all_rows=True).problem


def _unit_free(problem, w, b) -> np.ndarray:
    return coordinates(problem, scaled=True).standardised(np.asarray(w), b)


def _agree(got: np.ndarray, ref: np.ndarray, tol: float) -> None:
    diff = np.abs(got - ref)
    limit = tol * np.maximum(1.0, np.abs(ref))
    assert np.all(diff <= limit), f"max difference {diff.max():.3g} (limit {tol:g})"


@pytest.fixture(scope="module", params=sorted(R_COEF))
def case(request):
    problem = _problem(request.param)
    coef = np.array(R_COEF[request.param])
    ref = _unit_free(problem, coef[1:], coef[0])
    return problem, ref


def test_twenty_real_data_sets():
    assert len(R_COEF) == 20
    assert sorted(p.stem for p in REAL.glob("*.csv")) == sorted(R_COEF)


def test_lstsq_matches_r(case):
    """The exported data are the ones R fitted (and linfit's lstsq agrees with lm)."""
    problem, ref = case
    m = fit_problem(problem, "lstsq").model
    _agree(_unit_free(problem, m.w, m.b), ref, 1e-9)


@pytest.mark.parametrize("method", ["gd", "torch"])
def test_defaults_within_1e4(case, method):
    """lr 0.1, 100 epochs, whitened: the error shrinks by 0.9¹⁰⁰ ≈ 2.7e-5 in every direction."""
    if method == "torch":
        pytest.importorskip("torch")
    problem, ref = case
    out = fit_problem(problem, method, SolverOptions())
    assert out.result.epochs == 100 and out.result.info["scale"] == "whiten"
    _agree(_unit_free(problem, out.model.w, out.model.b), ref, 1e-4)


@pytest.mark.parametrize("method", ["gd", "torch"])
def test_400_epochs_within_1e10(case, method):
    if method == "torch":
        pytest.importorskip("torch")
    problem, ref = case
    out = fit_problem(problem, method, SolverOptions(epochs=400))
    _agree(_unit_free(problem, out.model.w, out.model.b), ref, 1e-10)
