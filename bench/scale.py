"""Scale benchmark: linfit against what a user would run instead, on generated files.

    python bench/scale.py [--rows 1e7] [--big-rows 5e7] [--repeat 3] [--dir /tmp/linfit-bench]

Whole-process wall time (median of --repeat runs) and peak RSS of each command, side by
side in one run, as ratios to the polars one-liner (the fastest peer found). Peers that are
not installed are skipped. Files are generated on the fly (bench/gen.py), never committed.
Peak RSS is read per process from wait4(); linfit reading a large file on two cores forks
one worker, whose peak is reported beside the parent's.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from gen import generate  # noqa: E402

PY = sys.executable
LINFIT = [PY, "-m", "linfit"]


def peers(path: str) -> dict[str, list[str]]:
    p = repr(path)
    return {
        "polars lazy scan + column sums": [
            PY,
            "-c",
            (
                "import polars as pl;"
                f"d=pl.scan_csv({p}).select(n=pl.len(),sx=pl.col('x0').sum(),sy=pl.col('y').sum(),"
                "sxx=(pl.col('x0')**2).sum(),sxy=(pl.col('x0')*pl.col('y')).sum()).collect();"
                "print(d)"
            ),
        ],
        "polars read + numpy.linalg.lstsq": [
            PY,
            "-c",
            (
                "import polars as pl, numpy as np;"
                f"d=pl.read_csv({p}).to_numpy();"
                "A=np.column_stack([d[:,0],np.ones(len(d))]);print(np.linalg.lstsq(A,d[:,1],rcond=None)[0])"
            ),
        ],
        "pandas.read_csv + scikit-learn": [
            PY,
            "-c",
            (
                "import pandas as pd;from sklearn.linear_model import LinearRegression;"
                f"d=pd.read_csv({p});m=LinearRegression().fit(d[['x0']],d['y']);print(m.coef_,m.intercept_)"
            ),
        ],
        "awk running sums": [
            "awk",
            "-F,",
            (
                "NR>1{n++;sx+=$1;sy+=$2;sxx+=$1*$1;sxy+=$1*$2}"
                "END{w=(n*sxy-sx*sy)/(n*sxx-sx*sx);print w,(sy-w*sx)/n}"
            ),
            path,
        ],
        "linfit fit (lstsq)": [*LINFIT, "fit", path, "--format", "json", "--quiet"],
        "linfit fit (lstsq, one core)": [
            "env",
            "LINFIT_JOBS=1",
            *LINFIT,
            "fit",
            path,
            "--format",
            "json",
            "--quiet",
        ],
        "linfit fit --method gd --epochs 10000": [
            *LINFIT,
            "fit",
            path,
            "--method",
            "gd",
            "--epochs",
            "10000",
            "--tol",
            "0",
            "--format",
            "json",
            "--quiet",
        ],
    }


def run(cmd: list[str]) -> tuple[float, int, bool]:
    """Wall seconds, peak RSS in MB (largest process), and success."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_maxrss // 1024, proc.returncode == 0


def available(cmd: list[str]) -> bool:
    if cmd[0] == "awk":
        return True
    code = cmd[-1] if cmd[1] == "-c" else ""
    for mod in ("polars", "sklearn"):
        if f"import {mod}" in code or f"from {mod}" in code:
            try:
                __import__(mod)
            except ImportError:
                return False
    return True


def table(path: str, repeat: int, only: list[str] | None = None) -> dict[str, tuple[float, int]]:
    rows: dict[str, tuple[float, int]] = {}
    for name, cmd in peers(path).items():
        if only and name not in only:
            continue
        if not available(cmd):
            print(f"  {name}: skipped (pip install polars scikit-learn to compare)", flush=True)
            continue
        runs = [run(cmd) for _ in range(repeat)]
        if not all(ok for _, _, ok in runs):
            print(f"  {name}: failed", flush=True)
            continue
        rows[name] = (statistics.median(w for w, _, _ in runs), max(m for _, m, _ in runs))
    return rows


