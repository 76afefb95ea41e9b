"""Gradient descent (numpy and torch): scaling, the tutorial's loop, convergence, divergence."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

import linfit
from linfit.solvers import Hooks, SolverOptions

from .conftest import SAMPLE_FILES, SAMPLES, fit_json, run_cli

CODE = SAMPLES / "tutorial_code.csv"


@pytest.mark.parametrize("method", ["gd", "torch"])
@pytest.mark.parametrize("path", SAMPLE_FILES, ids=[p.name for p in SAMPLE_FILES])
def test_defaults_reach_lstsq_to_1e4(method, path):
    """lr 0.1, 100 epochs, scaling on: within 1e-4 of lstsq on every sample file."""
    ref = fit_json(path)
    doc = fit_json(path, "--method", method)
    for f in ref["features"]:
        assert doc["w"][f] == pytest.approx(ref["w"][f], rel=1e-4)
    # b relative to its own size, or to the level of y where b is 0 (tutorial_points)
    level = abs(ref["center"]["y"])
    assert abs(doc["b"] - ref["b"]) <= 1e-4 * max(abs(ref["b"]), level)
    assert doc["solver"]["epochs_run"] <= 100


def _tutorial_torch(seed: int, X: list[float], y: list[float], lr=0.1, epochs=100):
    """The tutorial's PyTorch loop, transcribed (its print line fixed)."""
    import torch

    torch.manual_seed(seed)
    X = torch.tensor([[v] for v in X])
    y = torch.tensor([[v] for v in y])
    w = torch.randn(1, requires_grad=True)
    b = torch.randn(1, requires_grad=True)
    for epoch in range(epochs):
        y_hat = X * w + b
        loss = ((y_hat - y) ** 2).mean() / 2
        loss.backward()
        with torch.no_grad():
            w -= lr * w.grad
            b -= lr * b.grad
        w.grad.zero_()
        b.grad.zero_()
        if epoch % 10 == 0:
            print(f"Epoch {epoch}, loss={loss.item()}, w={w.item():.3f}, b={b.item():.3f}")
    return w.item(), b.item()


def _tutorial_numpy(seed: int, X, y, lr=0.1, epochs=100):
    """The same loop in numpy, on the rows (w then b drawn from default_rng(seed))."""
    rng = np.random.default_rng(seed)
    X, y = np.asarray(X, float), np.asarray(y, float)
    w = rng.standard_normal(1)[0]
    b = rng.standard_normal(1)[0]
    for _ in range(epochs):
        err = (w * X + b) - y
        gw, gb = np.mean(err * X), np.mean(err)
        w, b = w - lr * gw, b - lr * gb
    return w, b


@pytest.mark.parametrize("seed", [0, 1, 42])
def test_no_scale_torch_is_the_tutorial_loop(seed):
    w_ref, b_ref = _tutorial_torch(seed, [1, 2, 3], [2, 3, 4])
    doc = fit_json(
        CODE,
        "--method",
        "torch",
        "--no-scale",
        "--seed",
        seed,
        "--dtype",
        "float32",
        "--tol",
        "0",
        "--quiet",
    )
    assert doc["solver"]["epochs_run"] == 100
    assert doc["w"]["x"] == pytest.approx(w_ref, rel=1e-6)
    assert doc["b"] == pytest.approx(b_ref, rel=1e-6)
    # float64 from the same float32 draws stays within float32 rounding of the tutorial
    doc64 = fit_json(CODE, "--method", "torch", "--no-scale", "--seed", seed, "--tol", "0")
    assert doc64["w"]["x"] == pytest.approx(w_ref, rel=1e-5)


@pytest.mark.parametrize("seed", [0, 7])
def test_no_scale_gd_is_the_numpy_transcription(seed):
    w_ref, b_ref = _tutorial_numpy(seed, [1, 2, 3], [2, 3, 4])
    doc = fit_json(CODE, "--method", "gd", "--no-scale", "--seed", seed, "--tol", "0")
    assert doc["w"]["x"] == pytest.approx(w_ref, rel=1e-12)
    assert doc["b"] == pytest.approx(b_ref, rel=1e-12)
    # the raw tutorial iteration is far from w = 1, b = 1 after 100 epochs; scaled is not
    assert abs(doc["w"]["x"] - 1) > 1e-3
    scaled = fit_json(CODE, "--method", "gd", "--seed", seed)
    assert scaled["w"]["x"] == pytest.approx(1, rel=1e-4)


def test_divergence_exits_1_without_nan(tmp_path):
    proc = run_cli(
        "fit", SAMPLES / "noisy_line.csv", "--method", "gd", "--no-scale", "--lr", "10", "--json"
    )
    assert proc.returncode == 1
    assert proc.stdout == ""
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("Error:")]
    assert len(lines) == 1 and "lower --lr, or drop --no-scale" in lines[0]
    proc = run_cli(
        "fit", SAMPLES / "noisy_line.csv", "--method", "torch", "--no-scale", "--lr", "10", "--json"
    )
    assert proc.returncode == 1 and "torch diverged" in proc.stderr and proc.stdout == ""


def test_scaled_large_lr_diverges_with_hint():
    proc = run_cli("fit", SAMPLES / "multi_feature.csv", "--method", "gd", "--lr", "5")
    assert proc.returncode == 1
    assert "lower --lr" in proc.stderr and "--no-scale" not in proc.stderr


