"""fit --by and --cov HC3 against a plain fit of the same file (issue 15's targets).

    python bench/groups.py [--rows 1e7] [--groups 1000] [--repeat 3] [--dir /tmp/linfit-bench]

One generated file (bench/gen.py: a group column g with --groups values, x0, y); the three
commands run interleaved, --repeat times each, and the medians are printed side by side as
ratios to the plain fit: ``--by g`` (target ≤ 1.5×) and ``--cov HC3`` (its second pass over
the file; target ≤ 2.2×). Ratios measured in one run are what to compare on a shared machine.
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

LINFIT = [sys.executable, "-m", "linfit"]


def wall(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, cwd=HERE.parent)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=float, default=1e7)
    ap.add_argument("--groups", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dir", default="/tmp/linfit-bench")
    args = ap.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    rows = int(args.rows)
    path = os.path.join(args.dir, f"groups_{rows}_{args.groups}.csv")
    if not os.path.exists(path):
        print(f"generating {path} …", flush=True)
        generate(path + ".tmp", rows, 1, groups=args.groups)
        os.replace(path + ".tmp", path)
    plain = [*LINFIT, "fit", path, "-x", "x0", "-y", "y", "-f", "csv"]
    runs = {
        "fit (plain)": (plain, None),
        f"fit --by g ({args.groups} groups)": ([*plain, "--by", "g"], 1.5),
        "fit --cov HC3": ([*plain, "--cov", "HC3"], 2.2),
    }
    times: dict[str, list[float]] = {k: [] for k in runs}
    for _ in range(args.repeat):
        for name, (cmd, _) in runs.items():
            times[name].append(wall(cmd))
    base = statistics.median(times["fit (plain)"])
    size = os.path.getsize(path) / 2**20
    print(f"\n{rows:,} rows, {size:.0f} MB, median of {args.repeat} (wall s)")
    print(f"{'command':34} {'s':>8} {'ratio':>7} {'target':>7}")
    for name, (_, target) in runs.items():
        t = statistics.median(times[name])
        verdict = "" if target is None else ("ok" if t / base <= target else "MISSED")
        goal = "" if target is None else f"≤{target}×"
        print(f"{name:34} {t:8.2f} {t / base:6.2f}× {goal:>7} {verdict}")


if __name__ == "__main__":
    main()
