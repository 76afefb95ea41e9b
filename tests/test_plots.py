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
