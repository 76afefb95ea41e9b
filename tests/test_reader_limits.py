"""The reader's contract, class by class (issue 12), through the real command.

Each table row runs ``linfit CMD FILE ARGS`` (or stdin) and states the exit code and the
start of the one ``Error:`` line, which names the file, the line or column, and the counts.
Valid-but-odd inputs state the numbers the fit must give. ``tests/data/bad/`` holds one small
file per bad class; every file there gives exactly one ``Error:`` line.
"""

from __future__ import annotations

import errno
import gzip
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from linfit import limits
from linfit.errors import DataError, InputError, UsageError
from linfit.io import CsvOptions, CsvReader, ReadReport, parse_text_column
from linfit.rowshape import RowShape

from .conftest import DATA, run_cli

BAD = DATA / "bad"
MODEL = {
    "schema": "linfit-model",
    "schema_version": 1,
    "target": "y",
    "features": ["x"],
    "w": {"x": 2.0},
    "b": 0.0,
}
RAGGED = "has {saw} field{s} but the header has {want}"


def ragged(line: int, saw: int, want: int) -> str:
    return f"line {line} " + RAGGED.format(saw=saw, s="s" if saw != 1 else "", want=want)


WIDE = ",".join(f"c{i}" for i in range(80))
WIDE_ROW = ",".join(str(i % 9 + 1) for i in range(80))

