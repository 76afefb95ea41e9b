"""linfit against R's lm() on one documented example (numbers pasted from R 4.2.2).

The R code, run on sample_data (R from Debian's r-base-core):

    d <- read.csv("sample_data/multi_feature.csv")
    m <- lm(y ~ x1 + x2 + x3, data = d)
    options(digits = 15)
    s <- summary(m)
    print(s$coefficients); print(c(sigma = s$sigma, r2 = s$r.squared, adj = s$adj.r.squared))
    print(s$fstatistic); print(c(loglik = as.numeric(logLik(m)), aic = AIC(m), bic = BIC(m)))
    print(confint(m, level = 0.95))
    nd <- data.frame(x1 = c(10, 12), x2 = c(0, -3), x3 = c(5, -20))
    print(predict(m, nd, interval = "confidence")); print(predict(m, nd, interval = "prediction"))
    m0 <- lm(y ~ 0 + x, data = read.csv("sample_data/tutorial_points.csv")); s0 <- summary(m0)
    print(s0$coefficients); print(c(r2 = s0$r.squared, adj = s0$adj.r.squared, sigma = s0$sigma))

R prints 15 significant digits, so agreement is checked to 1e-12 relative (R's own
rounding of the last printed digit is 5e-15).
"""

from __future__ import annotations

import io
import math

import pandas as pd
import pytest

import linfit
from linfit.predict import predict_csv

from .conftest import SAMPLES

R_COEF = {  # estimate, std. error, t value
    "(Intercept)": (12.014924260332981, 0.05541061459551673, 216.834343889503),
    "x1": (2.496405508769066, 0.00547897769591018, 455.633449764273),
    "x2": (-1.697053824648529, 0.00373795011415641, -454.006547123629),
    "x3": (0.500217651281494, 0.00107527860924227, 465.198179320232),
}
R_CI = {
    "(Intercept)": (11.90625555587490, 12.123592964791062),
    "x1": (2.48566039409536, 2.507150623442771),
    "x2": (-1.70438451749862, -1.689723131798441),
    "x3": (0.49810886518968, 0.502326437373307),
}
R_FIT = dict(
    sigma=0.482388947482244,
    r2=0.996806870727226,
    adj_r2=0.996802071434731,
    f=207698.712246085,
    loglik=-1377.86597303330,
    aic=2765.73194606659,
    bic=2793.73645836430,
)
R_CONF = [
    (39.4800676044311, 39.4563922554814, 39.5037429533808),
    (37.0585988138775, 37.0016623387130, 37.1155352890420),
]
R_PRED = [
    (39.4800676044311, 38.5337327729615, 40.4264024359007),
    (37.0585988138775, 36.1108483966743, 38.0063492310807),
]
REL = 1e-12


@pytest.fixture(scope="module")
def model():
    return linfit.fit(str(SAMPLES / "multi_feature.csv"))


def test_coefficients_match_r(model):
    for name, (est, se, t) in R_COEF.items():
        c = model.stats["coef"][name]
        assert c["estimate"] == pytest.approx(est, rel=REL)
        assert c["se"] == pytest.approx(se, rel=REL)
        assert c["t"] == pytest.approx(t, rel=REL)
        assert c["ci_low"] == pytest.approx(R_CI[name][0], rel=REL)
        assert c["ci_high"] == pytest.approx(R_CI[name][1], rel=REL)


def test_fit_statistics_match_r(model):
    f = model.stats["fit"]
    n, k = 2000, 4
    for key in ("sigma", "r2", "adj_r2", "f", "loglik"):
        assert f[key] == pytest.approx(R_FIT[key], rel=REL), key
    # R's AIC()/BIC() also count σ as a parameter; linfit (like statsmodels) counts the
    # k regression coefficients only: the two differ by exactly 2 and log(n).
    assert f["aic"] == pytest.approx(R_FIT["aic"] - 2, rel=REL)
    assert f["bic"] == pytest.approx(R_FIT["bic"] - math.log(n), rel=REL)
    assert f["df_resid"] == n - k


@pytest.mark.parametrize(("kind", "expected"), [("confidence", R_CONF), ("prediction", R_PRED)])
def test_intervals_match_predict_lm(model, tmp_path, kind, expected):
    data = tmp_path / "nd.csv"
    data.write_text("x1,x2,x3\n10,0,5\n12,-3,-20\n")
    out = io.StringIO()
    predict_csv(model, str(data), out, interval=kind)
    got = pd.read_csv(io.StringIO(out.getvalue()))
    for row, (fit, lwr, upr) in zip(got.itertuples(), expected):
        assert row.y_pred == pytest.approx(fit, rel=REL)
        assert row.y_pred_lower == pytest.approx(lwr, rel=REL)
        assert row.y_pred_upper == pytest.approx(upr, rel=REL)


def test_no_intercept_r2_is_uncentred_like_r():
    m = linfit.fit(str(SAMPLES / "tutorial_points.csv"), intercept=False)
    c = m.stats["coef"]["x"]
    assert c["estimate"] == pytest.approx(1.7, rel=REL)
    assert c["se"] == pytest.approx(0.0577350269189625, rel=REL)
    assert c["t"] == pytest.approx(29.4448637286709, rel=REL)
    assert c["p"] == pytest.approx(8.60283782468529e-05, rel=1e-9)
    assert m.stats["fit"]["r2"] == pytest.approx(0.996551724137931, rel=REL)
    assert m.stats["fit"]["adj_r2"] == pytest.approx(0.995402298850575, rel=REL)
    assert m.stats["fit"]["sigma"] == pytest.approx(0.316227766016838, rel=REL)
