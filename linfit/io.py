"""Reading CSV input: open (file, ``-`` for stdin, gzip), pick columns, validate, yield blocks.

The input is read once, in blocks of rows, by pandas' C parser. Every problem with the input
becomes a :class:`~linfit.errors.LinfitError` naming the file, and where it applies the column,
the line and the value. Line numbers count the header as line 1 and assume one line per row
(a quoted field holding a newline shifts later numbers by one).
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import io
import os
import re
import sys
import warnings
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import IO

import numpy as np

from .errors import DataError, InputError, UsageError

#: Widest header read whole; wider files are read with ``usecols`` (only chosen columns are
#: parsed), which is much faster but cannot notice rows with extra fields.
WIDE_HEADER = 64
#: Cells that mean "missing" (pandas' defaults).
NA_TOKENS = frozenset(
    ["", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN"]
    + ["<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"]
)
_BINARY_PROBE = 8192


@dataclass(frozen=True)
class CsvOptions:
    """How to parse the text: delimiter, number format, encoding, missing values."""

    sep: str | None = None  # None: tab for .tsv files, else comma
    decimal: str = "."
    thousands: str | None = None
    encoding: str = "utf-8"
    na: str = "drop"  # "drop" rows with a missing chosen value, or "raise"

    def delimiter_for(self, path: str) -> str:
        if self.sep is not None:
            return "\t" if self.sep in ("\\t", "tab") else self.sep
        name = path.lower().removesuffix(".gz")
        return "\t" if name.endswith((".tsv", ".tab")) else ","


@dataclass(frozen=True)
class Selection:
    """The chosen columns: positions in the header and their names."""

    x_idx: tuple[int, ...]
    y_idx: int
    x_names: tuple[str, ...]
    y_name: str


@dataclass
class Block:
    """One block of validated rows, stored column by column: V[j] is column j (features
    first, then the target), with each column's minimum and maximum."""

    V: np.ndarray  # (p + 1, m) float64
    p: int
    first_line: int  # file line of the block's first row
    lo: np.ndarray
    hi: np.ndarray

    @property
    def X(self) -> np.ndarray:
        return self.V[: self.p].T

    @property
    def y(self) -> np.ndarray:
        return self.V[self.p]


@dataclass
class ReadReport:
    """What happened while reading: rows seen, dropped, and where."""

    rows_read: int = 0
    rows_dropped: int = 0
    first_dropped_line: int | None = None

    def merge(self, other: ReadReport) -> ReadReport:
        """Add ``other`` (read after this one) into this report; returns self."""
        self.rows_read += other.rows_read
        self.rows_dropped += other.rows_dropped
        if self.first_dropped_line is None:
            self.first_dropped_line = other.first_dropped_line
        return self


#: File names a directory given as input contributes.
CSV_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".tsv.gz", ".txt", ".txt.gz")


def expand_inputs(spec: str | Sequence[str]) -> list[str]:
    """Files named by ``spec``: paths, ``-``, globs and directories (their CSV files), in
    order (a glob's and a directory's matches sorted by name)."""
    import glob

    items = [spec] if isinstance(spec, str) else list(spec)
    out: list[str] = []
    for item in items:
        if item != "-" and not os.path.exists(item) and glob.has_magic(item):
            hits = sorted(glob.glob(item))
            if not hits:
                raise InputError(f"{item}: no file matches this pattern")
            out.extend(hits)
        elif os.path.isdir(item):
            hits = sorted(
                os.path.join(item, f)
                for f in os.listdir(item)
                if f.lower().endswith(CSV_SUFFIXES) and os.path.isfile(os.path.join(item, f))
            )
            if not hits:
                raise InputError(
                    f"{item} is a directory with no CSV files in it; name a CSV file, or a "
                    "folder of .csv files"
                )
            out.extend(hits)
        else:
            out.append(item)
    if not out:
        raise UsageError("no input given")
    return out


def display_name(path: str) -> str:
    return "<stdin>" if path == "-" else path


class _Prepended(io.RawIOBase):
    """A binary stream that yields ``head`` and then the rest of ``tail``."""

    def __init__(self, head: bytes, tail: IO[bytes]) -> None:
        self._head = head
        self._tail = tail

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._tail.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        return n