def test_convergence_reporting():
    doc = fit_json(SAMPLES / "noisy_line.csv", "--method", "gd", "--epochs", "5000")
    assert doc["solver"]["converged"] is True
    assert doc["solver"]["epochs_run"] < 5000
    assert doc["solver"]["stop_reason"] == "gradient below --tol"
    proc = run_cli("fit", SAMPLES / "noisy_line.csv", "--method", "gd", "--epochs", "20", "--json")
    doc = json.loads(proc.stdout)
    assert doc["solver"]["converged"] is False and doc["solver"]["epochs_run"] == 20
    assert "stopped at the 20-epoch cap before converging" in proc.stderr
    assert "more --epochs" in proc.stderr


def test_epoch_log_in_user_units_on_stderr():
    proc = run_cli(
        "fit", SAMPLES / "timestamps.csv", "--method", "gd", "--log-every", "25", "--format", "csv"
    )
    assert proc.returncode == 0
    assert "epoch log" in proc.stderr and "epoch log" not in proc.stdout
    rows = [ln.split() for ln in proc.stderr.splitlines() if re.match(r"^\s*\d+\s", ln)]
    epochs = [int(r[0]) for r in rows]
    assert epochs == [0, 25, 50, 75, 100]
    last_w = float(rows[-1][2])
    ref = fit_json(SAMPLES / "timestamps.csv")
    assert last_w == pytest.approx(ref["w"]["timestamp"], rel=1e-4)  # slope in load per second
    quiet = run_cli("fit", SAMPLES / "timestamps.csv", "--method", "gd", "--quiet")
    assert quiet.stderr == ""


def test_history_in_json():
    doc = fit_json(CODE, "--method", "gd", "--log-every", "50", "--epochs", "100", "--tol", "0")
    assert [h["epoch"] for h in doc["history"]] == [0, 50, 100]
    assert doc["history"][-1]["w"]["x"] == doc["w"]["x"]
    losses = [h["loss"] for h in doc["history"]]
    assert losses == sorted(losses, reverse=True)


@pytest.mark.parametrize("method", ["gd", "torch"])
def test_minibatch_sgd(method):
    ref = linfit.fit(str(SAMPLES / "noisy_line.csv"))
    opts = SolverOptions(batch_size=64, epochs=30, lr=0.05, seed=3)
    m = linfit.fit(str(SAMPLES / "noisy_line.csv"), method=method, options=opts)
    np.testing.assert_allclose(m.w, ref.w, rtol=2e-2)
    again = linfit.fit(str(SAMPLES / "noisy_line.csv"), method=method, options=opts)
    np.testing.assert_array_equal(m.w, again.w)  # shuffling follows --seed


def test_full_batch_gd_touches_no_rows():
    """gd runs every epoch from the statistics: it works with no rows kept at all."""
    from linfit.accumulate import DesignStats
    from linfit.fitting import fit_problem
    from linfit.solvers import Problem

    rng = np.random.default_rng(0)
    X = rng.normal(5, 2, (10_000, 2))
    y = X @ [2.0, -1.0] + 3 + rng.normal(0, 0.1, 10_000)
    st = DesignStats(2)
    for k in range(0, 10_000, 1000):
        st.update(X[k : k + 1000], y[k : k + 1000])
    problem = Problem(st, ["a", "b"], "y")  # X and y are None: no rows
    out = fit_problem(problem, "gd", SolverOptions(epochs=1000))
    ref = fit_problem(problem, "lstsq")
    np.testing.assert_allclose(out.model.w, ref.model.w, rtol=1e-9)


def test_no_intercept_descent():
    ref = fit_json(SAMPLES / "tutorial_points.csv", "--no-intercept")
    for method in ("gd", "torch"):
        doc = fit_json(
            SAMPLES / "tutorial_points.csv", "--no-intercept", "--method", method, "--epochs", "400"
        )
        assert doc["b"] == 0.0
        assert doc["w"]["x"] == pytest.approx(ref["w"]["x"], rel=1e-6)


def test_progress_hook_sees_every_epoch():
    seen = []
    linfit.fit_problem(
        linfit.read_dataset(str(CODE)).problem,
        "gd",
        SolverOptions(epochs=30, tol=0),
        Hooks(on_epoch=lambda e, loss: seen.append(e)),
    )
    assert seen == list(range(31))


def test_progress_bar_on_a_terminal_only():
    """A long run on a terminal shows the bar on stderr; piped or --quiet, it does not."""
    import os
    import pty
    import subprocess
    import sys

    args = [
        sys.executable,
        "-m",
        "linfit",
        "fit",
        str(SAMPLES / "noisy_line.csv"),
        "--method",
        "gd",
        "--batch-size",
        "1",
        "--epochs",
        "60",
        "--tol",
        "0",
        "--format",
        "csv",
        "--no-stats",
    ]
    master, slave = pty.openpty()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=slave, close_fds=True)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=120)
    os.close(master)
    tty_err = b"".join(chunks).decode("utf-8", "replace")
    assert proc.returncode == 0
    assert re.search(r"epoch \d+/60", tty_err), tty_err[-500:]
    assert "loss" in tty_err
    piped = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert not re.search(r"epoch \d+/60", piped.stderr)


def test_cuda_request_without_gpu_is_clear():
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    proc = run_cli("fit", CODE, "--method", "torch", "--device", "cuda")
    assert proc.returncode == 8
    assert proc.stderr.startswith("Error: --device cuda was asked for, but no CUDA GPU")


@pytest.mark.cuda
def test_cuda_matches_cpu():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU")
    cpu = fit_json(SAMPLES / "multi_feature.csv", "--method", "torch", "--device", "cpu")
    gpu = fit_json(SAMPLES / "multi_feature.csv", "--method", "torch", "--device", "cuda")
    assert gpu["solver"]["device"] == "cuda"
    for f in cpu["features"]:
        assert gpu["w"][f] == pytest.approx(cpu["w"][f], rel=1e-9)
