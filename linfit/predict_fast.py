"""predict's fast path: plain CSV rows pass through as bytes, predictions appended by polars.

Today's path (:func:`linfit.predict.predict_csv`) reads every cell as text with pandas,
parses the features, formats each prediction with ``repr`` and writes the frame back with
``to_csv``: about 6 MB/s. For a model without a formula, CSV output and nothing else asked
(no interval, score, diagnostics or line column) the same output is made here from the
file's bytes: :mod:`linfit.fastread` cuts them into chunks at line ends and parses the
feature columns (it vouches for exactly the values pandas reads, else raises Fallback);
each line is written as it is, minus its line end, then the delimiter and the prediction.

Why the bytes are what today's path writes: fastread refuses quotes, lone CRs, NULs,
ragged rows and blank lines, so every cell is unquoted text without the delimiter, a quote
or a line end, which pandas' ``to_csv`` writes unchanged; the header is written by the
same ``csv`` writer pandas uses. The predictions come from the same arithmetic on the same
frames of ``chunk_rows`` rows (:func:`frame_predictions`), and their text is ``repr``'s
(:func:`float_texts`). Output is written a whole frame at a time, so when a chunk needs
the pandas path, pandas resumes at the first frame not written: nothing is lost or doubled.
The messages and exit codes are then pandas' own; only the number of rows that reach stdout
before an error may differ (pandas scans ahead and may stop before its first frame, where
the fast path has written the frames it vouched for; ``-o`` writes no file in either case).
"""

from __future__ import annotations

import codecs
import csv
import io
import os
from collections.abc import Iterator
from typing import TextIO

import numpy as np

from .fastread import Fallback, checked, chunks, layout, parse
from .io import CsvReader
from .model import LinearModel

#: Values whose polars text is ``repr``'s (checked at first use; see :func:`float_texts`).
_PROBE = [0.0, -0.0, 1.0, 0.1, 1e-4, -2.5e-4, 1e15, 1e16, 1.2345678901234567e16, 5e-324]
_POLARS_IS_REPR: bool | None = None


def wanted(
    model: LinearModel,
    reader: CsvReader,
    fmt: str,
    out: TextIO | None,
    plain: bool,
) -> bool:
    """Whether the fast path may write this prediction: no formula, CSV output to a
    stream, nothing but the prediction column (``plain``), and a file fastread reads."""
    return model.design is None and fmt == "csv" and out is not None and plain and reader.fast


def frame_predictions(model: LinearModel, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which rows have every feature, and their predictions (NaN elsewhere); both paths
    predict through this, frame by frame, so their predictions are the same bits."""
    ok = ~np.isnan(X).any(axis=1)
    pred = np.full(len(X), np.nan)
    if ok.any():
        pred[ok] = model.predict(X[ok])
    return ok, pred


def float_texts(pl, v: np.ndarray):
    """``repr`` of each value (a polars String Series; "" where NaN). polars' cast gives
    ``repr``'s shortest round-trip text except below 1e-4 in magnitude (``0.00001``, ``1e-7``
    where ``repr`` writes ``1e-05``, ``1e-07``): those few are written by ``repr`` itself."""
    global _POLARS_IS_REPR
    if _POLARS_IS_REPR is None:
        got = pl.Series(_PROBE, dtype=pl.Float64).cast(pl.String).to_list()
        _POLARS_IS_REPR = got == [repr(x) for x in _PROBE]
    v = np.asarray(v, dtype=np.float64)
    if not _POLARS_IS_REPR:
        texts = ["" if x != x else repr(x) for x in v.tolist()]
        return pl.Series(texts, dtype=pl.String)
    s = pl.Series(v).fill_nan(None).cast(pl.String)
    small = np.flatnonzero((np.abs(v) < 1e-4) & (v != 0))
    if len(small):
        s = s.scatter(small, [repr(x) for x in v[small].tolist()])
    return s.fill_null("")


def header_text(columns: list[str], extra: str, sep: str) -> str:
    """The header line as pandas' ``to_csv`` writes it (the csv module, minimal quoting)."""
    buf = io.StringIO()
    csv.writer(buf, delimiter=sep, lineterminator="\n").writerow([*columns, extra])
    return buf.getvalue()


