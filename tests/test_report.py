"""Every table linfit prints fits the width it is given and never cuts a number.

Each check runs the real command at COLUMNS = 40 … 200 and reads the table back: no line is
wider than the width, none ends in a space, no number carries an ellipsis, and every number
parses to the true value (from --json) within the precision it is printed with.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linfit.layout import DEFAULT_WIDTH, MIN_DIGITS, Column, Grid, output_width, render

from .conftest import SAMPLES, run_cli, stderr_on_terminal, write

WIDTHS = [40, 60, 80, 100, 200]
NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$")


# -- reading a table back -------------------------------------------------------------------
def sig_digits(token: str) -> int:
    mantissa = token.lower().split("e")[0].lstrip("+-").replace(".", "").lstrip("0")
    return max(len(mantissa), 1)


def tolerance(token: str) -> Decimal:
    """Half a unit in the last printed digit of ``token``."""
    t = token.lower()
    exp = int(t.split("e")[1]) if "e" in t else 0
    mant = t.split("e")[0]
    decimals = len(mant.split(".")[1]) if "." in mant else 0
    return Decimal(5).scaleb(exp - decimals - 1)


def close(token: str, value: float) -> bool:
    """``token`` is ``value`` rounded to the digits it shows (exact decimal arithmetic)."""
    if not NUMBER.match(token):
        return False
    return abs(Decimal(token) - Decimal(value)) <= tolerance(token)


def precise(token: str, value: float, digits: int = MIN_DIGITS) -> bool:
    """``token`` is ``value`` to at least ``digits`` significant digits (``g`` drops trailing
    zeros, so 10000001 at 4 digits prints as 1e+07)."""
    if value == 0:
        return float(token) == 0
    v = Decimal(value)
    return abs(Decimal(token) - v) <= Decimal(5).scaleb(v.adjusted() - digits)


def check_lines(text: str, width: int) -> list[str]:
    lines = text.splitlines()
    for ln in lines:
        assert len(ln) <= width, (width, ln)
        assert ln == ln.rstrip(), repr(ln)
        assert "…" not in ln, ln
    return lines


def tables(text: str) -> list[tuple[list[str], list[list[str]]]]:
    """(headers, rows of cells) for each table: the header is the line above the rule, cells
    are separated by two or more spaces."""
    lines = text.splitlines()
    out = []
    for i, ln in enumerate(lines):
        if ln.strip() and set(ln.strip()) == {"─"}:
            heads = re.split(r"\s{2,}", lines[i - 1].strip())
            rows = []
            for row in lines[i + 1 :]:
                if not row.strip():
                    break
                rows.append(re.split(r"\s{2,}", row.strip()))
            out.append((heads, rows))
    return out


def by_column(text: str, key: str) -> dict[str, dict[str, str]]:
    """{row key: {column head: cell}} over every stacked part of the tables keyed by ``key``;
    a cell shown twice would be a layout error."""
    got: dict[str, dict[str, str]] = {}
    for heads, rows in tables(text):
        if heads[0] != key:
            continue
        for cells in rows:
            assert len(cells) == len(heads), (heads, cells)
            row = got.setdefault(cells[0], {})
            for h, c in zip(heads[1:], cells[1:]):
                assert h not in row, (h, row)
                row[h] = c
    return got


# -- data -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def slope_file(tmp_path_factory):
    """y = 0.3 + 1.598791234·x plus a small deterministic wobble: the issue's example value."""
    d = tmp_path_factory.mktemp("report")
    rows = [f"{x},{0.3 + 1.598791234 * x + 1e-3 * math.sin(7 * x)!r}" for x in range(200)]
    return write(d / "slope.csv", "x,y\n" + "\n".join(rows) + "\n")


def wide_file(tmp_path, k: int, n: int = 120):
    """k features on very different scales, so the coefficients differ in size."""
    head = ",".join([f"feature_{i}" for i in range(k)] + ["y"])
    lines = [head]
    for r in range(n):
        xs = [math.sin(1.3 * r * (i + 1) + i) * 10.0 ** (i % 5 - 2) for i in range(k)]
        y = 1.5 + sum((i + 1) * 0.37 * x / 10.0 ** (i % 5 - 2) for i, x in enumerate(xs))
        y += 0.01 * math.cos(r)
        lines.append(",".join(repr(v) for v in [*xs, y]))
    return write(tmp_path / f"wide{k}.csv", "\n".join(lines) + "\n")


