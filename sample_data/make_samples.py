"""Regenerate the sample data sets (deterministic: fixed seeds).

Run: python sample_data/make_samples.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

HERE = Path(__file__).parent


def _cell(v: float) -> str:
    v = float(v)
    return str(int(v)) if v.is_integer() and abs(v) < 1e15 else repr(v)


def write(name: str, header: list[str], cols: list[np.ndarray]) -> None:
    with open(HERE / name, "w", newline="\n") as fh:
        fh.write(",".join(header) + "\n")
        for row in zip(*cols, strict=True):
            fh.write(",".join(_cell(v) for v in row) + "\n")


def main() -> None:
    write("tutorial_points.csv", ["x", "y"], [np.array([1, 2, 3, 4.0]), np.array([2, 3, 5, 7.0])])
    write("tutorial_code.csv", ["x", "y"], [np.array([1, 2, 3.0]), np.array([2, 3, 4.0])])

    rng = np.random.default_rng(20251107)
    x = np.round(rng.uniform(0, 10, 5000), 4)
    y = np.round(2.5 * x + 4.0 + rng.normal(0, 1.0, x.size), 4)
    write("noisy_line.csv", ["x", "y"], [x, y])

    rng = np.random.default_rng(7)
    n = 2000
    x1 = np.round(rng.normal(10, 2, n), 4)
    x2 = np.round(rng.uniform(-5, 5, n), 4)
    x3 = np.round(rng.normal(0, 10, n), 4)
    y = np.round(12.0 + 2.5 * x1 - 1.7 * x2 + 0.5 * x3 + rng.normal(0, 0.5, n), 4)
    write("multi_feature.csv", ["x1", "x2", "x3", "y"], [x1, x2, x3, y])
    (HERE / "parts").mkdir(exist_ok=True)
    for k in range(4):  # the same rows in four files, for the Dask engine
        sl = slice(k * n // 4, (k + 1) * n // 4)
        write(f"parts/part-{k}.csv", ["x1", "x2", "x3", "y"], [x1[sl], x2[sl], x3[sl], y[sl]])

    rng = np.random.default_rng(1700000000)
    t = np.sort(1_700_000_000 + rng.integers(0, 30 * 86400, 3000)).astype(float)
    y = np.round(3e-6 * t - 5097.0 + rng.normal(0, 0.5, t.size), 4)
    write("timestamps.csv", ["timestamp", "load"], [t, y])


if __name__ == "__main__":
    main()
