"""torch gradient descent in memory: epochs per second on the cpu and on a CUDA GPU.

    python bench/gd_gpu.py [--rows 1e7,1e8] [--features 1] [--dtype float64]
                           [--cpu-epochs 5] [--gpu-epochs 200] [--scale whiten]

For each size, the rows are generated in memory (as bench/gen.py does: x ~ U(0, 1),
y = 1.5 + Σ w·x + N(0, 0.1)), their statistics accumulated once, and the torch solver run
full batch on each device in the same process. "setup" is a run of 0 epochs (rows whitened
on the host and copied to the device once); epochs/s is (E − 0) epochs over the extra time of
an E-epoch run, so it counts only the epochs. Without a GPU the cuda line says so.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from linfit.accumulate import DesignStats  # noqa: E402
from linfit.fitting import fit_problem  # noqa: E402
from linfit.solvers import Problem, SolverOptions  # noqa: E402


def make_problem(rows: int, features: int, seed: int = 0, block: int = 1 << 22) -> Problem:
    rng = np.random.default_rng(seed)
    w = np.linspace(0.5, 2.0, features)
    X = np.empty((rows, features))
    y = np.empty(rows)
    st = DesignStats(features)
    for start in range(0, rows, block):
        m = min(block, rows - start)
        X[start : start + m] = rng.random((m, features))
        y[start : start + m] = 1.5 + X[start : start + m] @ w + rng.normal(0, 0.1, m)
        st.update(X[start : start + m], y[start : start + m])
    names = [f"x{j}" for j in range(features)]
    return Problem(st, names, "y", True, X, y)


def timed(problem: Problem, device: str, epochs: int, args) -> tuple[float, int]:
    import torch

    opts = SolverOptions(
        epochs=epochs, tol=0, device=device, dtype=args.dtype, scale=args.scale, log_every=10**9
    )
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    out = fit_problem(problem, "torch", opts, stats=False)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - t0, int(out.result.epochs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", default="1e7,1e8")
    ap.add_argument("--features", type=int, default=1)
    ap.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    ap.add_argument("--scale", default="whiten", choices=["whiten", "standard", "none"])
    ap.add_argument("--cpu-epochs", type=int, default=5)
    ap.add_argument("--gpu-epochs", type=int, default=200)
    args = ap.parse_args()
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    print(f"torch {torch.__version__}, {torch.get_num_threads()} cpu threads, GPU: {gpu or 'none'}")
    print(f"full-batch torch gd, --scale {args.scale}, {args.dtype}, {args.features} feature(s)\n")
    print("| rows | device | setup (s) | epochs | epochs/s |")
    print("| --- | --- | --- | --- | --- |")
    for rows in (int(float(r)) for r in args.rows.split(",")):
        problem = make_problem(rows, args.features)
        for device, epochs in (("cpu", args.cpu_epochs), ("cuda", args.gpu_epochs)):
            if device == "cuda" and gpu is None:
                print(f"| {rows:,} | cuda | — | — | no GPU |")
                continue
            timed(problem, device, 1, args)  # warm up: kernels, allocator
            setup, _ = timed(problem, device, 0, args)
            total, ran = timed(problem, device, epochs, args)
            rate = ran / max(total - setup, 1e-9)
            print(f"| {rows:,} | {device} | {setup:.2f} | {ran} | {rate:,.1f} |", flush=True)
        del problem


if __name__ == "__main__":
    main()
