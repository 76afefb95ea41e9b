"""Two-core parsing of one large file: same statistics, same messages as one core."""

from __future__ import annotations

import numpy as np
import pytest

import linfit
from linfit import parallel
from linfit.errors import DataError


@pytest.fixture
def big(tmp_path, monkeypatch):
    monkeypatch.setattr(parallel, "PARALLEL_MIN_BYTES", 1 << 16)
    monkeypatch.setenv("LINFIT_JOBS", "2")
    # two processes are for what pandas reads (polars, the fast reader, uses every core)
    monkeypatch.setenv("LINFIT_READER", "pandas")
    rng = np.random.default_rng(8)
    t = 1.7e9 + rng.uniform(0, 1e6, 40_000)
    y = 3e-6 * t + rng.normal(0, 0.1, t.size)
    path = tmp_path / "big.csv"
    np.savetxt(path, np.column_stack([t, y]), delimiter=",", header="t,y", comments="", fmt="%.17g")
    return path


def test_parallel_equals_one_core(big, monkeypatch):
    assert parallel.workers_for(str(big), keep_all_rows=False) == 2
    two = linfit.read_dataset(str(big))
    assert two.problem.X is None  # read in two processes: rows not kept
    m2 = linfit.fit_problem(two.problem).model
    monkeypatch.setenv("LINFIT_JOBS", "1")
    one = linfit.fit(str(big))
    assert one.n_samples == m2.n_samples == 40_000
    np.testing.assert_allclose(m2.w, one.w, rtol=1e-12)
    # b ≈ 1.3 is the difference of c ≈ 5101 and w·t̄ ≈ 5100: its relative error is that of
    # w times |w·t̄|/|b| ≈ 4000, for any method. Checked against the size of those terms.
    scale = max(abs(one.b), abs(float(one.w[0]) * 1.7e9))
    assert abs(m2.b - one.b) <= 1e-12 * scale


def test_errors_in_the_second_half_name_the_real_line(big):
    lines = big.read_text().splitlines()
    bad = 30_000  # in the second half
    lines[bad] = "1700000000,oops"
    big.write_text("\n".join(lines) + "\n")
    with pytest.raises(
        DataError, match=rf"non-numeric value 'oops' in column 'y' at line {bad + 1}"
    ):
        linfit.read_dataset(str(big))


def test_dropped_rows_are_counted_across_halves(big):
    lines = big.read_text().splitlines()
    for k in (100, 35_000):
        lines[k] = "1700000000,"
    big.write_text("\n".join(lines) + "\n")
    ds = linfit.read_dataset(str(big))
    assert ds.report.rows_dropped == 2
    assert ds.report.first_dropped_line == 101
    assert ds.problem.n == 40_000 - 2


def test_not_used_for_quoted_or_gzipped_or_small_files(big, tmp_path):
    quoted = tmp_path / "q.csv"
    quoted.write_text('"t","y"\n' + big.read_text().split("\n", 1)[1])
    assert parallel.workers_for(str(quoted), False) == 1
    assert parallel.workers_for(str(big), keep_all_rows=True) == 1
    assert parallel.workers_for("-", False) == 1


def test_several_files_shared_among_processes(big, tmp_path, monkeypatch):
    lines = big.read_text().splitlines()
    head, rows = lines[0], lines[1:]
    for k in range(4):
        (tmp_path / f"part-{k}.csv").write_text(
            "\n".join([head, *rows[k * 10_000 : (k + 1) * 10_000]]) + "\n"
        )
    pattern = str(tmp_path / "part-*.csv")
    assert parallel.workers_for_files(sorted(map(str, tmp_path.glob("part-*.csv"))), False) == 2
    shared = linfit.read_dataset(pattern)
    assert shared.problem.n == 40_000 and shared.problem.X is None
    m = linfit.fit_problem(shared.problem).model
    monkeypatch.setenv("LINFIT_JOBS", "1")
    one = linfit.fit(pattern)
    np.testing.assert_allclose(m.w, one.w, rtol=1e-12)
    bad = tmp_path / "part-2.csv"
    bad.write_text(bad.read_text().replace("\n", "\nnot,numbers\n", 1))
    monkeypatch.setenv("LINFIT_JOBS", "2")
    with pytest.raises(
        DataError, match=r"part-2.csv: non-numeric value 'not' in column 't' at line 2"
    ):
        linfit.read_dataset(pattern)


