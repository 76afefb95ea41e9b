"""Parser speed (issue 19): linfit fit against the fastest readers, side by side in one run.

    python bench/parser.py [--rows 1e7] [--big-rows 5e7] [--features 10] [--predict-rows 1e7]
                           [--repeat 5] [--dir /tmp/linfit-bench]

Run it from the repository root (``python -m linfit`` then runs this checkout). Every
command is a whole process; the rounds are interleaved (each round runs every command once),
so a load that comes and goes on a shared machine weighs on all of them alike; the table
shows the median wall time, the ratio to the polars one-liner (``scan_csv`` + five column
sums, numerically naive; with more features, the sum of every column), the input read per
second, and the peak RSS of the largest process (from wait4). Peers that are not installed
(duckdb, scikit-learn) are skipped and say so. ``linfit fit, pandas reader`` is the reader
linfit used before polars (``LINFIT_READER=pandas``, two processes on a large file). Start-up:
``linfit fit tiny.csv`` and ``linfit --help`` against ``python -c "import pandas"``. predict:
MB/s of input on --predict-rows rows, fast path and pandas path, and whether their outputs
are byte-identical.
"""

from __future__ import annotations

import argparse
import filecmp
import importlib.util
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from gen import generate  # noqa: E402
from scale import LINFIT, PY, run  # noqa: E402

POLARS = "polars scan_csv + 5 sums"


def peers(path: str, features: int) -> dict[str, tuple[list[str], dict[str, str]]]:
    """name → (command, extra environment); only what is installed."""
    p = repr(path)
    x = [f"x{j}" for j in range(features)]
    sums = ",".join(f"s{j}=pl.col('{c}').sum()" for j, c in enumerate(x))
    cmds: dict[str, tuple[list[str], dict[str, str]]] = {
        POLARS: (
            [
                PY,
                "-c",
                "import polars as pl;"
                f"print(pl.scan_csv({p}).select(n=pl.len(),sx=pl.col('x0').sum(),sy=pl.col('y').sum(),"
                "sxx=(pl.col('x0')**2).sum(),sxy=(pl.col('x0')*pl.col('y')).sum()).collect())"
                if features == 1
                else f"import polars as pl;print(pl.scan_csv({p}).select(n=pl.len(),{sums})"
                ".collect())",
            ],
            {},
        ),
    }
    if importlib.util.find_spec("duckdb"):
        cmds["duckdb sums"] = (
            [
                PY,
                "-c",
                'import duckdb;print(duckdb.sql("select count(*),sum(x0),sum(y),sum(x0*x0),'
                f"sum(x0*y) from read_csv('{path}')\").fetchall())",
            ],
            {},
        )
    lstsq = "import numpy as np;A=np.column_stack([d[{x}].to_numpy(),np.ones(len(d))]);"
    cmds["pandas.read_csv + numpy lstsq"] = (
        [
            PY,
            "-c",
            f"import pandas as pd;d=pd.read_csv({p});"
            + lstsq.format(x=x)
            + "print(np.linalg.lstsq(A,d['y'].to_numpy(),rcond=None)[0])",
        ],
        {},
    )
    if importlib.util.find_spec("sklearn"):
        cmds["pandas.read_csv + scikit-learn"] = (
            [
                PY,
                "-c",
                "import pandas as pd;from sklearn.linear_model import LinearRegression;"
                f"d=pd.read_csv({p});print(LinearRegression().fit(d[{x}],d['y']).coef_)",
            ],
            {},
        )
    fit = [*LINFIT, "fit", path, "--format", "json", "--quiet"]
    cmds["linfit fit (polars reader)"] = (fit, {"LINFIT_READER": "auto"})
    cmds["linfit fit, pandas reader"] = (fit, {"LINFIT_READER": "pandas"})
    return cmds


def measure(cmds, repeat: int) -> dict[str, tuple[float, int]]:
    walls: dict[str, list[float]] = {k: [] for k in cmds}
    peaks: dict[str, int] = dict.fromkeys(cmds, 0)
    failed: set[str] = set()
    for _ in range(repeat):
        for name, (cmd, env) in cmds.items():
            saved = {k: os.environ.get(k) for k in env}
            os.environ.update(env)
            try:
                wall, peak, ok = run(cmd)
            finally:
                for k, v in saved.items():
                    if v is None:
                        os.environ.pop(k, None)
                    else:
                        os.environ[k] = v
            if not ok:
                failed.add(name)
            walls[name].append(wall)
            peaks[name] = max(peaks[name], peak)
    for name in sorted(failed):
        print(f"  {name}: failed")
    return {k: (statistics.median(v), peaks[k]) for k, v in walls.items() if k not in failed}


def show(title: str, rows: dict[str, tuple[float, int]], size_mb: float) -> None:
    ref = rows.get(POLARS, (float("nan"), 0))[0]
    print(f"\n{title}")
    print(f"| {'command':34} | wall (s) | × polars | MB/s | peak RSS (MB) |")
    print(f"| {'-' * 34} | --- | --- | --- | --- |")
    for name, (wall, mem) in rows.items():
        print(f"| {name:34} | {wall:.2f} | {wall / ref:.2f} | {size_mb / wall:.0f} | {mem} |")
    fast = rows.get("linfit fit (polars reader)")
    if not fast:
        return
    mark = "ok" if fast[0] <= 1.2 * ref else "MISSED"
    print(f"linfit fit: {fast[0] / ref:.2f}× the polars one-liner (target ≤ 1.2×: {mark})")
    for peer, target in (
        ("pandas.read_csv + scikit-learn", 3.0),
        ("pandas.read_csv + numpy lstsq", 0),
    ):
        if peer in rows:
            speedup = rows[peer][0] / fast[0]
            aim = (
                f" (target ≥ {target:g}×: {'ok' if speedup >= target else 'MISSED'})"
                if target
                else ""
            )
            print(f"linfit fit is {speedup:.2f}× faster than {peer}{aim}")


