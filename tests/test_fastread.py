"""The fast reader (polars, linfit.fastread) and pandas read every input the same (issue 19):
the same blocks bit for bit, the same messages and exit codes, whichever reads it; where the
fast reader stops, pandas reads on without counting a row twice."""

from __future__ import annotations

import json
import math
import os
import re
import struct
import subprocess
import sys
from decimal import Decimal, localcontext
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import linfit
from bench.fuzz_readers import blocks as read_blocks
from linfit import fastread
from linfit.cli import app
from linfit.errors import LinfitError
from linfit.io import CsvReader, ReadReport

from . import test_bad_input, test_reader_limits
from .conftest import DATA, ROOT

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


class Spy:
    """Counts the fast reader's runs and its hand-overs to pandas."""

    def __init__(self, monkeypatch) -> None:
        self.runs = self.fallbacks = 0
        real = fastread.frames

        def frames(*args, **kw):
            self.runs += 1
            try:
                yield from real(*args, **kw)
            except fastread.Fallback:
                self.fallbacks += 1
                raise

        monkeypatch.setattr(fastread, "frames", frames)


def _invoke(argv: list[str], stdin: bytes | None, mode: str, monkeypatch):
    monkeypatch.setenv("LINFIT_READER", mode)
    res = CliRunner().invoke(app, argv, input=stdin, catch_exceptions=False)
    out = re.sub(r'"wall_time_s": [0-9.e-]+', "", res.stdout)
    return res.exit_code, out, res.stderr


def _same_both_ways(argv, stdin, monkeypatch) -> tuple[int, str]:
    fast = _invoke(argv, stdin, "auto", monkeypatch)
    slow = _invoke(argv, stdin, "pandas", monkeypatch)
    assert fast == slow, (argv, fast, slow)
    return fast[0], fast[2]


def test_reader_corpus_gives_the_same_result_both_ways(tmp_path, monkeypatch):
    spy = Spy(monkeypatch)
    for case, cmd, content, extra, stdin, code, _ in test_reader_limits.CASES:
        proc_dir = tmp_path / re.sub(r"\W+", "_", case)
        proc_dir.mkdir()
        name = (
            "in.csv.gz" if isinstance(content, bytes) and content[:2] == b"\x1f\x8b" else "in.csv"
        )
        path = proc_dir / name
        argv = [cmd]
        if cmd == "predict":
            (proc_dir / "m.json").write_text(json.dumps(test_reader_limits.MODEL))
            argv.append(str(proc_dir / "m.json"))
        data = content.encode() if isinstance(content, str) else content
        if data is not None and not stdin:
            path.write_bytes(data)
        argv.append("-" if stdin else str(path))
        if cmd == "fit":
            argv += ["--format", "json"]
        got, _ = _same_both_ways([*argv, *extra], data if stdin else None, monkeypatch)
        assert got == code, case
    # the fast reader took part: it read some inputs through and handed others to pandas
    assert spy.runs >= 15 and 5 <= spy.fallbacks < spy.runs, (spy.runs, spy.fallbacks)


def test_bad_input_corpus_gives_the_same_result_both_ways(tmp_path, monkeypatch):
    spy = Spy(monkeypatch)
    for case, files, argv, code, _ in test_bad_input.CASES:
        d = tmp_path / re.sub(r"\W+", "_", case)
        d.mkdir()
        test_bad_input._materialise(d, files)
        args = [a.replace("{d}", str(d)) for a in argv]
        fmt = ["--format", "json"] if args[0] == "fit" else []
        got, _ = _same_both_ways([*args, *fmt], None, monkeypatch)
        assert got == code, case
    for f in sorted((DATA / "bad").iterdir()):
        got, err = _same_both_ways(["fit", str(f)], None, monkeypatch)
        assert got in (3, 4) and err.startswith(f"Error: {f}"), (f, err)
    assert spy.runs >= 10 and spy.fallbacks >= 3, (spy.runs, spy.fallbacks)


# -- generated files, compared block by block ---------------------------------------------


def _halfway(x: float, up: bool) -> str:
    """The exact decimal halfway between x and the next float (a tie: round to even), or
    a hair above it (rounds up): the hardest strings to parse."""
    nxt = float(np.nextafter(x, np.inf))
    with localcontext() as ctx:
        ctx.prec = 2000  # every digit of the midpoint (up to ~770 for a subnormal)
        mid = (Decimal(x) + Decimal(nxt)) / 2
    text = format(mid, "f") if abs(x) > 1e-5 and abs(x) < 1e20 else format(mid, "e")
    if up:
        mant, _, exp = text.partition("e")
        mant = mant + ("" if "." in mant else ".") + "0000000001"
        text = mant + (f"e{exp}" if exp else "")
    return text


