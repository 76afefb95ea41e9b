"""Wide inputs are refused before any p×p statistics exist: more coefficients than
MAX_PARAMS at the header, fewer rows than coefficients without building the factor."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import linfit
from linfit.accumulate import DesignStats
from linfit.errors import DataError
from linfit.limits import MAX_PARAMS

from .conftest import run_cli


def wide_csv(path, p: int, rows: int) -> None:
    rng = np.random.default_rng(0)
    head = ",".join([f"x{j}" for j in range(p)] + ["y"])
    body = "".join(",".join(f"{v:.6f}" for v in r) + "\n" for r in rng.random((rows, p + 1)))
    path.write_text(head + "\n" + body)


def test_too_many_coefficients_refused_with_the_limit(tmp_path):
    path = tmp_path / "w.csv"
    wide_csv(path, MAX_PARAMS + 10, 5)
    proc = run_cli("fit", path)
    assert proc.returncode == 4, proc.stderr
    (line,) = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert line.startswith("Error: ") and f"{MAX_PARAMS:,}".replace(",", "") in line.replace(
        ",", ""
    )


def test_max_params_counts_the_intercept(tmp_path):
    with pytest.raises(DataError, match=str(MAX_PARAMS)):
        linfit.fit_arrays(np.ones((3, MAX_PARAMS)), np.ones(3))


@pytest.mark.parametrize("p, rows", [(3000, 5), (1200, 1), (2500, 40)])
def test_fewer_rows_than_coefficients_refused(tmp_path, p, rows):
    path = tmp_path / "w.csv"
    wide_csv(path, p, rows)
    proc = run_cli("fit", path)
    assert proc.returncode == 4, proc.stderr
    (line,) = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert "needs more rows than coefficients" in line
    assert f"{rows} row" in line and f"{p + 1} parameters" in line


def test_no_factor_is_built_while_rows_are_fewer_than_columns():
    p, rows = 3000, 6
    rng = np.random.default_rng(1)
    st = DesignStats(p)
    tracemalloc.start()
    for _ in range(rows):  # rows arrive one by one, as blocks of a stream
        st.update(rng.random((1, p)), rng.random(1))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert st.n == rows and st.factor is None
    assert peak < (p * p * 8) // 20  # far below one p×p array (72 MB)


def test_held_rows_give_the_same_factor():
    rng = np.random.default_rng(2)
    X, y = rng.random((12, 10)), rng.random(12)
    held = DesignStats(10)
    for i in range(12):  # the first 11 rows are held, then folded at once
        held.update(X[i : i + 1], y[i : i + 1])
    whole = DesignStats(10)
    whole.update(X, y)
    # different frames (the first row's values vs the mean), the same statistics
    np.testing.assert_allclose(held.means(), whole.means(), rtol=1e-13)
    Ch, Cw = held.centred(), whole.centred()
    np.testing.assert_allclose(Ch.T @ Ch, Cw.T @ Cw, rtol=1e-11, atol=1e-13)
