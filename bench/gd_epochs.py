"""Gradient descent on accumulated statistics: 100 and 10,000 epochs against one lstsq pass.

    python bench/gd_epochs.py [--rows 1e7] [--repeat 3] [--dir /tmp/linfit-bench]

Whole-process wall time of `linfit fit` on a generated file (bench/gen.py), median of
--repeat runs. Full-batch gd reads the file once, as lstsq does, and takes every epoch from
the statistics, so 10,000 epochs should cost about one pass over the data.
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
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dir", default="/tmp/linfit-bench")
    args = ap.parse_args()
    tmp = Path(args.dir)
    tmp.mkdir(parents=True, exist_ok=True)
    path = tmp / f"two_columns_{int(args.rows)}.csv"
    if not path.exists():
        generate(str(path), int(args.rows), 1)
    base = [*LINFIT, "fit", str(path), "--format", "json", "--quiet"]
    cmds = {
        "lstsq (one pass)": base,
        "gd, 100 epochs": [*base, "--method", "gd", "--epochs", "100", "--tol", "0"],
        "gd, 10,000 epochs": [*base, "--method", "gd", "--epochs", "10000", "--tol", "0"],
    }
    times = {}
    for name, cmd in cmds.items():
        times[name] = statistics.median(run(cmd)[0] for _ in range(args.repeat))
    ref = times["lstsq (one pass)"]
    print(f"| {int(args.rows):,} rows | wall (s) | × lstsq |")
    print("| --- | --- | --- |")
    for name, t in times.items():
        print(f"| {name} | {t:.2f} | {t / ref:.2f} |")


if __name__ == "__main__":
    main()