def open_binary(path: str) -> IO[bytes]:
    """Open ``path`` (``-`` is stdin) for binary reading, decompressing gzip by its magic bytes."""
    name = display_name(path)
    if path == "-":
        raw: IO[bytes] = sys.stdin.buffer
    else:
        if not os.path.exists(path):
            raise InputError(f"{name}: no such file; check the path (use - to read stdin)")
        if os.path.isdir(path):
            raise InputError(f"{name} is a directory, not a CSV file")
        try:
            raw = open(path, "rb")  # noqa: SIM115 - closed by the caller
        except PermissionError:
            raise InputError(f"{name}: permission denied; check the file's read permission")
        except OSError as exc:
            raise InputError(f"{name}: cannot open ({exc.strerror})")
    stream = raw if hasattr(raw, "peek") else io.BufferedReader(raw)  # type: ignore[arg-type]
    try:
        magic = stream.peek(2)[:2]  # type: ignore[attr-defined]
    except OSError as exc:
        raise InputError(f"{name}: cannot read ({exc.strerror})")
    if magic == b"\x1f\x8b":
        stream = io.BufferedReader(gzip.GzipFile(fileobj=stream, mode="rb"))  # type: ignore[arg-type]
    return stream


@contextlib.contextmanager
def _read_errors(name: str) -> Iterator[None]:
    """Turn the low-level exceptions of reading (gzip, decoding) into clear errors."""
    try:
        yield
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise InputError(
            f"{name}: the gzip data is truncated or corrupt ({exc}); re-create the file"
        ) from exc
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{name}: bytes that are not valid {exc.encoding} ({exc.reason}); name the "
            "file's encoding, e.g. --encoding latin-1"
        ) from exc
    except LookupError as exc:
        if "encoding" in str(exc):
            raise UsageError(f"{exc}; use a Python codec name, e.g. --encoding latin-1") from exc
        raise


class RangeReader(io.RawIOBase):
    """Bytes [start, end) of a file, as a readable stream."""

    def __init__(self, path: str, start: int, end: int) -> None:
        self._fh = open(path, "rb", buffering=0)  # noqa: SIM115 - closed in close()
        self._fh.seek(start)
        self._left = end - start

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        if self._left <= 0:
            return 0
        view = memoryview(buffer)[: min(len(buffer), self._left)]
        n = self._fh.readinto(view)
        self._left -= n or 0
        return n or 0

    def close(self) -> None:
        self._fh.close()
        super().close()