def table(path: Path, rows: int, features: int, repeat: int) -> None:
    if not path.exists():
        generate(str(path), rows, features)
    size = path.stat().st_size / 1e6
    skipped = [m for m in ("duckdb", "sklearn") if not importlib.util.find_spec(m)]
    if skipped:
        print(f"  (not installed, skipped: {', '.join(skipped)})")
    res = measure(peers(str(path), features), repeat)
    show(
        f"{rows:,} rows, {features} feature{'s' * (features > 1)} ({size:.0f} MB), "
        f"median of {repeat}",
        res,
        size,
    )


def startup(tmp: Path, repeat: int) -> None:
    tiny = tmp / "tiny.csv"
    tiny.write_text("x,y\n1,2\n2,3\n3,5\n4,7\n")
    cmds = {
        'python -c "import pandas"': ([PY, "-c", "import pandas"], {}),
        "linfit --help": ([*LINFIT, "--help"], {}),
        "linfit fit tiny.csv (table, statistics)": ([*LINFIT, "fit", str(tiny)], {}),
        "the same, pandas reader": ([*LINFIT, "fit", str(tiny)], {"LINFIT_READER": "pandas"}),
    }
    res = measure(cmds, max(repeat, 7))
    ref = res['python -c "import pandas"'][0]
    print(f"\nStart-up (whole process, median of {max(repeat, 7)}, × python -c 'import pandas')")
    for name, (wall, mem) in res.items():
        print(f"  {name:42} {wall:.3f} s  {wall / ref:.2f}×  {mem} MB")


def run_to(cmd: list[str], env: dict[str, str], out: Path) -> tuple[float, int, bool]:
    """As scale.run, with stdout written to ``out`` (to compare the bytes afterwards)."""
    t0 = time.perf_counter()
    with open(out, "wb") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.PIPE, env={**os.environ, **env})
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    return wall, usage.ru_maxrss // 1024, os.waitstatus_to_exitcode(status) == 0


def predict(tmp: Path, rows: int, repeat: int) -> None:
    """predict's throughput: the fast path (polars, rows passed through as bytes; median of
    ``repeat``) and the pandas path it replaces (``LINFIT_READER=pandas``, once: it is slow),
    each writing stdout to a file, then whether the two outputs are byte-identical."""
    path = tmp / f"two_columns_{rows}.csv"
    if not path.exists():
        generate(str(path), rows, 1)
    model = tmp / f"model_{rows}.json"
    wall, _, ok = run([*LINFIT, "fit", str(path), "--save", str(model), "--quiet"])
    if not ok:
        print("  linfit fit --save: failed")
        return
    cmd = [*LINFIT, "predict", str(model), str(path)]
    size = path.stat().st_size / 1e6
    outs = {}
    print(f"\npredict, {rows:,} rows ({size:.0f} MB), stdout to a file")
    paths = (("fast path", {}, repeat), ("pandas path", {"LINFIT_READER": "pandas"}, 1))
    for name, env, n in paths:
        outs[name] = tmp / f"predict_{name.split()[0]}.csv"
        got = [run_to(cmd, env, outs[name]) for _ in range(n)]
        if not all(g[2] for g in got):
            print(f"  {name}: failed")
            return
        wall = statistics.median(g[0] for g in got)
        print(
            f"  {name:12} median of {n}: {wall:.2f} s, {size / wall:.0f} MB/s, "
            f"peak RSS {max(g[1] for g in got)} MB"
        )
    same = filecmp.cmp(outs["fast path"], outs["pandas path"], shallow=False)
    print(f"  outputs byte-identical: {same}")
    for f in outs.values():
        f.unlink()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=float, default=1e7)
    ap.add_argument("--big-rows", type=float, default=0, help="also this many rows (e.g. 5e7)")
    ap.add_argument("--features", type=int, default=0, help="also a file with this many")
    ap.add_argument("--predict-rows", type=float, default=1e7, help="0: skip predict")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--dir", default="/tmp/linfit-bench")
    args = ap.parse_args()
    tmp = Path(args.dir)
    tmp.mkdir(parents=True, exist_ok=True)
    startup(tmp, args.repeat)
    n = int(args.rows)
    table(tmp / f"two_columns_{n}.csv", n, 1, args.repeat)
    if args.features > 1:
        path = tmp / f"features_{args.features}_{n}.csv"
        table(path, n, args.features, args.repeat)
    if args.big_rows:
        big = int(args.big_rows)
        table(tmp / f"two_columns_{big}.csv", big, 1, max(1, args.repeat // 2))
    if args.predict_rows:
        predict(tmp, int(args.predict_rows), max(1, args.repeat // 2))


if __name__ == "__main__":
    main()
