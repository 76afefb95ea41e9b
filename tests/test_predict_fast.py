"""predict's fast path (linfit.predict_fast, issue 19) writes exactly the bytes the pandas path
writes: the same rows in the same order, the same prediction text (``repr``), the same counts,
messages and exit codes; where it stops, pandas goes on without a row lost or written twice."""

from __future__ import annotations

import io
import json
import math
import struct

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import linfit
from linfit import fastread, predict_fast
from linfit.errors import LinfitError
from linfit.predict import predict_csv

from .conftest import SAMPLE_FILES, run_cli

pytestmark = pytest.mark.filterwarnings("ignore:overflow encountered")


class Spy:
    """Counts the fast path's runs, and those it finished without pandas."""

    def __init__(self, monkeypatch) -> None:
        self.runs = self.finished = 0
        self.done: list[int] = []
        real = predict_fast.predict_rows

        def predict_rows(*args, **kw):
            self.runs += 1
            finished, done = real(*args, **kw)
            self.finished += finished
            self.done.append(done)
            return finished, done

        monkeypatch.setattr(predict_fast, "predict_rows", predict_rows)


def _run(model, path, mode: str, monkeypatch, **kw):
    monkeypatch.setenv("LINFIT_READER", mode)
    out = io.StringIO()
    try:
        rep = predict_csv(model, str(path), out, **kw)
        got = vars(rep)
    except LinfitError as exc:
        got = (type(exc).__name__, str(exc))
    return out.getvalue(), got


def same_both_ways(model, path, monkeypatch, **kw):
    """The output and the report (or the error) of both paths; asserts they are equal.

    On an error, the rows written before it may differ in number (stdout only: ``-o``
    writes nothing then): pandas scans ahead and may stop before its first frame, while the
    fast path has written the frames it vouched for. Either is a prefix of the other."""
    fast = _run(model, path, "auto", monkeypatch, **kw)
    slow = _run(model, path, "pandas", monkeypatch, **kw)
    if isinstance(slow[1], tuple):
        assert fast[1] == slow[1], (fast[1], slow[1])
        short, long = sorted([fast[0], slow[0]], key=len)
        assert long.startswith(short)
    else:
        assert fast == slow, (path.read_bytes()[:300], fast, slow)
    return fast