def _one_process(path, monkeypatch, **kw):
    monkeypatch.setenv("LINFIT_JOBS", "1")
    ds = linfit.read_dataset(str(path), **kw)
    monkeypatch.setenv("LINFIT_JOBS", "2")
    return ds


def _same_fit(a, b):
    ma, mb = linfit.fit_problem(a.problem).model, linfit.fit_problem(b.problem).model
    assert a.problem.n == b.problem.n
    np.testing.assert_allclose(ma.w, mb.w, rtol=1e-12)
    scale = max(abs(mb.b), abs(float(mb.w[0]) * 1.7e9))
    assert abs(ma.b - mb.b) <= 1e-12 * scale


def test_quoted_newline_past_the_first_mib_is_read_right(big, monkeypatch):
    """The probe sees no quote, so two processes start; a range sees the quote, and the file
    is read again in one process: the same numbers, no refusal."""
    lines = big.read_text().splitlines()
    out = ["t,y,note"] + [ln + ",a" for ln in lines[1:]]
    k = 35_000  # past the first MiB
    out[k] = lines[k] + ',"two\nlines"'
    big.write_text("\n".join(out) + "\n")
    assert big.read_bytes().index(b'"') > 1 << 20
    assert parallel.workers_for(str(big), keep_all_rows=False) == 2
    ranges = []
    real = parallel.read_range

    def spy(path, options, header, start, end, *rest):
        ranges.append((start, end))
        return real(path, options, header, start, end, *rest)

    monkeypatch.setattr(parallel, "read_range", spy)
    two = linfit.read_dataset(str(big), x=["t"], y="y")
    size = big.stat().st_size
    assert ranges[0][1] < size and ranges[-1] == (len("t,y,note\n"), size)  # split, then whole
    one = _one_process(big, monkeypatch, x=["t"], y="y")
    assert two.problem.n == 40_000
    _same_fit(two, one)


def test_cr_only_file_in_two_processes(big, monkeypatch):
    """Old Mac line ends: no LF to cut at. The two-process reader gives the one-process
    numbers (and is not even tried, as the probe sees the lone CRs)."""
    cr = big.with_name("cr.csv")
    cr.write_bytes(big.read_bytes().replace(b"\n", b"\r"))
    assert parallel.workers_for(str(cr), keep_all_rows=False) == 1
    reader = linfit.io.CsvReader(str(cr))
    sel = reader.select(None, None)
    stats, report, _ = parallel.read_parallel(reader, reader.options, sel, 2, 0)
    reader.close()
    one = _one_process(cr, monkeypatch)
    assert stats.n == one.problem.n == 40_000 and report.rows_read == 40_000


def test_ragged_rows_in_the_second_half_name_the_real_line(big):
    lines = big.read_text().splitlines()
    lines[30_000] += ",1"
    big.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"line 30001 has 3 fields but the header has 2"):
        linfit.read_dataset(str(big))
    lines[30_000] = "1700000000"
    big.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"line 30001 has 1 field but the header has 2"):
        linfit.read_dataset(str(big))


def test_blank_lines_before_the_header_and_crlf(big, monkeypatch):
    crlf = big.with_name("crlf.csv")
    crlf.write_bytes(b"\r\n\r\n" + big.read_bytes().replace(b"\n", b"\r\n"))
    assert parallel.workers_for(str(crlf), keep_all_rows=False) == 2
    two = linfit.read_dataset(str(crlf))
    assert two.problem.X is None  # two processes
    _same_fit(two, _one_process(big, monkeypatch))
    lines = crlf.read_bytes().split(b"\r\n")
    lines[30_002] = b"1700000000,"
    crlf.write_bytes(b"\r\n".join(lines))
    ds = linfit.read_dataset(str(crlf))
    assert ds.report.first_dropped_line == 30_003 and ds.problem.n == 40_000 - 1


def test_several_files_one_ragged(big, tmp_path, monkeypatch):
    lines = big.read_text().splitlines()
    head, rows = lines[0], lines[1:]
    for k in range(2):
        part = rows[k * 20_000 : (k + 1) * 20_000]
        if k == 1:
            part[5] += ",7"
        (tmp_path / f"p-{k}.csv").write_text("\n".join([head, *part]) + "\n")
    files = sorted(map(str, tmp_path.glob("p-*.csv")))
    assert parallel.workers_for_files(files, False) == 2
    with pytest.raises(DataError, match=r"p-1.csv: line 7 has 3 fields but the header has 2"):
        linfit.read_dataset(files)
