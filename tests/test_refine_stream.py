"""Refinement in passes over the input read again (rows not kept in memory): the same answer
as refining the kept rows, for one file, several files, two processes, formulas, weights and
stdin; well-conditioned data are not refined at all. LINFIT_KEEP_VALUES=0 forces the reread
path on small inputs."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from linfit import fitting, parallel
from linfit.solvers import SolverOptions, csne, lstsq

from .conftest import run_cli
from .test_accuracy import exact_lstsq, lre
from .test_refine import polynomial, well_conditioned

FORMULA = "y ~ x0 + x1 + x2 + x3 + log(x0)"


def ulps(a: float, b: float) -> float:
    return abs(a - b) / math.ulp(max(abs(a), abs(b))) if a != b else 0.0


@pytest.fixture
def poly(tmp_path):
    """An ill-conditioned input (x … x⁴ on [2, 5], κ ≈ 1e4 in the solve frame), with row
    weights, as one file and as three parts."""
    X, y = polynomial(n=3000, degree=4, seed=7)
    rng = np.random.default_rng(7)
    df = pd.DataFrame(X, columns=[f"x{j}" for j in range(X.shape[1])])
    df["y"], df["wt"] = y, rng.uniform(0.5, 2.0, len(y))
    whole = tmp_path / "poly.csv"
    df.to_csv(whole, index=False, float_format="%.17g")
    parts = []
    for k, rows in enumerate(np.array_split(np.arange(len(y)), 3)):
        part = tmp_path / f"part{k}.csv"
        df.iloc[rows].to_csv(part, index=False, float_format="%.17g")
        parts.append(str(part))
    return whole, parts, df


def _fit(monkeypatch, keep: bool, path, **kw):
    if keep:
        monkeypatch.delenv("LINFIT_KEEP_VALUES", raising=False)
    else:
        monkeypatch.setenv("LINFIT_KEEP_VALUES", "0")
    data = fitting.read_dataset(path, **kw)
    assert (data.problem.X is not None) == keep
    return fitting.fit_problem(data.problem)


CASES = {
    "one file": lambda whole, parts: (str(whole), {"y": "y", "exclude": ["wt"]}),
    "several files": lambda whole, parts: (parts, {"y": "y", "exclude": ["wt"]}),
    "weights": lambda whole, parts: (str(whole), {"y": "y", "weights": "wt"}),
    "formula": lambda whole, parts: (str(whole), {"formula": FORMULA}),
    "formula, weights, several files": lambda whole, parts: (
        parts,
        {"formula": FORMULA, "weights": "wt"},
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("processes", [1, 2])
def test_reread_equals_kept_rows(poly, monkeypatch, case, processes):
    whole, parts, _ = poly
    path, kw = CASES[case](whole, parts)
    kept = _fit(monkeypatch, True, path, **kw)
    if processes == 2:  # one file in two byte ranges, or several files shared out
        monkeypatch.setattr(parallel, "PARALLEL_MIN_BYTES", 2)
        monkeypatch.setenv("LINFIT_JOBS", "2")
        if isinstance(path, str):
            assert parallel.workers_for(path, False) == 2
    again = _fit(monkeypatch, False, path, **kw)
    for out in (kept, again):
        assert out.notes == []
        assert out.model.solver["refined"] is True and out.model.solver["refine_passes"] >= 1
        assert out.model.solver["error_bound"] < lstsq.REFINE_BELOW
    a = [kept.model.b, *kept.model.w]
    b = [again.model.b, *again.model.w]
    assert max(ulps(u, v) for u, v in zip(a, b)) <= 1, (a, b)
    assert again.model.metrics["rmse"] == pytest.approx(kept.model.metrics["rmse"], rel=1e-14)


def test_reread_reaches_the_exact_solution(poly, monkeypatch):
    whole, _, df = poly
    out = _fit(monkeypatch, False, str(whole), y="y", exclude=["wt"])
    X = df[[c for c in df.columns if c.startswith("x")]].to_numpy()
    exact = exact_lstsq(np.column_stack([np.ones(len(X)), X]), df["y"].to_numpy())
    assert min(lre(e, float(c)) for e, c in zip([out.model.b, *out.model.w], exact)) >= 14


def test_filip_shaped_polynomial_replicated_through_a_formula(tmp_path, monkeypatch):
    """Degree 10 on x in [-8.78, -3.13] (Filip's shape, κ ≈ 5e9 in the solve frame), its 82
    rows written 40 times (the least-squares solution of replicated rows is the original's),
    read through a formula and refined by rereading: ≥ 12 digits of the exact solution."""
    rng = np.random.default_rng(1)
    x = np.sort(rng.uniform(-8.78, -3.13, 82))
    y = 1 + 0.5 * sum(x**k for k in range(1, 11)) + rng.normal(0, 0.003, 82)
    lines = "".join(f"{a!r},{b!r}\n" for a, b in zip(x.tolist(), y.tolist()))
    one = tmp_path / "filip.csv"
    one.write_text("x,y\n" + lines)
    many = tmp_path / "filip40.csv"
    many.write_text("x,y\n" + lines * 40)
    formula = "y ~ " + " + ".join(["x"] + [f"I(x^{k})" for k in range(2, 11)])
    small = fitting.read_dataset(str(one), formula=formula)  # the design's own float values
    A = np.column_stack([np.ones(82), small.problem.X])
    exact = exact_lstsq(A, small.problem.y)
    out = _fit(monkeypatch, False, str(many), formula=formula)
    assert out.model.solver["refine_passes"] >= 2
    assert min(lre(e, float(c)) for e, c in zip([out.model.b, *out.model.w], exact)) >= 12


def test_stdin_is_refined_from_its_copy_which_is_removed(poly, tmp_path):
    whole, _, _ = poly
    spool_dir = tmp_path / "tmp"
    spool_dir.mkdir()
    env = {"LINFIT_KEEP_VALUES": "0", "TMPDIR": str(spool_dir)}
    args = ("--y", "y", "--exclude", "wt", "--json")
    ref = run_cli("fit", whole, *args)
    proc = run_cli("fit", "-", *args, input=whole.read_bytes(), env=env)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    a, b = json.loads(ref.stdout), json.loads(proc.stdout)
    assert b["data"]["source"] == "<stdin>"
    assert b["solver"]["refined"] is True and b["solver"]["refine_passes"] >= 1
    assert b["w"] == a["w"] and b["b"] == a["b"]
    assert list(spool_dir.iterdir()) == []  # the copy of stdin is gone


def test_stdin_copy_is_removed_on_ctrl_c(monkeypatch):
    import io

    from linfit.spool import stdin_copy

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"x,y\n1,2\n3,5\n")))
    with pytest.raises(KeyboardInterrupt), stdin_copy() as path:
        assert sys.stdin.buffer.read() == b"x,y\n1,2\n3,5\n"
        assert Path(path).read_bytes() == b"x,y\n1,2\n3,5\n"
        raise KeyboardInterrupt
    assert not Path(path).exists() and not Path(path).parent.exists()


def test_library_fit_of_stdin_is_refined(poly, monkeypatch):
    import io

    import linfit

    whole, _, _ = poly
    ref = linfit.fit(str(whole), y="y", x=["x0", "x1", "x2", "x3"])
    monkeypatch.setenv("LINFIT_KEEP_VALUES", "0")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(whole.read_bytes())))
    m = linfit.fit("-", y="y", x=["x0", "x1", "x2", "x3"])
    assert m.solver["refined"] is True
    assert list(m.w) == list(ref.w) and m.b == ref.b


def test_stdin_without_a_copy_says_so(poly, monkeypatch):
    import io

    whole, _, _ = poly
    monkeypatch.setenv("LINFIT_KEEP_VALUES", "0")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(whole.read_bytes())))
    data = fitting.read_dataset("-", y="y", exclude=["wt"])
    out = fitting.fit_problem(data.problem)
    assert out.model.solver["refined"] is False
    (note,) = out.notes
    assert "could not be certified" in note and "standard input can be read only once" in note


def test_no_refine_is_a_note(poly):
    whole, _, _ = poly
    proc = run_cli("fit", whole, "--y", "y", "--exclude", "wt", "--json", "--no-refine")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["solver"]["refined"] is False and doc["solver"]["refine_passes"] == 0
    assert doc["solver"]["error_bound"] >= lstsq.REFINE_BELOW
    assert "could not be certified" in proc.stderr and "--no-refine" in proc.stderr


def test_well_conditioned_input_runs_no_pass(tmp_path):
    """Like 1e6 × 4 (smaller here): certified from the streamed factor, no pass, no note."""
    X, y = well_conditioned(200_000, 4, seed=9)
    path = tmp_path / "good.csv"
    pd.DataFrame(np.column_stack([X, y]), columns=["a", "b", "c", "d", "y"]).to_csv(
        path, index=False, float_format="%.17g"
    )
    proc = run_cli("fit", path, "--json", env={"LINFIT_KEEP_VALUES": "0"})
    assert proc.returncode == 0 and "note:" not in proc.stderr, proc.stderr
    solver = json.loads(proc.stdout)["solver"]
    assert solver["refined"] is False and solver["refine_passes"] == 0
    assert solver["error_bound"] < lstsq.REFINE_BELOW


def test_block_sums_merge_in_any_order():
    """g = Aᵀr summed over blocks in double-double does not depend on how rows are split."""
    X, y = polynomial(n=5000, degree=5, seed=3)
    from linfit.accumulate import DesignStats

    st = DesignStats(X.shape[1])
    st.update(X, y)
    frame = csne.Frame(True, st.shift, st.scale)
    theta = np.linspace(-1, 1, X.shape[1] + 1)
    lo = np.zeros_like(theta)
    whole = csne.block_pass(frame, X, y, None, theta, lo)
    cuts = [0, 7, 1000, 1001, 3333, 5000]
    parts = [
        csne.block_pass(frame, X[a:b], y[a:b], None, theta, lo) for a, b in zip(cuts, cuts[1:])
    ]
    merged = parts[0]
    for part in reversed(parts[1:]):
        merged = part.merge(merged)
    scale = np.max(np.abs(whole.g_hi))
    np.testing.assert_array_less(
        np.abs((merged.g_hi - whole.g_hi) + (merged.g_lo - whole.g_lo)), 1e-28 * scale + 1e-300
    )
    assert merged.rows == whole.rows == 5000


def test_refine_stops_when_the_correction_stops_shrinking():
    """A factor that is not the design's (a perturbed R) cannot converge to a certified
    answer: the passes stop, and what was reached is kept."""
    X, y = polynomial(n=400, degree=3, seed=5)
    from linfit.accumulate import DesignStats

    st = DesignStats(X.shape[1])
    st.update(X, y)
    k = X.shape[1] + 1
    R = st.R[:k, :k] * 3.0  # RᵀR 9× AᵀA: each pass shrinks the error by 8/9 only
    frame = csne.Frame(True, st.shift, st.scale)
    theta = np.zeros(k)

    def rows():
        yield X, y, None

    out = csne.refine(frame, R, theta, rows, cond=1e3)
    assert not out.converged and 2 <= out.passes < csne.MAX_PASSES and out.applied >= 1
    assert out.bound > lstsq.REFINE_BELOW


def test_an_input_that_changes_between_passes_is_an_error(poly, monkeypatch):
    from linfit.errors import DataError

    whole, _, _ = poly
    monkeypatch.setenv("LINFIT_KEEP_VALUES", "0")
    data = fitting.read_dataset(str(whole), y="y", exclude=["wt"])
    with open(whole, "a") as fh:  # a writer appends rows after the first pass
        fh.write("3,9,27,81,1,1\n")
    with pytest.raises(DataError, match="changed while it was being fitted"):
        fitting.fit_problem(data.problem)


def test_a_copy_of_stdin_that_cannot_be_written_costs_only_the_refinement(poly, monkeypatch):
    """A full TMPDIR stops the copy, not the fit: it goes on unrefined, and the note says why
    (and the partial copy is gone)."""
    import errno
    import io

    from linfit import spool

    class Full(io.RawIOBase):
        def __init__(self, path, *_a, **_k):
            self.path = path
            Path(path).write_bytes(b"")

        def writable(self):
            return True

        def write(self, _b):
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(spool, "open", Full, raising=False)
    whole, _, _ = poly
    monkeypatch.setenv("LINFIT_KEEP_VALUES", "0")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(whole.read_bytes())))
    cols = {"y": "y", "x": ["x0", "x1", "x2", "x3"]}
    ref = fitting.fit_problem(
        fitting.read_dataset(str(whole), **cols).problem, options=SolverOptions(refine=False)
    )
    with spool.stdin_copy() as path:
        data = fitting.read_dataset("-", **cols, stdin_spool=path)
        got = fitting.fit_problem(data.problem)
        assert not Path(path).exists()  # the partial copy is removed at once
    assert got.model.solver["refined"] is False
    assert list(got.model.w) == list(ref.model.w) and got.model.b == ref.model.b
    assert any("copy could not be written (No space left on device)" in n for n in got.notes)
