"""Refinement on the Dask engine: each partition sums its share of a pass (g = AᵀW·r and
Σw·r² in double-double, csne.pass_over) where its rows are, the shares merge exactly in a
tree, and the fit equals the local engine's refined fit — plain columns, weights, formulas.
A real scheduler and two workers on 127.0.0.1 (tests/test_dask.py's fixture)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from linfit.solvers import csne, kept_blocks

from .conftest import ROOT, fit_json, run_cli
from .test_accuracy import CERT, NIST, exact_lstsq, lre
from .test_dask import scheduler  # noqa: F401 - the fixture
from .test_refine import polynomial, well_conditioned

pytest.importorskip("distributed")

FORMULA = "y ~ x0 + x1 + x2 + x3 + log(x0)"


def ulps(a: float, b: float) -> float:
    return abs(a - b) / math.ulp(max(abs(a), abs(b))) if a != b else 0.0


def coefs(doc: dict) -> list[float]:
    return [doc["b"], *doc["w"].values()]


def split(df: pd.DataFrame, folder, stem: str, parts: int = 3) -> str:
    """``df`` as ``parts`` files; their glob."""
    for k, rows in enumerate(np.array_split(np.arange(len(df)), parts)):
        df.iloc[rows].to_csv(folder / f"{stem}{k}.csv", index=False, float_format="%.17g")
    return str(folder / f"{stem}*.csv")


def dask_json(sched: dict, *args: str) -> dict:
    return fit_json(*args, "--engine", "dask", "--scheduler", sched["address"], timeout=300)


@pytest.mark.parametrize("name", ["wampler4", "pontius", "wampler1"])
def test_nist_split_over_files_is_refined_on_the_workers(scheduler, tmp_path, name):  # noqa: F811
    d = CERT[name]
    if d["file"] != f"{name}.csv":
        pytest.skip(f"{name} is not in tests/data/nist")
    args = ["--y", d["target"], "--x", ",".join(d["features"])]
    args += [] if d["intercept"] else ["--no-intercept"]
    glob = split(pd.read_csv(NIST / d["file"]), tmp_path, name)
    local = fit_json(glob, *args)
    remote = dask_json(scheduler, glob, *args)
    solver = remote["solver"]
    assert solver["refined"] is True and solver["refine_passes"] >= 1, solver
    assert solver["error_bound"] < 1e-15
    assert max(ulps(a, b) for a, b in zip(coefs(local), coefs(remote))) <= 1
    digits = [min(lre(doc["w"][f], d["w"][f]) for f in d["features"]) for doc in (local, remote)]
    assert digits[1] >= digits[0] - 0.1 and digits[1] >= 13, digits
    unrefined = dask_json(scheduler, glob, *args, "--no-refine")
    assert unrefined["solver"]["refine_passes"] == 0  # the passes are what changed the answer
    assert coefs(unrefined) != coefs(remote)


@pytest.fixture
def poly(tmp_path):
    """x … x⁵ on [2, 5] (κ ≈ 1e5 in the solve frame) with row weights, as three files."""
    X, y = polynomial(n=3000, degree=5, seed=7)
    df = pd.DataFrame(X, columns=[f"x{j}" for j in range(X.shape[1])])
    df["y"], df["wt"] = y, np.random.default_rng(7).uniform(0.5, 2.0, len(y))
    return split(df, tmp_path, "poly"), df


CASES = {
    "columns": ["--y", "y", "--exclude", "wt"],
    "weights": ["--y", "y", "--weights", "wt"],
    "formula, weights": ["-F", FORMULA, "--weights", "wt"],
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_polynomial_equals_the_local_refined_fit(scheduler, poly, case):  # noqa: F811
    glob, df = poly
    local = fit_json(glob, *CASES[case])
    remote = dask_json(scheduler, glob, *CASES[case])
    assert remote["solver"]["refined"] is True and remote["solver"]["refine_passes"] >= 1
    assert local["solver"]["refined"] is True
    assert max(ulps(a, b) for a, b in zip(coefs(local), coefs(remote))) <= 1
    assert remote["metrics"]["rmse"] == pytest.approx(local["metrics"]["rmse"], rel=1e-14)
    if case == "columns":
        X = df[[c for c in df.columns if c.startswith("x")]].to_numpy()
        exact = exact_lstsq(np.column_stack([np.ones(len(X)), X]), df["y"].to_numpy())
        assert min(lre(e, float(c)) for e, c in zip(coefs(remote), exact)) >= 14


def test_refined_fit_with_robust_errors_matches_local(scheduler, poly):  # noqa: F811
    """Refinement's passes and --cov HC's pass share one cluster session."""
    glob, _ = poly
    args = ["--y", "y", "--exclude", "wt", "--cov", "HC1"]
    local, remote = fit_json(glob, *args), dask_json(scheduler, glob, *args)
    assert remote["solver"]["refined"] is True
    assert max(ulps(a, b) for a, b in zip(coefs(local), coefs(remote))) <= 1
    se_l = [c["se"] for c in local["stats"]["coef"].values()]
    se_r = [c["se"] for c in remote["stats"]["coef"].values()]
    assert se_r == pytest.approx(se_l, rel=1e-10)


def test_well_conditioned_runs_no_pass_on_the_workers(scheduler, tmp_path):  # noqa: F811
    X, y = well_conditioned(30_000, 4, seed=9)
    df = pd.DataFrame(np.column_stack([X, y]), columns=["a", "b", "c", "d", "y"])
    proc = run_cli(
        "fit", split(df, tmp_path, "good"), "--json", "--engine", "dask",
        "--scheduler", scheduler["address"], timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0 and "note:" not in proc.stderr, proc.stderr
    solver = json.loads(proc.stdout)["solver"]
    assert solver["refined"] is False and solver["refine_passes"] == 0
    assert solver["error_bound"] < 1e-15


class Shares:
    """Rows held in parts: each pass sums every part's share and merges them, as the Dask
    engine's ClusterRows does on its workers."""

    def __init__(self, parts):
        self.parts, self.calls = parts, 0

    def refine_pass(self, frame, hi, lo):
        self.calls += 1
        shares = [csne.pass_over(frame, kept_blocks(X, y, None), hi, lo) for X, y in self.parts]
        total = shares[0]
        for s in shares[1:]:
            total = total.merge(s)
        return total