# -- fit ------------------------------------------------------------------------------------
@pytest.mark.parametrize("width", WIDTHS)
def test_fit_table_keeps_every_number_whole(slope_file, width):
    doc = json.loads(run_cli("fit", slope_file, "--json").stdout)
    proc = run_cli("fit", slope_file, env={"COLUMNS": str(width)})
    assert proc.returncode == 0, proc.stderr
    check_lines(proc.stdout, width)
    params = by_column(proc.stdout, "parameter")
    coefs = list(doc["stats"]["coef"].values())
    assert len(params) == len(coefs) == 2
    shown = list(params.values())
    for coef in coefs:  # each coefficient is one row showing all its statistics
        row = next(r for r in shown if close(r["estimate"], coef["estimate"]))
        for head, stat in [
            ("std. error", "se"),
            ("t", "t"),
            ("95% CI low", "ci_low"),
            ("95% CI high", "ci_high"),
            ("estimate", "estimate"),
        ]:
            assert close(row[head], coef[stat]), (head, row[head], coef[stat])
            assert precise(row[head], coef[stat])
        assert row["p"] == "< 1e-300" or close(row["p"], coef["p"])
    slope = next(r["estimate"] for r in shown if r["estimate"].startswith("1.59"))
    assert sig_digits(slope) >= (7 if width >= 80 else MIN_DIGITS)
    metrics = by_column(proc.stdout, "metric")
    fit, m = doc["stats"]["fit"], doc["metrics"]
    for label, value in [
        ("RMSE", m["rmse"]),
        ("R²", m["r2"]),
        ("log-likelihood", fit["loglik"]),
        ("residual std. error", fit["sigma"]),
    ]:
        assert close(metrics[label]["value"], value), (label, metrics[label], value)
    aic = next(v["value"] for k, v in metrics.items() if k.startswith("AIC"))
    assert close(aic, fit["aic"])
    assert "R's AIC() and BIC()" in " ".join(proc.stdout.split())


def test_fit_heading_wraps_at_a_narrow_width(tmp_path):
    path = write(tmp_path / ("long_name_" * 5 + ".csv"), "x,y\n1,2\n2,4.1\n3,5.9\n4,8.2\n")
    proc = run_cli("fit", path, env={"COLUMNS": "40"})
    lines = check_lines(proc.stdout, 40)
    assert lines[0] == "linfit · lstsq · y ~ x"
    assert "n = 4]" in proc.stdout


def test_piped_output_without_columns_has_a_fixed_width(monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)
    assert output_width(io.StringIO()) == DEFAULT_WIDTH
    monkeypatch.setenv("COLUMNS", "63")
    assert output_width(io.StringIO()) == 63


# -- epoch log ------------------------------------------------------------------------------
@pytest.mark.parametrize(("k", "width"), [(6, 80), (6, 40), (30, 80), (30, 60)])
def test_epoch_log_of_many_features_is_readable(tmp_path, k, width):
    path = wide_file(tmp_path, k)
    args = ["fit", path, "--method", "gd", "--epochs", "40", "--log-every", "10", "--no-stats"]
    doc = json.loads(run_cli(*args, "--json", "--quiet").stdout)
    proc = run_cli(*args, env={"COLUMNS": str(width)})
    assert proc.returncode == 0, proc.stderr
    log = proc.stderr.split("note:")[0]
    check_lines(log, width)
    rows = by_column(log, "epoch")
    assert sorted(int(e) for e in rows) == [h["epoch"] for h in doc["history"]]
    for h in doc["history"]:
        row = rows[str(h["epoch"])]
        truth = {"loss": h["loss"], "b": h["b"]} | {f"w[{f}]": v for f, v in h["w"].items()}
        assert set(row) == set(truth)  # every column, once
        for head, value in truth.items():
            assert close(row[head], value), (head, row[head], value)
            assert precise(row[head], value)


# -- compare --------------------------------------------------------------------------------
@pytest.mark.parametrize(("k", "width"), [(3, 80), (3, 40), (12, 80), (30, 100)])
def test_compare_table_fits_and_shows_the_checked_difference(tmp_path, k, width):
    path = SAMPLES / "multi_feature.csv" if k == 3 else wide_file(tmp_path, k)
    args = ["compare", path, "--methods", "lstsq,gd"]
    docs = json.loads(run_cli(*args, "--json").stdout)
    proc = run_cli(*args, env={"COLUMNS": str(width)})
    assert proc.returncode == 0, proc.stderr
    check_lines(proc.stdout, width)
    rows = by_column(proc.stdout, "method")
    assert list(rows) == ["lstsq", "gd"]
    for doc in docs:
        row = rows[doc["method"]]
        for f, v in doc["w"].items():
            assert close(row[f"w[{f}]"], v), (f, row[f"w[{f}]"], v)
            assert precise(row[f"w[{f}]"], v)
        assert close(row["b"], doc["b"]) and close(row["loss"], doc["metrics"]["loss"])
        # the difference column is the standardised one that --check tests, not the raw one
        assert close(row["max std. |Δ|"], doc["max_std_diff"])
    gd = next(d for d in docs if d["method"] == "gd")
    assert not close(rows["gd"]["max std. |Δ|"], gd["max_abs_diff"])
    assert "unit-free scale that --check tests" in " ".join(proc.stdout.split())


