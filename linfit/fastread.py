"""The fast reader: polars parses plain numeric CSV rows; anything else is left to pandas.

pandas' chunked C parser runs at about half polars' speed per core and its import is most of
linfit's start-up, so a plain file (UTF-8, one of ``, ; tab |`` as delimiter, ``.`` decimals,
no quote, lone CR, NUL or blank line, every chosen cell a finite number or empty) is parsed by
polars, in one of two ways, memory bounded whatever the file's size:

- every column chosen (``fit data.csv``, the common case): polars' streaming engine reads
  the whole file on its own threads, ahead of linfit's fold (:class:`StreamedFrames`): on
  2 cores 0.58–0.64 s for a fit of 1e7 rows × 2 (by byte chunks: 0.85–0.87 s, measured
  before the last start-up savings);
- otherwise, or from where the stream stops: byte chunks of CHUNK_BYTES, each parsed by
  ``polars.read_csv`` after the checks below.

The contract with :meth:`linfit.io.CsvReader.blocks`: :func:`frames` yields, frame by frame,
exactly the float64 values and file lines that the pandas path gives for the same rows, in
frames of the same number of rows, so that the statistics folded from them are bit-identical.
Before yielding a frame it cannot vouch for it raises :class:`Fallback`; the caller then
reads the input with pandas, skipping the frames already yielded, so the user sees exactly
the pandas path's numbers, message and exit code. It vouches only where polars and pandas
provably agree, and falls back for everything else (checks per chunk, at memchr speed):

- a byte that is not ASCII and not valid UTF-8, a NUL byte, a quote, a lone CR;
- a row with more or fewer fields than the header, a blank line (found by polars, which
  refuses a long row and gives nulls for a short or blank one, and by counting delimiters);
- a chosen cell polars cannot read as a number (text, ``NA``, ``True``, ``1,5``…), one it
  reads as NaN or ±inf (``nan``, ``inf``, ``1e999``: pandas reads some of them as missing, some
  as text, and quotes them in its messages), and ``-0`` (pandas reads an integer column's ``-0``
  as +0.0); an empty cell is missing in both, unless the chunk holds a blank that could make
  it a cell of spaces.

Set ``LINFIT_READER=pandas`` to read every input with pandas.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import numpy as np

from . import prefetch
from .errors import LinfitError

#: Bytes parsed per polars call: memory is a few times this, whatever the file's size.
CHUNK_BYTES = 4 << 20
#: A line longer than this (no line end within it) goes to pandas, which explains it.
MAX_LINE_BYTES = 64 << 20
#: Delimiters the fast reader takes (others, e.g. a space, go to pandas).
SEPARATORS = frozenset(",;\t|")

_INHERITED = False  # polars was imported before this process was forked


class Fallback(Exception):
    """The input needs the pandas path, from the first frame not yet yielded."""


def forked() -> None:
    """Called first in a forked reader process: polars imported before the fork is not used
    there (its thread pool does not survive a fork); pandas reads instead."""
    global _INHERITED
    _INHERITED = "polars" in sys.modules


def usable(path: str, sep: str, decimal: str, thousands: str | None, utf8: bool) -> bool:
    """Whether the fast reader can read this input with these options: a regular,
    uncompressed file (not stdin), UTF-8, a delimiter it takes, ``.`` decimals, no thousands
    separator, and polars installed (and not imported before this process was forked)."""
    if not prefetch.wanted_by_env() or path == "-" or not utf8:
        return False
    if sep not in SEPARATORS or decimal != "." or thousands is not None:
        return False
    if _INHERITED:
        return False
    try:
        if not os.path.isfile(path):
            return False
        with open(path, "rb") as fh:
            if fh.read(2) == b"\x1f\x8b":
                return False
    except OSError:
        return False
    try:
        import polars  # noqa: F401
    except ImportError:
        return False
    return True


class Frames:
    """Gathers parsed columns into frames of ``chunk_rows`` rows (the last one shorter),
    counting the empty cells of each frame, for both of :func:`frames`' roads."""

    def __init__(self, k: int, chunk_rows: int, first_line: int) -> None:
        self.k, self.chunk_rows, self.line = k, chunk_rows, first_line
        self.frame = np.empty((k, chunk_rows))
        self.nulls = np.zeros(k, dtype=np.int64)
        self.filled = 0

    def add(self, cols: list[np.ndarray], series=None):
        """Yield the frames ``cols`` (equal-length columns) complete, as :func:`checked`
        gives them; ``series`` (polars Series with nulls) to count empty cells."""
        m, at = len(cols[0]), 0
        while at < m:
            take = min(self.chunk_rows - self.filled, m - at)
            for j in range(self.k):
                self.frame[j, self.filled : self.filled + take] = cols[j][at : at + take]
                if series is not None and series[j].null_count():
                    self.nulls[j] += series[j].slice(at, take).null_count()
            self.filled += take
            at += take
            if self.filled == self.chunk_rows:
                yield checked(self.frame, self.nulls, self.line)
                self.line += self.filled
                self.frame, self.filled = np.empty((self.k, self.chunk_rows)), 0
                self.nulls = np.zeros(self.k, dtype=np.int64)

    def rest(self):
        """The last, shorter frame, if any rows are left."""
        if self.filled:
            yield checked(np.ascontiguousarray(self.frame[:, : self.filled]), self.nulls, self.line)
            self.line += self.filled
            self.filled = 0


