"""polars' streaming scan of a large file, started before the rest of linfit is imported.

numpy, Typer and linfit's own modules take about 0.1 s to import, on one core, before the
command line is parsed and the file to read is known; polars' parse would start that late.
For the common ``linfit fit DATA.csv`` (a large file, and options that change nothing of how
it is read), :func:`start` guesses from the command line and the header the scan that
:mod:`linfit.fastread` will ask for and starts it at once: polars parses ahead on its own
threads while the imports run on this one (with batches of BATCH_BYTES it runs about 0.1 s
of CPU ahead before it waits to be asked for more). When the reader asks for that very scan
(the same file, unchanged, the same first row, delimiter, columns and batch size),
:func:`take` gives it; otherwise it is dropped (:func:`discard`, or another :func:`take`)
and the reader starts its own. A wrong guess costs some CPU, never a different result.

numpy is imported before the scan starts, not after: loading its shared libraries while
polars' threads run took 0.08–0.11 s against 0.045–0.05 s (``python -X importtime``),
which made the head start worth nothing. A thread taking batches into a queue while the
imports ran, for polars to run further ahead, was tried and not kept: every batch it took
made the importing thread wait for the GIL (numpy's import: 0.11–0.16 s). This module
imports nothing heavy itself (numpy and polars only once it starts a scan), so that it can
run first.

Measured on 2 cores (paired rounds, whole processes): a fit of 1e7 rows × 2 took 0.57–0.59 s
with the head start, 0.61–0.64 s without; 5e7 rows 1.88 s against 1.97 s.
"""

from __future__ import annotations

import os

#: polars' streaming CSV source reads the file in pieces of this many bytes, at most this
#: many ahead: with its defaults (polars 2.1) it holds 300–400 MB of the file in memory,
#: with these 130–150 MB. polars reads them once per process, at its first CSV scan; they
#: are set (in os.environ) only where unset, so a user's own values win.
POLARS_SETTINGS = {
    "POLARS_CSV_CHUNK_SIZE": str(4 << 20),
    "POLARS_CSV_CHUNK_PREFETCH_LIMIT": "2",
}
#: Bytes of float64 values per batch the streaming engine hands over. Larger batches let
#: polars parse further ahead on its own while no one takes them (in a 0.2 s pause: 0.11 s
#: of CPU with 8 MB batches, 0.07 s with 2 MB ones); each costs its size in memory.
BATCH_BYTES = 8 << 20
#: Files smaller than this are not scanned early: their parse is over before the imports.
MIN_BYTES = 16 << 20

#: ``fit``'s options that leave how the file is read as it is, with how many values each
#: takes; any other option (or a second input) and nothing is started.
_HARMLESS = {
    "--format": 1,
    "-f": 1,
    "--json": 0,
    "--save": 1,
    "--quiet": 0,
    "-q": 0,
    "--method": 1,
    "--y": 1,
    "-y": 1,
    "--stats": 0,
    "--no-stats": 0,
    "--level": 1,
    "--no-refine": 0,
    "--lr": 1,
    "--epochs": 1,
    "--log-every": 1,
    "--seed": 1,
    "--tol": 1,
}


def wanted_by_env() -> bool:
    """Whether the fast reader may be used at all (``LINFIT_READER=pandas``: never)."""
    return os.environ.get("LINFIT_READER", "auto").strip().lower() != "pandas"


def configure() -> None:
    """Set POLARS_SETTINGS (where unset), before polars' first CSV read."""
    for name, value in POLARS_SETTINGS.items():
        os.environ.setdefault(name, value)