def test_compare_csv_is_one_row_per_method_at_full_precision():
    args = ["compare", SAMPLES / "multi_feature.csv", "--methods", "lstsq,gd"]
    docs = json.loads(run_cli(*args, "--json").stdout)
    proc = run_cli(*args, "--format", "csv")
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert [r["method"] for r in rows] == ["lstsq", "gd"]
    for row, doc in zip(rows, docs):
        assert float(row["w_x2"]) == doc["w"]["x2"] and float(row["b"]) == doc["b"]
        assert float(row["r2"]) == doc["metrics"]["r2"]
        assert float(row["max_abs_diff"]) == doc["max_abs_diff"]
        assert float(row["max_std_diff"]) == doc["max_std_diff"]
        assert row["error"] == ""
    assert rows[0]["epochs_run"] == "" and rows[1]["epochs_run"] == "100"
    assert rows[1]["converged"] in ("true", "false") and rows[1]["stop_reason"]


def test_compare_csv_records_a_failed_method():
    pytest.importorskip("torch")
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    args = ["compare", SAMPLES / "noisy_line.csv", "--methods", "lstsq,torch", "--device", "cuda"]
    proc = run_cli(*args, "--format", "csv")
    assert proc.returncode == 1
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert rows[1]["method"] == "torch" and rows[1]["error"].startswith("--device cuda")
    assert rows[1]["w_x"] == ""


# -- fit --format csv -----------------------------------------------------------------------
def test_fit_csv_keeps_its_columns_and_adds_statistics():
    proc = run_cli("fit", SAMPLES / "multi_feature.csv", "--format", "csv")
    reader = csv.reader(io.StringIO(proc.stdout))
    head, row = next(reader), next(reader)
    old = ["method", "target", "n", "b", "w_x1", "w_x2", "w_x3", "loss", "mse", "rmse", "r2"]
    assert head[: len(old)] == old  # scripts that read these columns keep working
    got = dict(zip(head, row))
    doc = json.loads(run_cli("fit", SAMPLES / "multi_feature.csv", "--json").stdout)
    coefs = doc["stats"]["coef"]
    x2 = coefs["x2"]
    intercept = next(v for k, v in coefs.items() if k not in doc["features"])
    for stat in ("se", "t", "p", "ci_low", "ci_high"):
        assert float(got[f"w_x2_{stat}"]) == x2[stat]
        assert float(got[f"b_{stat}"]) == intercept[stat]
    assert float(got["level"]) == 0.95
    assert got["epochs_run"] == got["converged"] == got["stop_reason"] == ""


def test_fit_csv_of_gd_says_how_it_stopped():
    args = ["fit", SAMPLES / "noisy_line.csv", "--method", "gd", "--epochs", "30", "--quiet"]
    got = next(csv.DictReader(io.StringIO(run_cli(*args, "--format", "csv").stdout)))
    solver = json.loads(run_cli(*args, "--json").stdout)["solver"]
    assert int(got["epochs_run"]) == solver["epochs_run"] == 30
    assert got["converged"] == "false" and got["stop_reason"] == solver["stop_reason"]
    no_stats = next(
        csv.DictReader(io.StringIO(run_cli(*args, "--no-stats", "--format", "csv").stdout))
    )
    assert set(no_stats) == set(got) and no_stats["w_x_se"] == ""  # same columns


# -- the progress bar on a terminal ---------------------------------------------------------
@pytest.mark.parametrize("width", [40, 80])
def test_progress_bar_fits_the_terminal(width):
    import os
    import sys

    args = [sys.executable, "-m", "linfit", "fit", str(SAMPLES / "noisy_line.csv")]
    args += ["--method", "gd", "--batch-size", "1", "--epochs", "40", "--tol", "0"]
    args += ["--format", "csv", "--no-stats"]
    env = dict(os.environ, COLUMNS=str(width))
    code, shown = stderr_on_terminal(args, env)
    assert code == 0
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", shown)
    bar = [s for s in re.split(r"[\r\n]", plain) if re.match(r"epoch \d+/40", s)]
    assert bar, plain[-500:]
    for seg in bar:
        assert len(seg) < width, seg
        loss = re.search(r"loss (\S*)", seg).group(1)
        assert loss == "" or NUMBER.match(loss), seg