finite = st.floats(allow_nan=False, allow_infinity=False)
number = st.one_of(
    finite.map(repr),
    finite.map(lambda v: f"{v:.17g}"),
    finite.map(lambda v: f"{v:.3e}"),
    finite.map(lambda v: f"{v:.25g}"),
    st.floats(min_value=-3e-308, max_value=3e-308).map(repr),  # subnormals
    st.integers(-(10**25), 10**25).map(str),
    st.builds(_halfway, st.floats(min_value=1e-300, max_value=1e300), st.booleans()),
    st.builds(
        lambda d, f, e: f"{d}.{f}e{e}",
        st.text("0123456789", min_size=1, max_size=30),
        st.text("0123456789", max_size=40),
        st.integers(-340, 310),
    ),
    st.sampled_from(["0", "+0", "0.0", "-0.0", ".5", "5.", "+1", "1E5", "007", "-.5e-3"]),
)
odd = st.sampled_from(
    ["", " ", "-0", " 1", "1 ", "\t2", "nan", "NaN", "NAN", "inf", "-inf", "Infinity", "NA"]
    + ["null", "x", "1e999", "1e-999", "0x1", "1_0", '"1"', "True", "1,5", "é", "\x00"]
)
cell = st.one_of(number, number, number, number, odd)


@st.composite
def csv_files(draw):
    width = draw(st.integers(2, 4))
    rows = draw(st.lists(st.lists(cell, min_size=width, max_size=width), min_size=1, max_size=30))
    lines = [",".join(r) for r in rows]
    if draw(st.integers(0, 9)) == 0:  # a ragged row, or a blank line
        k = draw(st.integers(0, len(lines) - 1))
        lines[k] = draw(st.sampled_from(["", "  ", lines[k] + ",1", lines[k].rpartition(",")[0]]))
    end = draw(st.sampled_from(["\n", "\r\n"]))
    header = ",".join("abcd"[:width])
    text = end.join([header, *lines]) + draw(st.sampled_from(["", end, end + end]))
    clean = all(c.strip() for r in rows for c in r) and draw(st.booleans())
    if clean:  # mostly numbers: the fast reader reads these through
        text = end.join([header, *(",".join(draw(number) for _ in range(width)) for _ in rows)])
        text += end
    x = draw(st.sampled_from([None, ["a"]]))  # ["a"]: columns left out, read by projection
    return text.encode("utf-8"), x, draw(st.sampled_from([1, 2, 3, 7, 1 << 14]))


def _blocks(path: Path, x, chunk_rows: int, na: str = "drop"):
    return read_blocks(path, x, None, None, chunk_rows, na)


@SETTINGS
@given(
    f=csv_files(),
    chunk_bytes=st.sampled_from([8, 64, 1 << 20]),
    na=st.sampled_from(["drop", "raise"]),
    batch_rows=st.sampled_from([1, 2, 5, 1 << 17]),
)
@example(f=(b"x,y\n1,2\n2,4\n-0,5\n3,7\n", None, 2), chunk_bytes=8, na="drop", batch_rows=2)
@example(f=(b"x,y\n1,2\n2,4\n3,nan\n3,7\n", None, 1), chunk_bytes=64, na="drop", batch_rows=2)
@example(f=(b"a,b,c\n1,2,3\n2,4\n3,5,6\n", ["a"], 1), chunk_bytes=8, na="drop", batch_rows=2)
@example(
    f=(b"a,b,c\n1,2,3\n2,4,5,6\n3,5\n", ["a"], 7), chunk_bytes=1 << 20, na="drop", batch_rows=2
)
def test_generated_files_read_the_same_both_ways(
    tmp_path_factory, monkeypatch, f, chunk_bytes, na, batch_rows
):
    data, x, chunk_rows = f
    path = tmp_path_factory.mktemp("gen") / "g.csv"
    path.write_bytes(data)
    monkeypatch.setattr(fastread, "CHUNK_BYTES", chunk_bytes)
    monkeypatch.setattr(fastread, "BATCH_ROWS", batch_rows)
    monkeypatch.setenv("LINFIT_READER", "auto")
    fast = _blocks(path, x, chunk_rows, na)
    monkeypatch.setenv("LINFIT_READER", "pandas")
    slow = _blocks(path, x, chunk_rows, na)
    assert fast == slow


