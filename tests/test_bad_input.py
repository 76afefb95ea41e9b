"""A corpus of bad (and awkward) inputs, run through the real ``linfit`` command.

Each case states the exact exit code and the first words of the one ``Error:`` line. Cases
that must succeed (BOM, CRLF, 1e200 values, …) state exit code 0 and what the fit gives.
"""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest

from .conftest import run_cli

GOOD = "x,y\n1,2\n2,3\n3,5\n4,7\n"
GOOD_GZ = gzip.compress(GOOD.encode())
MODEL_OK = None  # filled by the fixture


def _model_doc() -> dict:
    return {
        "schema": "linfit-model",
        "schema_version": 1,
        "target": "y",
        "features": ["x"],
        "w": {"x": 1.7},
        "b": 0.0,
    }


WIDE_HEADER = ",".join(f"c{i}" for i in range(100_000))
WIDE_ROWS = "\n".join(
    ",".join("1" if i not in (5, 99_998) else str(v) for i in range(100_000)) for v in (1, 2, 3, 4)
)

# (id, files, argv, exit code, start of the Error line, or None for success)
CASES = [
    ("missing file", {}, ["fit", "{d}/nope.csv"], 3, "Error: {d}/nope.csv: no such file"),
    ("directory", {"adir/": ""}, ["fit", "{d}/adir"], 3, "Error: {d}/adir is a directory"),
    ("empty file", {"e.csv": ""}, ["fit", "{d}/e.csv"], 4, "Error: {d}/e.csv is empty"),
    ("blank lines only", {"e.csv": "\n\n"}, ["fit", "{d}/e.csv"], 4, "Error: {d}/e.csv is empty"),
    (
        "header only",
        {"h.csv": "x,y\n"},
        ["fit", "{d}/h.csv"],
        4,
        "Error: {d}/h.csv has a header but no data rows",
    ),
    (
        "one data row",
        {"o.csv": "x,y\n1,2\n"},
        ["fit", "{d}/o.csv"],
        4,
        "Error: {d}/o.csv: 1 row cannot determine 2 parameters",
    ),
    (
        "too many fields",
        {"r.csv": "x,y\n1,2\n3,4,5\n6,7\n"},
        ["fit", "{d}/r.csv"],
        4,
        "Error: {d}/r.csv: line 3 has 3 fields but the header has 2",
    ),
    (
        "too few fields (a ragged row, not a missing value)",
        {"r.csv": "x,y\n1,2\n3\n6,7\n8,8\n"},
        ["fit", "{d}/r.csv"],
        4,
        "Error: {d}/r.csv: line 3 has 1 field but the header has 2 (too few)",
    ),
    (
        "quoted newline in a chosen column",
        {"q.csv": 'x,y\n1,2\n"3\nx",4\n5,6\n'},
        ["fit", "{d}/q.csv"],
        4,
        "Error: {d}/q.csv: non-numeric value '3\\nx' in column 'x'",
    ),
    (
        "unclosed quote",
        {"q.csv": 'x,y\n1,2\n"3,4\n5,6\n'},
        ["fit", "{d}/q.csv"],
        4,
        "Error: {d}/q.csv:",
    ),
    (
        "duplicate column names",
        {"d.csv": "x,x,y\n1,2,3\n2,3,5\n3,3,4\n"},
        ["fit", "{d}/d.csv"],
        4,
        "Error: {d}/d.csv: column name 'x' appears more than once (columns 0 and 1)",
    ),
    (
        "column chosen twice",
        {"g.csv": GOOD},
        ["fit", "{d}/g.csv", "--x", "x,x"],
        4,
        "Error: {d}/g.csv: column 'x' is chosen twice",
    ),
    (
        "target chosen as feature",
        {"g.csv": GOOD},
        ["fit", "{d}/g.csv", "--x", "y", "--y", "y"],
        4,
        "Error: {d}/g.csv: column 'y' is both the target",
    ),
    (
        "unknown column",
        {"g.csv": GOOD},
        ["fit", "{d}/g.csv", "--x", "z"],
        4,
        "Error: {d}/g.csv: column 'z' not found; columns are: 'x', 'y'",
    ),
    (
        "index out of range",
        {"g.csv": GOOD},
        ["fit", "{d}/g.csv", "--x", "7"],
        4,
        "Error: {d}/g.csv: column index 7 is out of range",
    ),
    (
        "non-numeric text",
        {"t.csv": "x,y\n1,2\nabc,3\n4,5\n"},
        ["fit", "{d}/t.csv"],
        4,
        "Error: {d}/t.csv: non-numeric value 'abc' in column 'x' at line 3",
    ),
    (
        "thousands separators",
        {"t.csv": 'x,y\n"1,234",2\n"2,345",3\n"3,456",5\n'},
        ["fit", "{d}/t.csv"],
        4,
        "Error: {d}/t.csv: non-numeric value '1,234' in column 'x' at line 2; it looks like a thousands separator",
    ),
    (
        "decimal commas",
        {"c.csv": "x;y\n1,5;2,5\n2,5;3,5\n3,5;5,0\n"},
        ["fit", "{d}/c.csv", "--sep", ";"],
        4,
        "Error: {d}/c.csv: non-numeric value '1,5' in column 'x' at line 2; it looks like a decimal comma",
    ),
    (
        "inf",
        {"i.csv": "x,y\n1,2\ninf,3\n4,5\n"},
        ["fit", "{d}/i.csv"],
        4,
        "Error: {d}/i.csv: non-finite value 'inf' in column 'x' at line 3",
    ),
    (
        "-inf",
        {"i.csv": "x,y\n1,2\n2,-inf\n4,5\n"},
        ["fit", "{d}/i.csv"],
        4,
        "Error: {d}/i.csv: non-finite value '-inf' in column 'y' at line 3",
    ),
    (
        "1e999",
        {"i.csv": "x,y\n1,2\n2,1e999\n4,5\n"},
        ["fit", "{d}/i.csv"],
        4,
        "Error: {d}/i.csv: non-finite value",
    ),
    (
        "nan refused with --na raise",
        {"n.csv": "x,y\n1,2\n2,nan\n4,5\n5,6\n"},
        ["fit", "{d}/n.csv", "--na", "raise"],
        4,
        "Error: {d}/n.csv: missing value in column 'y' at line 3",
    ),
    (
        "all-constant x",
        {"k.csv": "x,y\n3,2\n3,3\n3,4\n"},
        ["fit", "{d}/k.csv"],
        5,
        "Error: {d}/k.csv: column 'x' is constant",
    ),
    (
        "two identical feature columns",
        {"t.csv": "a,b,y\n1,1,2\n2,2,3\n3,3,5\n4,4,4\n"},
        ["fit", "{d}/t.csv"],
        5,
        "Error: {d}/t.csv: the data do not determine the fit: 'a' and 'b' are collinear",
    ),
    (
        "exact linear combination",
        {"t.csv": "a,b,c,y\n1,0,1,2\n0,1,1,3\n1,1,2,5\n2,1,3,4\n3,5,8,1\n"},
        ["fit", "{d}/t.csv"],
        5,
        "Error: {d}/t.csv: the data do not determine the fit:",
    ),
    (
        "more features than rows",
        {"w.csv": "a,b,c,y\n1,2,3,4\n2,3,1,5\n"},
        ["fit", "{d}/w.csv"],
        4,
        "Error: {d}/w.csv: 2 rows cannot determine 4 parameters",
    ),
    (
        "Latin-1 bytes",
        {"l.csv": b"x,y\n1,2\n2,3\n3,5\n4,\xe9\n"},
        ["fit", "{d}/l.csv"],
        3,
        "Error: {d}/l.csv: bytes that are not valid utf-8",
    ),
    (
        "truncated gzip",
        {"t.csv.gz": GOOD_GZ[:20]},
        ["fit", "{d}/t.csv.gz"],
        3,
        "Error: {d}/t.csv.gz: the gzip data is truncated or corrupt",
    ),
    (
        "binary file",
        {"b.csv": bytes(range(256)) * 4},
        ["fit", "{d}/b.csv"],
        3,
        "Error: {d}/b.csv looks like a binary file",
    ),
    (
        "single column",
        {"s.csv": "x;y\n1;2\n2;3\n"},
        ["fit", "{d}/s.csv"],
        4,
        "Error: {d}/s.csv has 1 column; a fit needs a target and at least one feature column; the header holds ';'",
    ),
    (
        "bad --sep and --decimal",
        {"g.csv": GOOD},
        ["fit", "{d}/g.csv", "--decimal", ","],
        2,
        "Error: --decimal ',' is also the delimiter",
    ),
    (
        "unknown method",
        {"g.csv": GOOD},
        ["fit", "{d}/g.csv", "--method", "magic"],
        2,
        "Error: unknown method 'magic'; known methods are: lstsq, gd, torch",
    ),
    (
        "negative learning rate",
        {"g.csv": GOOD},
        ["fit", "{d}/g.csv", "--method", "gd", "--lr", "-1"],
        2,
        "Error: --lr must be a finite number > 0 (got -1.0)",
    ),
    (
        "diverging gd",
        {"g.csv": GOOD},
        ["fit", "{d}/g.csv", "--method", "gd", "--no-scale", "--lr", "10"],
        1,
        "Error: gd diverged at epoch",
    ),
    (
        "save into a missing folder",
        {"g.csv": GOOD},
        ["fit", "{d}/g.csv", "--save", "{d}/no/m.json"],
        7,
        "Error: cannot write {d}/no/m.json: its folder does not exist",
    ),
    # predict
    (
        "model file missing",
        {"g.csv": GOOD},
        ["predict", "{d}/none.json", "{d}/g.csv"],
        6,
        "Error: {d}/none.json: no such model file",
    ),
    (
        "model file empty",
        {"g.csv": GOOD, "m.json": ""},
        ["predict", "{d}/m.json", "{d}/g.csv"],
        6,
        "Error: {d}/m.json is empty",
    ),
    (
        "model file not JSON",
        {"g.csv": GOOD, "m.json": "w = 1.7\n"},
        ["predict", "{d}/m.json", "{d}/g.csv"],
        6,
        "Error: {d}/m.json: not valid JSON",
    ),
    (
        "model missing a field",
        {"g.csv": GOOD, "m.json": json.dumps({k: v for k, v in _model_doc().items() if k != "b"})},
        ["predict", "{d}/m.json", "{d}/g.csv"],
        6,
        "Error: {d}/m.json: required field 'b' is missing",
    ),
    (
        "model of unknown schema version",
        {"g.csv": GOOD, "m.json": json.dumps({**_model_doc(), "schema_version": 99})},
        ["predict", "{d}/m.json", "{d}/g.csv"],
        6,
        "Error: {d}/m.json: model schema version 99",
    ),
    (
        "model holding NaN",
        {"g.csv": GOOD, "m.json": json.dumps({**_model_doc(), "b": float("nan")})},
        ["predict", "{d}/m.json", "{d}/g.csv"],
        6,
        "Error: {d}/m.json: not valid JSON (non-finite number NaN)",
    ),
    (
        "model holding a string coefficient",
        {"g.csv": GOOD, "m.json": json.dumps({**_model_doc(), "w": {"x": "1.7"}})},
        ["predict", "{d}/m.json", "{d}/g.csv"],
        6,
        "Error: {d}/m.json: 'w' holds '1.7', not a finite number",
    ),
    (
        "not a linfit model",
        {"g.csv": GOOD, "m.json": "[1, 2]"},
        ["predict", "{d}/m.json", "{d}/g.csv"],
        6,
        "Error: {d}/m.json: not a linfit model",
    ),
    (
        "model features not in data",
        {"z.csv": "a,y\n1,2\n", "m.json": json.dumps(_model_doc())},
        ["predict", "{d}/m.json", "{d}/z.csv"],
        4,
        "Error: {d}/z.csv: the model's feature column 'x' is not in the data; columns are: 'a', 'y'",
    ),
    (
        "predict: non-numeric feature",
        {"t.csv": "x,y\n1,2\nabc,3\n", "m.json": json.dumps(_model_doc())},
        ["predict", "{d}/m.json", "{d}/t.csv", "-o", "{d}/out.csv"],
        4,
        "Error: {d}/t.csv: non-numeric value 'abc' in column 'x' at line 3",
    ),
    (
        "predict: interval without inference block",
        {"g.csv": GOOD, "m.json": json.dumps(_model_doc())},
        ["predict", "{d}/m.json", "{d}/g.csv", "--interval", "confidence"],
        6,
        "Error: {d}/m.json has no 'inference' block",
    ),
    (
        "predict: empty data file",
        {"e.csv": "", "m.json": json.dumps(_model_doc())},
        ["predict", "{d}/m.json", "{d}/e.csv"],
        4,
        "Error: {d}/e.csv is empty",
    ),
    # compare
    (
        "compare: missing file",
        {},
        ["compare", "{d}/nope.csv"],
        3,
        "Error: {d}/nope.csv: no such file",
    ),
    (
        "compare: unknown method",
        {"g.csv": GOOD},
        ["compare", "{d}/g.csv", "--methods", "lstsq,nope"],
        2,
        "Error: unknown method 'nope'",
    ),
    (
        "compare: constant column",
        {"k.csv": "x,y\n3,2\n3,3\n3,4\n"},
        ["compare", "{d}/k.csv", "--check"],
        1,
        "Error: methods disagree with lstsq",
    ),
    # awkward inputs that must work
    (
        "byte-order mark and CRLF",
        {"b.csv": b"\xef\xbb\xbfx,y\r\n1,2\r\n2,3\r\n3,5\r\n4,7\r\n"},
        ["fit", "{d}/b.csv"],
        0,
        None,
    ),
    (
        "Latin-1 with --encoding",
        {"l.csv": b"x,caf\xe9\n1,2\n2,3\n3,5\n4,7\n"},
        ["fit", "{d}/l.csv", "--encoding", "latin-1"],
        0,
        None,
    ),
    ("gzip", {"g.csv.gz": GOOD_GZ}, ["fit", "{d}/g.csv.gz"], 0, None),
    (
        "1e200 values (squares overflow)",
        {"h.csv": "x,y\n1e200,2e200\n2e200,3e200\n3e200,5e200\n4e200,7e200\n"},
        ["fit", "{d}/h.csv"],
        0,
        None,
    ),
    ("x identical to y", {"s.csv": "x,y\n1,1\n2,2\n3,3\n"}, ["fit", "{d}/s.csv"], 0, None),
    (
        "thousands with --thousands",
        {"t.csv": 'x,y\n"1,000",2\n"2,000",3\n"3,000",5\n"4,000",7\n'},
        ["fit", "{d}/t.csv", "--thousands", ","],
        0,
        None,
    ),
    (
        "decimal commas with --decimal",
        {"c.csv": "x;y\n1,0;2,0\n2,0;3,0\n3,0;5,0\n4,0;7,0\n"},
        ["fit", "{d}/c.csv", "--sep", ";", "--decimal", ","],
        0,
        None,
    ),
    (
        "nan dropped by default",
        {"n.csv": "x,y\n1,2\n2,nan\n2,3\n3,5\n4,7\n"},
        ["fit", "{d}/n.csv"],
        0,
        None,
    ),
    (
        "100,000-column header, two chosen",
        {"w.csv": WIDE_HEADER + "\n" + WIDE_ROWS + "\n"},
        ["fit", "{d}/w.csv", "--x", "c5", "--y", "c99998"],
        0,
        None,
    ),
    ("trailing blank line", {"g.csv": GOOD + "\n\n"}, ["fit", "{d}/g.csv"], 0, None),
]