class CsvReader:
    """One pass over a CSV input: the header on opening, then validated blocks of rows."""

    def __init__(
        self, path: str, options: CsvOptions | None = None, stream: IO[bytes] | None = None
    ) -> None:
        """Open ``path`` and read its header (``stream``, when given, is read instead)."""
        self.path = path
        self.name = display_name(path)
        self.options = options or CsvOptions()
        self.sep = self.options.delimiter_for(path)
        if self.options.decimal == self.sep:
            raise UsageError(
                f"--decimal {self.options.decimal!r} is also the delimiter; "
                "pass another --sep (e.g. --sep ';')"
            )
        self._stream = open_binary(path) if stream is None else stream
        self.columns = self._read_header()

    # -- header ---------------------------------------------------------------------------
    def _read_header(self) -> list[str]:
        with _read_errors(self.name):
            try:
                probe = self._stream.peek(_BINARY_PROBE)  # type: ignore[attr-defined]
            except OSError as exc:
                raise InputError(f"{self.name}: cannot read ({exc.strerror})") from exc
            if b"\x00" in probe[:_BINARY_PROBE]:
                raise InputError(
                    f"{self.name} looks like a binary file (it holds NUL bytes), not CSV "
                    "text; give a CSV file (plain or gzipped)"
                )
            line = self._stream.readline()
        self._header_bytes = line
        if not line.strip():
            raise DataError(f"{self.name} is empty: expected a header line and rows of numbers")
        encoding = self.options.encoding
        if encoding.replace("-", "").replace("_", "").lower() == "utf8":
            encoding = "utf-8-sig"  # a byte-order mark is not part of the first column's name
        with _read_errors(self.name):
            text = line.decode(encoding)
        self._encoding = "utf-8" if encoding == "utf-8-sig" else encoding
        self._header_text = text.lstrip("\ufeff")
        first = re.split(r"\r\n|\r|\n", self._header_text, maxsplit=1)[0]
        try:
            row = next(csv.reader([first], delimiter=self.sep), [])
        except csv.Error as exc:
            raise DataError(
                f"{self.name}: cannot read the header line ({exc}); check --sep and --encoding"
            ) from None
        return [c.strip() for c in row]

    # -- columns --------------------------------------------------------------------------
    def _columns_list(self, limit: int = 12) -> str:
        shown = ", ".join(self.columns[:limit])
        more = len(self.columns) - limit
        return shown + (f", … ({more} more)" if more > 0 else "")

    def resolve(self, spec: str) -> int:
        """Column position of ``spec``: a header name, else a 0-based index."""
        hits = [i for i, c in enumerate(self.columns) if c == spec]
        if len(hits) > 1:
            where = " and ".join(str(i) for i in hits)
            raise DataError(
                f"{self.name}: column name {spec!r} appears more than once (columns {where}); "
                "rename one, or choose by 0-based index"
            )
        if hits:
            return hits[0]
        if re.fullmatch(r"-?\d+", spec.strip()):
            i = int(spec)
            if 0 <= i < len(self.columns):
                return i
            raise DataError(
                f"{self.name}: column index {i} is out of range; the file has "
                f"{len(self.columns)} columns (0..{len(self.columns) - 1})"
            )
        raise DataError(
            f"{self.name}: column {spec!r} not found; columns are: {self._columns_list()}"
        )

    def select(self, x: Sequence[str] | None, y: str | None) -> Selection:
        """Choose the target and feature columns (defaults: y last, x every other column)."""
        if len(self.columns) < 2 and (not x):
            hint = ""
            for mark, name in ((";", "';'"), ("\t", "tab"), ("|", "'|'")):
                if mark in self._header_text and mark != self.sep:
                    hint = f"; the header holds {name}: is it the delimiter? (--sep {name})"
                    break
            raise DataError(
                f"{self.name} has {len(self.columns)} column; a fit needs a target and at "
                f"least one feature column{hint}"
            )
        y_idx = self.resolve(y) if y is not None else len(self.columns) - 1
        if x:
            x_idx = [self.resolve(s) for s in x]
        else:
            x_idx = [i for i in range(len(self.columns)) if i != y_idx]
        seen: dict[int, str] = {}
        for i, spec in zip(x_idx, x or [str(i) for i in x_idx]):
            if i == y_idx:
                raise DataError(
                    f"{self.name}: column {self.columns[i]!r} is both the target (--y) and a "
                    "feature (--x); choose it once"
                )
            if i in seen:
                raise DataError(
                    f"{self.name}: column {self.columns[i]!r} is chosen twice as a feature "
                    f"({seen[i]!r} and {spec!r}); choose each column once"
                )
            seen[i] = spec
        names = [self.columns[i] for i in x_idx] + [self.columns[y_idx]]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            d = sorted(dup)[0]
            where = [str(i) for i, c in enumerate(self.columns) if c == d]
            raise DataError(
                f"{self.name}: column name {d!r} appears more than once (columns "
                f"{' and '.join(where)}); rename one, or choose by 0-based index with --x/--y"
            )
        return Selection(
            tuple(x_idx), y_idx, tuple(self.columns[i] for i in x_idx), self.columns[y_idx]
        )

    # -- rows -----------------------------------------------------------------------------
    def _frames(self, usecols: list[int] | None, chunk_rows: int, as_text: bool):
        import pandas as pd

        stream = io.BufferedReader(_Prepended(self._header_bytes, self._stream), 1 << 20)
        kwargs = dict(
            sep=self.sep,
            header=0,
            index_col=False,
            chunksize=chunk_rows,
            decimal=self.options.decimal,
            thousands=self.options.thousands,
            encoding=self._encoding,
            skip_blank_lines=True,
            engine="c",
        )
        if usecols is not None:
            kwargs["usecols"] = usecols
        if as_text:
            kwargs.update(dtype=str, keep_default_na=False, na_filter=False)
        try:
            with _read_errors(self.name), warnings.catch_warnings():
                # pandas' warnings (e.g. a row longer than the header on a wide file) are
                # not for the user: linfit validates what it reads and says so itself.
                warnings.simplefilter("ignore", pd.errors.ParserWarning)
                yield from pd.read_csv(stream, **kwargs)
        except pd.errors.EmptyDataError:
            return
        except pd.errors.ParserError as exc:
            raise DataError(f"{self.name}: {_parser_message(str(exc))}") from exc

    def frames_text(self, chunk_rows: int = 1 << 16):
        """All columns as text, in blocks (for predict, which passes rows through)."""
        usecols = None if len(self.columns) <= WIDE_HEADER else list(range(len(self.columns)))
        offset = 0
        for frame in self._frames(usecols, chunk_rows, as_text=True):
            frame.columns = self.columns
            yield offset, frame
            offset += len(frame)

    def blocks(
        self, sel: Selection, report: ReadReport, chunk_rows: int | None = None
    ) -> Iterator[Block]:
        """Validated float64 blocks of the chosen columns; drops or refuses missing values."""
        wanted = [*sel.x_idx, sel.y_idx]
        if chunk_rows is None:
            chunk_rows = max(1 << 14, min(1 << 20, (1 << 21) // max(1, len(wanted))))
        wide = len(self.columns) > WIDE_HEADER
        usecols = sorted(set(wanted)) if wide else None
        for frame in self._frames(usecols, chunk_rows, as_text=False):
            if frame.shape[1] != (len(usecols) if wide else len(self.columns)):
                raise DataError(
                    f"{self.name}: the rows have {frame.shape[1]} fields but the header has "
                    f"{len(self.columns)}; check the delimiter (--sep)"
                )
            pos = {c: k for k, c in enumerate(usecols)} if wide else None
            cols = [(pos[i] if pos else i) for i in wanted]
            sub = frame.iloc[:, cols]
            first_line = int(frame.index[0]) + 2 if len(frame) else 0
            V = self._numeric(sub, [self.columns[i] for i in wanted], first_line)
            report.rows_read += V.shape[1]
            if V.shape[1] == 0:
                continue
            lo, hi = V.min(axis=1), V.max(axis=1)  # NaN and inf show up here: one pass each
            if not (np.isfinite(lo).all() and np.isfinite(hi).all()):
                V = self._drop_missing(V, sub, wanted, first_line, report)
                lo, hi = V.min(axis=1, initial=np.inf), V.max(axis=1, initial=-np.inf)
            yield Block(V, len(sel.x_idx), first_line, lo, hi)

    def _drop_missing(self, V, sub, wanted, first_line: int, report: ReadReport) -> np.ndarray:
        """Refuse inf; drop (or refuse, with --na raise) rows with a missing value."""
        inf = np.isinf(V)
        if inf.any():
            c, r = (int(v) for v in np.argwhere(inf)[0])
            raise DataError(
                f"{self.name}: non-finite value {str(sub.iloc[r, c])!r} in column "
                f"{self.columns[wanted[c]]!r} at line {first_line + r}; linfit fits finite "
                "numbers only: remove or fix that row"
            )
        nan = np.isnan(V)
        missing = nan.any(axis=0)
        bad = int(np.flatnonzero(missing)[0])
        if self.options.na == "raise":
            col = self.columns[wanted[int(np.flatnonzero(nan[:, bad])[0])]]
            raise DataError(
                f"{self.name}: missing value in column {col!r} at line {first_line + bad}; "
                "fix the file or pass --na drop to skip such rows"
            )
        report.rows_dropped += int(missing.sum())
        if report.first_dropped_line is None:
            report.first_dropped_line = first_line + bad
        return np.ascontiguousarray(V[:, ~missing])

    def _numeric(self, sub, names: list[str], first_line: int) -> np.ndarray:
        """The chunk column by column, shape (columns, rows), float64; a non-numeric cell is
        an error naming it."""
        import pandas as pd

        out = np.empty((sub.shape[1], sub.shape[0]), dtype=np.float64)
        for k in range(sub.shape[1]):
            col = sub.iloc[:, k]
            if pd.api.types.is_numeric_dtype(col.dtype) and not pd.api.types.is_bool_dtype(
                col.dtype
            ):
                out[k] = col.to_numpy(dtype=np.float64, na_value=np.nan)
                continue
            num = pd.to_numeric(col, errors="coerce")
            bad = num.isna() & col.notna() & ~col.astype(str).str.strip().isin(NA_TOKENS)
            if bad.any():
                r = int(np.flatnonzero(bad.to_numpy())[0])
                raise DataError(
                    f"{self.name}: non-numeric value {str(col.iloc[r])!r} in column "
                    f"{names[k]!r} at line {first_line + r}{_number_hint(str(col.iloc[r]))}"
                )
            out[k] = num.to_numpy(dtype=np.float64, na_value=np.nan)
        return out

    def close(self) -> None:
        if self.path != "-":
            self._stream.close()


def _number_hint(value: str) -> str:
    v = value.strip()
    if re.fullmatch(r"[-+]?\d{1,3}(,\d{3})+(\.\d*)?", v):
        return "; it looks like a thousands separator: pass --thousands ,"
    if re.fullmatch(r"[-+]?\d*,\d+", v):
        return "; it looks like a decimal comma: pass --decimal , (with --sep ';' if needed)"
    return "; fix or remove that row, or choose other columns with --x/--y"


def _parser_message(message: str) -> str:
    m = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", message)
    if m:
        exp, line, saw = m.groups()
        return (
            f"line {line} has {saw} fields but the header has {exp}; fix that row, quote "
            "fields that contain the delimiter, or check --sep"
        )
    m = re.search(r"EOF inside string starting at row (\d+)", message)
    if m:
        return (
            f"a quoted field opened near data row {int(m.group(1)) + 1} is never closed; close "
            "the quote or remove it"
        )
    return message.replace("Error tokenizing data. C error: ", "").strip()
