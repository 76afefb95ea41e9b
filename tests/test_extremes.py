"""Data at any finite float64 magnitude: huge (near 1.8e308), subnormal, and mixed scales fit
correctly, numpy's RuntimeWarnings never reach the user, and only an answer float64 cannot
hold is refused (one line, exit 4)."""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest

import linfit
from linfit.errors import DataError

from .conftest import run_cli

WARNINGS_ARE_ERRORS = {"PYTHONWARNINGS": "error"}


def exact_line(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """The least-squares line of the float64 data, in exact rational arithmetic."""
    X = [Fraction(float(v)) for v in x]
    Y = [Fraction(float(v)) for v in y]
    n = len(X)
    mx, my = sum(X) / n, sum(Y) / n
    w = sum((a - mx) * (b - my) for a, b in zip(X, Y)) / sum((a - mx) ** 2 for a in X)
    return float(w), float(my - w * mx)


def write(path, x, y) -> None:
    path.write_text("x,y\n" + "".join(f"{float(a)!r},{float(b)!r}\n" for a, b in zip(x, y)))


rng = np.random.default_rng(1)
U = rng.random(30)
NOISE = rng.random(30)
CASES = {
    "huge": (U * 1e308, U * 0.5e308 + 1e307),
    "huge noisy": (U * 1e308, U * 0.5e308 + NOISE * 1e307),
    "huge both signs": ((U - 0.5) * 1.7e308 * 2, (U - 0.5) * 1.7e308 * 2 * 0.25 - 8e307),
    "huge offset, small spread": (1.5e308 + np.arange(30.0) * 1e292, np.arange(30.0) * 3 + 1),
    "subnormal": (U * 1e-310, U * 2e-310 + 1e-311),
    "subnormal y": (U, U * 1e-320),
    "tiny x, huge y": (U * 1e-150, U * 1e150 + 3e150),
}


@pytest.mark.parametrize("case", list(CASES))
def test_extreme_magnitudes_fit_exactly(tmp_path, case):
    x, y = CASES[case]
    path = tmp_path / "e.csv"
    write(path, x, y)
    proc = run_cli("fit", path, "--json", env=WARNINGS_ARE_ERRORS)
    assert proc.returncode == 0, proc.stderr
    assert "Warning" not in proc.stderr
    doc = json.loads(proc.stdout)
    w, b = exact_line(x, y)
    # subnormal inputs carry fewer digits; the fit is still as exact as the data allow
    rel = 1e-13 if case.startswith("subnormal") else 1e-15
    assert doc["w"]["x"] == pytest.approx(w, rel=rel, abs=0)
    assert doc["b"] == pytest.approx(b, rel=rel, abs=abs(w) * 1e-15 * float(np.max(np.abs(x))))


def test_table_output_has_no_warnings(tmp_path):
    x, y = CASES["huge noisy"]
    path = tmp_path / "e.csv"
    write(path, x, y)
    proc = run_cli("fit", path, env=WARNINGS_ARE_ERRORS)
    assert proc.returncode == 0, proc.stderr
    assert "internal error" not in proc.stderr and "Warning" not in proc.stderr


@pytest.mark.parametrize(
    "x, y, words",
    [
        # y = 2x − 2e308: the intercept exceeds float64's range
        (1.5e308 + np.arange(30.0) * 1e292, (np.arange(30.0) * 1e292) * 2 + 1e308, "range"),
        # w = 1e-600: below the smallest subnormal
        (U * 1e300, U * 1e-300, "smallest"),
    ],
)
def test_unrepresentable_answer_is_one_line_error(tmp_path, x, y, words):
    path = tmp_path / "e.csv"
    write(path, x, y)
    proc = run_cli("fit", path, env=WARNINGS_ARE_ERRORS)
    assert proc.returncode == 4, proc.stderr
    errors = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(errors) == 1 and errors[0].startswith("Error: ") and words in errors[0]


def test_library_raises_data_error_not_overflow():
    x = 1.5e308 + np.arange(30.0) * 1e292
    with np.errstate(all="raise"), pytest.raises(DataError, match="float64"):
        linfit.fit_arrays(x, (np.arange(30.0) * 1e292) * 2 + 1e308)