# (id, command, file content (bytes/str; None: no file), extra args, stdin?, code, the Error
#  line's text after "Error: {file}" — a prefix, or None for success)
CASES = [
    # ragged rows: too many or too few fields, every path, every line end
    (
        "first row too many",
        "fit",
        "x,y\n1,2,99\n2,4.1\n3,6\n",
        [],
        False,
        4,
        ": " + ragged(2, 3, 2),
    ),
    ("later row too many", "fit", "x,y\n1,2\n2,4\n3,6,7\n", [], False, 4, ": " + ragged(4, 3, 2)),
    ("row too few", "fit", "x,y\n1,2\n3\n4,8\n5,9\n", [], False, 4, ": " + ragged(3, 1, 2)),
    ("trailing delimiter", "fit", "x,y\n1,2\n2,4,\n3,6\n", [], False, 4, ": " + ragged(3, 3, 2)),
    (
        "short row, --na raise",
        "fit",
        "x,y\n1,2\n3\n4,8\n",
        ["--na", "raise"],
        False,
        4,
        ": " + ragged(3, 1, 2),
    ),
    (
        "CRLF ragged",
        "fit",
        b"x,y\r\n1,2\r\n2,4\r\n3\r\n4,8\r\n",
        [],
        False,
        4,
        ": " + ragged(4, 1, 2),
    ),
    ("CR-only ragged", "fit", b"x,y\r1,2\r2,4,5\r3,6\r", [], False, 4, ": " + ragged(3, 3, 2)),
    (
        "BOM ragged first row",
        "fit",
        "\ufeffx,y\n1,2,3\n2,4\n3,6\n".encode(),
        [],
        False,
        4,
        ": " + ragged(2, 3, 2),
    ),
    (
        "gzip ragged",
        "fit",
        gzip.compress(b"x,y\n1,2\n2,4\n3\n"),
        [],
        False,
        4,
        ": " + ragged(4, 1, 2),
    ),
    ("stdin ragged", "fit", "x,y\n1,2\n2,4,0\n3,6\n", [], True, 4, ": " + ragged(3, 3, 2)),
    (
        "blank lines counted",
        "fit",
        "x,y\n1,2\n\n\n2,4,0\n3,6\n",
        [],
        False,
        4,
        ": " + ragged(5, 3, 2),
    ),
    (
        "after a quoted newline",
        "fit",
        'x,y,n\n1,2,"a\nb"\n2,4\n',
        ["--x", "x", "--y", "y"],
        False,
        4,
        ": " + ragged(4, 2, 3),
    ),
    (
        "quoted delimiter is one field",
        "fit",
        'x,y,n\n1,2,"a,b"\n2,4,c\n3,6,d,e\n',
        ["--x", "x", "--y", "y"],
        False,
        4,
        ": " + ragged(4, 4, 3),
    ),
    (
        "wide file extra field",
        "fit",
        f"{WIDE}\n{WIDE_ROW}\n{WIDE_ROW},1\n{WIDE_ROW}\n",
        ["--x", "c1", "--y", "c2"],
        False,
        4,
        ": " + ragged(3, 81, 80),
    ),
    (
        "wide file short row",
        "fit",
        f"{WIDE}\n{WIDE_ROW}\n1,2,3\n{WIDE_ROW}\n",
        ["--x", "c1", "--y", "c2"],
        False,
        4,
        ": " + ragged(3, 3, 80),
    ),
    (
        "tsv ragged",
        "fit",
        "x\ty\n1\t2\n2\t4\t9\n",
        ["--sep", "tab"],
        False,
        4,
        ": " + ragged(3, 3, 2),
    ),
    ("compare ragged", "compare", "x,y\n1,2,99\n2,4\n3,6\n", [], False, 4, ": " + ragged(2, 3, 2)),
    ("compare short row", "compare", "x,y\n1,2\n2\n3,6\n", [], False, 4, ": " + ragged(3, 1, 2)),
    (
        "predict ragged first row",
        "predict",
        "x,y\n1,2,99\n2,4\n",
        [],
        False,
        4,
        ": " + ragged(2, 3, 2),
    ),
    ("predict short row", "predict", "x,y\n1,2\n2\n", [], False, 4, ": " + ragged(3, 1, 2)),
    (
        "predict wide extra field",
        "predict",
        "x," + WIDE + "\n1," + WIDE_ROW + "\n2," + WIDE_ROW + ",5\n",
        [],
        False,
        4,
        ": " + ragged(3, 82, 81),
    ),
    ("predict stdin ragged", "predict", "x\n1\n2,3\n", [], True, 4, ": " + ragged(3, 2, 1)),
    # options that contradict each other or are malformed: exit 2 in every command
    (
        "thousands = decimal",
        "fit",
        "x;y\n1,5;2\n2,5;3\n",
        ["--sep", ";", "--decimal", ",", "--thousands", ","],
        False,
        2,
        None,
    ),
    (
        "thousands . with dot decimals",
        "fit",
        "x,y\n1.5,2\n2.5,3\n",
        ["--thousands", "."],
        False,
        2,
        None,
    ),
    ("predict thousands . ", "predict", "x,y\n1.5,2\n", ["--thousands", "."], False, 2, None),
    (
        "compare thousands = decimal",
        "compare",
        "x,y\n1.5,2\n",
        ["--thousands", "."],
        False,
        2,
        None,
    ),
    ("two-character sep", "fit", "x,y\n1,2\n", ["--sep", ";;"], False, 2, None),
    ("empty sep", "fit", "x,y\n1,2\n", ["--sep", ""], False, 2, None),
    ("two-character decimal", "fit", "x,y\n1,2\n", ["--decimal", ".."], False, 2, None),
    ("empty decimal", "predict", "x,y\n1,2\n", ["--decimal", ""], False, 2, None),
    ("long thousands", "compare", "x,y\n1,2\n", ["--thousands", "__"], False, 2, None),
    ("encoding punycode", "fit", "x,y\n1,2\n", ["--encoding", "punycode"], False, 2, None),
    ("encoding rot13", "predict", "x,y\n1,2\n", ["--encoding", "rot13"], False, 2, None),
    ("encoding hex", "compare", "x,y\n1,2\n", ["--encoding", "hex"], False, 2, None),
    ("encoding base64", "fit", "x,y\n1,2\n", ["--encoding", "base64"], False, 2, None),
    ("encoding zlib_codec", "fit", "x,y\n1,2\n", ["--encoding", "zlib_codec"], False, 2, None),
    ("encoding unknown", "fit", "x,y\n1,2\n", ["--encoding", "klingon"], False, 2, None),
    # header limits: caps and linear checks
    (
        "too many columns",
        "fit",
        ",".join("c" for _ in range(limits.MAX_COLUMNS + 1)) + "\n1\n",
        [],
        False,
        4,
        f": the header has {limits.MAX_COLUMNS + 1:,} columns",
    ),
    (
        "too many columns, predict",
        "predict",
        "x," + ",".join("c" for _ in range(limits.MAX_COLUMNS)) + "\n1\n",
        [],
        False,
        4,
        f": the header has {limits.MAX_COLUMNS + 1:,} columns",
    ),
    (
        "100,000 duplicate names",
        "fit",
        ",".join("c" for _ in range(limits.MAX_COLUMNS)) + "\n",
        ["--x", "c", "--y", "1"],
        False,
        4,
        ": column name 'c' appears more than once (columns 0 and 1 and",
    ),
    (
        "too many features",
        "fit",
        ",".join(f"f{i}" for i in range(limits.MAX_PARAMS))
        + ",y\n"
        + "1," * limits.MAX_PARAMS
        + "1\n",
        [],
        False,
        4,
        f": {limits.MAX_PARAMS:,} feature columns chosen",
    ),
    (
        "too many --x",
        "compare",
        ",".join(f"f{i}" for i in range(limits.MAX_PARAMS + 1)) + "\n",
        ["--x", ",".join(str(i) for i in range(limits.MAX_PARAMS)), "--y", str(limits.MAX_PARAMS)],
        False,
        4,
        f": {limits.MAX_PARAMS:,} feature columns chosen",
    ),
    # values: quoted as written, cut to 80 characters
    (
        "1e999 quoted as written",
        "fit",
        "x,y\n1,2\n2,1e999\n3,5\n",
        [],
        False,
        4,
        ": non-finite value '1e999' in column 'y' at line 3",
    ),
    (
        "-1e999 gz",
        "fit",
        gzip.compress(b"x,y\n1,2\n-1e999,1\n3,5\n"),
        [],
        False,
        4,
        ": non-finite value '-1e999' in column 'x' at line 3",
    ),
    (
        "1e999 from stdin",
        "fit",
        "x,y\n1,2\n2,1e999\n3,5\n",
        [],
        True,
        4,
        ": non-finite value (inf, or a number beyond ±1.8e308) in column 'y' at line 3",
    ),
    (
        "1e999 after blank lines",
        "fit",
        "x,y\n1,2\n\n2,1E999\n3,5\n",
        [],
        False,
        4,
        ": non-finite value '1E999' in column 'y' at line 4",
    ),
    (
        "predict 1e999",
        "predict",
        "x\n1\n1e999\n",
        [],
        False,
        4,
        ": non-finite value '1e999' in column 'x' at line 3",
    ),
    (
        "long value cut",
        "fit",
        "x,y\n1,2\n" + "a" * 500 + ",3\n",
        [],
        False,
        4,
        ": non-numeric value '" + "a" * 79 + "'… in column 'x' at line 3",
    ),
    (
        "long column name cut",
        "fit",
        "x,y\n1,2\n2,3\n",
        ["--x", "z" * 300],
        False,
        4,
        ": column '" + "z" * 79 + "'… not found; columns are: 'x', 'y'",
    ),
    (
        "empty name quoted",
        "fit",
        "x,,y\n1,2,3\n",
        ["--x", "q"],
        False,
        4,
        ": column 'q' not found; columns are: 'x', '', 'y'",
    ),
    (
        "predict hint fits predict",
        "predict",
        "x\n1\nabc\n",
        [],
        False,
        4,
        ": non-numeric value 'abc' in column 'x' at line 3; fix or remove that row",
    ),
    (
        "booleans mixed with text",
        "fit",
        "x,y\n1,True\n2,yes\n",
        [],
        False,
        4,
        ": non-numeric value 'yes' in column 'y' at line 3",
    ),
    (
        "unclosed quote names its line",
        "fit",
        'x,y\n1,2\n2,"4\n3,6\n',
        [],
        False,
        4,
        ": a quoted field opened at line 3 is never closed",
    ),
    (
        "unclosed quote in the header",
        "fit",
        '"x,y\n1,2\n2,3\n',
        [],
        False,
        4,
        ": a quote in the header is never closed",
    ),
    # valid input that must fit
    ("BOM then a blank line", "fit", b"\xef\xbb\xbf\nx,y\n1,2\n2,4\n3,7\n", [], False, 0, None),
    ("blank lines before header", "fit", "\n\nx,y\n1,2\n2,4\n3,6.5\n", [], False, 0, None),
    (
        "blank CRLF lines before header",
        "fit",
        b"\r\n \r\nx,y\r\n1,2\r\n2,4\r\n3,6.5\r\n",
        [],
        False,
        0,
        None,
    ),
    ("quoted newline in header", "fit", '"x\nunit",y\n1,2\n2,4\n3,6.5\n', [], False, 0, None),
    ("utf-16 with BOM", "fit", "x,y\n1,2\n2,4\n3,6.5\n".encode("utf-16"), [], False, 0, None),
    (
        "utf-16-le named",
        "fit",
        "x,y\n1,2\n2,4\n3,6.5\n".encode("utf-16-le"),
        ["--encoding", "utf-16-le"],
        False,
        0,
        None,
    ),
    ("utf-32 with BOM, stdin", "fit", "x,y\n1,2\n2,4\n3,6.5\n".encode("utf-32"), [], True, 0, None),
    (
        "utf-16 gz",
        "fit",
        gzip.compress("x,y\n1,2\n2,4\n3,6.5\n".encode("utf-16")),
        [],
        False,
        0,
        None,
    ),
    ("CR-only", "fit", b"x,y\r1,2\r2,4\r3,6.5\r", [], False, 0, None),
    ("booleans as 0/1", "fit", "x,y\nFalse,2\nTrue,4\nfalse,2.5\nTRUE,4.5\n", [], False, 0, None),
]


