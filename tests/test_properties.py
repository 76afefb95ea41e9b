"""Property tests (Hypothesis), with a fixed example budget that keeps the suite quick."""

from __future__ import annotations

import io
import os
import tempfile

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import linfit
from linfit.cli import app
from linfit.errors import ExitCode
from linfit.model import load_model
from linfit.predict import predict_csv

DOCUMENTED = {int(c) for c in ExitCode}
FIT_CODES = {0, 3, 4, 5}
SETTINGS = settings(
    max_examples=int(os.environ.get("LINFIT_FUZZ_EXAMPLES", "100")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

cell = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(10**6), 10**6).map(str),
    st.text(alphabet="abc,;\"'\n\r\t 1.e-+", max_size=6),
    st.sampled_from(["", "NA", "nan", "inf", "1,5", "1,234", '"', '""', "1e999", "-0"]),
)
csv_text = st.lists(st.lists(cell, min_size=1, max_size=4), min_size=0, max_size=8).map(
    lambda rows: "\n".join(",".join(r) for r in rows)
)


def _invoke(args: list[str]):
    return CliRunner().invoke(app, args, catch_exceptions=True)


@SETTINGS
@given(text=csv_text, quote=st.booleans(), crlf=st.booleans())
def test_random_csv_text_never_tracebacks(text, quote, crlf):
    if quote:
        text = '"' + text
    if crlf:
        text = text.replace("\n", "\r\n")
    with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as fh:
        fh.write(text)
    try:
        res = _invoke(["fit", fh.name, "--format", "json", "--quiet"])
    finally:
        os.unlink(fh.name)
    assert res.exit_code in FIT_CODES, res.output
    assert "Traceback" not in res.output and "internal error" not in res.output
    if res.exit_code != 0:
        errors = [ln for ln in res.output.splitlines() if ln.startswith("Error:")]
        assert len(errors) == 1, res.output


@SETTINGS
@given(data=st.binary(max_size=300))
def test_random_bytes_never_traceback(data):
    with tempfile.NamedTemporaryFile("wb", suffix=".csv", delete=False) as fh:
        fh.write(data)
    try:
        res = _invoke(["fit", fh.name, "--format", "json"])
    finally:
        os.unlink(fh.name)
    assert res.exit_code in DOCUMENTED
    assert res.exit_code in FIT_CODES, res.output
    assert "Traceback" not in res.output and "internal error" not in res.output


well_conditioned = st.tuples(
    st.integers(0, 2**32 - 1),
    st.integers(5, 200),
    st.integers(1, 4),
    st.floats(-1e6, 1e6),
    st.floats(1e-3, 1e3),
)


@SETTINGS
@given(params=well_conditioned)
def test_lstsq_equals_numpy_on_centred_data(params):
    seed, n, p, offset, spread = params
    rng = np.random.default_rng(seed)
    X = offset + spread * rng.standard_normal((n + p, p))
    y = X @ rng.normal(0, 2, p) + rng.normal(0, 1, n + p) * spread + 3.0
    Xc = X - X.mean(axis=0)
    w_ref = np.linalg.lstsq(Xc, y - y.mean(), rcond=None)[0]
    b_ref = y.mean() - X.mean(axis=0) @ w_ref
    m = linfit.fit_arrays(X, y)
    scale = np.abs(w_ref).max() + 1e-300
    assert np.all(np.abs(m.w - w_ref) <= 1e-9 * scale + 1e-9 * np.abs(w_ref))
    bscale = max(abs(b_ref), abs(y.mean()), float(np.abs(X.mean(axis=0) @ w_ref)))
    assert abs(m.b - b_ref) <= 1e-9 * bscale


@SETTINGS
@given(
    seed=st.integers(0, 2**32 - 1),
    p=st.integers(1, 3),
    intercept=st.booleans(),
    offset=st.floats(-1e9, 1e9),
)
def test_fit_save_load_predict_round_trip(seed, p, intercept, offset):
    rng = np.random.default_rng(seed)
    n = 30
    X = offset + rng.uniform(-50, 50, (n, p))
    y = X @ rng.normal(0, 1, p) + rng.normal(0, 1, n)
    names = [f"f{j}" for j in range(p)]
    model = linfit.fit_arrays(X, y, features=names, intercept=intercept)
    own = model.predict(X)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "m.json")
        model.save(path)
        loaded = load_model(path)
        data = os.path.join(d, "d.csv")
        np.savetxt(data, X, delimiter=",", header=",".join(names), comments="", fmt="%.17g")
        out = io.StringIO()
        predict_csv(loaded, data, out)
    pred = np.loadtxt(io.StringIO(out.getvalue()), delimiter=",", skiprows=1)[:, -1]
    np.testing.assert_allclose(pred, own, rtol=1e-12, atol=0)