def frames(
    path: str,
    start: int,
    first_line: int,
    sep: str,
    n_columns: int,
    wanted: list[int],
    chunk_rows: int,
) -> Iterator[tuple[np.ndarray, range, np.ndarray, np.ndarray]]:
    """The rows of ``path`` from byte ``start`` (the first data row, on ``first_line``) as
    frames of ``chunk_rows`` rows: (V, lines, lo, hi), V of shape (len(wanted), m) holding
    the ``wanted`` columns in that order, lo and hi its rows' minima and maxima.
    Raises :class:`Fallback` before a frame it cannot vouch for (see the module's note), and
    :class:`StreamMismatch` if a frame the stream gave is not the file's."""
    prefetch.configure()  # before polars' first CSV read
    import polars as pl

    given: list[bytes] = []  # digests of the frames the streaming engine gave
    if sorted(set(wanted)) == list(range(n_columns)) and _lines_before(path, start, first_line):
        streamed = StreamedFrames(path, start, first_line, sep, n_columns, wanted, chunk_rows)
        for frame in streamed:
            given.append(digest(frame[0]))
            yield frame
        if streamed.finished:
            return
    # byte chunks from the first row; frames the stream gave are checked, not given again
    names, schema, projection = layout(pl, n_columns, wanted)
    out = Frames(len(wanted), chunk_rows, first_line)

    def read() -> Iterator[tuple[np.ndarray, range, np.ndarray, np.ndarray]]:
        for chunk in chunks(path, start):
            series = parse(pl, chunk, sep, n_columns, names, schema, projection, wanted)
            yield from out.add([s.to_numpy() for s in series], series)
        yield from out.rest()

    seen = 0  # frames read here
    for frame in read():
        if seen < len(given):
            _same(frame[0], given[seen], path, out.line)
        else:
            yield frame
        seen += 1
    if seen < len(given):
        raise StreamMismatch(path, out.line)


class StreamMismatch(LinfitError):
    """The streaming engine gave rows the byte chunks do not find in the file. The reader
    (:meth:`linfit.io.CsvReader.blocks`) then has pandas read the file, and reports its
    error: polars gives such rows only before it raises on a row pandas refuses too."""

    def __init__(self, path: str, line: int) -> None:
        super().__init__(
            f"{path}: the fast reader (polars) gave rows that differ from the file's, near line "
            f"{line}; nothing was written. Please report this; LINFIT_READER=pandas reads the "
            "file with pandas instead"
        )


def digest(V: np.ndarray) -> bytes:
    """A frame's fingerprint: its columns' bit patterns summed as integers (mod 2⁶⁴), and its
    size. It tells rows from elsewhere in the file, or missing ones, which is how polars
    fails (whole pieces of the file dropped or shifted); not two rows swapped within the
    frame, which it does not do. One pass over the frame, about 0.2 ms per 2 MB."""
    return np.add.reduce(V.view(np.uint64), axis=1).tobytes() + V.shape[1].to_bytes(8, "little")


def _same(V: np.ndarray, expected: bytes, path: str, line: int) -> None:
    if digest(V) != expected:
        raise StreamMismatch(path, line)


#: Rows per batch polars' streaming engine hands over (then copied into frames); None:
#: :func:`linfit.prefetch.batch_rows` of the file's columns.
BATCH_ROWS: int | None = None


def _lines_before(path: str, start: int, first_line: int) -> bool:
    """Whether the ``start`` bytes before the rows are ``first_line`` − 1 whole lines ending
    in LF, as the streaming engine's ``skip_lines`` counts them (not a CR-only header)."""
    with open(path, "rb") as fh:
        head = fh.read(start)
    return head.endswith(b"\n") and head.count(b"\n") == first_line - 1