def _ids(cases):
    return [c[0] for c in cases]


def _run(tmp_path: Path, cmd, content, extra, stdin):
    name = "in.csv"
    if isinstance(content, bytes) and content[:2] == b"\x1f\x8b":
        name = "in.csv.gz"
    path = tmp_path / name
    args: list[str] = [cmd]
    if cmd == "predict":
        model = tmp_path / "m.json"
        model.write_text(json.dumps(MODEL))
        args.append(str(model))
    data = content.encode() if isinstance(content, str) else content
    if stdin:
        args.append("-")
    else:
        path.write_bytes(data)
        args.append(str(path))
    if cmd == "fit":
        args += ["--format", "json"]
    proc = run_cli(*args, *extra, input=data if stdin else None)
    return proc, ("<stdin>" if stdin else str(path))


@pytest.mark.parametrize(
    ("case", "cmd", "content", "extra", "stdin", "code", "message"), CASES, ids=_ids(CASES)
)
def test_reader_case(tmp_path, case, cmd, content, extra, stdin, code, message):
    proc, shown = _run(tmp_path, cmd, content, extra, stdin)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert "Warning" not in proc.stderr, proc.stderr
    assert proc.returncode == code, proc.stderr
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("Error:")]
    if code == 0:
        assert errors == []
        return
    assert len(errors) == 1 and len(proc.stderr.splitlines()) == 1, proc.stderr
    if message is not None:
        assert errors[0].startswith(f"Error: {shown}{message}"), errors[0]
    if code == 2:  # a usage error names the option
        assert "--" in errors[0]
    if "unexpected internal error" in errors[0]:
        pytest.fail(errors[0])


