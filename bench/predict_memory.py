"""predict on a file of a few million rows: peak memory against the whole-file pandas way.

    python bench/predict_memory.py [--rows 3e6] [--dir /tmp/linfit-bench]

linfit predict streams blocks of 65,536 rows, so its peak RSS should not depend on the
file's length; the baseline reads the whole file with pandas, predicts and writes it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from gen import generate  # noqa: E402
from scale import LINFIT, PY, run  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=float, default=3e6)
    ap.add_argument("--dir", default="/tmp/linfit-bench")
    args = ap.parse_args()
    tmp = Path(args.dir)
    tmp.mkdir(parents=True, exist_ok=True)
    rows = int(args.rows)
    results = {}
    for n in (rows // 10, rows):
        path = tmp / f"predict_{n}.csv"
        if not path.exists():
            generate(str(path), n, 1, seed=1)
        model = tmp / "model.json"
        run([*LINFIT, "fit", str(path), "--save", str(model), "--quiet", "--format", "json"])
        out = tmp / f"predict_{n}_out.csv"
        wall, peak, ok = run([*LINFIT, "predict", str(model), str(path), "-o", str(out)])
        with open(out) as fh:
            lines = sum(1 for _ in fh)
        results[f"linfit predict, {n:,} rows"] = (wall, peak, lines - 1 == n)
        m = json.loads(model.read_text())
        code = (
            f"import pandas as pd; d=pd.read_csv({str(path)!r}); "
            f"d['y_pred']={m['b']!r}+{m['w']['x0']!r}*d['x0']; "
            f"d.to_csv({str(out)!r}, index=False)"
        )
        wall, peak, ok = run([PY, "-c", code])
        results[f"pandas whole file, {n:,} rows"] = (wall, peak, ok)
    print("| command | wall (s) | peak RSS (MB) | rows out = rows in |")
    print("| --- | --- | --- | --- |")
    for name, (wall, peak, ok) in results.items():
        print(f"| {name} | {wall:.2f} | {peak} | {ok} |")


if __name__ == "__main__":
    main()
