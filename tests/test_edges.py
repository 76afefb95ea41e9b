"""Edge cases a new user found: extreme magnitudes in gradient descent, UTF-16 without a
byte-order mark, predictions beyond float64, id-like categorical columns, the target on both
sides of a formula. Each ends in a right answer or one clear line."""

from __future__ import annotations

import json

import numpy as np
import pytest

from .conftest import run_cli


def _one_error(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "Traceback" not in stderr
    return lines[0]


@pytest.mark.parametrize("scale", [1e-300, 1e-200, 1e-160, 1e160, 1e200, 1e307])
def test_gd_at_extreme_magnitudes_matches_lstsq(tmp_path, scale):
    x = np.array([1.0, -1.0, 1.7, 0.0, 0.3]) * scale
    y = np.array([1.0, 2.0, 3.0, 2.5, 2.2])
    f = tmp_path / "d.csv"
    f.write_text("x,y\n" + "".join(f"{a!r},{b!r}\n" for a, b in zip(x.tolist(), y.tolist())))
    ls = json.loads(run_cli("fit", f, "-f", "json").stdout)
    proc = run_cli("fit", f, "-m", "gd", "--epochs", "400", "-f", "json")
    assert proc.returncode == 0, proc.stderr
    gd = json.loads(proc.stdout)
    assert gd["w"]["x"] == pytest.approx(ls["w"]["x"], rel=1e-9)
    assert gd["b"] == pytest.approx(ls["b"], rel=1e-9)


def test_compare_next_to_float64s_limit(tmp_path):
    f = tmp_path / "d.csv"
    f.write_text("x,y\n1e308,1\n-1e308,2\n1.7e308,3\n0,2.5\n")
    proc = run_cli("compare", f, "-f", "json")
    assert proc.returncode == 0, proc.stderr
    rows = {r["method"]: r for r in json.loads(proc.stdout)}
    assert rows["gd"]["w"]["x"] == pytest.approx(rows["lstsq"]["w"]["x"], rel=1e-3)


def test_utf16_without_a_byte_order_mark(tmp_path):
    f = tmp_path / "u.csv"
    f.write_bytes("x,y\n1,2\n2,4\n3,7\n".encode("utf-16-le"))
    proc = run_cli("fit", f, "--encoding", "utf-16")
    assert proc.returncode == 3 and "utf-16-le" in _one_error(proc.stderr)
    ok = run_cli("fit", f, "--encoding", "utf-16-le", "-f", "json")
    assert ok.returncode == 0 and json.loads(ok.stdout)["w"]["x"] == pytest.approx(2.5)


def test_prediction_beyond_float64_is_empty_and_counted(tmp_path):
    d = tmp_path / "d.csv"
    d.write_text("x,y\n1,2\n2,4.1\n3,5.9\n")
    m = tmp_path / "m.json"
    assert run_cli("fit", d, "--save", m).returncode == 0
    new = tmp_path / "n.csv"
    new.write_text("x,y\n1e308,1\n1,2\n")
    proc = run_cli("predict", m, new)
    assert proc.stdout.splitlines()[1] == "1e308,1,"
    assert "1 of 2 rows have a prediction beyond float64's range" in proc.stderr


def test_an_id_column_in_a_formula_is_refused_quickly(tmp_path):
    f = tmp_path / "d.csv"
    rng = np.random.default_rng(0)
    with open(f, "w") as fh:
        fh.write("y,g,x\n")
        rows = enumerate(rng.random((20_000, 2)).tolist())
        fh.writelines(f"{v!r},id{i},{w!r}\n" for i, (v, w) in rows)
    proc = run_cli("fit", f, "-F", "y ~ g + x", timeout=60)
    assert proc.returncode == 4 and "more than 4,097 levels" in _one_error(proc.stderr)


def test_the_target_on_both_sides_is_refused(tmp_path):
    f = tmp_path / "d.csv"
    f.write_text("x,y\n1,2\n2,4.1\n3,5.9\n")
    proc = run_cli("fit", f, "-F", "y ~ y + x")
    assert proc.returncode == 2 and "also a term" in _one_error(proc.stderr)
    assert run_cli("fit", f, "-F", "log(y) ~ y").returncode == 0


@pytest.mark.parametrize("scale", [1e-300, 1e-160, 1e160, 1e300])
def test_statistics_are_scale_invariant_at_extreme_magnitudes(tmp_path, scale):
    """t, p and R² of x·scale equal those of x; se scales with 1/scale (R on rescaled data:
    x = {1, -1, 1.7}·1e308, y = {1, 2, 3} gives se 6.91e-309, t 0.258, p 0.839)."""
    x = np.array([1.0, -1.0, 1.7, 0.2, -0.4])
    y = np.array([1.0, 2.0, 3.0, 2.2, 1.1])
    docs = []
    for k, s in enumerate((1.0, scale)):
        f = tmp_path / f"d{k}.csv"
        f.write_text(
            "x,y\n" + "".join(f"{a!r},{b!r}\n" for a, b in zip((x * s).tolist(), y.tolist()))
        )
        docs.append(json.loads(run_cli("fit", f, "-f", "json").stdout))
    unit, big = (d["stats"]["coef"]["x"] for d in docs)
    assert big["t"] == pytest.approx(unit["t"], rel=1e-9)
    assert big["p"] == pytest.approx(unit["p"], rel=1e-9)
    assert big["se"] * scale == pytest.approx(unit["se"], rel=1e-9)
