"""lstsq accuracy: NIST StRD certified values, exact rational references, streaming = in-memory."""

from __future__ import annotations

import json
import math
from fractions import Fraction

import numpy as np
import pytest

import linfit
from linfit import fitting
from linfit.solvers import SolverOptions

from .conftest import DATA, SAMPLES, fit_json, run_cli

NIST = DATA / "nist"
CERT = json.loads((NIST / "certified.json").read_text())["datasets"]


def lre(estimate: float, certified: float) -> float:
    """Log relative error: correct significant digits, capped at 15."""
    if certified == 0:
        return 15.0 if estimate == 0 else min(15.0, -math.log10(abs(estimate)))
    d = abs(estimate - certified) / abs(certified)
    return 15.0 if d == 0 else min(15.0, -math.log10(d))


def exact_lstsq(A: np.ndarray, y: np.ndarray) -> list[Fraction]:
    """The exact least-squares solution of the float data (rational normal equations)."""
    F = [[Fraction(float(v)) for v in row] for row in A]
    Y = [Fraction(float(v)) for v in y]
    k = A.shape[1]
    G = [
        [sum(r[a] * r[b] for r in F) for b in range(k)] + [sum(r[a] * yi for r, yi in zip(F, Y))]
        for a in range(k)
    ]
    for c in range(k):
        piv = next(r for r in range(c, k) if G[r][c] != 0)
        G[c], G[piv] = G[piv], G[c]
        G[c] = [v / G[c][c] for v in G[c]]
        for r in range(k):
            if r != c and G[r][c] != 0:
                f = G[r][c]
                G[r] = [a - f * b for a, b in zip(G[r], G[c])]
    return [G[r][k] for r in range(k)]


@pytest.mark.parametrize("name", sorted(CERT))
def test_nist_strd_through_cli(name):
    d = CERT[name]
    args = [NIST / d["file"], "--y", d["target"], "--x", ",".join(d["features"])]
    if not d["intercept"]:
        args.append("--no-intercept")
    doc = fit_json(*args)
    digits = [lre(doc["w"][f], d["w"][f]) for f in d["features"]]
    if d["intercept"]:
        digits.append(lre(doc["b"], d["b"]))
    assert min(digits) >= 13, (name, digits)
    # residual standard deviation and R² as NIST certifies them
    if d["residual_sd"]:
        assert lre(doc["stats"]["fit"]["sigma"], d["residual_sd"]) >= 10
    else:
        assert doc["stats"]["fit"]["sigma"] < 1e-12
    assert lre(doc["metrics"]["r2"], d["r_squared"]) >= 10


def test_timestamps_against_exact_reference():
    rng = np.random.default_rng(5)
    t = 1_700_000_000.0 + np.sort(rng.integers(0, 86_400 * 7, 300)).astype(float)
    y = np.round(2.5e-5 * (t - 1.7e9) + 40.0 + rng.normal(0, 0.1, t.size), 3)
    exact = exact_lstsq(np.column_stack([np.ones_like(t), t]), y)
    m = linfit.fit_arrays(t, y)
    assert lre(m.w[0], float(exact[1])) >= 14
    assert lre(m.b, float(exact[0])) >= 13
    # the tutorial's raw-sums formula loses digits of the slope here
    n = len(t)
    raw = (n * np.sum(t * y) - t.sum() * y.sum()) / (n * np.sum(t * t) - t.sum() ** 2)
    assert lre(raw, float(exact[1])) < 10


def test_timestamps_through_cli(tmp_path):
    doc = fit_json(SAMPLES / "timestamps.csv")
    import pandas as pd

    df = pd.read_csv(SAMPLES / "timestamps.csv")
    t, y = df["timestamp"].to_numpy(float), df["load"].to_numpy(float)
    exact = exact_lstsq(np.column_stack([np.ones_like(t), t]), y)
    assert lre(doc["w"]["timestamp"], float(exact[1])) >= 14
    assert lre(doc["b"], float(exact[0])) >= 13


def test_collinear_columns_through_cli(tmp_path):
    p = tmp_path / "c.csv"
    p.write_text("a,b,y\n1,2,1\n2,4,3\n3,6,2\n4,8,5\n")
    proc = run_cli("fit", p)
    assert proc.returncode == 5
    assert "'a' and 'b' are collinear" in proc.stderr
    proc = run_cli("fit", p, "--allow-rank-deficient", "--json")
    assert proc.returncode == 0
    assert "minimum-norm" in proc.stderr
    doc = json.loads(proc.stdout)
    # min-norm solution of y = b + a·wa + 2a·wb: wa + 2wb = slope, with wb = 2wa
    slope = np.polyfit([1, 2, 3, 4], [1, 3, 2, 5], 1)[0]
    assert doc["w"]["a"] + 2 * doc["w"]["b"] == pytest.approx(slope, rel=1e-10)
    assert doc["w"]["b"] == pytest.approx(2 * doc["w"]["a"], rel=1e-8)


