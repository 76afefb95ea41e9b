"""Plots: terminal (stderr) and file (PNG/SVG/PDF); never on stdout."""

from __future__ import annotations

import json

import pytest

from .conftest import SAMPLES, run_cli

pytest.importorskip("matplotlib")
pytest.importorskip("plotext")


def test_plot_file_png_and_svg(tmp_path):
    png = tmp_path / "fit.png"
    proc = run_cli(
        "fit", SAMPLES / "noisy_line.csv", "--method", "gd", "--plot-file", png, "--json", "--quiet"
    )
    assert proc.returncode == 0, proc.stderr
    json.loads(proc.stdout)  # stdout is still the JSON document only
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = tmp_path / "fit.svg"
    proc = run_cli("fit", SAMPLES / "multi_feature.csv", "--plot-file", svg, "--quiet")
    assert proc.returncode == 0
    text = svg.read_text()
    assert text.lstrip().startswith("<?xml") and "residual" in text


def test_terminal_plot_goes_to_stderr():
    proc = run_cli(
        "fit", SAMPLES / "noisy_line.csv", "--method", "gd", "--plot", "--format", "csv", "--quiet"
    )
    assert proc.returncode == 0
    assert proc.stdout.startswith("method,target")
    assert "y = 3.97" in proc.stderr and "loss by epoch" in proc.stderr
    assert "\x1b[" not in proc.stderr  # no colour codes when stderr is not a terminal


def test_bad_plot_file_name(tmp_path):
    proc = run_cli("fit", SAMPLES / "noisy_line.csv", "--plot-file", tmp_path / "fit.jpg2")
    assert proc.returncode == 2
    assert proc.stderr.startswith("Error: --plot-file")


def test_reservoir_is_uniform_and_bounded():
    import numpy as np

    from linfit.fitting import Reservoir

    r = Reservoir(500, seed=1)
    for k in range(0, 100_000, 7_000):
        x = np.arange(k, min(k + 7_000, 100_000), dtype=float)
        r.add(x[:, None], x)
    assert len(r.y) == 500 and len(np.unique(r.y)) == 500
    assert 35_000 < r.y.mean() < 65_000  # not the first or last rows only


def test_terminal_plot_has_r_residual_panels():
    """With the inference statistics, --plot adds R's Residuals vs Fitted and Normal Q-Q
    beside the fit, marking mtcars' three largest residuals (named by line number in the
    title) as R's plot.lm labels them (Toyota Corolla 21, Fiat 128 19, Chrysler Imperial 18);
    without the statistics it does not."""
    from pathlib import Path

    mtcars = Path(__file__).parent / "data" / "r" / "mtcars.csv"
    args = ("--x", "wt", "--y", "mpg", "--plot", "--format", "csv", "--quiet")
    proc = run_cli("fit", mtcars, *args, "--method", "gd", "--stats")
    assert proc.returncode == 0, proc.stderr
    err = proc.stderr
    for title in ("data and fit", "loss by epoch", "Residuals vs Fitted", "Normal Q-Q"):
        assert title in err, title
    marked = err.split("Residuals vs Fitted · x: ")[1].split("  ")[0].split()
    assert sorted(marked) == ["18", "19", "21"]
    assert max(len(line) for line in err.splitlines()) <= 80  # not a terminal: 80 columns
    proc = run_cli("fit", mtcars, *args, "--method", "gd")  # no statistics: no panels
    assert proc.returncode == 0 and "Normal Q-Q" not in proc.stderr
    proc = run_cli("fit", "-", *args, input=mtcars.read_text())  # stdin: from its copy
    assert proc.returncode == 0 and "Normal Q-Q" in proc.stderr
    assert sorted(proc.stderr.split("Residuals vs Fitted · x: ")[1].split("  ")[0].split()) == [
        "18",
        "19",
        "21",
    ]


def test_file_panels_label_rows_as_r_does():
    """Each panel labels the three rows R's plot.lm labels: largest |residual| in Residuals vs
    Fitted, largest Cook's distance in Residuals vs Leverage."""
    import numpy as np

    from linfit.plots import labelled_rows

    r = {
        "resid": np.array([0.1, -5.0, 2.0, 3.0, np.nan]),
        "cooks": np.array([0.9, 0.1, 0.2, 0.05, np.nan]),
    }
    assert labelled_rows(r, "resid").tolist() == [1, 3, 2]
    assert labelled_rows(r, "cooks").tolist() == [0, 2, 1]
