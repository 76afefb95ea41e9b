"""The scan started before linfit's imports (linfit.prefetch, issue 19): it starts only for a
plain ``fit`` of one large file, the reader takes it only where it is the very scan it would
have started, and a fit gives the same result whether it took it, dropped it, or had none."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from linfit import fastread, prefetch
from linfit.cli import app


@pytest.fixture(autouse=True)
def _no_size_floor(monkeypatch):
    """Every file counts as large here, and no scan outlives its test."""
    monkeypatch.setattr(prefetch, "MIN_BYTES", 0)
    monkeypatch.setenv("LINFIT_READER", "auto")
    prefetch.discard()
    yield
    prefetch.discard()


class ScanSpy:
    """Counts the scans started, and which of them the reader took from prefetch."""

    def __init__(self, monkeypatch) -> None:
        self.started = self.taken = 0
        real_scan, real_take = prefetch.scan, prefetch.take

        def scan(*args, **kw):
            self.started += 1
            return real_scan(*args, **kw)

        def take(*args, **kw):
            got = real_take(*args, **kw)
            self.taken += got is not None
            return got

        monkeypatch.setattr(prefetch, "scan", scan)
        monkeypatch.setattr(prefetch, "take", take)


def _write(path, rows: int = 5000, seed: int = 0, sep: str = ",", noise: float = 0.1):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 2))
    y = 1.5 + x @ np.array([0.5, -2.0]) + rng.normal(scale=noise, size=rows)
    lines = [sep.join(["a", "b", "y"])]
    lines += [sep.join(repr(float(v)) for v in (*row, t)) for row, t in zip(x, y)]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def _fit(argv: list[str]) -> tuple[int, str]:
    res = CliRunner().invoke(app, argv, catch_exceptions=False)
    return res.exit_code, re.sub(r'"wall_time_s": [0-9.e-]+', "", res.stdout)


def test_a_plain_fit_is_guessed(tmp_path):
    path = _write(tmp_path / "d.csv")
    assert prefetch.guess(["fit", path]) == (path, 2, ",", 3)
    harmless = ["--format", "json", "-q", "--save", "m.json", "--method", "gd", "--y", "b"]
    assert prefetch.guess(["fit", path, *harmless, "--no-refine", "--level=0.9"]) == (
        path,
        2,
        ",",
        3,
    )
    tsv = _write(tmp_path / "d.tsv", sep="\t")
    assert prefetch.guess(["fit", tsv, "--json"]) == (tsv, 2, "\t", 3)


@pytest.mark.parametrize(
    "tail",
    [
        ["--x", "a"],  # not every column: the reader parses chosen ones by byte chunks
        ["--sep", ";"],
        ["--formula", "y ~ a"],
        ["--by", "a"],
        ["--format"],  # a value missing
        ["other.csv"],  # a second input
    ],
)
def test_other_options_start_nothing(tmp_path, tail):
    path = _write(tmp_path / "d.csv")
    assert prefetch.guess(["fit", path, *tail]) is None


@pytest.mark.parametrize(
    "head",
    [
        b'"a",b,y\n1,2,3\n',  # a quoted header
        b"a,b,y\r\n1,2,3\r\n",  # CR line ends
        b"\xef\xbb\xbfa,b,y\n1,2,3\n",  # a byte-order mark
        b"\n\na,b,y\n1,2,3\n",  # blank lines before the header
        b"\x1f\x8b\x08\x00",  # gzip
        b"a,b,\xe9\n1,2,3\n",  # not UTF-8
        b"a,b,y",  # no line end
    ],
)
def test_unplain_headers_start_nothing(tmp_path, head):
    path = tmp_path / "d.csv"
    path.write_bytes(head)
    assert prefetch.guess(["fit", str(path)]) is None


def test_small_files_stdin_other_commands_and_the_pandas_reader_start_nothing(
    tmp_path, monkeypatch
):
    path = _write(tmp_path / "d.csv")
    assert prefetch.guess(["predict", path]) is None
    assert prefetch.guess(["fit", "-"]) is None
    assert prefetch.guess(["fit", str(tmp_path)]) is None  # a directory
    assert prefetch.guess(["fit", str(tmp_path / "missing.csv")]) is None
    monkeypatch.setattr(prefetch, "MIN_BYTES", os.path.getsize(path) + 1)
    assert prefetch.guess(["fit", path]) is None
    monkeypatch.setattr(prefetch, "MIN_BYTES", 0)
    monkeypatch.setenv("LINFIT_READER", "pandas")
    assert prefetch.guess(["fit", path]) is None


def test_the_reader_takes_the_scan_started_early_with_the_same_result(tmp_path, monkeypatch):
    path = _write(tmp_path / "d.csv", rows=20000)
    argv = ["fit", path, "--format", "json"]
    spy = ScanSpy(monkeypatch)
    before = _fit(argv)  # nothing started early: the reader scans
    assert before[0] == 0 and (spy.started, spy.taken) == (1, 0)
    prefetch.start(argv)
    assert spy.started == 2
    assert _fit(argv) == before  # bit for bit: the same batches, folded alike
    assert (spy.started, spy.taken) == (2, 1)  # taken, not scanned again
    assert prefetch.take(path, 2, ",", 3, prefetch.batch_rows(3)) is None  # given once


def test_a_scan_for_another_file_or_a_changed_file_is_dropped(tmp_path, monkeypatch):
    a, b = _write(tmp_path / "a.csv", seed=1), _write(tmp_path / "b.csv", seed=2)
    want_b = _fit(["fit", b, "--format", "json"])
    spy = ScanSpy(monkeypatch)
    prefetch.start(["fit", a])
    assert _fit(["fit", b, "--format", "json"]) == want_b
    assert spy.taken == 0 and prefetch._started is None
    prefetch.start(["fit", a])
    _write(tmp_path / "a.csv", rows=6000, seed=3)  # rewritten after the scan started
    os.utime(a, ns=(1, 1))
    assert _fit(["fit", a, "--format", "json"]) == _fit(["fit", a, "--format", "json"])
    assert spy.taken == 0
    assert json.loads(_fit(["fit", a, "--format", "json"])[1])["n_samples"] == 6000


def test_a_scan_with_other_rows_per_batch_or_columns_is_not_taken(tmp_path):
    path = _write(tmp_path / "d.csv")
    for args in [(path, 2, ",", 3, 64), (path, 3, ",", 3, None), (path, 2, ";", 3, None)]:
        prefetch.start(["fit", path])
        rows = args[4] or prefetch.batch_rows(3)
        assert prefetch.take(*args[:4], rows) is None
    prefetch.start(["fit", path])
    prefetch.discard()
    assert prefetch.take(path, 2, ",", 3, prefetch.batch_rows(3)) is None


def test_a_late_bad_cell_reads_the_same_after_an_early_start(tmp_path, monkeypatch):
    """The early scan meets the bad cell, as the reader's own would: pandas words it."""
    path = tmp_path / "d.csv"
    _write(path, rows=3000)
    with open(path, "a") as fh:
        fh.write("1.0,oops,2.0\n")
    argv = ["fit", str(path)]
    want = CliRunner().invoke(app, argv)
    prefetch.start(argv)
    got = CliRunner().invoke(app, argv)
    assert got.exit_code == want.exit_code != 0
    assert got.stderr == want.stderr and "oops" in got.stderr


