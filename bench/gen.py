"""Generate large CSV files for the benchmarks (not committed; written on the fly).

    python bench/gen.py OUT.csv ROWS [FEATURES [GROUPS]]

Columns x0..x{p-1}, y: x ~ U(0, 1), y = 1.5 + Σ w·x + N(0, 0.1), every value written with
17 significant digits (about 37 bytes a row for one feature, like the files of the scale
issue). With GROUPS, a first column g holds each row's group, an integer drawn uniformly
from 0..GROUPS-1 (for fit --by). Written in blocks, so generating a 50-million-row file
needs little memory.
"""

from __future__ import annotations

import sys

import numpy as np


def generate(
    path: str,
    rows: int,
    features: int = 1,
    seed: int = 0,
    block: int = 1_000_000,
    groups: int = 0,
) -> None:
    rng = np.random.default_rng(seed)
    w = np.linspace(0.5, 2.0, features)
    with open(path, "w") as fh:
        head = (["g"] if groups else []) + [f"x{j}" for j in range(features)] + ["y"]
        fh.write(",".join(head) + "\n")
        done = 0
        while done < rows:
            m = min(block, rows - done)
            X = rng.random((m, features))
            y = 1.5 + X @ w + rng.normal(0, 0.1, m)
            if groups:
                g = rng.integers(0, groups, m)
                fmt = ["%d"] + ["%.17g"] * (features + 1)
                np.savetxt(fh, np.column_stack([g, X, y]), fmt=fmt, delimiter=",")
            else:
                np.savetxt(fh, np.column_stack([X, y]), fmt="%.17g", delimiter=",")
            done += m


if __name__ == "__main__":
    generate(
        sys.argv[1],
        int(float(sys.argv[2])),
        int(sys.argv[3]) if len(sys.argv) > 3 else 1,
        groups=int(sys.argv[4]) if len(sys.argv) > 4 else 0,
    )
