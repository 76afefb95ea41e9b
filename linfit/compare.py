"""Fit one data set with several methods and measure how far each is from least squares.

Coefficients are compared on a unit-free scale, so one tolerance suits every data set:
each w as w·sd(x)/sd(y), and the intercept through the fitted mean, (b + w·x̄ − ȳ)/sd(y)
(without an intercept, root mean squares replace standard deviations). A method agrees with
lstsq when every such difference is ≤ atol + rtol·|lstsq's value|.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import LinfitError
from .fitting import fit_problem
from .solvers import Hooks, Problem, SolverOptions
from .solvers._descent import coordinates


@dataclass
class CompareRow:
    method: str
    doc: dict[str, Any] | None
    error: str | None
    exit_code: int
    wall_time_s: float
    standardised: np.ndarray | None = None

    def as_dict(self) -> dict[str, Any]:
        base = dict(self.doc) if self.doc else {"method": self.method}
        base["wall_time_s"] = self.wall_time_s
        base["error"] = self.error
        solver = (self.doc or {}).get("solver", {})
        base["device"] = solver.get("device", "cpu" if self.doc else None)
        base["epochs_run"] = solver.get("epochs_run")
        return base


def run_methods(
    problem: Problem, methods: list[str], options: SolverOptions, hooks: Hooks | None = None
) -> list[CompareRow]:
    """Fit ``problem`` with each method; a failing method is recorded, not raised."""
    try:
        co = coordinates(problem, scaled=True)
    except LinfitError:
        co = None
    rows = []
    for m in methods:
        t0 = time.perf_counter()
        try:
            out = fit_problem(problem, m, options, hooks, stats=False)
            dt = time.perf_counter() - t0
            std = co.standardised(out.model.w, out.model.b) if co else None
            rows.append(CompareRow(m, out.model.to_doc(), None, 0, dt, std))
        except LinfitError as exc:
            rows.append(CompareRow(m, None, str(exc), int(exc.code), time.perf_counter() - t0))
    return rows


def differences(rows: list[CompareRow], intercept: bool) -> dict[str, dict[str, float]]:
    """Per method: the largest absolute coefficient difference from lstsq (user units, kept
    in the JSON) and the largest standardised one (the table's column, what --check tests)."""
    ref = next((r for r in rows if r.method == "lstsq" and r.doc), None)
    out: dict[str, dict[str, float]] = {}
    if ref is None:
        return out
    for r in rows:
        if not r.doc:
            continue
        a = _coef(r.doc, intercept)
        b = _coef(ref.doc, intercept)
        std = std_diff(r, ref)
        out[r.method] = {
            "max_abs_diff": float(np.max(np.abs(a - b))),
            "max_std_diff": float(np.max(std)) if std is not None else float("nan"),
        }
    return out


def std_diff(row: CompareRow, ref: CompareRow) -> np.ndarray | None:
    """|standardised coefficients − lstsq's|: what the table shows (its maximum) and what
    ``--check`` tests, from one place."""
    if row.standardised is None or ref.standardised is None:
        return None
    return np.abs(row.standardised - ref.standardised)


def disagreements(rows: list[CompareRow], rtol: float, atol: float) -> list[str]:
    """Methods whose standardised coefficients differ from lstsq beyond the tolerance."""
    ref = next((r for r in rows if r.method == "lstsq" and r.doc), None)
    bad = []
    if ref is None or ref.standardised is None:
        return bad
    for r in rows:
        diff = std_diff(r, ref)
        if r.doc is None or r.method == "lstsq" or diff is None:
            continue
        limit = atol + rtol * np.abs(ref.standardised)
        if np.any(diff > limit):
            k = int(np.argmax(diff - limit))
            names = [f"w[{f}]" for f in r.doc["features"]] + ["b"]
            bad.append(f"{r.method} ({names[k]} differs by {diff[k]:.3g}, standardised)")
    return bad


def _coef(doc: dict[str, Any], intercept: bool) -> np.ndarray:
    w = [doc["w"][f] for f in doc["features"]]
    return np.array(w + ([doc["b"]] if intercept else []), dtype=np.float64)