def _blank_tail(path: str, start: int) -> int:
    """How many blank lines end the file after byte ``start`` (the streaming engine gives
    each as a row of nulls; pandas and the byte chunks skip them)."""
    with open(path, "rb") as fh:
        size = fh.seek(0, os.SEEK_END)
        fh.seek(max(start, size - 4096))
        tail = fh.read()
    body = tail.rstrip(b"\r\n")
    if len(body) == len(tail) or (not body and size - 4096 > start):
        return 0  # no line end at the end, or more blank lines than the tail read shows
    return max(0, tail[len(body) :].replace(b"\r\n", b"\n").count(b"\n") - 1)


class StreamedFrames:
    """The frames of :func:`frames` from polars' streaming CSV engine, for a file whose every
    column is chosen (each parsed as Float64), the common case, at polars' own speed: it
    maps the file and parses ahead on its threads while linfit folds the frame before.

    Every cell polars cannot read as a number is a null (``ignore_errors``), as are the cells
    a short row or a blank line lacks; a quote, a NUL, a lone CR, a byte that is not ASCII,
    or a blank where polars takes none make such a cell. At the first null it stops, with
    ``finished`` False, having given only whole frames of rows it read as numbers; rows of
    nulls that are the blank lines ending the file are skipped, as pandas skips them.

    What it cannot turn into a null it raises (a row with more fields than the header), and
    polars (2.1) then may already have given rows from the wrong place: it drops the failing
    piece of the file and pieces beside it, and gives later ones. So whenever it stops,
    :func:`frames` reads the file again with byte chunks from the first row, checks each
    frame given against its own (:func:`digest`), and gives the frames after them. A file
    the stream reads to its end, without a null or an error, is read once."""

    def __init__(self, path, start, first_line, sep, n_columns, wanted, chunk_rows) -> None:
        self.args = (path, start, first_line, sep, n_columns, wanted, chunk_rows)
        self.finished = False

    def __iter__(self) -> Iterator[tuple[np.ndarray, range, np.ndarray, np.ndarray]]:
        path, start, first_line, sep, n_columns, wanted, chunk_rows = self.args
        rows = BATCH_ROWS or prefetch.batch_rows(n_columns)
        batches = prefetch.take(path, first_line, sep, n_columns, rows)
        if batches is None:  # not started early (linfit.prefetch): start it now
            batches = prefetch.scan(path, first_line, sep, n_columns, rows)
        if batches is None:
            return
        blank = _blank_tail(path, start)
        out = Frames(len(wanted), chunk_rows, first_line)
        tail = 0  # rows of nulls seen at the end so far
        try:
            for df in batches:
                cols = [df.get_column(f"c{i}") for i in wanted]
                if any(c.null_count() for c in cols):
                    clean = _clean_rows(df, tail == 0)
                    if clean is None or tail + (df.height - clean) > blank:
                        return  # a null that is not a blank line ending the file
                    tail += df.height - clean
                    cols = [c.head(clean) for c in cols]
                elif tail:
                    return  # rows after the blank lines: they were not the end
                for piece in _pieces(cols):
                    yield from out.add(piece)
        except Fallback:  # a value pandas reads otherwise (checked): pandas reads on
            raise
        except Exception:  # noqa: BLE001 - polars refused a row: the byte chunks say why
            return
        if tail != blank:
            return
        yield from out.rest()
        # no row at all: the byte chunks say whether the file has none
        self.finished = out.line > first_line


def _pieces(cols) -> Iterator[list[np.ndarray]]:
    """The columns of a polars batch as numpy arrays, piece by piece where every column is
    made of the same pieces (polars' streaming batches hold 1 to 8): each piece is lent
    without a copy, where a batch as one array would be copied into fresh memory, which the
    kernel must zero (0.1 s of CPU for 1e7 rows, taken from polars' parsing threads)."""
    pieces = [c.get_chunks() for c in cols]
    lengths = [len(p) for p in pieces[0]]
    if all([len(p) for p in col] == lengths for col in pieces[1:]):
        for t in range(len(lengths)):
            yield [col[t].to_numpy() for col in pieces]
    else:
        yield [c.to_numpy() for c in cols]


def _clean_rows(df, may_have_rows: bool) -> int | None:
    """How many rows of ``df`` come before its rows of nulls, if every row after them is
    null in every column (None otherwise); with ``may_have_rows`` False, all must be."""
    import polars as pl

    empty = df.select(pl.all_horizontal(pl.all().is_null())).to_series()
    first = empty.arg_true()
    if len(first) == 0:
        return None
    at = int(first[0])
    if at and (not may_have_rows or sum(df.head(at).null_count().row(0))):
        return None
    return at if bool(empty.slice(at).all()) else None