def test_batch_rows_hold_batch_bytes_of_values():
    assert prefetch.batch_rows(2) * 2 * 8 == prefetch.BATCH_BYTES
    assert prefetch.batch_rows(11) * 11 * 8 <= prefetch.BATCH_BYTES
    assert prefetch.batch_rows(10**6) == 1 << 12
    assert fastread.BATCH_ROWS is None  # the reader asks prefetch.batch_rows


def test_the_command_line_starts_it_before_the_cli_is_imported(tmp_path):
    """Through linfit's entry point: the scan starts before Typer is imported, and the
    reader takes it."""
    path = _write(tmp_path / "d.csv", rows=20000)
    code = (
        "import sys\nfrom linfit import entry, prefetch\nprefetch.MIN_BYTES = 0\n"
        "real_start, real_take = prefetch.start, prefetch.take\n"
        "def start(argv):\n"
        "    real_start(argv)\n"
        "    print('typer before:', 'typer' in sys.modules, file=sys.stderr)\n"
        "def take(*a):\n"
        "    got = real_take(*a)\n"
        "    print('taken:', got is not None, file=sys.stderr)\n"
        "    return got\n"
        "prefetch.start, prefetch.take = start, take\n"
        f"entry.main(['fit', {path!r}, '--format', 'json'])\n"
    )
    env = dict(os.environ, LINFIT_READER="auto")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert "typer before: False" in out.stderr and "taken: True" in out.stderr
    assert json.loads(out.stdout)["n_samples"] == 20000


