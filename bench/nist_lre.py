"""LRE (correct significant digits) of linfit and numpy.linalg.lstsq on the NIST StRD sets.

    python bench/nist_lre.py [NIST_DIR]      (default: tests/data/nist)

linfit runs through the real CLI (`linfit fit FILE --y y --x ... --format json`); numpy
solves [1, X] (or X) with its default rcond. LRE = −log10(|est − cert| / |cert|), capped at 15.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent


def lre(est: float, cert: float) -> float:
    if cert == 0:
        return 15.0 if est == 0 else min(15.0, -math.log10(abs(est)))
    d = abs(est - cert) / abs(cert)
    return 15.0 if d == 0 else min(15.0, -math.log10(d))


def main(folder: Path) -> None:
    cert = json.loads((folder / "certified.json").read_text())["datasets"]
    print(f"{'dataset':10} {'level':8} {'linfit':>7} {'numpy.lstsq':>12}")
    for d in cert.values():
        args = [
            sys.executable,
            "-m",
            "linfit",
            "fit",
            str(folder / d["file"]),
            "--y",
            d["target"],
            "--x",
            ",".join(d["features"]),
            "--format",
            "json",
        ]
        if not d["intercept"]:
            args.append("--no-intercept")
        doc = json.loads(subprocess.run(args, capture_output=True, text=True, check=True).stdout)
        ours = [lre(doc["w"][f], d["w"][f]) for f in d["features"]]
        df = pd.read_csv(folder / d["file"])
        A = df[d["features"]].to_numpy(float)
        if d["intercept"]:
            ours.append(lre(doc["b"], d["b"]))
            A = np.column_stack([np.ones(len(A)), A])
        sol = np.linalg.lstsq(A, df[d["target"]].to_numpy(float), rcond=None)[0]
        cert_vec = ([d["b"]] if d["intercept"] else []) + [d["w"][f] for f in d["features"]]
        theirs = [lre(e, c) for e, c in zip(sol, cert_vec)]
        print(f"{d['name']:10} {d['level']:8} {min(ours):7.1f} {min(theirs):12.1f}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "tests" / "data" / "nist")