def test_clean_generated_files_are_read_by_polars_through(tmp_path, monkeypatch):
    """The comparison above is not vacuous: numeric files are read by the fast reader to the
    end (no hand-over), in frames of the requested size."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(1000, 3)) * 10.0 ** rng.integers(-300, 300, size=(1000, 3))
    path = tmp_path / "n.csv"
    np.savetxt(path, X, delimiter=",", header="a,b,c", comments="", fmt="%.17g")
    spy = Spy(monkeypatch)
    monkeypatch.setattr(fastread, "CHUNK_BYTES", 4096)
    reader = CsvReader(str(path))
    assert reader.fast
    blocks = list(reader.blocks(reader.select(None, None), ReadReport(), 300))
    reader.close()
    assert spy.runs == 1 and spy.fallbacks == 0
    assert [b.V.shape[1] for b in blocks] == [300, 300, 300, 100]
    assert [b.first_line for b in blocks] == [2, 302, 602, 902]
    got = np.concatenate([b.V for b in blocks], axis=1).T
    assert got.view(np.uint64).tolist() == X.view(np.uint64).tolist()


class StreamSpy:
    """Records each run of the streaming engine: frames it gave, and whether it finished."""

    def __init__(self, monkeypatch) -> None:
        self.runs: list[tuple[int, bool]] = []
        spy = self
        real = fastread.StreamedFrames

        class Recorded(real):
            def __iter__(self):
                n = 0
                try:
                    for frame in super().__iter__():
                        n += 1
                        yield frame
                finally:
                    spy.runs.append((n, self.finished))

        monkeypatch.setattr(fastread, "StreamedFrames", Recorded)


def _numeric_rows(n: int, seed: int = 5) -> list[str]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3)) * 10.0 ** rng.integers(-20, 20, size=(n, 3))
    return [",".join(repr(float(v)) for v in row) for row in X]


def test_numeric_files_are_streamed_to_the_end(tmp_path, monkeypatch):
    """Every column chosen and every cell a number: polars' streaming engine reads the file
    to its end, in many batches, into frames of the requested size, value for value."""
    rows = _numeric_rows(1000)
    for end in ("\n", "\r\n"):
        path = tmp_path / "s.csv"
        path.write_bytes(end.join(["a,b,c", *rows, ""]).encode())
        monkeypatch.setattr(fastread, "BATCH_ROWS", 64)
        spy = StreamSpy(monkeypatch)
        reader = CsvReader(str(path))
        blocks = list(reader.blocks(reader.select(None, None), ReadReport(), 300))
        reader.close()
        assert spy.runs == [(4, True)]
        assert [b.first_line for b in blocks] == [2, 302, 602, 902]
        got = np.concatenate([b.V for b in blocks], axis=1).T
        want = np.array([[float(v) for v in r.split(",")] for r in rows])
        assert got.view(np.uint64).tolist() == want.view(np.uint64).tolist()


def test_a_batch_is_lent_piece_by_piece_only_where_its_columns_share_their_pieces():
    """A streamed batch is copied into frames piece by piece (no copy of the whole batch)
    where every column is cut alike, and whole otherwise; either way value for value."""
    import polars as pl

    def cut(*parts):
        return pl.concat([pl.Series("c", p, dtype=pl.Float64) for p in parts], rechunk=False)

    alike = [cut([1, 2], [3]), cut([4, 5], [6])]
    got = list(fastread._pieces(alike))
    assert [[a.tolist() for a in piece] for piece in got] == [[[1, 2], [4, 5]], [[3], [6]]]
    unlike = [cut([1, 2], [3]), cut([4], [5, 6])]
    got = list(fastread._pieces(unlike))
    assert [[a.tolist() for a in piece] for piece in got] == [[[1, 2, 3], [4, 5, 6]]]


LATE = {
    "empty cell": lambda r: r.rpartition(",")[0] + ",",
    "NA": lambda r: r.rpartition(",")[0] + ",NA",
    "text": lambda r: r.rpartition(",")[0] + ",oops",
    "quoted field": lambda r: '"' + r.replace(",", '","') + '"',
    "quoted line end": lambda r: r.rpartition(",")[0] + ',"1\n2"',
    "short row": lambda r: r.rpartition(",")[0],
    "long row": lambda r: r + ",1",
    "blank line": lambda r: "\n" + r,
    "lone CR": lambda r: r.replace(",", "\r", 1) + "\n" + r,
    "leading space": lambda r: " " + r,  # read as pandas reads it: the stream reads on
    "trailing space": lambda r: r + " ",
    "nan": lambda r: "nan," + r.partition(",")[2],
    "minus zero": lambda r: "-0," + r.partition(",")[2],
    "not UTF-8": lambda r: r + "\xe9",
    "blank lines": lambda r: r + "\n\n\n",
}


@pytest.mark.parametrize("case", sorted(LATE))
@pytest.mark.parametrize("na", ["drop", "raise"])
def test_a_late_surprise_hands_the_stream_over_at_the_right_row(tmp_path, monkeypatch, case, na):
    """Something the streaming engine does not vouch for, 700 rows in: it has given the
    frames before it, the byte chunks (and, where they stop, pandas) read on from the next
    row, and the blocks, counts and messages are pandas' own, bit for bit."""
    rows = _numeric_rows(1000)
    rows[700] = LATE[case](rows[700])
    path = tmp_path / "late.csv"
    path.write_bytes("\n".join(["a,b,c", *rows, ""]).encode("latin-1"))
    monkeypatch.setattr(fastread, "BATCH_ROWS", 32)
    monkeypatch.setattr(fastread, "CHUNK_BYTES", 2048)
    spy = StreamSpy(monkeypatch)
    monkeypatch.setenv("LINFIT_READER", "auto")
    fast = _blocks(path, None, 100, na)
    monkeypatch.setenv("LINFIT_READER", "pandas")
    slow = _blocks(path, None, 100, na)
    assert fast == slow
    (given, finished), *_ = spy.runs
    assert given <= 7 and not finished or case == "leading space", spy.runs


