"""The Dask engine against the local engine on the same multi-file data.

    python bench/dask_engine.py [--files 8] [--rows-per-file 1.25e6] [--repeat 3]

Whole-process wall time (median) of `linfit fit 'DIR/*.csv'` with --engine local and with
--engine dask --workers 2 (a local cluster of two processes, started and stopped by the run),
and the ratio.
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
    ap.add_argument("--files", type=int, default=8)
    ap.add_argument("--rows-per-file", type=float, default=1.25e6)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dir", default="/tmp/linfit-bench")
    args = ap.parse_args()
    folder = Path(args.dir) / f"parts_{args.files}x{int(args.rows_per_file)}"
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(args.files):
        path = folder / f"part-{k:03d}.csv"
        if not path.exists():
            generate(str(path), int(args.rows_per_file), 1, seed=k)
    size = sum(p.stat().st_size for p in folder.glob("*.csv")) / 1e6
    glob = str(folder / "*.csv")
    cmds = {
        "local engine": [*LINFIT, "fit", glob, "--format", "json", "--quiet"],
        "dask engine, 2 workers": [
            *LINFIT,
            "fit",
            glob,
            "--engine",
            "dask",
            "--workers",
            "2",
            "--format",
            "json",
            "--quiet",
        ],
    }
    times = {n: statistics.median(run(c)[0] for _ in range(args.repeat)) for n, c in cmds.items()}
    rows = args.files * int(args.rows_per_file)
    print(f"| {args.files} files, {rows:,} rows, {size:.0f} MB | wall (s) | × local |")
    print("| --- | --- | --- |")
    for name, t in times.items():
        print(f"| {name} | {t:.2f} | {t / times['local engine']:.2f} |")


if __name__ == "__main__":
    main()