def layout(pl, n_columns: int, wanted: list[int]):
    """(names, schema, projection) for :func:`parse`: the ``wanted`` columns as Float64."""
    names = [f"c{i}" for i in range(n_columns)]
    chosen = set(wanted)
    # every column is parsed when all are chosen: polars then refuses a long row itself;
    # otherwise the chosen ones and the last (whose null marks a short row) are
    projection = None if len(chosen) == n_columns else sorted(chosen | {n_columns - 1})
    schema = {names[i]: (pl.Float64 if i in chosen else pl.String) for i in range(n_columns)}
    return names, schema, projection


def chunks(path: str, start: int) -> Iterator[bytes]:
    """Complete lines of the file from byte ``start``, about CHUNK_BYTES at a time (each read
    once, at its offset: no carry-over copies). The last chunk loses its trailing line ends:
    blank lines at the end are skipped, as pandas skips them."""
    with open(path, "rb", buffering=0) as fh:
        fd = fh.fileno()
        end = os.fstat(fd).st_size
        pos, size = start, CHUNK_BYTES
        while pos < end:
            data = os.pread(fd, min(size, end - pos), pos)
            if not data:
                return
            if pos + len(data) >= end:
                last = data.rstrip(b"\r\n")
                if last:
                    yield last
                return
            cut = data.rfind(b"\n") + 1
            if cut == 0:  # a line longer than the chunk
                if size > MAX_LINE_BYTES:
                    raise Fallback
                size *= 2
                continue
            yield data if cut == len(data) else data[:cut]
            pos, size = pos + cut, CHUNK_BYTES


def parse(pl, chunk: bytes, sep: str, n_columns: int, names, schema, projection, wanted):
    """The chosen columns (polars Series, nulls where a cell is empty) of the complete
    lines in ``chunk``."""
    if not chunk.isascii():
        try:
            chunk.decode("utf-8")
        except UnicodeDecodeError:
            raise Fallback from None
    if b'"' in chunk or b"\x00" in chunk:
        raise Fallback
    if b"\r" in chunk and chunk.count(b"\r") != chunk.count(b"\r\n"):
        raise Fallback
    try:
        df = pl.read_csv(
            chunk,
            has_header=False,
            separator=sep,
            schema=schema,
            columns=projection,
            quote_char=None,
        )
    except Exception:  # noqa: BLE001 - anything polars refuses, pandas explains
        raise Fallback from None
    rows = df.height
    if rows == 0:
        raise Fallback
    series = [df.get_column(names[i]) for i in wanted]
    has_nulls = [s.null_count() > 0 for s in series]
    short = projection is not None and df.get_column(names[-1]).null_count() > 0
    if short or any(has_nulls):
        # a null is an empty cell only when every line has all its fields (not a blank
        # line, not a short row) and no cell can be made of blanks
        if b" " in chunk or (sep != "\t" and b"\t" in chunk):
            raise Fallback
        if not _all_rows_full(chunk, sep, n_columns):
            raise Fallback
    if projection is not None and chunk.count(sep.encode()) != rows * (n_columns - 1):
        raise Fallback  # a row with more fields than the header (polars keeps its first)
    return series


def _all_rows_full(chunk: bytes, sep: str, n_columns: int) -> bool:
    """Whether every line of ``chunk`` has exactly ``n_columns`` fields."""
    b = np.frombuffer(chunk if chunk.endswith(b"\n") else chunk + b"\n", dtype=np.uint8)
    special = np.flatnonzero((b == ord(sep)) | (b == 10))
    ends = b[special] == 10
    rows = len(special) // n_columns
    return bool(
        len(special) == rows * n_columns
        and ends[n_columns - 1 :: n_columns].all()
        and int(np.count_nonzero(ends)) == rows
    )


def checked(V: np.ndarray, nulls: np.ndarray, line: int):
    """The frame with its lines and column ranges, once its values are known to be what
    pandas reads: NaN only where a cell was empty, no ±inf, no -0.0."""
    lo, hi = V.min(axis=1), V.max(axis=1)
    finite = np.isfinite(lo) & np.isfinite(hi)
    for j in np.flatnonzero(~finite):
        col = V[j]
        if np.isinf(col).any() or int(np.count_nonzero(np.isnan(col))) != nulls[j]:
            raise Fallback
    for j in np.flatnonzero(~(lo > 0) & ~(hi < 0)):  # the column may hold a zero
        col = V[j]
        if np.signbit(col[col == 0]).any():
            raise Fallback
    return V, range(line, line + V.shape[1]), lo, hi