@pytest.mark.parametrize("intercept", [True, False])
def test_streamed_equals_in_memory(monkeypatch, intercept):
    """Small blocks without refinement give the in-memory answer to 1e-12 (offset data)."""
    path = str(SAMPLES / "timestamps.csv")
    whole = linfit.fit(path, intercept=intercept)
    monkeypatch.setattr(fitting, "KEEP_ROWS", 0)  # no rows kept: streamed factor only
    from linfit.io import CsvReader

    real = CsvReader.blocks

    def small_blocks(self, sel, report, chunk_rows=None):
        return real(self, sel, report, chunk_rows=97)

    monkeypatch.setattr(CsvReader, "blocks", small_blocks)
    streamed = linfit.fit(path, intercept=intercept)
    assert streamed.solver["refined"] is False and whole.solver["refined"] is True
    np.testing.assert_allclose(streamed.w, whole.w, rtol=1e-12)
    assert streamed.b == pytest.approx(whole.b, rel=1e-12, abs=1e-12)


def test_merge_is_exact_for_any_split():
    from linfit.accumulate import DesignStats

    rng = np.random.default_rng(3)
    X = rng.normal(1e6, 3.0, (1000, 3))
    y = X @ [1.0, -2.0, 0.5] + rng.normal(0, 1, 1000)
    a, b, whole = DesignStats(3), DesignStats(3), DesignStats(3)
    a.update(X[:300], y[:300])
    b.update(X[300:] + 0.0, y[300:])
    whole.update(X, y)
    merged = a.merge(b)
    assert merged.n == 1000
    # same Gram matrix of the centred data
    np.testing.assert_allclose(
        merged.centred().T @ merged.centred(), whole.centred().T @ whole.centred(), rtol=1e-10
    )
    np.testing.assert_allclose(merged.means(), whole.means(), rtol=1e-15)


def test_single_and_multi_feature_paths_agree():
    """One feature, and the same feature beside a second one of zero effect, share one path."""
    rng = np.random.default_rng(11)
    x = rng.uniform(0, 10, 200)
    y = 3 * x + 1 + rng.normal(0, 0.1, 200)
    one = linfit.fit_arrays(x, y)
    exact = exact_lstsq(np.column_stack([np.ones_like(x), x]), y)
    assert lre(one.w[0], float(exact[1])) >= 14.5
    z = rng.normal(0, 1, 200)
    two = linfit.fit_arrays(np.column_stack([x, z]), y)
    exact2 = exact_lstsq(np.column_stack([np.ones_like(x), x, z]), y)
    assert lre(two.w[0], float(exact2[1])) >= 14.5
    assert lre(two.w[1], float(exact2[2])) >= 13


@pytest.mark.parametrize("seed", range(4))
def test_random_problems_match_numpy_on_centred_data(seed):
    rng = np.random.default_rng(seed)
    n, p = 500, 1 + seed
    X = rng.normal(rng.uniform(-100, 100, p), rng.uniform(0.1, 10, p), (n, p))
    y = X @ rng.normal(0, 3, p) + 7 + rng.normal(0, 1, n)
    Xc = X - X.mean(axis=0)
    w_ref = np.linalg.lstsq(Xc, y - y.mean(), rcond=None)[0]
    b_ref = y.mean() - X.mean(axis=0) @ w_ref
    m = linfit.fit_arrays(X, y)
    np.testing.assert_allclose(m.w, w_ref, rtol=1e-10)
    assert m.b == pytest.approx(b_ref, rel=1e-9)


def test_filip_like_polynomial_reaches_exact_solution():
    """A degree-10 polynomial on x in [-9, -3] (Filip's shape): cond ≈ 1e10 after scaling."""
    rng = np.random.default_rng(1)
    x = np.sort(rng.uniform(-8.78, -3.13, 82))
    X = np.column_stack([x**k for k in range(1, 11)])
    y = 1 + 0.5 * X.sum(axis=1) + rng.normal(0, 0.003, 82)
    exact = exact_lstsq(np.column_stack([np.ones_like(x), X]), y)
    m = linfit.fit_arrays(X, y)
    est = [m.b, *m.w]
    assert min(lre(e, float(c)) for e, c in zip(est, exact)) >= 12
    numpy_est = np.linalg.lstsq(np.column_stack([np.ones_like(x), X]), y, rcond=None)[0]
    assert min(lre(e, float(c)) for e, c in zip(numpy_est, exact)) < 5


def test_gd_and_torch_agree_with_lstsq_on_samples():
    for f in sorted(SAMPLES.glob("*.csv")):
        ref = linfit.fit(str(f))
        for method in ("gd", "torch"):
            m = linfit.fit(str(f), method=method, options=SolverOptions(epochs=400))
            np.testing.assert_allclose(m.w, ref.w, rtol=1e-9, err_msg=f"{method} {f.name}")
            scale = max(1.0, abs(ref.b))
            assert abs(m.b - ref.b) <= 1e-9 * scale, (method, f.name)