def test_refine_from_remote_shares_equals_refine_from_rows():
    from linfit.accumulate import DesignStats
    from linfit.linalg import solve_upper

    X, y = polynomial(n=2000, degree=6, seed=3)
    st = DesignStats(X.shape[1])
    st.update_columns(np.vstack([X.T, y]))
    k = X.shape[1] + 1
    R = st.R[:k, :k]
    theta = solve_upper(R, st.R[:k, -1])
    frame = csne.Frame(True, st.shift, st.scale)
    whole = csne.refine(frame, R, theta, lambda: kept_blocks(X, y, None), cond=1e6)
    cuts = [0, 333, 1400, 2000]
    shares = Shares([(X[a:b], y[a:b]) for a, b in zip(cuts, cuts[1:])])
    remote = csne.refine(frame, R, theta, None, cond=1e6, remote=shares)
    assert whole.passes == remote.passes == shares.calls and whole.applied >= 1
    np.testing.assert_allclose(remote.hi + remote.lo, whole.hi + whole.lo, rtol=1e-15, atol=0)


@pytest.mark.filterwarnings("ignore:Port .* is already in use")  # another run's cluster
def test_one_local_cluster_serves_every_pass(poly, monkeypatch):
    """Without --scheduler the run starts one local cluster, and the read, the refinement's
    passes and --cov HC's pass all use it (cli.py's dask_engine.session())."""
    from contextlib import contextmanager

    from typer.testing import CliRunner

    from linfit import dask_engine
    from linfit.cli import app

    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # the workers import this checkout's linfit
    started = []
    real = dask_engine._new_cluster

    @contextmanager
    def counted(address, workers):
        started.append(workers)
        with real(address, workers) as client:
            yield client

    monkeypatch.setattr(dask_engine, "_new_cluster", counted)
    glob, _ = poly
    argv = ["fit", glob, "--y", "y", "--exclude", "wt", "--cov", "HC1", "--json"]
    res = CliRunner().invoke(app, [*argv, "--engine", "dask", "--workers", "1"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["solver"]["refined"] is True and doc["solver"]["refine_passes"] >= 1
    assert started == [1]
    local = fit_json(*argv[1:-1])
    assert max(ulps(a, b) for a, b in zip(coefs(local), coefs(doc))) <= 1
