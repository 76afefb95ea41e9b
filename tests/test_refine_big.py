"""Certified accuracy at any size (run with ``pytest -m big``; minutes, several GB of
temporary files written and removed one at a time).

Each NIST StRD set, its rows replicated to at least 4 million (the least-squares solution of
replicated rows is the original's), fits through the CLI to the LRE of the original set, in
at most 300 MB peak memory; a Filip-shaped degree-10 polynomial of 4 million rows reaches 12
digits of its exact solution. The rows are far past the in-memory limit, so the refinement
passes read the file again.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bench.nist_lre import replicate  # the file the bench times, made the same way

from .conftest import ROOT
from .test_accuracy import CERT, NIST, exact_lstsq, lre

pytestmark = pytest.mark.big

ROWS = 4_000_000
PEAK_MB = 300


def cli_fit(path: Path, out_dir: Path, *args: str) -> tuple[dict, str, float]:
    """The JSON document, stderr and peak RSS (MB) of ``linfit fit PATH ARGS --json`` (its
    output kept in ``out_dir``)."""
    out, err = out_dir / f"{path.stem}.json", out_dir / f"{path.stem}.err"
    with open(out, "w") as fo, open(err, "w") as fe:
        proc = subprocess.Popen(
            [sys.executable, "-m", "linfit", "fit", str(path), *args, "--json"],
            stdout=fo,
            stderr=fe,
            cwd=ROOT,
            env=dict(os.environ, NO_COLOR="1"),
        )
        _, status, usage = os.wait4(proc.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, err.read_text()
    return json.loads(out.read_text()), err.read_text(), usage.ru_maxrss / 1024


def digits(doc: dict, d: dict) -> float:
    got = [lre(doc["w"][f], d["w"][f]) for f in d["features"]]
    if d["intercept"]:
        got.append(lre(doc["b"], d["b"]))
    return min(got)


@pytest.mark.parametrize("name", sorted(CERT))
def test_nist_replicated_to_millions_of_rows(name, tmp_path):
    d = CERT[name]
    args = ["--y", d["target"], "--x", ",".join(d["features"])]
    if not d["intercept"]:
        args.append("--no-intercept")
    original, _, _ = cli_fit(NIST / d["file"], tmp_path, *args)
    big = tmp_path / d["file"]
    assert replicate(NIST / d["file"], big, ROWS) >= ROWS
    doc, err, peak = cli_fit(big, tmp_path, *args)
    big.unlink()
    assert "note:" not in err, err
    assert doc["n_samples"] >= ROWS
    assert digits(doc, d) >= min(digits(original, d), 15.0) - 0.2, (name, doc["solver"])
    assert digits(doc, d) >= 13.5, (name, doc["solver"])
    assert doc["solver"]["error_bound"] < 1e-15
    assert peak <= PEAK_MB, (name, peak)


def test_filip_shaped_polynomial_of_millions_of_rows(tmp_path):
    from linfit import fitting

    rng = np.random.default_rng(1)
    x = np.sort(rng.uniform(-8.78, -3.13, 82))
    y = 1 + 0.5 * sum(x**k for k in range(1, 11)) + rng.normal(0, 0.003, 82)
    small = tmp_path / "filip.csv"
    small.write_text("x,y\n" + "".join(f"{a!r},{b!r}\n" for a, b in zip(x.tolist(), y.tolist())))
    formula = "y ~ " + " + ".join(["x"] + [f"I(x^{k})" for k in range(2, 11)])
    kept = fitting.read_dataset(str(small), formula=formula)  # the design's own float values
    exact = exact_lstsq(np.column_stack([np.ones(82), kept.problem.X]), kept.problem.y)
    big = tmp_path / "filip_big.csv"
    assert replicate(small, big, ROWS) >= ROWS
    doc, err, peak = cli_fit(big, tmp_path, "-F", formula)
    assert "note:" not in err, err
    names = ["x"] + [f"I(x^{k})" for k in range(2, 11)]
    est = [doc["b"], *(doc["w"][n] for n in names)]
    assert min(lre(e, float(c)) for e, c in zip(est, exact)) >= 12, doc["solver"]
    assert doc["solver"]["refined"] is True and doc["solver"]["refine_passes"] >= 2
    assert peak <= PEAK_MB, peak


def test_well_conditioned_million_rows_pay_nothing(tmp_path):
    """1e6 rows × 4 features, U(0, 1): certified from the streamed factor, no pass, no note,
    ≤ 300 MB peak (the file is written as bench/gen.py writes it)."""
    rng = np.random.default_rng(0)
    path = tmp_path / "good.csv"
    with open(path, "w") as fh:
        fh.write("x0,x1,x2,x3,y\n")
        for _ in range(4):
            X = rng.random((250_000, 4))
            y = 1.5 + X @ np.linspace(0.5, 2.0, 4) + rng.normal(0, 0.1, len(X))
            np.savetxt(fh, np.column_stack([X, y]), fmt="%.17g", delimiter=",")
    doc, err, peak = cli_fit(path, tmp_path)
    assert "note:" not in err, err
    assert doc["solver"]["refined"] is False and doc["solver"]["refine_passes"] == 0
    assert doc["solver"]["error_bound"] < 1e-15
    assert peak <= PEAK_MB, peak