@pytest.mark.parametrize(
    ("end", "streamed"),
    [("\n\n\n", True), ("\r\n\r\n", True), ("\n", True), ("\n \n", False), ("\n,,\n", False)],
)
def test_blank_lines_ending_a_file_do_not_stop_the_stream(tmp_path, monkeypatch, end, streamed):
    """Blank lines at the end (polars gives each as a row of nulls) are skipped as pandas
    skips them: the stream reads such a file to its end, once; a line of blanks or of empty
    cells is a row, and the stream leaves it to the byte chunks and pandas."""
    rows = _numeric_rows(1000)
    eol = "\r\n" if "\r" in end else "\n"
    path = tmp_path / "t.csv"
    path.write_bytes((eol.join(["a,b,c", *rows]) + end).encode())
    monkeypatch.setattr(fastread, "BATCH_ROWS", 64)
    spy = StreamSpy(monkeypatch)
    for na in ("drop", "raise"):
        monkeypatch.setenv("LINFIT_READER", "auto")
        fast = _blocks(path, None, 300, na)
        monkeypatch.setenv("LINFIT_READER", "pandas")
        assert fast == _blocks(path, None, 300, na)
    assert spy.runs[0] == ((4, True) if streamed else spy.runs[0]) and spy.runs[0][1] == streamed


def test_frames_the_stream_gave_are_checked_when_it_stops(tmp_path, monkeypatch):
    """Where the stream stops, the byte chunks read from the first row again and check each
    frame it gave; one that is not the file's (polars 2.1 can give rows from the wrong place
    before it raises) is an error, never a fit."""
    rows = _numeric_rows(1000)
    rows[900] = rows[900].rpartition(",")[0] + ","  # a missing value: the stream stops
    path = tmp_path / "m.csv"
    path.write_text("a,b,c\n" + "\n".join(rows) + "\n")
    monkeypatch.setattr(fastread, "BATCH_ROWS", 32)
    spy = StreamSpy(monkeypatch)
    got = _blocks(path, None, 100)
    assert spy.runs and spy.runs[0][0] >= 1 and not spy.runs[0][1]
    monkeypatch.setenv("LINFIT_READER", "pandas")
    assert got == _blocks(path, None, 100)
    monkeypatch.setenv("LINFIT_READER", "auto")
    real = fastread.StreamedFrames

    class Wrong(real):  # one row of its second frame is another row's copy
        def __iter__(self):
            for i, (V, lines, lo, hi) in enumerate(super().__iter__()):
                if i == 1:
                    V = V.copy()
                    V[:, 5] = V[:, 6]
                yield V, lines, lo, hi

    monkeypatch.setattr(fastread, "StreamedFrames", Wrong)
    kind, message, code = _blocks(path, None, 100)
    assert kind == "StreamMismatch" and code == 1
    assert message == (
        f"{path}: the fast reader (polars) gave rows that differ from the file's, near line 102; "
        "nothing was written. Please report this; LINFIT_READER=pandas reads the file with "
        "pandas instead"
    )


