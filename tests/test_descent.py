"""Gradient descent (numpy and torch): scaling, the tutorial's loop, convergence, divergence."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

import linfit
from linfit.solvers import Hooks, SolverOptions

from .conftest import SAMPLE_FILES, SAMPLES, fit_json, run_cli, stderr_on_terminal

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
    code, tty_err = stderr_on_terminal(args)
    assert code == 0
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


# -- --scale whiten|standard|none (issue 17) ------------------------------------------------

LONGLEY = ["tests/data/real/longley.csv", "--y", "Employed"]


def _correlated(n=400, seed=5):
    """Two features with correlation 0.999 (condition number of their correlation ≈ 2000)."""
    rng = np.random.default_rng(seed)
    a = rng.normal(10, 3, n)
    X = np.column_stack([a, a + rng.normal(0, 0.15, n)])
    y = X @ [2.0, -1.0] + 4 + rng.normal(0, 0.5, n)
    return X, y


def test_whitened_rows_are_orthonormal_and_map_back():
    from linfit.accumulate import DesignStats
    from linfit.solvers import Problem
    from linfit.solvers._descent import coordinates

    X, y = _correlated()
    st = DesignStats(2)
    st.update(X, y)
    for intercept in (True, False):
        co = coordinates(Problem(st, ["a", "b"], "y", intercept), "whiten")
        Z, yc = co.rows(X, y)
        np.testing.assert_allclose(Z.T @ Z / len(y), np.eye(2), atol=1e-9)
        u = np.array([0.3, -0.7, 0.1][: 2 + intercept])
        w, b = co.to_user(u)
        # the same predictions in both coordinates
        pred_iter = Z @ u[:2] + (co.y_loc + u[2] if intercept else 0.0)
        np.testing.assert_allclose(X @ w + b, pred_iter, rtol=1e-9)


@pytest.mark.parametrize("method", ["gd", "torch"])
def test_lr_1_whitened_solves_in_one_epoch(method):
    X, y = _correlated()
    ref = linfit.fit_arrays(X, y)
    m = linfit.fit_arrays(X, y, method=method, options=SolverOptions(lr=1.0))
    assert m.solver["epochs_run"] == 1 and m.solver["converged"] is True
    assert m.solver["scale"] == "whiten" and m.solver["scaled"] is True
    np.testing.assert_allclose(m.w, ref.w, rtol=1e-9)


@pytest.mark.parametrize("method", ["gd", "torch"])
def test_whiten_beats_standard_on_correlated_features(method):
    """At the defaults whitening reaches 1e-4; standardising leaves the correlated
    direction far from the answer (the rate is 1 − lr·λmin of the correlation matrix)."""
    X, y = _correlated()
    ref = linfit.fit_arrays(X, y)
    white = linfit.fit_arrays(X, y, method=method)
    std = linfit.fit_arrays(X, y, method=method, options=SolverOptions(scale="standard"))
    np.testing.assert_allclose(white.w, ref.w, rtol=1e-4)
    assert np.max(np.abs(std.w - ref.w) / np.abs(ref.w)) > 1e-2


def test_scale_none_is_no_scale():
    a = fit_json(CODE, "--method", "gd", "--scale", "none", "--tol", "0")
    b = fit_json(CODE, "--method", "gd", "--no-scale", "--tol", "0")
    assert a["w"] == b["w"] and a["b"] == b["b"] and a["solver"]["scale"] == "none"
    assert a["solver"]["scaled"] is False


def test_scale_choices_are_checked():
    proc = run_cli("fit", CODE, "--method", "gd", "--scale", "diagonal")
    assert proc.returncode == 2 and proc.stderr.startswith(
        "Error: invalid value for '--scale': 'diagonal'"
    )
    proc = run_cli("fit", CODE, "--method", "gd", "--scale", "whiten", "--no-scale")
    assert proc.returncode == 2 and proc.stderr.count("Error:") == 1


def test_ill_conditioned_standard_note_names_the_condition_number():
    proc = run_cli("fit", *LONGLEY, "--method", "gd", "--scale", "standard", "--json")
    assert proc.returncode == 0
    doc = json.loads(proc.stdout)
    assert doc["solver"]["converged"] is False
    assert doc["solver"]["stop_reason"] == "reached --epochs with the loss still falling"
    note = [ln for ln in proc.stderr.splitlines() if ln.startswith("note: gd stopped")][0]
    cond = float(re.search(r"condition number ([0-9.e+]+)", note).group(1))
    assert 1e3 < cond < 1e5  # longley's correlation matrix: about 1.2e4
    assert "--scale whiten" in note and "larger --lr" not in note
    # the default whitened run on the same data needs no such advice
    proc = run_cli("fit", *LONGLEY, "--method", "gd", "--json")
    assert "condition number" not in proc.stderr and "more --epochs" in proc.stderr


def test_sgd_noise_floor_is_told_apart():
    opts = SolverOptions(batch_size=8, epochs=60, lr=0.2, tol=0)
    out = linfit.fit_problem(
        linfit.read_dataset(str(SAMPLES / "noisy_line.csv")).problem, "gd", opts
    )
    assert out.result.stop_reason == "reached --epochs with the loss flat at SGD's noise floor"
    assert any("a smaller --lr or a larger --batch-size" in n for n in out.notes)
    full = linfit.fit_problem(
        linfit.read_dataset(str(SAMPLES / "noisy_line.csv")).problem,
        "gd",
        SolverOptions(epochs=20, scale="standard"),
    )
    assert full.result.stop_reason == "reached --epochs with the loss still falling"


@pytest.mark.parametrize("method", ["gd", "torch"])
@pytest.mark.parametrize("scale", ["whiten", "standard", "none"])
def test_minibatch_sgd_in_every_scale(method, scale):
    rng = np.random.default_rng(11)
    a = rng.normal(0, 1, 600)
    X = np.column_stack([a, 0.5 * a + rng.normal(0, 1, 600)])  # mildly correlated, centred
    y = X @ [1.5, -0.5] + 0.3 + rng.normal(0, 0.2, 600)
    ref = linfit.fit_arrays(X, y)
    opts = SolverOptions(batch_size=32, epochs=40, lr=0.05, scale=scale, tol=0, seed=2)
    m = linfit.fit_arrays(X, y, method=method, options=opts)
    assert m.solver["scale"] == scale
    np.testing.assert_allclose(m.w, ref.w, rtol=2e-2)
    assert m.b == pytest.approx(ref.b, abs=0.02)


def test_collinear_features_cannot_be_whitened():
    X, y = _correlated()
    X = np.column_stack([X, X[:, 0] + 2 * X[:, 1]])
    from linfit.errors import RankError

    with pytest.raises(RankError, match="collinear"):
        linfit.fit_arrays(X, y, method="gd")


def test_whitened_divergence_hint():
    proc = run_cli("fit", SAMPLES / "multi_feature.csv", "--method", "gd", "--lr", "2.5")
    assert proc.returncode == 1
    assert "lower --lr (whitened, gd converges for any lr below 2" in proc.stderr


@pytest.mark.parametrize(("scale", "tol"), [("whiten", 0.0), ("whiten", 1e-6), ("none", 0.0)])
def test_torch_chunked_epochs_match_one_at_a_time(monkeypatch, scale, tol):
    """The GPU path (chunks of epochs read back at once) stops where the epoch-at-a-time
    loop does, with the same parameters, log and curve (run here on the cpu)."""
    pytest.importorskip("torch")
    from linfit.solvers import gd_torch

    problem = linfit.read_dataset(str(SAMPLES / "multi_feature.csv")).problem
    lr = 0.1 if scale == "whiten" else 0.01
    opts = SolverOptions(epochs=150, tol=tol, scale=scale, lr=lr, log_every=7)
    one = linfit.fit_problem(problem, "torch", opts).result
    monkeypatch.setattr(gd_torch, "HOST_CHUNK", 64)
    many = linfit.fit_problem(problem, "torch", opts).result
    assert many.epochs == one.epochs and many.stop_reason == one.stop_reason
    if tol:
        assert one.converged and one.epochs < 150  # stops inside a chunk
    np.testing.assert_array_equal(many.w, one.w)
    assert many.b == one.b and many.loss_curve == one.loss_curve
    assert [h.epoch for h in many.history] == [h.epoch for h in one.history]


@pytest.mark.parametrize(("device", "code"), [("cuda:0", 8), ("cuda:abc", 2), ("tpu", 2)])
def test_device_strings_without_gpu(device, code):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available() and code == 8:
        pytest.skip("a GPU is present")
    proc = run_cli("fit", CODE, "--method", "torch", "--device", device)
    assert proc.returncode == code
    assert proc.stdout == "" and proc.stderr.count("\n") == 1
    assert proc.stderr.startswith("Error: ") and "internal error" not in proc.stderr


@pytest.mark.cuda
@pytest.mark.parametrize("scale", ["whiten", "standard", "none"])
def test_cuda_matches_cpu_in_every_scale(scale):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU")
    X, y = _correlated()
    lr = 0.002 if scale == "none" else 0.1
    opts = {"scale": scale, "lr": lr, "epochs": 300, "log_every": 7}
    cpu = linfit.fit_arrays(X, y, method="torch", options=SolverOptions(device="cpu", **opts))
    gpu = linfit.fit_arrays(X, y, method="torch", options=SolverOptions(device="cuda", **opts))
    assert gpu.solver["device"] == "cuda" and gpu.solver["epochs_run"] == cpu.solver["epochs_run"]
    np.testing.assert_allclose(gpu.w, cpu.w, rtol=1e-9)
    assert [h["epoch"] for h in gpu.history] == [h["epoch"] for h in cpu.history]


@pytest.mark.cuda
def test_cuda_float32_and_minibatch():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU")
    X, y = _correlated()
    ref = linfit.fit_arrays(X, y)
    m = linfit.fit_arrays(
        X, y, method="torch", options=SolverOptions(device="cuda", dtype="float32", epochs=300)
    )
    assert m.solver["dtype"] == "float32"
    np.testing.assert_allclose(m.w, ref.w, rtol=1e-3)
    opts = SolverOptions(device="cuda:0", batch_size=32, epochs=30, lr=0.05)
    m = linfit.fit_arrays(X, y, method="torch", options=opts)
    assert m.solver["device"] == "cuda:0"
    assert np.sqrt(np.mean((X @ m.w + m.b - X @ ref.w - ref.b) ** 2)) < 0.05 * np.std(y)


def test_quiet_json_keeps_the_stop_fields():
    proc = run_cli("fit", *LONGLEY, "--method", "gd", "--scale", "standard", "--quiet", "--json")
    assert proc.returncode == 0 and proc.stderr == ""
    solver = json.loads(proc.stdout)["solver"]
    assert solver["converged"] is False and solver["epochs_run"] == 100
    assert solver["stop_reason"] == "reached --epochs with the loss still falling"
    assert solver["scale"] == "standard"


def test_library_scale_values():
    assert SolverOptions().scale == "whiten"
    assert SolverOptions(scale=True).scale == "whiten"
    assert SolverOptions(scale=False).scale == "none"
    from linfit.errors import UsageError

    with pytest.raises(UsageError):
        SolverOptions(scale="diag")


@pytest.mark.parametrize("method", ["gd", "torch"])
def test_a_capped_run_says_why_it_stopped(method):
    """Three capped full-batch runs, three reasons: lr 2 whitened swings between two points
    (the loss is flat, the gradient is not small), lr 0.9 with an unreachable --tol sits at the
    floating-point floor, and a short small-lr run is still falling."""
    data = str(SAMPLES / "noisy_line.csv")
    cases = [
        (
            ["--lr", "2"],
            "reached --epochs with the loss flat and the gradient not shrinking",
            "swing across the minimum",
        ),
        (
            ["--lr", "0.9", "--tol", "1e-300"],
            "reached --epochs with the loss flat and the gradient not shrinking",
            "floating-point floor",
        ),
        (["--lr", "0.01"], "reached --epochs with the loss still falling", "more --epochs"),
    ]
    for extra, reason, says in cases:
        proc = run_cli("fit", data, "--method", method, "--epochs", "40", *extra, "--json")
        assert proc.returncode == 0, proc.stderr
        got = json.loads(proc.stdout)["solver"]["stop_reason"]
        if says == "floating-point floor" and got == "gradient below --tol":
            continue  # landed on the minimum: a gradient of exactly 0 (rounding can give it)
        assert got == reason, extra
        note = [ln for ln in proc.stderr.splitlines() if ln.startswith(f"note: {method} stopped")]
        assert len(note) == 1 and says in note[0], (extra, proc.stderr)
