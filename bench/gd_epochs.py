"""Gradient descent on accumulated statistics: 100 and 10,000 epochs against one lstsq pass.

    python bench/gd_epochs.py [--rows 1e7] [--features 1] [--repeat 3] [--dir /tmp/linfit-bench]

Whole-process wall time of `linfit fit` on a generated file (bench/gen.py), median of
--repeat runs. Full-batch gd reads the file once, as lstsq does, and takes every epoch from
the statistics, so 10,000 epochs should cost about one pass over the data. Whitened gd (the
default --scale) and standardised gd (--scale standard) iterate on the same statistics:
whitening adds one p×p factorisation, so the two should cost the same.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from gen import generate  # noqa: E402
from scale import LINFIT, run  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=float, default=1e7)
    ap.add_argument("--features", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dir", default="/tmp/linfit-bench")
    args = ap.parse_args()
    tmp = Path(args.dir)
    tmp.mkdir(parents=True, exist_ok=True)
    p = args.features
    name = f"two_columns_{int(args.rows)}" if p == 1 else f"{p}_features_{int(args.rows)}"
    path = tmp / f"{name}.csv"
    if not path.exists():
        generate(str(path), int(args.rows), p)
    base = [*LINFIT, "fit", str(path), "--format", "json", "--quiet"]
    cmds = {
        "lstsq (one pass)": base,
        "gd --scale standard, 100 epochs": [
            *base,
            *("--method", "gd", "--scale", "standard", "--epochs", "100", "--tol", "0"),
        ],
        "gd (whiten), 100 epochs": [*base, "--method", "gd", "--epochs", "100", "--tol", "0"],
        "gd (whiten), 10,000 epochs": [*base, "--method", "gd", "--epochs", "10000", "--tol", "0"],
    }
    times = {}
    for name, cmd in cmds.items():
        times[name] = statistics.median(run(cmd)[0] for _ in range(args.repeat))
    ref = times["lstsq (one pass)"]
    print(f"| {int(args.rows):,} rows, {p} feature{'s' if p > 1 else ''} | wall (s) | × lstsq |")
    print("| --- | --- | --- |")
    for name, t in times.items():
        print(f"| {name} | {t:.2f} | {t / ref:.2f} |")


if __name__ == "__main__":
    main()