def test_corpus_covers_every_class():
    assert len(CASES) >= 55


def _fit(tmp_path: Path, content: bytes | str, *extra: str, stdin: bool = False) -> dict:
    proc, _ = _run(tmp_path, "fit", content, list(extra), stdin)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_odd_but_valid_inputs_give_the_plain_numbers(tmp_path):
    """Blank lines before the header, a quoted newline in it, UTF-16/32, CR-only line ends,
    gzip and stdin: the same fit as the plain file."""
    plain = "x,y\n1,2\n2,4\n3,6.5\n"
    want = _fit(tmp_path, plain)
    variants = [
        ("\n\n" + plain, []),
        ('"x",y\n1,2\n2,4\n3,6.5\n', []),
        (plain.replace("\n", "\r"), []),
        (plain.replace("\n", "\r\n"), []),
        (plain.encode("utf-16"), []),
        (plain.encode("utf-16-be"), ["--encoding", "utf-16-be"]),
        (plain.encode("utf-32"), []),
        (gzip.compress(plain.replace("\n", "\r").encode()), []),
    ]
    for content, extra in variants:
        got = _fit(tmp_path, content, *extra)
        assert got["w"] == want["w"] and got["b"] == want["b"], content
    got = _fit(tmp_path, plain.encode("utf-16"), stdin=True)
    assert got["w"] == want["w"]
    quoted = _fit(tmp_path, '"x\nunit",y\n1,2\n2,4\n3,6.5\n')
    assert quoted["features"] == ["x\nunit"] and quoted["w"]["x\nunit"] == want["w"]["x"]