def _parsed(pl, reader: CsvReader, idx: list[int]) -> Iterator[tuple[object, np.ndarray]]:
    """Per chunk of the file: its lines without line ends (a polars String Series) and the
    feature columns as an (m, k) float64 array, NaN where a cell is empty. Raises Fallback
    before a chunk whose lines or values it cannot vouch for."""
    n = len(reader.columns)
    names, schema, projection = layout(pl, n, idx)
    line = reader.data_line
    try:
        for chunk in chunks(reader.path, len(reader.header_bytes)):
            series = parse(pl, chunk, reader.sep, n, names, schema, projection, idx)
            lines = pl.read_csv(
                chunk, has_header=False, separator="\x00", quote_char=None, schema={"l": pl.String}
            ).get_column("l")
            m = len(series[0])
            if len(lines) != m or lines.null_count():
                raise Fallback  # a blank line (pandas skips it)
            nulls = np.array([s.null_count() for s in series], dtype=np.int64)
            if n == 1 and nulls.any():
                raise Fallback  # an empty cell or a blank line: pandas skips the latter
            X = np.column_stack([s.to_numpy() for s in series])
            checked(X.T, nulls, line)  # NaN only where empty, no ±inf, no -0
            line += m
            yield lines, X
    except OSError:
        raise Fallback from None  # pandas reads it again and says what went wrong


def predict_rows(
    model: LinearModel,
    reader: CsvReader,
    idx: list[int],
    out: TextIO,
    pred_col: str,
    header: bool,
    chunk_rows: int,
    report,
) -> tuple[bool, int]:
    """Write the rows of ``reader``'s file with their predictions to ``out``, frame by frame.

    Returns (finished, frames written): when not finished, the pandas path goes on from the
    frame after the written ones (their rows are counted in ``report`` already)."""
    import polars as pl

    sep = reader.sep
    sink = binary_sink(out)
    done = 0
    pending: list[tuple[object, np.ndarray]] = []
    have = 0
    row = 0  # rows written

    def write(lines, X: np.ndarray) -> None:
        nonlocal done, row
        ok, pred = frame_predictions(model, X)
        over = ok & ~np.isfinite(pred)  # beyond float64's range: left empty, as today
        if over.any():
            report.overflow += int(over.sum())
            pred[over] = np.nan
        miss = ~ok
        if miss.any():
            report.missing += int(miss.sum())
            if report.first_missing_line is None:
                report.first_missing_line = reader.data_line + row + int(np.flatnonzero(miss)[0])
        if done == 0 and header:
            out.write(header_text(reader.columns, pred_col, sep))
        # each line as it is, the delimiter, the prediction ("" for none), "\n"; never quoted
        table = pl.DataFrame({"l": lines, "p": float_texts(pl, pred)})
        if sink is None:
            buf = io.BytesIO()
            table.write_csv(buf, include_header=False, separator=sep, quote_style="never")
            out.write(buf.getvalue().decode("utf-8"))
        else:
            out.flush()  # what went through ``out`` before comes first
            try:
                table.write_csv(sink, include_header=False, separator=sep, quote_style="never")
            except OSError:
                if sink.error is not None:  # polars re-raises it without its class and errno
                    raise sink.error from None
                raise
        report.rows += len(X)
        row += len(X)
        done += 1

    try:
        for lines, X in _parsed(pl, reader, idx):
            at, m = 0, len(X)
            while at < m:
                take = min(chunk_rows - have, m - at)
                pending.append((lines.slice(at, take), X[at : at + take]))
                have += take
                at += take
                if have == chunk_rows:
                    _flush(pl, pending, write)
                    pending, have = [], 0
    except Fallback:
        return False, done
    if pending:
        _flush(pl, pending, write)
    if done == 0 and header:  # no data rows: still the header
        out.write(header_text(reader.columns, pred_col, sep))
    return True, done


def binary_sink(out: TextIO):
    """``out``'s byte stream when writing UTF-8 bytes there is what writing the text to
    ``out`` would do (UTF-8, no line-end translation); else None (the text goes through)."""
    buffer = getattr(out, "buffer", None)
    encoding = getattr(out, "encoding", None)
    if buffer is None or encoding is None or os.linesep != "\n":
        return None
    try:
        if codecs.lookup(encoding).name != "utf-8":
            return None
    except LookupError:
        return None
    return _Sink(buffer)


class _Sink:
    """A byte stream that keeps the error its writes raised (a BrokenPipeError must reach
    the CLI as itself, for the exit code it has today)."""

    def __init__(self, raw) -> None:
        self.raw = raw
        self.error: OSError | None = None

    def write(self, data) -> int:
        try:
            return self.raw.write(data)
        except OSError as exc:
            self.error = exc
            raise

    def flush(self) -> None:
        self.raw.flush()


def _flush(pl, pending, write) -> None:
    if len(pending) == 1:
        write(*pending[0])
    else:
        write(pl.concat([p[0] for p in pending]), np.concatenate([p[1] for p in pending]))
