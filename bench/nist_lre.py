"""LRE (correct significant digits) of linfit and numpy.linalg.lstsq on the NIST StRD sets.

    python bench/nist_lre.py [NIST_DIR]                  (default: tests/data/nist)
    python bench/nist_lre.py [NIST_DIR] --rows 4000000   (each set replicated to 4e6 rows)

linfit runs through the real CLI (`linfit fit FILE --y y --x ... --format json`); numpy
solves [1, X] (or X) with its default rcond. LRE = −log10(|est − cert| / |cert|), capped at 15.

With ``--rows N`` each set's rows are repeated until there are at least N (the least-squares
solution of replicated rows is the original's, so the certified values still apply), far past
the rows linfit keeps in memory: the refinement passes read the file again. Each file is then
fitted twice, with and without ``--no-refine``, and the line gives the LRE of both, the
passes, the wall time the refinement passes add, and the peak RSS of the refined fit.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
LINFIT = [sys.executable, "-m", "linfit", "fit"]


def lre(est: float, cert: float) -> float:
    if cert == 0:
        return 15.0 if est == 0 else min(15.0, -math.log10(abs(est)))
    d = abs(est - cert) / abs(cert)
    return 15.0 if d == 0 else min(15.0, -math.log10(d))


def cli_args(folder: Path, d: dict) -> list[str]:
    args = [str(folder / d["file"]), "--y", d["target"], "--x", ",".join(d["features"])]
    return [*args, "--format", "json"] + ([] if d["intercept"] else ["--no-intercept"])


def ours(doc: dict, d: dict) -> float:
    got = [lre(doc["w"][f], d["w"][f]) for f in d["features"]]
    if d["intercept"]:
        got.append(lre(doc["b"], d["b"]))
    return min(got)


def small(folder: Path, cert: dict) -> None:
    print(f"{'dataset':10} {'level':8} {'linfit':>7} {'numpy.lstsq':>12}")
    for d in cert.values():
        out = subprocess.run(
            [*LINFIT, *cli_args(folder, d)], capture_output=True, text=True, cwd=ROOT
        )
        doc = json.loads(out.stdout)
        df = pd.read_csv(folder / d["file"])
        A = df[d["features"]].to_numpy(float)
        if d["intercept"]:
            A = np.column_stack([np.ones(len(A)), A])
        sol = np.linalg.lstsq(A, df[d["target"]].to_numpy(float), rcond=None)[0]
        cert_vec = ([d["b"]] if d["intercept"] else []) + [d["w"][f] for f in d["features"]]
        theirs = [lre(e, c) for e, c in zip(sol, cert_vec)]
        print(f"{d['name']:10} {d['level']:8} {ours(doc, d):7.1f} {min(theirs):12.1f}")


def replicate(source: Path, target: Path, rows: int) -> int:
    """``source``'s header and its data lines repeated until at least ``rows`` rows."""
    head, *lines = source.read_text().splitlines()
    reps = -(-rows // len(lines))
    block = "\n".join(lines) + "\n"
    with open(target, "w") as fh:
        fh.write(head + "\n")
        for done in range(0, reps, 1000):
            fh.write(block * min(1000, reps - done))
    return reps * len(lines)


def timed(args: list[str]) -> tuple[dict, float, float]:
    """The JSON document, wall seconds and peak RSS (MB) of one CLI run."""
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.DEVNULL, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"failed: {' '.join(args)}")
        out.seek(0)
        return json.loads(out.read()), wall, usage.ru_maxrss / 1024


def large(folder: Path, cert: dict, rows: int) -> None:
    print(
        f"{'dataset':10} {'rows':>9} {'LRE':>5} {'unrefined':>9} {'passes':>6} "
        f"{'fit (s)':>7} {'passes add (s)':>14} {'peak (MB)':>9}"
    )
    with tempfile.TemporaryDirectory(prefix="linfit-nist-") as tmp:
        for d in cert.values():
            path = Path(tmp) / d["file"]
            n = replicate(folder / d["file"], path, rows)
            args = [*LINFIT, *cli_args(Path(tmp), d)]
            doc, wall, peak = timed(args)
            plain, wall0, _ = timed([*args, "--no-refine"])
            path.unlink()
            print(
                f"{d['name']:10} {n:9,d} {ours(doc, d):5.1f} {ours(plain, d):9.1f} "
                f"{doc['solver']['refine_passes']:6d} {wall:7.1f} {wall - wall0:14.1f} {peak:9.0f}"
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", nargs="?", default=str(ROOT / "tests" / "data" / "nist"))
    ap.add_argument("--rows", type=float, default=0, help="replicate each set to this many rows")
    a = ap.parse_args()
    folder = Path(a.folder)
    cert = json.loads((folder / "certified.json").read_text())["datasets"]
    if a.rows:
        large(folder, cert, int(a.rows))
    else:
        small(folder, cert)


if __name__ == "__main__":
    main()