def _materialise(tmp: Path, files: dict) -> None:
    for name, content in files.items():
        path = tmp / name
        if name.endswith("/"):
            path.mkdir()
            continue
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)


@pytest.mark.parametrize(
    ("case", "files", "argv", "code", "message"), CASES, ids=[c[0] for c in CASES]
)
def test_bad_input(tmp_path, case, files, argv, code, message):
    _materialise(tmp_path, files)
    before = set(os.listdir(tmp_path))
    d = str(tmp_path)
    args = [a.replace("{d}", d) for a in argv]
    fmt = [] if args[0] != "fit" else ["--format", "json"]
    proc = run_cli(*args, *fmt)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == code, proc.stderr
    if message is None:
        doc = json.loads(proc.stdout)
        assert doc["w"] and all(isinstance(v, float) for v in doc["w"].values())
        assert not [ln for ln in proc.stderr.splitlines() if ln.startswith("Error:")]
    else:
        errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("Error:")]
        assert len(errors) == 1, proc.stderr
        assert errors[0].startswith(message.replace("{d}", d)), errors[0]
        # nothing written, nothing half-written
        assert set(os.listdir(tmp_path)) == before
        assert proc.stdout == "" or args[0] == "compare"


def test_corpus_is_large_enough():
    assert len(CASES) >= 40