def test_fallback_mid_file_counts_every_row_once(tmp_path, monkeypatch):
    """A text cell far into the file: the fast reader has folded the frames before it; pandas
    reads on from there and names the cell's line; a missing value there is dropped once."""
    rows = [f"{i},{2 * i + 1}" for i in range(5000)]
    rows[4321] = "7,NA"  # polars cannot read NA: pandas reads it (as missing)
    path = tmp_path / "m.csv"
    path.write_text("x,y\n" + "\n".join(rows) + "\n")
    monkeypatch.setattr(fastread, "CHUNK_BYTES", 1024)
    spy = Spy(monkeypatch)
    ds = linfit.read_dataset(str(path))
    assert spy.runs == 1 and spy.fallbacks == 1
    assert ds.problem.n == 4999 and ds.report.rows_read == 5000
    assert ds.report.rows_dropped == 1 and ds.report.first_dropped_line == 4323
    monkeypatch.setenv("LINFIT_READER", "pandas")
    ref = linfit.read_dataset(str(path))
    assert ds.problem.stats.R.tobytes() == ref.problem.stats.R.tobytes()
    rows[4321] = "7,oops"
    path.write_text("x,y\n" + "\n".join(rows) + "\n")
    monkeypatch.setenv("LINFIT_READER", "auto")
    with pytest.raises(LinfitError, match="non-numeric value 'oops' in column 'y' at line 4323"):
        linfit.read_dataset(str(path))


# -- every parsed float is Python's float() of its text ------------------------------------

HARD = [
    "4.9406564584124654e-324",
    "2.4703282292062327e-324",  # just below half the smallest subnormal: 0
    "2.4703282292062328e-324",  # just above: the smallest subnormal
    "2.2250738585072011e-308",
    "2.2250738585072012e-308",
    "1.7976931348623157e308",
    "0.1000000000000000055511151231257827021181583404541015625",
    "9007199254740993",
    "123456789012345678901234567890",
    "7.038531e-26",
    "1448997445238699",
    "0.500000000000000166533453693773481063544750213623046875",
    "3.0549363634996047e-151",
] + [_halfway(v, up) for v in (1.0, 0.1, 1e-310, 3.3e200, 6.02e23) for up in (False, True)]


def _bits(values) -> list[int]:
    """Each float's bits, a zero's sign aside: pandas reads "-0" in a column of integers as
    0 (both readers then give +0.0, the fast one by handing such cells to pandas), and the
    sign of a zero feature or target changes no sum, product or coefficient of a fit."""
    return [struct.unpack("<Q", struct.pack("<d", v + 0.0))[0] for v in values]


@SETTINGS
@given(cells=st.lists(number.filter(lambda c: math.isfinite(float(c))), min_size=1, max_size=50))
@example(cells=HARD)
def test_parsed_floats_are_python_floats_bit_for_bit(tmp_path_factory, monkeypatch, cells):
    path = tmp_path_factory.mktemp("f") / "f.csv"
    path.write_text("x,y\n" + "".join(f"{c},{i}\n" for i, c in enumerate(cells)))
    want = _bits(float(c) for c in cells)
    for mode in ("auto", "pandas"):
        monkeypatch.setenv("LINFIT_READER", mode)
        reader = CsvReader(str(path))
        assert reader.fast == (mode == "auto")
        got = [v for b in reader.blocks(reader.select(None, None), ReadReport()) for v in b.X[:, 0]]
        reader.close()
        assert _bits(got) == want, mode


# -- start-up: what a plain fit imports ------------------------------------------------------


def test_a_plain_small_fit_imports_no_pandas(tmp_path):
    """A small numeric file, the default table with statistics: polars reads it, so pandas
    (most of the start-up) is never imported, nor multiprocessing, Rich's console and
    tables (linfit draws its tables itself), scipy.stats or numpy's f2py and testing (which
    scipy.special's array-API layer would load)."""
    path = tmp_path / "tiny.csv"
    path.write_text("x,y\n1,2\n2,3\n3,5\n4,7\n")
    code = (
        "import sys, json\nfrom linfit.cli import run\n"
        f"code = run(['fit', {str(path)!r}])\n"
        "print(json.dumps([code, sorted(sys.modules)]))"
    )
    env = dict(os.environ, LINFIT_READER="auto")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    code, mods = json.loads(out.stdout.strip().splitlines()[-1])
    assert code == 0
    assert {"polars", "scipy.special", "numpy"} <= set(mods)
    heavy_modules = ("pandas", "multiprocessing", "rich.console", "rich.table", "scipy.stats")
    for heavy in (*heavy_modules, "numpy.f2py"):
        assert heavy not in mods, heavy
    assert "numpy.testing" not in mods and "unittest" not in mods


