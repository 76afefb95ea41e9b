"""Exact data at large offsets give exact answers (issue: wrong numbers at offsets ≥ 1e12).

The data are built so every value is exact in float64: x = offset + small integers (or
multiples of the offset's ulp), y = slope·(x − offset) + intercept₀, computed exactly. The
exact least-squares answer is then known: w = slope, b = intercept₀ − slope·offset (correctly
rounded), the prediction at any x is y itself. With the rows in memory linfit must return
exactly these; from the streamed factor alone (no rows kept: several blocks, merged parts,
two processes) within a few units in the last place.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import linfit
from linfit import fitting, parallel
from linfit.io import CsvReader

from .conftest import run_cli

#: Offsets float64 holds with room for the integer steps used below (ulp ≤ 1 up to 2^53).
OFFSETS = [
    1e6,
    1.7e9,  # seconds since 1970
    1e12,
    1.7e12,  # milliseconds
    1e14,
    1e15,
    1.7e15,  # microseconds
    2.0**52,
    -1e15,
    -3.3e15,
    2.0**53 - 128.0,
]


def ulp_steps(offset: float, n: int) -> np.ndarray:
    """n distinct exact values from offset, spaced by at least its ulp (≥ 1)."""
    step = max(1.0, math.ulp(offset))
    return offset + step * np.arange(n, dtype=np.float64)


def exact_case(offset: float, n: int = 40, slope: float = 2.0, b0: float = 3.0):
    x = ulp_steps(offset, n)
    y = slope * (x - offset) + b0  # x − offset is exact (Sterbenz), the rest small integers
    b = math.fsum([b0, -slope * offset])  # slope·offset is exact (power-of-two slope)
    return x, y, b


def ulps(a: float, b: float) -> float:
    return abs(a - b) / math.ulp(b) if b else abs(a)


@pytest.mark.parametrize("offset", OFFSETS)
def test_exact_data_at_offset_in_memory(offset):
    x, y, b = exact_case(offset)
    m = linfit.fit_arrays(x, y)
    assert m.w[0] == 2.0
    if math.fsum([b, 2.0 * offset]) == 3.0:  # b is representable: exactly it
        assert m.b == b
    else:  # b lies between two floats (near 2^54): one of them
        assert abs(m.b - math.fsum([3.0, -2.0 * offset])) <= math.ulp(b)
    assert m.solver["refined"] is True
    np.testing.assert_array_equal(m.predict(x[:, None]), y)
    # center.y is the prediction at the shift: exact too
    assert m.c == math.fsum([3.0, 2.0 * (float(m.center[0]) - offset)])


@pytest.mark.parametrize("offset", OFFSETS)
def test_intercept_zero_at_offset(offset):
    """y = 2x + 0.5: b is small beside w·x̄, all of it cancels in b = c − w·s."""
    x = ulp_steps(offset, 30)
    if not np.array_equal((2.0 * x + 0.5) - 2.0 * x, np.full(30, 0.5)):
        pytest.skip("2x + 0.5 is not exact at this offset")
    m = linfit.fit_arrays(x, 2.0 * x + 0.5)
    assert (m.w[0], m.b) == (2.0, 0.5)


@pytest.mark.parametrize("offset", [1e9, 1e13, 1.7e15, -(2.0**51)])
def test_several_features_at_different_offsets(offset):
    rng = np.random.default_rng(3)
    n = 60
    X = np.column_stack(
        [
            offset + rng.integers(0, 1000, n).astype(float),
            -offset / 4 + rng.integers(0, 1000, n).astype(float),
            rng.integers(-50, 50, n).astype(float),
        ]
    )
    base = np.array([offset, -offset / 4, 0.0])
    w = np.array([0.5, -1.25, 3.0])  # dyadic: every product below is exact
    y = (X - base) @ w + 7.0
    m = linfit.fit_arrays(X, y)
    np.testing.assert_array_equal(m.w, w)
    assert m.b == math.fsum([7.0, *(-w * base)])
    np.testing.assert_array_equal(m.predict(X), y)


def write_csv(path, columns: dict[str, np.ndarray]) -> None:
    names = list(columns)
    rows = zip(*(columns[k] for k in names))
    path.write_text(
        ",".join(names) + "\n" + "".join(",".join(repr(float(v)) for v in r) + "\n" for r in rows)
    )


@pytest.mark.parametrize("offset", [1.7e9, 1e12, 1e15, 1.7e15, -1e14])
def test_offsets_through_cli_fit_and_predict(tmp_path, offset):
    x, y, b = exact_case(offset, n=50)
    data = tmp_path / "t.csv"
    write_csv(data, {"t": x, "y": y})
    model = tmp_path / "m.json"
    proc = run_cli("fit", data, "--json", "--save", model)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["w"]["t"] == 2.0 and doc["b"] == b
    assert doc["solver"]["refined"] is True
    out = tmp_path / "p.csv"
    proc = run_cli("predict", model, data, "-o", out)
    assert proc.returncode == 0, proc.stderr
    import pandas as pd

    pred = pd.read_csv(out)["y_pred"].to_numpy(float)
    np.testing.assert_array_equal(pred, y)


def _small_blocks(monkeypatch, rows: int) -> None:
    real = CsvReader.blocks

    def small(self, sel, report, chunk_rows=None):
        return real(self, sel, report, chunk_rows=rows)

    monkeypatch.setattr(CsvReader, "blocks", small)


def _close(m, x, y, b):
    """From the streamed factor alone: the last digits, not more."""
    assert ulps(m.w[0], 2.0) <= 4
    # b = c − w·s inherits |s|·δw: a few units of b's last place when |b| ~ |w·s|
    assert abs(m.b - b) <= 4 * math.ulp(b) + abs(m.center[0]) * 4 * math.ulp(2.0)
    pred = m.predict(x[:, None])
    reach = float(np.max(np.abs(x - m.center[0])))  # δw counts with the distance from s
    assert np.max(np.abs(pred - y)) <= 4 * math.ulp(float(np.max(np.abs(y)))) + reach * 4 * (
        math.ulp(2.0)
    )


@pytest.mark.parametrize("offset", [1e12, 1e15, 1.7e15, -1e15])
def test_streamed_blocks_at_offset(tmp_path, monkeypatch, offset):
    x, y, b = exact_case(offset, n=200)
    data = tmp_path / "t.csv"
    write_csv(data, {"t": x, "y": y})
    monkeypatch.setattr(fitting, "KEEP_ROWS", 0)
    _small_blocks(monkeypatch, 7)
    m = linfit.fit(str(data))
    assert m.solver["refined"] is False
    _close(m, x, y, b)
    assert m.solver["error_bound"] < 1e-15


@pytest.mark.parametrize("offset", [1e15, -1.7e15])
def test_several_files_and_two_processes_at_offset(tmp_path, monkeypatch, offset):
    x, y, b = exact_case(offset, n=4000)
    parts = []
    for i, sl in enumerate([slice(0, 1500), slice(1500, 2600), slice(2600, 4000)]):
        p = tmp_path / f"part{i}.csv"
        write_csv(p, {"t": x[sl], "y": y[sl]})
        parts.append(str(p))
    # several files, rows kept: merged statistics, refined on the rows — exact
    m = linfit.fit(parts)
    assert (m.w[0], m.b) == (2.0, b)
    np.testing.assert_array_equal(m.predict(x[:, None]), y)
    # the same files shared among two processes (no rows kept): the streamed factor
    monkeypatch.setattr(parallel, "PARALLEL_MIN_BYTES", 2)
    monkeypatch.setenv("LINFIT_JOBS", "2")
    m2 = linfit.fit(parts)
    assert m2.solver["refined"] is False
    _close(m2, x, y, b)
    # one file read by two processes (byte ranges)
    whole = tmp_path / "whole.csv"
    write_csv(whole, {"t": x, "y": y})
    assert parallel.workers_for(str(whole), False) == 2
    m3 = linfit.fit(str(whole))
    _close(m3, x, y, b)


def test_nanosecond_timestamps_fit_as_well_as_seconds():
    """The same series in s, ms, µs and ns since 1970: slopes and predictions agree."""
    rng = np.random.default_rng(11)
    secs = 1.7e9 + np.sort(rng.integers(0, 86_400, 200)).astype(float)
    load = np.round(40 + 2.5e-5 * (secs - 1.7e9) + rng.normal(0, 0.1, secs.size), 3)
    ref = linfit.fit_arrays(secs, load)
    for unit in (1e3, 1e6, 1e9):
        m = linfit.fit_arrays(secs * unit, load)
        assert m.w[0] * unit == pytest.approx(ref.w[0], rel=1e-13)
        assert m.b == pytest.approx(ref.b, rel=1e-13)
        np.testing.assert_allclose(
            m.predict((secs * unit)[:, None]), ref.predict(secs[:, None]), rtol=1e-13
        )