def test_awkward_inputs_give_the_right_fit(tmp_path):
    bom = tmp_path / "b.csv"
    bom.write_bytes(b"\xef\xbb\xbfx,y\r\n1,2\r\n2,3\r\n3,5\r\n4,7\r\n")
    doc = json.loads(run_cli("fit", bom, "--json").stdout)
    assert doc["features"] == ["x"] and doc["w"]["x"] == pytest.approx(1.7, rel=1e-14)
    huge = tmp_path / "h.csv"
    huge.write_text("x,y\n1e200,2e200\n2e200,3e200\n3e200,5e200\n4e200,7e200\n")
    doc = json.loads(run_cli("fit", huge, "--json").stdout)
    assert doc["w"]["x"] == pytest.approx(1.7, rel=1e-14)
    assert doc["b"] == pytest.approx(0.0, abs=1e186)  # 1e-14 of the data's scale
    assert doc["metrics"]["r2"] == pytest.approx(1 - 0.3 / 14.75, rel=1e-12)
    wide = tmp_path / "w.csv"
    wide.write_text(WIDE_HEADER + "\n" + WIDE_ROWS + "\n")
    doc = json.loads(run_cli("fit", wide, "--x", "c5", "--y", "c99998", "--json").stdout)
    assert doc["features"] == ["c5"] and doc["target"] == "c99998"
    assert doc["w"]["c5"] == pytest.approx(1.0, rel=1e-14)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file(tmp_path):
    p = tmp_path / "u.csv"
    p.write_text(GOOD)
    p.chmod(0)
    proc = run_cli("fit", p)
    assert proc.returncode == 3
    assert proc.stderr.startswith(f"Error: {p}: permission denied")


def test_unreadable_file_in_process(tmp_path, monkeypatch):
    """The same path without depending on the user: open() raising EACCES."""
    import builtins

    from linfit.errors import InputError
    from linfit.io import open_binary

    p = tmp_path / "u.csv"
    p.write_text(GOOD)
    real_open = builtins.open

    def deny(path, *a, **k):
        if str(path) == str(p):
            raise PermissionError(13, "Permission denied")
        return real_open(path, *a, **k)

    monkeypatch.setattr(builtins, "open", deny)
    with pytest.raises(InputError, match="permission denied"):
        open_binary(str(p))