def _model(features, w, b=0.5):
    """A fitted model with these features and (almost exactly) these coefficients."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, len(features)))
    y = b + X @ np.asarray(w, dtype=float) + 1e-3 * rng.normal(size=50)
    return linfit.fit_arrays(X, y, features=list(features), target="y")


# -- the prediction text --------------------------------------------------------------------


def _edge_values() -> np.ndarray:
    tiny = [5e-324, 2.2250738585072014e-308, 2.225073858507201e-308, 1e-310, 4.9e-324 * 3]
    big = [1.7976931348623157e308, 1e308, 8.98846567431158e307, 1e22, 1e16, 9007199254740993.0]
    edges = [1e-4, 9.999999999999999e-05, 1.0000000000000002e-4, 1e-5, 2.5e-7, 1e15, 1e16 - 2]
    need17 = [0.1 + 0.2, 1 / 3, 2 / 3, 5e-324 * 7, 123456789.12345679, 0.30000000000000004]
    plain = [0.0, -0.0, 1.0, -1.0, 100.0, 0.5, 1.5e300, 2.0**-1074, 2.0**53, 2.0**63]
    v = np.array(tiny + big + edges + need17 + plain)
    with np.errstate(over="ignore"):
        v = np.concatenate([v, -v, np.nextafter(v, np.inf), np.nextafter(v, -np.inf)])
    return v[np.isfinite(v)]


def _random_values(n: int) -> np.ndarray:
    rng = np.random.default_rng(19)
    bits = rng.integers(0, 2**64, size=n, dtype=np.uint64).view(np.float64)
    scaled = rng.random(n) * 10.0 ** rng.integers(-12, 22, n)
    v = np.concatenate([bits[np.isfinite(bits)], scaled, np.round(scaled)])
    return np.concatenate([v, -v])


@pytest.mark.parametrize("polars_is_repr", [True, False])
def test_float_texts_are_repr_and_read_back_to_the_same_bits(monkeypatch, polars_is_repr):
    if not polars_is_repr:  # the path taken if a polars release formatted otherwise
        monkeypatch.setattr(predict_fast, "_POLARS_IS_REPR", False)
    v = np.concatenate([_edge_values(), _random_values(100_000), [np.nan]])
    got = predict_fast.float_texts(pl, v).to_list()
    want = [repr(x) for x in v[:-1].tolist()] + [""]
    assert got == want
    for text, x in zip(got[:-1], v[:-1].tolist()):
        assert struct.pack("<d", float(text)) == struct.pack("<d", x), text


def test_polars_matches_repr_on_the_probe():
    """The guard in float_texts holds with the installed polars (else the fast path would
    format every prediction with repr: right, but slow)."""
    predict_fast.float_texts(pl, np.array([1.0]))
    assert predict_fast._POLARS_IS_REPR is True


# -- both paths, byte for byte ---------------------------------------------------------------


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=[p.name for p in SAMPLE_FILES])
def test_sample_files_give_the_same_bytes_through_the_cli(tmp_path, path):
    m = tmp_path / "m.json"
    assert run_cli("fit", path, "--save", m, "--quiet").returncode == 0
    if json.loads(m.read_text()).get("design"):
        pytest.skip("a formula model: the pandas path predicts it")
    fast = run_cli("predict", m, path)
    slow = run_cli("predict", m, path, env={"LINFIT_READER": "pandas"})
    assert fast.returncode == slow.returncode == 0
    assert fast.stdout == slow.stdout and fast.stderr == slow.stderr
    out = tmp_path / "p.csv"
    assert run_cli("predict", m, path, "-o", out).returncode == 0
    assert out.read_text() == slow.stdout


QUOTED = '"q"'
CASES = {
    "plain": "a,b,y\n" + "".join(f"{i * 0.37:.17g},{-i / 7:.17g},1\n" for i in range(90)),
    "text columns, features not first": "id,y,b,note,a\n"
    + "".join(f"r{i},x,{i}.5,é ü {i},{i % 7}e-3\n" for i in range(90)),
    "missing cells": "a,b\n"
    + "".join(f"{'' if i % 9 == 0 else i},{'' if i % 13 == 4 else 2}\n" for i in range(90)),
    "missing at the end of a row": "b,a\n"
    + "".join(f"{i},{'' if i % 5 == 1 else i}\n" for i in range(90)),
    "CRLF": "a,b\r\n" + "".join(f"{i},{i * 3}\r\n" for i in range(90)),
    "no final line end": "a,b\n" + "\n".join(f"{i},{i}" for i in range(90)),
    "trailing blank lines": "a,b\n" + "".join(f"{i},{i}\n" for i in range(90)) + "\n\n",
    "header of spaces and quotes": ' " a " , b ,"c,d"\n'
    + "".join(f"{i},{i},x\n" for i in range(90)),
    "semicolons": "a;b\n" + "".join(f"{i};{i}\n" for i in range(90)),
    "tabs": "a\tb\n" + "".join(f"{i}\t{i}\n" for i in range(90)),
    "pipes": "a|b\n" + "".join(f"{i}|{i}\n" for i in range(90)),
    "header only": "a,b\n",
    "tiny and huge predictions": "a,b\n"
    + "".join(f"{10.0 ** -(i % 30)},{'1e300' if i % 11 == 0 else 0}\n" for i in range(90)),
    "overflow": "a,b\n" + "".join(f"{'1.7e308' if i % 17 == 3 else i},{i}\n" for i in range(90)),
    # the cases below need pandas somewhere in the file: the fast path hands over
    "a quote late": "a,b,c\n"
    + "".join(f"{i},{i},{QUOTED if i == 70 else 'x'}\n" for i in range(90)),
    "non-numeric late": "a,b\n" + "".join(f"{'oops' if i == 71 else i},{i}\n" for i in range(90)),
    "NA and booleans": "a,b\n"
    + "".join(f"{('NA', 'True', 'nan', 'n/a')[i % 4] if i > 40 else i},{i}\n" for i in range(90)),
    "blank line inside": "a,b\n"
    + "".join(f"{i},{i}\n" + ("\n" if i == 50 else "") for i in range(90)),
    "spaces around cells": "a,b\n"
    + "".join(f" {i} ,{i}\n" if i > 60 else f"{i},{i}\n" for i in range(90)),
    "spaces and a missing cell": "a,b\n"
    + "".join(f"{i}, \n" if i == 80 else f"{i},\n" for i in range(90)),
    "negative zero": "a,b\n" + "".join(f"{'-0' if i == 77 else i},{i}\n" for i in range(90)),
    "infinity": "a,b\n"
    + "".join(f"{'inf' if i == 77 else i},{'1e999' if i == 78 else i}\n" for i in range(90)),
    "short row": "a,b,c\n"
    + "".join(f"{i},{i}\n" if i == 66 else f"{i},{i},z\n" for i in range(90)),
    "long row": "a,b,c\n"
    + "".join(f"{i},{i},z,extra\n" if i == 66 else f"{i},{i},z\n" for i in range(90)),
    "lone CR": "a,b\n" + "".join(f"{i},{i}\r" if i == 66 else f"{i},{i}\n" for i in range(90)),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
@pytest.mark.parametrize("chunk_bytes", [64, 4 << 20])
def test_both_paths_write_the_same_bytes(tmp_path, monkeypatch, case, chunk_bytes):
    monkeypatch.setattr(fastread, "CHUNK_BYTES", chunk_bytes)
    sep = {"semicolons": ";", "tabs": "\t", "pipes": "|"}.get(case, ",")
    path = tmp_path / "d.csv"
    path.write_text(CASES[case], encoding="utf-8", newline="")
    model = _model(["a", "b"], [2.5, -1 / 3])
    if case == "tiny and huge predictions":
        model = _model(["a", "b"], [1e-9, 1.0], b=0.0)
    kw = {"options": linfit.io.CsvOptions(sep=sep)} if sep != "," else {}
    for rows in (7, 1 << 16):
        same_both_ways(model, path, monkeypatch, chunk_rows=rows, **kw)


def test_the_fast_path_runs_and_hands_over(tmp_path, monkeypatch):
    """Not vacuous: plain files finish in the fast path; the others hand over midway, after
    it wrote whole frames (and the output still matches)."""
    monkeypatch.setattr(fastread, "CHUNK_BYTES", 64)
    spy = Spy(monkeypatch)
    model = _model(["a", "b"], [1.0, 2.0])
    for case in ("plain", "missing cells", "CRLF"):
        path = tmp_path / "d.csv"
        path.write_text(CASES[case], newline="")
        _run(model, path, "auto", monkeypatch, chunk_rows=7)
    assert spy.runs == spy.finished == 3
    path = tmp_path / "d.csv"
    path.write_text(CASES["a quote late"], newline="")
    same_both_ways(model, path, monkeypatch, chunk_rows=7)
    assert spy.runs == 4 and spy.finished == 3
    assert spy.done[-1] >= 5  # whole frames written before pandas went on


def test_missing_cells_are_counted_as_today(tmp_path, monkeypatch):
    path = tmp_path / "d.csv"
    path.write_text(CASES["missing cells"], newline="")
    _, rep = same_both_ways(_model(["a", "b"], [1.0, 1.0]), path, monkeypatch, chunk_rows=10)
    assert rep["missing"] == 17 and rep["first_missing_line"] == 2 and rep["rows"] == 90


def test_output_is_written_a_frame_at_a_time(tmp_path, monkeypatch):
    """Memory stays bounded: no write holds more than one frame of rows."""
    monkeypatch.setattr(fastread, "CHUNK_BYTES", 1 << 10)

    class Recorder(io.StringIO):
        most = 0

        def write(self, s):
            Recorder.most = max(Recorder.most, s.count("\n"))
            return super().write(s)

    path = tmp_path / "d.csv"
    path.write_text("a,b\n" + "".join(f"{i},{i}\n" for i in range(5000)))
    out = Recorder()
    monkeypatch.setenv("LINFIT_READER", "auto")
    rep = predict_csv(_model(["a", "b"], [1.0, 1.0]), str(path), out, chunk_rows=100)
    assert rep.rows == 5000 and 0 < Recorder.most <= 100
    lines = out.getvalue().splitlines()
    assert [ln.split(",")[0] for ln in lines[1:]] == [str(i) for i in range(5000)]  # in order


finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
cell = st.one_of(
    finite.map(repr),
    finite.map(lambda x: f"{x:.17g}"),
    finite.map(lambda x: f"{x:.3e}"),
    st.integers(-(10**20), 10**20).map(str),
    st.just(""),
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(rows=st.lists(st.tuples(cell, cell, st.sampled_from(["t", "", "é"])), max_size=40))
def test_generated_files_give_the_same_bytes(tmp_path, monkeypatch, rows):
    monkeypatch.setattr(fastread, "CHUNK_BYTES", 128)
    path = tmp_path / "g.csv"
    path.write_text("a,b,t\n" + "".join(",".join(r) + "\n" for r in rows), encoding="utf-8")
    out, rep = same_both_ways(_model(["b", "a"], [3.0, -0.25]), path, monkeypatch, chunk_rows=5)
    if isinstance(rep, dict):
        assert rep["rows"] == len(rows) and out.count("\n") == len(rows) + 1
        for line in out.splitlines()[1:]:
            text = line.rsplit(",", 1)[1]
            assert text == "" or repr(float(text)) == text and math.isfinite(float(text))


BYTES = {
    "one column, empty cells and a blank line": b"a\n1\n\n2\n\n3\n" + b"4\n" * 50,
    "one column": b"a\n" + b"".join(b"%d.25\n" % i for i in range(60)),
    "byte-order mark": "\ufeffa,b\n".encode() + b"".join(b"%d,%d\n" % (i, i) for i in range(60)),
    "Latin-1 text late": b"a,b,t\n"
    + b"".join(b"%d,%d,%s\n" % (i, i, b"\xe9" if i == 50 else b"e") for i in range(60)),
    "NUL late": b"a,b\n" + b"".join(b"%d,%d\n" % (i, i) for i in range(60)) + b"1,\x00\n",
}


@pytest.mark.parametrize("case", list(BYTES), ids=list(BYTES))
def test_odd_bytes_give_the_same_output(tmp_path, monkeypatch, case):
    monkeypatch.setattr(fastread, "CHUNK_BYTES", 64)
    path = tmp_path / "d.csv"
    path.write_bytes(BYTES[case])
    features = ["a"] if case.startswith("one column") else ["a", "b"]
    model = _model(features, [0.75, 2.0][: len(features)])
    for rows in (3, 1 << 16):
        same_both_ways(model, path, monkeypatch, chunk_rows=rows)


class _Broken(io.RawIOBase):
    """A pipe closed after the first 100 bytes (the header gets through)."""

    def __init__(self) -> None:
        self.taken = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        if self.taken + len(data) > 100:
            raise BrokenPipeError(32, "Broken pipe")
        self.taken += len(data)
        return len(data)


@pytest.mark.parametrize("mode", ["auto", "pandas"])
def test_a_closed_pipe_reaches_the_cli_as_itself(tmp_path, monkeypatch, mode):
    """polars re-raises a writer's error as a bare OSError; the fast path restores it, so that
    `linfit predict … | head` exits as it does today."""
    path = tmp_path / "d.csv"
    path.write_text("a,b\n" + "".join(f"{i},{i}\n" for i in range(5000)))  # > the buffer
    monkeypatch.setenv("LINFIT_READER", mode)
    out = io.TextIOWrapper(io.BufferedWriter(_Broken()), encoding="utf-8")
    with pytest.raises(BrokenPipeError):
        predict_csv(_model(["a", "b"], [1.0, 1.0]), str(path), out)
        out.flush()
    assert predict_fast.binary_sink(out) is not None  # the byte path was the one tried
