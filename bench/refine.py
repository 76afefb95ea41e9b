"""Refinement only when it pays: wall time, peak RSS and the solver block of `linfit fit`.

    python bench/refine.py [--rows 1e6] [--features 3] [--repeat 3] [--dir /tmp/linfit-bench]

A well-conditioned file (bench/gen.py: x ~ U(0, 1), y = 1.5 + Σ w·x + noise) should be
solved from the streamed factor with no refinement pass and no note; an ill-conditioned one
(x, x², …, x⁶ on [2, 5]: condition ≈ 5e5 after centring and scaling) is refined, from the
kept rows and, with LINFIT_KEEP_VALUES=0, by reading the file again; the last column is the
wall time the refinement passes add (the same fit with --no-refine subtracted).
One process (LINFIT_JOBS=1), so every row goes through the same reader.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from gen import generate  # noqa: E402

LINFIT = [sys.executable, "-m", "linfit"]


def polynomial_file(path: Path, rows: int, degree: int = 6) -> None:
    rng = np.random.default_rng(1)
    x = rng.uniform(2, 5, rows)
    X = np.column_stack([x**k for k in range(1, degree + 1)])
    y = 1 + 0.25 * X.sum(axis=1) + rng.normal(0, 0.01, rows)
    head = ",".join([f"x{k}" for k in range(1, degree + 1)] + ["y"])
    np.savetxt(path, np.column_stack([X, y]), fmt="%.17g", delimiter=",", header=head, comments="")


def run(path: Path, *extra: str, keep: bool = True) -> tuple[float, int, dict]:
    """Wall seconds, peak RSS (MB) and the solver block of one `linfit fit --json`."""
    env = dict(os.environ, LINFIT_JOBS="1")
    if not keep:
        env["LINFIT_KEEP_VALUES"] = "0"
    out = path.with_suffix(".json")
    t0 = time.perf_counter()
    with open(out, "w") as fh:
        proc = subprocess.Popen(
            [*LINFIT, "fit", str(path), "--json", *extra],
            stdout=fh,
            stderr=subprocess.DEVNULL,
            env=env,
            cwd=HERE.parent,
        )
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"linfit fit {path} failed")
    return wall, usage.ru_maxrss // 1024, json.loads(out.read_text())["solver"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=float, default=1e6)
    ap.add_argument("--features", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dir", default="/tmp/linfit-bench")
    args = ap.parse_args()
    tmp = Path(args.dir)
    tmp.mkdir(parents=True, exist_ok=True)
    rows = int(args.rows)
    good = tmp / f"refine-good-{rows}x{args.features}.csv"
    bad = tmp / f"refine-poly-{rows // 10}.csv"
    if not good.exists():
        generate(str(good), rows, args.features)
    if not bad.exists():
        polynomial_file(bad, rows // 10)
    cases = (
        ("well-conditioned", good, True),
        ("polynomial, kept rows", bad, True),
        ("polynomial, reread", bad, False),
    )
    for name, path, keep in cases:
        runs = [run(path, keep=keep) for _ in range(args.repeat)]
        plain = [run(path, "--no-refine", keep=keep) for _ in range(args.repeat)]
        wall = statistics.median(r[0] for r in runs)
        added = wall - statistics.median(r[0] for r in plain)
        peak = max(r[1] for r in runs)
        solver = runs[-1][2]
        print(
            f"{name:22s} wall {wall:5.2f} s  peak {peak:4d} MB  refined={solver['refined']}  "
            f"passes={solver['refine_passes']}  error_bound={solver['error_bound']:.2g}  "
            f"passes add {added:+5.2f} s"
        )


if __name__ == "__main__":
    main()