# -- the layout itself ----------------------------------------------------------------------
finite = st.floats(allow_nan=False, allow_infinity=False, width=64)


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.lists(finite, min_size=1, max_size=30), min_size=1, max_size=4),
    width=st.integers(30, 200),
)
def test_render_never_cuts_a_number(values, width):
    ncol = min(len(r) for r in values)
    rows = [[f"r{i}", *r[:ncol]] for i, r in enumerate(values)]
    cols = [Column("row", "left")] + [Column(f"c{j}", max_digits=10) for j in range(ncol)]
    text = render(Grid("t", cols, rows), width)
    check_lines(text, width)
    got = by_column(text, "row")
    for r in rows:
        cells = got[r[0]]
        assert len(cells) == ncol
        for j, v in enumerate(r[1:]):
            tok = cells[f"c{j}"]
            assert close(tok, v), (tok, v)
            assert precise(tok, v)


def test_long_feature_names_wrap_but_numbers_stay_whole(tmp_path):
    """Names longer than the width are text: they may break; the numbers beside them not."""
    k, names = 3, [f"a_rather_long_feature_name_number_{i}" for i in range(3)]
    rows = []
    for r in range(40):
        xs = [math.sin(r * (i + 1.7)) for i in range(k)]
        rows.append(",".join(repr(v) for v in [*xs, 1.2345 * sum(xs) + 0.1 * math.cos(r)]))
    path = write(tmp_path / "long.csv", ",".join([*names, "y"]) + "\n" + "\n".join(rows) + "\n")
    doc = json.loads(run_cli("fit", path, "--json").stdout)
    proc = run_cli("fit", path, env={"COLUMNS": "40"})
    lines = check_lines(proc.stdout, 40)
    tokens = [t for ln in lines for t in ln.split()]
    for coef in doc["stats"]["coef"].values():
        for stat in ("estimate", "se", "t", "ci_low", "ci_high"):
            assert any(close(t, coef[stat]) and precise(t, coef[stat]) for t in tokens), stat


def test_wide_characters_are_measured_in_terminal_cells(tmp_path):
    """CJK names and group values take two cells each: every line fits the width in display
    cells, and the numbers of each column end in the same cell on every row."""
    from rich.cells import cell_len

    rows = ["重量グラム,都市,y"]
    for r in range(30):
        city = ["東京", "大阪市中央区", "札幌"][r % 3]
        rows.append(f"{math.sin(r)!r},{city},{2 * math.sin(r) + len(city) + 0.1 * math.cos(r)!r}")
    path = write(tmp_path / "cjk.csv", "\n".join(rows) + "\n")
    for args in (
        ["--formula", "y ~ 重量グラム + C(都市)"],
        ["-x", "重量グラム", "-y", "y", "--by", "都市"],
    ):
        for width in (40, 60, 100):
            out = run_cli("fit", path, *args, env={"COLUMNS": str(width)}).stdout
            lines = out.splitlines()
            assert lines and all(cell_len(ln) <= width for ln in lines), (args, width)
            blocks = [b.splitlines() for b in out.split("\n\n")]
            tables = [b[b.index(r) + 1 :] for b in blocks for r in b if r.strip().startswith("─")]
            assert tables and any("東京" in ln for t in tables for ln in t)
            for rows in tables:  # right-aligned numbers end in one cell on every row
                assert len({cell_len(ln) for ln in rows}) == 1, (args, width, rows)


def test_notes_wrap_at_spaces_on_a_terminal_and_stay_one_line_in_a_pipe():
    import os
    import subprocess
    import sys

    args = [sys.executable, "-m", "linfit", "fit", str(SAMPLES / "noisy_line.csv")]
    args += ["--method", "gd", "--epochs", "5", "--lr", "0.01", "--format", "csv", "--no-stats"]
    piped = subprocess.run(args, capture_output=True, text=True, env=dict(os.environ))
    note = [ln for ln in piped.stderr.splitlines() if ln.startswith("note: gd stopped")]
    assert len(note) == 1 and len(note[0]) > 60  # a long note, whole on one line
    env = dict(os.environ, COLUMNS="60")
    code, shown = stderr_on_terminal(args, env)
    assert code == 0
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", shown)
    lines = plain.replace("\r", "").splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("note: gd stopped"))
    block = [lines[start]] + [ln for ln in lines[start + 1 :] if ln.startswith("      ")]
    assert len(block) > 1 and all(len(ln) < 60 for ln in block), block
    assert " ".join(ln.strip() for ln in block) == note[0]  # same words, broken at spaces
