"""The tutorial's worked examples, through every method."""

from __future__ import annotations

import numpy as np
import pytest

import linfit
from linfit.solvers import SolverOptions

from .conftest import SAMPLES, fit_json

POINTS = SAMPLES / "tutorial_points.csv"
CODE = SAMPLES / "tutorial_code.csv"


@pytest.mark.parametrize(("path", "w", "b"), [(POINTS, 1.7, 0.0), (CODE, 1.0, 1.0)])
def test_lstsq_exact(path, w, b):
    doc = fit_json(path)
    assert doc["w"]["x"] == pytest.approx(w, rel=1e-12, abs=1e-12)
    assert doc["b"] == pytest.approx(b, rel=1e-12, abs=1e-12)
    assert doc["target"] == "y" and doc["features"] == ["x"]


def test_points_metrics():
    doc = fit_json(POINTS)
    # residuals of y = 1.7x on (1,2),(2,3),(3,5),(4,7): 0.3, -0.4, -0.1, 0.2 → SSE 0.3
    assert doc["metrics"]["mse"] == pytest.approx(0.3 / 4, rel=1e-12)
    assert doc["metrics"]["loss"] == pytest.approx(0.3 / 8, rel=1e-12)
    assert doc["metrics"]["r2"] == pytest.approx(1 - 0.3 / 14.75, rel=1e-12)


@pytest.mark.parametrize("method", ["gd", "torch"])
@pytest.mark.parametrize("path", [POINTS, CODE])
def test_descent_reaches_lstsq(method, path):
    ref = linfit.fit(str(path))
    m = linfit.fit(str(path), method=method, options=SolverOptions(epochs=2000, tol=1e-14))
    np.testing.assert_allclose(m.w, ref.w, rtol=1e-6)
    assert m.b == pytest.approx(ref.b, abs=1e-6)
