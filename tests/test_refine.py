"""Refinement only when it pays: the streamed solution's error bound decides; the solver
block reports refined, refine_passes and error_bound; a note only when the answer could not
be certified, saying why (rows not kept, rank deficient)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import linfit
from linfit import fitting
from linfit.solvers import SolverOptions, lstsq

from .conftest import run_cli
from .test_accuracy import exact_lstsq, lre


def well_conditioned(n: int, p: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.random((n, p))
    return X, 1.5 + X @ np.linspace(0.5, 2.0, p) + rng.normal(0, 0.1, n)


def polynomial(n: int = 120, degree: int = 7, seed: int = 1):
    """x, x², … on [2, 5]: ill-conditioned (κ ≈ 1e5–1e8), far above what the bound certifies."""
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(2, 5, n))
    X = np.column_stack([x**k for k in range(1, degree + 1)])
    return X, 1 + 0.25 * X.sum(axis=1) + rng.normal(0, 0.01, n)


def write(path, X, y) -> None:
    cols = [f"x{j}" for j in range(X.shape[1])] + ["y"]
    rows = np.column_stack([X, y])
    path.write_text(
        ",".join(cols) + "\n" + "".join(",".join(map(repr, r)) + "\n" for r in rows.tolist())
    )


def test_well_conditioned_is_not_refined_and_is_accurate():
    X, y = well_conditioned(20_000, 3)
    m = linfit.fit_arrays(X, y)
    assert m.solver["refined"] is False and m.solver["refine_passes"] == 0
    assert m.solver["error_bound"] < lstsq.REFINE_BELOW
    A = np.column_stack([np.ones(len(y)), X])
    ref = np.linalg.lstsq(A, y, rcond=None)[0]
    # what the bound promises: the streamed answer is within it of the exact one
    sub = slice(0, 400)  # exact rational reference on a subset (same shape of problem)
    m2 = linfit.fit_arrays(X[sub], y[sub], stats=False)
    exact = exact_lstsq(A[sub], y[sub])
    assert min(lre(e, float(c)) for e, c in zip([m2.b, *m2.w], exact)) >= 14.5
    np.testing.assert_allclose([m.b, *m.w], ref, rtol=1e-13)


def test_bound_is_honest_on_random_problems():
    """On problems of every conditioning, the true error stays within a few times the bound."""
    for seed in range(6):
        X, y = polynomial(n=60, degree=2 + seed, seed=seed)
        problem = linfit.fitting.DesignStats(X.shape[1])
        problem.update(X, y)
        from linfit.solvers import Hooks, Problem

        pr = Problem(problem, [f"x{j}" for j in range(X.shape[1])], "y")  # no rows: streamed
        res = lstsq.solve(pr, SolverOptions(), Hooks())
        exact = [float(v) for v in exact_lstsq(np.column_stack([np.ones(len(y)), X]), y)]
        err = max(abs(a - c) / abs(c) for a, c in zip([res.b, *res.w], exact))
        assert err <= 10 * res.info["error_bound"] + 1e-16, (seed, err, res.info)


def test_ill_conditioned_with_rows_is_refined_to_the_exact_solution():
    X, y = polynomial()
    m = linfit.fit_arrays(X, y)
    assert m.solver["refined"] is True and m.solver["refine_passes"] >= 1
    exact = exact_lstsq(np.column_stack([np.ones(len(y)), X]), y)
    assert min(lre(e, float(c)) for e, c in zip([m.b, *m.w], exact)) >= 13
    assert m.solver["error_bound"] < 1e-14


def test_rows_not_kept_are_read_again_for_refinement(tmp_path, monkeypatch):
    """Past the in-memory limit the input is read again for the passes: same answer as from
    the kept rows, no note."""
    X, y = polynomial()
    path = tmp_path / "p.csv"
    write(path, X, y)
    kept = fitting.read_dataset(str(path))
    assert kept.problem.X is not None
    ref = fitting.fit_problem(kept.problem)
    monkeypatch.setattr(fitting, "KEEP_ROWS", 0)
    data = fitting.read_dataset(str(path))
    assert data.problem.X is None
    out = fitting.fit_problem(data.problem)
    solver = out.model.solver
    assert solver["refined"] is True and solver["refine_passes"] >= 1
    assert solver["error_bound"] < lstsq.REFINE_BELOW
    assert out.notes == []
    np.testing.assert_array_equal(out.model.w, ref.model.w)
    assert out.model.b == ref.model.b
    exact = exact_lstsq(np.column_stack([np.ones(len(y)), X]), y)
    assert min(lre(e, float(c)) for e, c in zip([out.model.b, *out.model.w], exact)) >= 13


def test_rows_that_cannot_be_read_again_note_says_so(tmp_path, monkeypatch):
    X, y = polynomial()
    path = tmp_path / "p.csv"
    write(path, X, y)
    monkeypatch.setattr(fitting, "KEEP_ROWS", 0)
    data = fitting.read_dataset(str(path))
    data.problem.reread = None  # as Dask's workers, which keep the rows
    out = fitting.fit_problem(data.problem)
    solver = out.model.solver
    assert solver["refined"] is False and solver["refine_passes"] == 0
    assert solver["error_bound"] >= lstsq.REFINE_BELOW
    (note,) = out.notes
    assert "could not be certified" in note and "not kept in memory" in note
    assert "did not fit in memory" not in note


def test_keep_rows_is_not_the_accuracy_switch(tmp_path, monkeypatch):
    """A well-conditioned input gives the same answer, unrefined and without a note, whether
    its rows were kept or not."""
    X, y = well_conditioned(30_000, 2, seed=4)
    path = tmp_path / "w.csv"
    write(path, X, y)
    kept = fitting.fit_problem(fitting.read_dataset(str(path)).problem)
    monkeypatch.setattr(fitting, "KEEP_ROWS", 0)
    dropped = fitting.fit_problem(fitting.read_dataset(str(path)).problem)
    for out in (kept, dropped):
        assert out.model.solver["refined"] is False and out.notes == []
    np.testing.assert_array_equal(kept.model.w, dropped.model.w)


def test_small_inputs_are_refined_for_their_last_digit():
    """Refinement costs nothing on a few kept rows, so it settles the last unit there."""
    X, y = well_conditioned(50, 2)
    m = linfit.fit_arrays(X, y)
    assert m.solver["refined"] is True


def test_rank_deficient_note_says_why(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("a,b,y\n1,2,1\n2,4,3\n3,6,2\n4,8,5\n")
    proc = run_cli("fit", path, "--allow-rank-deficient", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["solver"]["refined"] is False
    assert "rank deficient" in proc.stderr and "not refined" in proc.stderr


@pytest.mark.parametrize(
    "names, columns, expect",
    [
        # three mutually dependent columns and an independent one
        ("a b c ind", lambda a, b, c, d: [a, b, 3 * a - 0.001 * b, d], "a b c"),
        # four, with very different weights
        ("a b c dd ind", lambda a, b, c, d: [a, b, c, 1e-6 * a + 2e3 * b - 7 * c, d], "a b c dd"),
        # the dependent column first, an independent one before it
        ("ind dep a b", lambda a, b, c, d: [d, 1e-3 * a + b, a, b], "dep a b"),
        # two separate dependencies
        ("a a2 b b3 ind", lambda a, b, c, d: [a, 2 * a, b, 3 * b, d], "a a2 b b3"),
        # a dependency through the intercept: a + b = 1
        ("a b ind", lambda a, b, c, d: [a, 1 - a, d], "a b"),
    ],
)
def test_collinearity_names_every_column(tmp_path, names, columns, expect):
    rng = np.random.default_rng(0)
    cols = columns(*rng.random((4, 40)))
    names, expect = names.split(), expect.split()
    X = np.column_stack(cols)
    rows = np.column_stack([X, rng.random(40)]).tolist()
    path = tmp_path / "c.csv"
    path.write_text(
        ",".join([*names, "y"]) + "\n" + "".join(",".join(map(repr, r)) + "\n" for r in rows)
    )
    proc = run_cli("fit", path)
    assert proc.returncode == 5, proc.stderr
    (line,) = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    for name in expect:
        assert repr(name) in line, (name, line)
    for name in set(names) - set(expect):
        assert repr(name) not in line, (name, line)
    assert ("the intercept" in line) == (names == ["a", "b", "ind"]), line


def test_rows_are_kept_only_when_refinement_is_likely(tmp_path, monkeypatch):
    """After CHECK_VALUES values the streamed bound decides whether to go on keeping rows:
    a well-conditioned input keeps none (and needs none); an ill-conditioned one keeps
    them and is refined from them."""
    monkeypatch.setattr(fitting, "CHECK_VALUES", 4096)
    X, y = well_conditioned(6000, 3, seed=2)
    good = tmp_path / "good.csv"
    write(good, X, y)
    data = fitting.read_dataset(str(good))
    assert data.problem.X is None
    out = fitting.fit_problem(data.problem)
    assert out.model.solver["refined"] is False and out.notes == []

    X, y = polynomial(n=6000)
    bad = tmp_path / "bad.csv"
    write(bad, X, y)
    data = fitting.read_dataset(str(bad))
    assert data.problem.X is not None and len(data.problem.y) == 6000
    out = fitting.fit_problem(data.problem)
    assert out.model.solver["refined"] is True and out.notes == []


@pytest.mark.parametrize("by", [False, True])
def test_a_true_zero_coefficient_is_certified(tmp_path, by):
    """y = 2x exactly: b is 0. Refinement drives it towards 0 geometrically; it is certified
    once far below anything the data resolve (within a few passes), with no note."""
    rng = np.random.default_rng(5)
    x = rng.random(1500).tolist()
    g = [i % 3 for i in range(1500)]
    path = tmp_path / "exact.csv"
    path.write_text("g,x,y\n" + "".join(f"{a},{b!r},{2 * b!r}\n" for a, b in zip(g, x)))
    args = ["--by", "g"] if by else ["-x", "x"]
    proc = run_cli("fit", str(path), *args, "-y", "y", "--json")
    assert proc.returncode == 0 and "note" not in proc.stderr, proc.stderr
    doc = json.loads(proc.stdout)
    models = doc["groups"] if by else [doc]
    for m in models:
        assert m["solver"]["error_bound"] < 1e-15 and m["solver"]["refine_passes"] <= 3
        assert abs(m["b"]) < 1e-30 and m["w"]["x"] == 2.0
