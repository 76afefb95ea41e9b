"""Both readers on random CSV files: the fast reader (polars: linfit.fastread) and pandas
(LINFIT_READER=pandas) must give the same blocks, counts and errors for every file.

    python bench/fuzz_readers.py SEED FILES [--dir /tmp/linfit-fuzz]

Run it from the repository root. Files mix numbers with odd cells (empty, NA, nan, inf,
1e999, -0, blanks, quotes, decimal commas), ragged rows, blank lines, lone CRs and CRLF line
ends, and each file is read with random frame, polars batch and byte-chunk sizes, --na drop
or raise, with or without a weights column. A mismatching file is kept and printed; the
others are removed. Longer than a unit test (about 1 s per file): run it by hand or in
bench runs; tests/test_fastread.py holds the quick, Hypothesis-driven version.
"""

import argparse
import os
import random
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from linfit import fastread
from linfit.errors import LinfitError
from linfit.io import CsvOptions, CsvReader, ReadReport


def blocks(path, x=None, y=None, w=None, chunk_rows=None, na="drop"):
    """What the reader (as LINFIT_READER says) gives for ``path``: every block's values (as
    bits), first line, minima and maxima, and the read report; or the error (kind, message,
    exit code). Two readers agree on a file when these are equal. tests/test_fastread.py
    compares with it too."""
    try:
        reader = CsvReader(str(path), CsvOptions(na=na))
        try:
            sel = reader.select(x, y, None, w)
            report = ReadReport()
            out = [
                (b.V.view(np.uint64).tolist(), b.first_line, b.lo.tolist(), b.hi.tolist())
                for b in reader.blocks(sel, report, chunk_rows)
            ]
        finally:
            reader.close()
        return out, vars(report)
    except LinfitError as exc:
        return type(exc).__name__, str(exc), int(exc.code)


CELLS = [
    "",
    "NA",
    "nan",
    "inf",
    "-inf",
    "1e999",
    "-0",
    "0",
    " 1",
    "1 ",
    "x",
    '"1"',
    '"1,2"',
    "1,5",
    "\t2",
    "+3",
    ".5",
    "5.",
    "1e5",
    "-1.5",
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("seed", type=int)
    ap.add_argument("files", type=int)
    ap.add_argument("--dir", default="/tmp/linfit-fuzz")
    args = ap.parse_args()
    seed, n_files = args.seed, args.files
    os.makedirs(args.dir, exist_ok=True)
    rng = random.Random(seed)
    bad = 0
    for t in range(n_files):
        ncol = rng.randint(2, 4)
        nrows = rng.choice([5, 50, 300, 2000])
        rows = []
        for _ in range(nrows):
            rows.append(
                [
                    repr(rng.uniform(-1e3, 1e3)) if rng.random() > 0.02 else rng.choice(CELLS)
                    for _ in range(ncol)
                ]
            )
        lines = [",".join(r) for r in rows]
        # structural surprises
        for _ in range(rng.choice([0, 0, 1, 2])):
            k = rng.randrange(len(lines))
            lines[k] = rng.choice(
                [
                    "",
                    "  ",
                    lines[k] + ",1",
                    lines[k].rpartition(",")[0],
                    lines[k] + "\r",
                    lines[k].replace(",", "\r", 1),
                ]
            )
        eol = rng.choice(["\n", "\r\n"])
        text = eol.join([",".join("abcd"[:ncol]), *lines]) + rng.choice(["", eol, eol * 3])
        path = os.path.join(args.dir, f"f{seed}_{t}.csv")
        with open(path, "w", newline="") as fh:
            fh.write(text)
        cols = list("abcd"[:ncol])
        w = rng.choice([None, None, cols[-1]]) if ncol >= 3 else None
        y = cols[-2] if w else None
        x = None
        chunk_rows = rng.choice([1, 7, 64, 1 << 20])
        fastread.BATCH_ROWS = rng.choice([1, 3, 64, 1 << 17])
        fastread.CHUNK_BYTES = rng.choice([16, 256, 4 << 20])
        na = rng.choice(["drop", "raise"])
        os.environ["LINFIT_READER"] = "auto"
        fast = blocks(path, x, y, w, chunk_rows, na)
        os.environ["LINFIT_READER"] = "pandas"
        slow = blocks(path, x, y, w, chunk_rows, na)
        if fast != slow:
            bad += 1
            print("MISMATCH", path, chunk_rows, fastread.BATCH_ROWS, fastread.CHUNK_BYTES, na, w)
            print("  fast:", str(fast)[:300])
            print("  slow:", str(slow)[:300])
        else:
            os.remove(path)
    print("seed", seed, "files", n_files, "mismatches", bad)


if __name__ == "__main__":
    main()