def test_booleans_mean_one_and_zero_in_fit_and_predict(tmp_path):
    words = "x,y\nFalse,2\nTrue,4\nfalse,2.5\nTRUE,4.5\nFALSE,2.1\ntrue,3.9\n"
    digits = words
    for t, v in (("False", "0"), ("false", "0"), ("FALSE", "0")):
        digits = digits.replace(t, v)
    for t in ("True", "true", "TRUE"):
        digits = digits.replace(t, "1")
    a, b = _fit(tmp_path, words), _fit(tmp_path, digits)
    assert a["w"] == b["w"] and a["b"] == b["b"]
    assert a["w"]["x"] == pytest.approx(1.9333333333333333, rel=1e-12)
    # a column mixing numbers and booleans means the same
    mixed = _fit(tmp_path, words.replace("False,2\n", "0,2\n"))
    assert mixed["w"] == a["w"]
    model = tmp_path / "m.json"
    model.write_text(json.dumps(MODEL))
    data = tmp_path / "p.csv"
    data.write_text("x\nTrue\nfalse\n2\n")
    proc = run_cli("predict", model, data)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["x,y_pred", "True,2.0", "false,0.0", "2,4.0"]


def test_extreme_values_pass_through_the_reader_exactly(tmp_path):
    cells = [
        "1.7976931348623157e308",
        "-1.7976931348623157e308",
        "5e-324",
        "2.2250738585072014e-308",
        "-4.9406564584124654e-324",
        "1e-310",
        "0",
    ]
    path = tmp_path / "e.csv"
    path.write_text("x,y\n" + "".join(f"{c},{c}\n" for c in cells))
    reader = CsvReader(str(path))
    blocks = list(reader.blocks(reader.select(None, None), ReadReport()))
    reader.close()
    got = np.concatenate([b.X[:, 0] for b in blocks])
    assert got.tolist() == [float(c) for c in cells]
    text = parse_text_column(cells, "x", "e.csv", 2, CsvOptions())
    assert text.tolist() == [float(c) for c in cells]


def test_bad_corpus_files_each_give_one_error_line():
    """Exactly: for f in tests/data/bad/*; do linfit fit "$f"; done"""
    files = sorted(BAD.iterdir())
    assert len(files) >= 20
    for f in files:
        proc = run_cli("fit", f)
        lines = proc.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"Error: {f}"), (f, proc.stderr)
        assert proc.returncode in (3, 4), (f, proc.returncode, proc.stderr)
        assert proc.stdout == ""
        if f.name.startswith("ragged"):
            assert "fields but the header has" in lines[0] or "field but" in lines[0], lines[0]


@pytest.mark.skipif(sys.platform == "win32", reason="symbolic links")
def test_symlink_loop_and_long_path(tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    os.symlink(b, a)
    os.symlink(a, b)
    for cmd in (["fit", a], ["compare", a]):
        proc = run_cli(*cmd)
        assert proc.returncode == 3, proc.stderr
        assert proc.stderr.startswith(f"Error: {a}: too many levels of symbolic links"), proc.stderr
        assert len(proc.stderr.splitlines()) == 1
    long = str(tmp_path / ("x" * 5000))
    proc = run_cli("fit", long)
    assert proc.returncode == 3 and "the path is too long" in proc.stderr
    assert len(proc.stderr) < 300  # the path is quoted cut to 80 characters
    dangling = tmp_path / "d.csv"
    os.symlink(tmp_path / "gone.csv", dangling)
    proc = run_cli("fit", dangling)
    assert proc.returncode == 3 and "no such file" in proc.stderr


@pytest.mark.parametrize("code", [errno.EIO, errno.ELOOP, errno.ENAMETOOLONG, errno.EACCES])
def test_every_oserror_on_open_is_one_input_error(tmp_path, monkeypatch, code):
    import builtins

    from linfit.io import open_binary

    p = tmp_path / "u.csv"
    p.write_text("x,y\n1,2\n")
    real_open = builtins.open

    def failing(path, *a, **k):
        if str(path) == str(p):
            raise OSError(code, os.strerror(code))
        return real_open(path, *a, **k)

    monkeypatch.setattr(builtins, "open", failing)
    with pytest.raises(InputError) as info:
        open_binary(str(p))
    assert str(info.value).startswith(f"{p}") or "too long" in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("kw", "words"),
    [
        ({"thousands": ",", "decimal": ","}, "also the decimal mark"),
        ({"thousands": "."}, "also the decimal mark"),
        ({"sep": ";;"}, "exactly one character"),
        ({"sep": ""}, "exactly one character"),
        ({"decimal": ""}, "exactly one character"),
        ({"decimal": ".."}, "exactly one character"),
        ({"thousands": ", "}, "exactly one character"),
        ({"sep": ";", "decimal": ";"}, "also the delimiter"),
        ({"encoding": "punycode"}, "use a text encoding such as utf-8 or latin-1"),
        ({"encoding": "rot13"}, "use a text encoding such as utf-8 or latin-1"),
        ({"encoding": "uu"}, "use a text encoding such as utf-8 or latin-1"),
    ],
)
def test_csv_options_refuse_contradictions(kw, words):
    with pytest.raises(UsageError, match=words):
        CsvOptions(**kw)