def batch_rows(n_columns: int) -> int:
    """Rows per batch of a scan of ``n_columns`` Float64 columns (BATCH_BYTES of values)."""
    return max(1 << 12, BATCH_BYTES // (8 * max(1, n_columns)))


def scan(path: str, first_line: int, sep: str, n_columns: int, rows: int):
    """polars' batches (DataFrames with columns c0, c1, …, of ``rows`` rows) of the rows of
    ``path`` from ``first_line`` (the lines before it skipped whole), every column parsed as
    Float64: a cell that is not a number, and every cell a short row or blank line lacks,
    is a null. None where polars refuses to start (an older polars): the byte chunks read
    instead. Dropping the iterator releases polars' work: with no one taking batches it
    waits."""
    try:
        configure()
        import polars as pl

        query = pl.scan_csv(
            os.path.abspath(path),  # a local file, whatever its name: no ~, no URL
            has_header=False,
            separator=sep,
            skip_lines=first_line - 1,
            schema={f"c{i}": pl.Float64 for i in range(n_columns)},
            quote_char=None,
            raise_if_empty=False,
            ignore_errors=True,  # a cell that is not a number is a null, not an error
            glob=False,  # d[1].csv is a name, not a pattern
        )
        return query.collect_batches(chunk_size=rows, engine="streaming")
    except Exception:  # noqa: BLE001 - no stream: the byte chunks read the file
        return None


def _identity(path: str) -> tuple | None:
    """The file as it is now (a file replaced or written to since gives another)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (os.path.abspath(path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def guess(argv: list[str]) -> tuple[str, int, str, int] | None:
    """(path, first line of the rows, delimiter, columns) of the scan that ``linfit`` with
    these arguments will ask for, or None where it may not ask for one (not a plain ``fit``
    of one large file) or the header is not plain (blank lines before it, a quote, a CR, a
    byte-order mark, a byte that is not UTF-8)."""
    if len(argv) < 2 or argv[0] != "fit" or argv[1].startswith("-") or argv[1] == "":
        return None
    i, target = 2, None
    while i < len(argv):
        name, eq, value = argv[i].partition("=")
        if name not in _HARMLESS:
            return None
        if name in ("--y", "-y"):
            target = value if eq else argv[i + 1] if i + 1 < len(argv) else None
        i += 1 + (0 if eq else _HARMLESS[name])
    if i != len(argv) or not wanted_by_env():
        return None
    path = argv[1]
    try:
        if not os.path.isfile(path) or os.path.getsize(path) < MIN_BYTES:
            return None
        with open(path, "rb") as fh:
            head = fh.read(1 << 16)
    except OSError:
        return None
    if head.startswith((b"\x1f\x8b", b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")):
        return None  # gzip, or a byte-order mark
    end = head.find(b"\n")
    line = head[: end + 1]
    if end < 0 or not line.strip() or b'"' in line or b"\r" in line or b"\x00" in head:
        return None
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        return None
    sep = "\t" if path.lower().endswith((".tsv", ".tab")) else ","  # CsvOptions.delimiter_for
    names = text.rstrip("\n").split(sep)
    if target is not None and target not in names + [n.strip() for n in names]:
        try:
            int(target)  # a column's position
        except ValueError:
            return None  # a name not in the header: an error, no parse wanted
    return path, 2, sep, len(names)


class _Started:
    """A scan started early: what it reads, and its batches."""

    def __init__(self, key: tuple, batches) -> None:
        self.key, self.batches = key, batches


_started: _Started | None = None


def start(argv: list[str]) -> None:
    """Start the scan that ``linfit`` with these arguments will ask for, where it is sure
    to be wanted (:func:`guess`); raises nothing but an interruption (Ctrl-C, a signal),
    which the caller handles as it would have a moment later."""
    global _started
    try:
        guessed = guess(argv)
        if guessed is None or _started is not None:
            return
        path, first_line, sep, n_columns = guessed
        identity = _identity(path)
        import numpy  # noqa: F401 - first: see the module's note

        batches = scan(path, first_line, sep, n_columns, batch_rows(n_columns))
        if batches is not None and identity is not None:
            _started = _Started((identity, first_line, sep, n_columns), batches)
    except Exception:  # noqa: BLE001 - the reader scans as it would have
        _started = None


def take(path: str, first_line: int, sep: str, n_columns: int, rows: int):
    """The batches of the scan started early if it is this one (else None; it is then
    dropped): it is given once."""
    global _started
    started, _started = _started, None
    if started is None or rows != batch_rows(n_columns):
        return None
    if started.key != (_identity(path), first_line, sep, n_columns):
        return None
    return started.batches


def discard() -> None:
    """Drop the scan started early if no one took it (before forking, and once read)."""
    global _started
    _started = None