def test_scipy_namespace_still_answers_numpy_submodules():
    """The names hidden while scipy.special is imported are answered on first use."""
    code = (
        "from linfit.special import t_and_f\nstdtr = t_and_f()[0]\n"
        "import scipy._lib.array_api_compat.numpy as xp, numpy\n"
        "assert xp.testing is numpy.testing and xp.random is numpy.random\n"
        "assert 'f2py' in dir(numpy) and 'f2py' in numpy.__all__\n"
        "print(stdtr(10.0, 1.0))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert 0.8 < float(out.stdout) < 0.9


def _fast_of(path: str) -> bool:
    reader = CsvReader(path)
    try:
        return reader.fast
    finally:
        reader.close()


def test_polars_imported_before_a_fork_is_left_to_pandas_in_the_child(tmp_path):
    from linfit.parallel import map_files

    path = tmp_path / "a.csv"
    path.write_text("x,y\n1,2\n2,3\n")
    assert _fast_of(str(path))  # this process imported polars, then forks
    assert map_files(_fast_of, [str(path), str(path)], (), 2) == [False, False]


def test_without_polars_pandas_reads(tmp_path, monkeypatch):
    path = tmp_path / "a.csv"
    path.write_text("x,y\n1,2\n2,3\n3,5\n")
    want = linfit.fit(str(path))
    monkeypatch.setitem(sys.modules, "polars", None)  # import polars now fails
    assert not _fast_of(str(path))
    got = linfit.fit(str(path))
    assert (got.w.tobytes(), got.b) == (want.w.tobytes(), want.b)


_GARBLE = r"""
import json, os, sys
import numpy as np
from linfit import fastread
from bench.fuzz_readers import blocks
from tests.test_fastread import StreamSpy, _numeric_rows

class MP:  # the bits of pytest's monkeypatch that StreamSpy uses
    def setattr(self, obj, name, value):
        setattr(obj, name, value)

out = []
rng = np.random.default_rng(int(sys.argv[1]))
fastread.BATCH_ROWS = 64
fastread.CHUNK_BYTES = 2048  # many byte chunks: frames the stream gave are compared
for trial in range(12):
    rows = _numeric_rows(3000, seed=trial)
    long_at = int(rng.integers(0, 3000))
    rows[long_at] += ",1"
    weights = trial % 3 == 2
    for i in range(3000):
        if weights:  # positive weights, and negative ones after the long row only
            w = -1.5 if i > long_at and i % 50 == 0 else 1.0 + (i % 7)
            rows[i] = rows[i].rpartition(",")[0] + f",{w}"
    if trial % 3 == 1:
        rows[int(rng.integers(0, 3000))] = rows[0].rpartition(",")[0] + ","
    path = os.path.join(sys.argv[2], f"g{trial}.csv")
    with open(path, "w") as fh:
        fh.write("a,b,c\n" + "\n".join(rows) + "\n")
    spy = StreamSpy(MP())
    os.environ["LINFIT_READER"] = "auto"
    y, w = ("b", "c") if weights else (None, None)
    fast = blocks(path, None, y, w, 128)
    os.environ["LINFIT_READER"] = "pandas"
    slow = blocks(path, None, y, w, 128)
    out.append([fast == slow, spy.runs[0][0] if spy.runs else 0, fast[0], fast[1]])
print(json.dumps(out))
"""


def test_rows_polars_gives_before_it_raises_never_reach_a_fit(tmp_path):
    """polars 2.1's streaming engine, meeting a row with too many fields, can give rows from
    the wrong place before it raises (with small pieces of the file, as here, often). Every
    such file still ends as pandas ends it: the same error, never a fit of those rows, nor
    an error found in them (a negative weight at the wrong line), nor StreamMismatch."""
    env = {**os.environ, "POLARS_CSV_CHUNK_SIZE": "4096", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", _GARBLE, "7", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout)
    assert all(same for same, _, _, _ in results), results
    assert all(kind == "DataError" for _, _, kind, _ in results), results
    assert all("fields but the header has 3 (too many)" in m for _, _, _, m in results), results
    assert sum(given > 0 for _, given, _, _ in results) >= 3, results  # the stream gave frames