def test_valid_options_are_accepted():
    for kw in (
        {"sep": "tab"},
        {"sep": "\\t"},
        {"sep": ";", "decimal": ","},
        {"decimal": ",", "thousands": "."},
        {"thousands": ","},
        {"encoding": "latin-1"},
        {"encoding": "UTF-16"},
        {"encoding": "cp1252"},
    ):
        CsvOptions(**kw)


def test_header_byte_cap_is_checked_before_any_row(tmp_path, monkeypatch):
    import linfit.io as lio

    monkeypatch.setattr(lio, "MAX_HEADER_BYTES", 1000)
    path = tmp_path / "h.csv"
    path.write_text(",".join(f"column{i}" for i in range(200)) + "\n1\n")
    with pytest.raises(DataError, match=r"header line is longer than 1,000 bytes"):
        CsvReader(str(path))
    path.write_text("x" * 5000)  # no line end at all
    with pytest.raises(DataError, match=r"header line is longer than 1,000 bytes"):
        CsvReader(str(path))


def test_wide_header_checks_are_linear(tmp_path):
    """A 100,000-column header with a duplicate name, and 4,096 --x choices against it,
    are answered from one index of the header (this would take minutes if quadratic)."""
    names = [f"c{i}" for i in range(limits.MAX_COLUMNS)]
    names[-1] = "c0"
    path = tmp_path / "w.csv"
    path.write_text(",".join(names) + "\n")
    reader = CsvReader(str(path))
    with pytest.raises(DataError, match=r"'c0' appears more than once \(columns 0 and 99999\)"):
        reader.resolve("c0")
    sel = reader.select([f"c{i}" for i in range(1, limits.MAX_PARAMS)], "c5000")
    assert len(sel.x_idx) == limits.MAX_PARAMS - 1
    with pytest.raises(DataError, match="appears more than once"):
        reader.select(["c1"], None)  # the default target, the last column, is a duplicate
    reader.close()


def test_pandas_warnings_never_reach_the_user(tmp_path, monkeypatch):
    import warnings

    import pandas as pd

    import linfit

    real = pd.read_csv

    def noisy(*a, **k):
        warnings.warn("mixed types", pd.errors.DtypeWarning, stacklevel=1)
        warnings.warn("bad line", pd.errors.ParserWarning, stacklevel=1)
        for frame in real(*a, **k):
            warnings.warn("overflow", RuntimeWarning, stacklevel=1)
            yield frame

    monkeypatch.setattr(pd, "read_csv", noisy)
    path = tmp_path / "g.csv"
    path.write_text("x,y\n1,2\n2,4\n3,6.5\n")
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        linfit.read_dataset(str(path))
    assert [str(w.message) for w in seen] == []


# -- the row scanner against a reference (Python's csv module), with any chunking ---------