def show(title: str, rows: dict[str, tuple[float, int]], base: str) -> None:
    print(f"\n{title}")
    label = "× " + base.split(" +")[0].removesuffix(" lazy scan").replace("linfit fit, ", "")
    print(f"| {'command':42} | {'wall (s)':>8} | {'peak RSS (MB)':>13} | {label:>22} |")
    print(f"| {'-' * 42} | {'-' * 8} | {'-' * 13} | {'-' * 22} |")
    ref = rows.get(base, (float("nan"), 0))[0]
    for name, (wall, mem) in rows.items():
        ratio = f"{wall / ref:22.2f}" if ref == ref else f"{'—':>22}"
        print(f"| {name:42} | {wall:8.2f} | {mem:13d} | {ratio} |")


def startup(tmp: Path, repeat: int) -> None:
    tiny = tmp / "tiny.csv"
    tiny.write_text("x,y\n1,2\n2,3\n3,5\n4,7\n")
    cmds = {
        "python -c pass": [PY, "-c", "pass"],
        'python -c "import pandas"': [PY, "-c", "import pandas"],
        "linfit --help": [*LINFIT, "--help"],
        "linfit fit tiny.csv (table, with statistics)": [*LINFIT, "fit", str(tiny)],
    }
    print("\nStart-up (whole process, median of", max(repeat, 5), "runs)")
    res = {}
    for name, cmd in cmds.items():
        res[name] = statistics.median(run(cmd)[0] for _ in range(max(repeat, 5)))
        print(f"  {name:48} {res[name]:.3f} s")
    ratio = res["linfit fit tiny.csv (table, with statistics)"] / res['python -c "import pandas"']
    print(f"  linfit fit tiny.csv / import pandas = {ratio:.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=float, default=1e7)
    ap.add_argument("--big-rows", type=float, default=0, help="also check memory on this many")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dir", default="/tmp/linfit-bench")
    args = ap.parse_args()
    tmp = Path(args.dir)
    tmp.mkdir(parents=True, exist_ok=True)
    startup(tmp, args.repeat)
    path = tmp / f"two_columns_{int(args.rows)}.csv"
    if not path.exists():
        generate(str(path), int(args.rows), 1)
    size = path.stat().st_size / 1e6
    rows = table(str(path), args.repeat)
    show(
        f"{int(args.rows):,} rows, one feature ({size:.0f} MB), median of {args.repeat}",
        rows,
        "polars lazy scan + column sums",
    )
    lin = rows.get("linfit fit (lstsq)")
    if lin and "pandas.read_csv + scikit-learn" in rows:
        print(
            f"\nlinfit is {rows['pandas.read_csv + scikit-learn'][0] / lin[0]:.2f}× faster than "
            "pandas + scikit-learn"
        )
    if args.big_rows:
        big = tmp / f"two_columns_{int(args.big_rows)}.csv"
        if not big.exists():
            generate(str(big), int(args.big_rows), 1)
        only = [
            "polars lazy scan + column sums",
            "pandas.read_csv + scikit-learn",
            "linfit fit (lstsq)",
            "linfit fit (lstsq, one core)",
            "linfit fit --method gd --epochs 10000",
        ]
        rows = table(str(big), 1, only)
        show(
            f"{int(args.big_rows):,} rows, one feature "
            f"({big.stat().st_size / 1e6:.0f} MB), one run",
            rows,
            "polars lazy scan + column sums",
        )
        wide = tmp / f"ten_features_{int(args.rows)}.csv"
        if not wide.exists():
            generate(str(wide), int(args.rows), 10)
        mem = {}
        for name, cmd in {
            "linfit fit, 10 features": [*LINFIT, "fit", str(wide), "--format", "json"],
            "linfit fit --method gd, 10 features": [
                *LINFIT,
                "fit",
                str(wide),
                "--method",
                "gd",
                "--format",
                "json",
            ],
        }.items():
            wall, peak, ok = run(cmd)
            mem[name] = (wall, peak)
        show(
            f"{int(args.rows):,} rows, ten features ({wide.stat().st_size / 1e6:.0f} MB)",
            mem,
            "linfit fit, 10 features",
        )


if __name__ == "__main__":
    main()