def test_blas_runs_on_one_thread_inside_and_as_before_after():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    from linfit.blas import one_thread

    def blas_threads() -> list[int]:
        return [
            i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"
        ]

    before = blas_threads()
    with one_thread():
        assert blas_threads() and set(blas_threads()) == {1}
    assert blas_threads() == before


def test_a_target_not_in_the_header_starts_nothing(tmp_path):
    path = _write(tmp_path / "d.csv")
    assert prefetch.guess(["fit", path, "--y", "b"]) == (path, 2, ",", 3)
    assert prefetch.guess(["fit", path, "-y", "0"]) == (path, 2, ",", 3)
    assert prefetch.guess(["fit", path, "--y=b"]) == (path, 2, ",", 3)
    assert prefetch.guess(["fit", path, "--y", "missing"]) is None  # an error: nothing to parse


def test_both_readers_fold_blocks_longer_than_blas_splits_alike(tmp_path, monkeypatch):
    """50,000 rows in one block: OpenBLAS would split its dot products among threads; the
    fold runs on one BLAS thread whichever reader read the rows, so the two agree bit for
    bit (they did not while only the fast reader's fold was limited)."""
    from linfit import fitting

    monkeypatch.setattr(fitting, "PRELOAD_BYTES", 0)  # the large-file road, on a small file
    monkeypatch.setenv("LINFIT_KEEP_VALUES", "0")  # no rows kept: the fold's own solution
    # noisy rows: each block's [1, X, y] is well conditioned, so its R comes from the Gram
    # matrix's dot products (a nearly exact fit's would come from Householder QR)
    path = _write(tmp_path / "d.csv", rows=50_000, seed=5, noise=3.0)
    got = {}
    for mode in ("auto", "pandas"):
        monkeypatch.setenv("LINFIT_READER", mode)
        got[mode] = _fit(["fit", path, "--format", "json", "--no-refine"])
    assert got["auto"][0] == 0 and got["auto"] == got["pandas"]


def test_the_fit_does_not_depend_on_the_blas_thread_count(tmp_path, monkeypatch):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    monkeypatch.setenv("LINFIT_KEEP_VALUES", "0")  # no rows kept: the fold's own solution
    import linfit
    from linfit.solvers import SolverOptions

    path = _write(tmp_path / "d.csv", rows=50_000, seed=6, noise=3.0)  # as above
    fits = []
    for threads in (1, 2):  # unrefined: refinement would hide the fold's last digits
        with threadpoolctl.threadpool_limits(threads, user_api="blas"):
            model = linfit.fit(path, options=SolverOptions(refine=False))
        fits.append((model.b, *model.w.tolist(), model.metrics["sse"]))
    assert fits[0] == fits[1]