class _Trickle:
    """A binary stream that returns at most ``step`` bytes a read (chunk boundaries anywhere)."""

    def __init__(self, data: bytes, step: int) -> None:
        self.data, self.pos, self.step = data, 0, step

    def readinto(self, buffer) -> int:
        n = min(len(buffer), self.step, len(self.data) - self.pos)
        buffer[:n] = self.data[self.pos : self.pos + n]
        self.pos += n
        return n

    def close(self) -> None:
        pass


def _reference(text: str, fields: int):
    """(first ragged (line, count) or None, lines of the rows) by the csv module."""
    import csv
    import io

    reader = csv.reader(io.StringIO(text, newline=""), strict=False)
    physical = io.StringIO(text, newline="").readlines()
    start, rows = 2, []
    for row in reader:
        raw = "".join(physical[start - 2 : reader.line_num])
        blank = raw.strip(" \t\r\n") == ""
        if not blank:
            if len(row) != fields:
                return (start, len(row)), rows
            rows.append(start)
        start = reader.line_num + 2
    return None, rows


def _scan(data: bytes, fields: int, step: int):
    shape = RowShape(_Trickle(data, step), "f", ",", fields, 2)
    buf = bytearray(1 << 16)
    try:
        while shape.readinto(buf):
            pass
    except DataError as exc:
        return str(exc), None
    return None, shape.take(sum(len(x) if not isinstance(x, tuple) else x[1] for x in shape._lines))


@pytest.mark.parametrize("step", [1, 2, 3, 7, 64, 1 << 16])
def test_row_scanner_agrees_with_the_csv_module(step):
    from hypothesis import given, settings
    from hypothesis import strategies as st

    pieces = st.sampled_from(["1", "22", ",", '"', "\n", "\r", "\r\n", " ", "\t", "a", '""'])

    @settings(max_examples=150, deadline=None, derandomize=True)
    @given(st.lists(pieces, max_size=30), st.integers(1, 3))
    def check(parts, fields):
        text = "".join(parts)
        if text.count('"') % 2:  # an unclosed quote is pandas' error, not the scanner's
            return
        if "\r" in text.replace("\r\n", ""):  # the csv module would see \r inside fields
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        want_bad, want_rows = _reference(text, fields)
        got_bad, got_rows = _scan(text.encode(), fields, step)
        if want_bad is None:
            assert got_bad is None, (text, got_bad)
            assert got_rows.tolist() == want_rows, text
        else:
            line, count = want_bad
            assert got_bad is not None and f"line {line} has {count} field" in got_bad, (
                text,
                got_bad,
                want_bad,
            )

    check()


def test_quoted_fields_across_many_chunks(tmp_path):
    """Quoted cells (with newlines and delimiters inside) over many 1 MiB chunks: the numbers
    of the plain file, and a ragged row's true line, counting the lines inside quotes."""
    import linfit

    rng = np.random.default_rng(5)
    x = rng.uniform(0, 10, 60_000)
    y = 2 * x + rng.normal(0, 1, x.size)
    plain = tmp_path / "plain.csv"
    plain.write_text("x,y\n" + "".join(f"{a!r},{b!r}\n" for a, b in zip(x.tolist(), y.tolist())))
    notes = ['"a,b"', '"two\nlines"', '"say ""hi"""', "plain"]
    rows = [
        f'"{a!r}","{b!r}",{notes[i % 4]}' for i, (a, b) in enumerate(zip(x.tolist(), y.tolist()))
    ]
    quoted = tmp_path / "quoted.csv"
    quoted.write_text('"x","y","note"\n' + "\n".join(rows) + "\n")
    assert quoted.stat().st_size > 2 << 20
    a = linfit.fit(str(plain))
    b = linfit.fit(str(quoted), x=["x"], y="y")
    assert a.n_samples == b.n_samples == 60_000
    np.testing.assert_array_equal(a.w, b.w)
    assert a.b == b.b
    k = 50_001  # row index; rows before it hold k // 4 + 1 quoted newlines (i % 4 == 1)
    rows[k] += ",extra"
    quoted.write_text('"x","y","note"\n' + "\n".join(rows) + "\n")
    newlines_before = sum(1 for i in range(k) if i % 4 == 1)
    line = 2 + k + newlines_before
    with pytest.raises(DataError, match=rf"line {line} has 4 fields but the header has 3"):
        linfit.fit(str(quoted), x=["x"], y="y")
