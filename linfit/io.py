"""Reading CSV input: open (file, ``-`` for stdin, gzip), pick columns, validate, yield blocks.

The input is read once, in blocks of rows, by pandas' C parser. On their way to it the bytes
pass :class:`RowShape`, which refuses a row whose field count differs from the header's
(pandas would drop, pad or truncate it, depending on where it is) and records each row's file
line, so that every message names the real line (blank lines and quoted newlines counted).
One function, :func:`parse_text_column`, gives a text cell its meaning for every command.
Every problem with the input becomes a :class:`~linfit.errors.LinfitError` naming the file,
and where it applies the column, the line and the value (quoted, cut to 80 characters).
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import functools
import gzip
import io
import os
import re
import sys
import warnings
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO

import numpy as np

from .errors import DataError, InputError, LinfitError, UsageError, quote
from .limits import MAX_COLUMNS, MAX_HEADER_BYTES, MAX_PARAMS
from .rowshape import Lines, RowShape

#: Widest header whose columns are all converted; wider files are read with ``usecols`` (only
#: the chosen columns are converted; every row's fields are still counted by RowShape).
WIDE_HEADER = 64
#: Cells that mean "missing" (pandas' defaults).
NA_TOKENS = frozenset(
    ["", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN"]
    + ["<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"]
)
_BINARY_PROBE = 8192
# a header cell may be as long as the header (the csv module's default limit is 128 KiB)
csv.field_size_limit(max(csv.field_size_limit(), MAX_HEADER_BYTES + 1))


#: Codecs Python knows that are not general text encodings of a file (they would "decode"
#: a CSV into something else, or fail deep inside the parser).
_NOT_FILE_ENCODINGS = frozenset({"punycode", "idna", "undefined"})


def text_codec(encoding: str) -> codecs.CodecInfo:
    """The codec of ``--encoding``; a name that is unknown, or names a codec that is not a
    text encoding (``hex``, ``base64``, ``rot13``, ``punycode``…), is a usage error."""
    try:
        info = codecs.lookup(encoding)
    except (LookupError, TypeError, ValueError):
        info = None
    if info is None or not info._is_text_encoding or info.name in _NOT_FILE_ENCODINGS:
        raise UsageError(
            f"--encoding {quote(encoding)} is not a text encoding Python can read a file "
            "with; use a text encoding such as utf-8 or latin-1"
        )
    return info


def _one_char(option: str, value: str) -> None:
    if len(value) != 1 or value in '\r\n"':
        raise UsageError(
            f"{option} {quote(value)} must be exactly one character (not a quote or a line "
            f"end){' (use tab for a tab)' if option == '--sep' else ''}"
        )


@dataclass(frozen=True)
class CsvOptions:
    """How to parse the text: delimiter, number format, encoding, missing values.

    Contradictory or malformed options are refused here, so every command refuses them the
    same way (exit 2)."""

    sep: str | None = None  # None: tab for .tsv files, else comma
    decimal: str = "."
    thousands: str | None = None
    encoding: str = "utf-8"
    na: str = "drop"  # "drop" rows with a missing chosen value, or "raise"

    def __post_init__(self) -> None:
        if self.sep is not None and self.sep not in ("\\t", "tab"):
            _one_char("--sep", self.sep)
        _one_char("--decimal", self.decimal)
        if self.thousands is not None:
            _one_char("--thousands", self.thousands)
            if self.thousands == self.decimal:
                raise UsageError(
                    f"--thousands {quote(self.thousands)} is also the decimal mark "
                    f"(--decimal {quote(self.decimal)}), so 1{self.decimal}5 would read as "
                    "15; give them different characters (e.g. --decimal , --thousands .)"
                )
        if self.sep is not None and self.decimal == self.delimiter_for(""):
            raise UsageError(
                f"--decimal {quote(self.decimal)} is also the delimiter; pass another --sep "
                "(e.g. --sep ';')"
            )
        if self.na not in ("drop", "raise"):
            raise UsageError(f"--na {quote(self.na)}: use drop or raise")
        text_codec(self.encoding)

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
    w_idx: int | None = None  # the weights column (--weights), read after the target
    w_name: str | None = None


@dataclass
class Block:
    """One block of validated rows, stored column by column: V[j] is column j (features
    first, then the target, then the weights when chosen), with each column's minimum and
    maximum."""

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

    @property
    def w(self) -> np.ndarray | None:
        """The rows' weights (None when no weights column was chosen)."""
        return self.V[self.p + 1] if self.V.shape[0] > self.p + 1 else None

    @property
    def data(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """V, lo and hi of the features and target only (without the weights)."""
        k = self.p + 1
        return self.V[:k], self.lo[:k], self.hi[:k]


@dataclass
class ReadReport:
    """What happened while reading: rows seen, dropped, and where."""

    rows_read: int = 0
    rows_dropped: int = 0
    first_dropped_line: int | None = None

    def drop(self, lines: np.ndarray, mask: np.ndarray) -> None:
        """Count the rows ``mask`` marks as dropped (``lines``: every row's file line)."""
        if mask.any():
            self.rows_dropped += int(mask.sum())
            first = int(lines[np.flatnonzero(mask)[0]])
            if self.first_dropped_line is None or first < self.first_dropped_line:
                self.first_dropped_line = first

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


class Prepended(io.RawIOBase):
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

    def close(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self._tail.close()
        super().close()


class Transcoded(io.RawIOBase):
    """UTF-8 bytes of a stream in another encoding (UTF-16/32 …), so that the line and field
    scanning below, which looks for ASCII bytes, and pandas see ordinary UTF-8 text."""

    def __init__(self, raw: IO[bytes], encoding: str) -> None:
        self._raw = raw
        self._decoder = codecs.getincrementaldecoder(encoding)("strict")
        self._out = b""
        self._eof = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        while not self._out and not self._eof:
            chunk = self._raw.read(1 << 20)
            self._eof = not chunk
            text = self._decoder.decode(chunk, final=self._eof)
            self._out = text.encode("utf-8")
        n = min(len(buffer), len(self._out))
        buffer[:n] = self._out[:n]
        self._out = self._out[n:]
        return n

    def close(self) -> None:
        if self._raw is not sys.stdin.buffer:  # stdin stays open for whoever reads it next
            with contextlib.suppress(OSError, ValueError):
                self._raw.close()
        super().close()


#: Byte-order marks of encodings whose text is not ASCII bytes (checked longest first).
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def ascii_compatible(encoding: str) -> bool:
    """Whether the encoding writes the delimiters, quotes and line ends as their ASCII bytes
    (then the file's bytes can be scanned and split as they are)."""
    info = text_codec(encoding)
    if info.name in ("utf-8", "utf-8-sig"):
        return True
    probe = "\n\r,;\t| \"'#.0123456789eE+-"
    try:
        return codecs.encode(probe, info.name) == probe.encode("ascii")
    except (UnicodeError, LookupError, ValueError):
        return False


def _open_error(name: str, exc: OSError) -> InputError:
    """One clear line for each way opening a path can fail."""
    import errno

    if isinstance(exc, FileNotFoundError):
        return InputError(f"{name}: no such file; check the path (use - to read stdin)")
    if isinstance(exc, IsADirectoryError):
        return InputError(f"{name} is a directory, not a CSV file")
    if isinstance(exc, PermissionError):
        return InputError(f"{name}: permission denied; check the file's read permission")
    if exc.errno == errno.ELOOP:
        return InputError(
            f"{name}: too many levels of symbolic links (a symlink loop?); point it at a file"
        )
    if exc.errno == errno.ENAMETOOLONG:
        return InputError(f"{quote(name)}: the path is too long; give a shorter path")
    reason = exc.strerror or type(exc).__name__
    return InputError(f"{name}: cannot open ({reason}); check the path and the device")


def open_binary(path: str) -> IO[bytes]:
    """Open ``path`` (``-`` is stdin) for binary reading, decompressing gzip by its magic bytes."""
    name = display_name(path)
    if path == "-":
        raw: IO[bytes] = sys.stdin.buffer
    else:
        try:
            if os.path.isdir(path):
                raise IsADirectoryError(21, "Is a directory")
            raw = open(path, "rb")  # noqa: SIM115 - closed by the caller
        except OSError as exc:
            raise _open_error(name, exc) from None
        except ValueError as exc:  # e.g. a NUL byte in the path
            raise InputError(f"{quote(name)}: not a valid path ({exc})") from None
    stream = raw if hasattr(raw, "peek") else io.BufferedReader(raw)  # type: ignore[arg-type]
    try:
        magic = stream.peek(2)[:2]  # type: ignore[attr-defined]
    except OSError as exc:
        raise InputError(f"{name}: cannot read ({exc.strerror or exc})") from None
    if magic == b"\x1f\x8b":
        stream = io.BufferedReader(gzip.GzipFile(fileobj=stream, mode="rb"))  # type: ignore[arg-type]
    return stream


@contextlib.contextmanager
def _read_errors(name: str) -> Iterator[None]:
    """Turn the low-level exceptions of reading (gzip, decoding, I/O) into clear errors."""
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
    except UnicodeError as exc:  # e.g. utf-16 without a byte-order mark
        raise InputError(
            f"{name}: cannot decode it as the encoding given ({exc}); for UTF-16 or UTF-32 "
            "without a byte-order mark name the byte order: --encoding utf-16-le (or -be)"
        ) from exc
    except LookupError as exc:
        if "encoding" in str(exc):
            raise UsageError(
                f"{exc}; use a text encoding such as utf-8 or latin-1 (--encoding)"
            ) from exc
        raise
    except OSError as exc:
        raise InputError(f"{name}: cannot read ({exc.strerror or exc})") from exc


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


#: Cells read as booleans (R's lm reads a logical column as 0/1; so does linfit, everywhere).
TRUE_TOKENS = frozenset({"True", "TRUE", "true"})
FALSE_TOKENS = frozenset({"False", "FALSE", "false"})
_HEADER_SPECIAL = re.compile(rb'["\r\n]')
_QUOTED = re.compile(rb'"(?:[^"]|"")*"')


def count_line_ends(text: bytes) -> int:
    """Line ends in ``text``: LF, CRLF and lone CR each count once."""
    return text.count(b"\n") + text.count(b"\r") - text.count(b"\r\n")


def _read_record(stream: IO[bytes], cap: int, name: str) -> bytes:
    """The next line of ``stream`` with its line end (LF, CRLF or CR), a quoted field's line
    ends included; at most ``cap`` bytes are read (a longer line is refused, so a file with
    no line ends cannot take the memory)."""
    out = bytearray()
    in_quote = False
    while True:
        chunk = stream.peek(1 << 16)[: 1 << 16]  # type: ignore[attr-defined]
        if not chunk:
            if in_quote:
                raise DataError(f"{name}: a quote in the header is never closed; close it")
            return bytes(out)
        end = -1
        for m in _HEADER_SPECIAL.finditer(chunk):
            if m.group() == b'"':
                in_quote = not in_quote
            elif not in_quote:
                end = m.end()
                break
        if end < 0:
            out += stream.read(len(chunk))
        else:
            out += stream.read(end)
            if out.endswith(b"\r") and stream.peek(1)[:1] == b"\n":  # type: ignore[attr-defined]
                out += stream.read(1)
        if len(out) > cap and in_quote:
            raise DataError(
                f"{name}: a quote in the header is not closed within {cap:,} bytes; close it"
            )
        if len(out) > cap:
            raise DataError(
                f"{name}: the header line is longer than {cap:,} bytes (linfit reads at most "
                "that much before the first row); is this a CSV file with line ends? Check "
                "--sep and --encoding"
            )
        if end >= 0:
            return bytes(out)


def _row_lines_hint(choose: str | None) -> str:
    return f", or {choose}" if choose else ""


def text_cells(frame, columns) -> dict[str, np.ndarray]:
    """The named columns of a text frame as arrays of stripped strings: what the formula,
    group and weight readers parse (and group keys are made of)."""
    return {c: np.char.strip(frame[c].to_numpy(dtype=object).astype(str)) for c in columns}


def parse_text_column(
    values,
    name: str,
    source: str,
    first_line: int | Lines,
    options: CsvOptions,
    choose: str | None = None,
) -> np.ndarray:
    """Text cells → float64, the one meaning every command gives a cell: numbers (with the
    options' decimal mark and thousands separator), NA tokens → NaN, True/False → 1/0.
    Anything else, and a value that is not finite, is an error naming the line (``first_line``
    is the first cell's line, or every cell's line) and quoting the cell as written.
    ``choose`` is how this command chooses other columns, for the hint (None: no hint)."""
    import pandas as pd

    if isinstance(values, pd.Series) and values.index.name == "line":  # from frames_text
        first_line = values.index
    s, num = _coerce(values, options)
    nan = np.isnan(num)
    if nan.any():
        na = s.isin(NA_TOKENS).to_numpy()
        bad = nan & ~na
        if bad.any():
            true = s.isin(TRUE_TOKENS).to_numpy()
            false = s.isin(FALSE_TOKENS).to_numpy()
            num[true], num[false] = 1.0, 0.0
            bad &= ~(true | false)
        if bad.any():
            r = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"{source}: non-numeric value {quote(s.iloc[r])} in column {quote(name)} at line "
                f"{_line_of(first_line, r)}{_number_hint(s.iloc[r], choose, name)}"
            )
    inf = np.isinf(num)
    if inf.any():
        r = int(np.flatnonzero(inf)[0])
        raise DataError(
            f"{source}: non-finite value {quote(s.iloc[r])} in column {quote(name)} at line "
            f"{_line_of(first_line, r)}; linfit uses finite numbers only: fix or remove that row"
        )
    return num


def _coerce(values, options: CsvOptions):
    """Text cells, stripped (a Series), and their numbers under the options' decimal mark
    and thousands separator (NaN where a cell is not a number)."""
    import pandas as pd

    s = pd.Series(np.asarray(values, dtype=object)).astype(str).str.strip()
    clean = s
    if options.thousands:
        clean = clean.str.replace(options.thousands, "", regex=False)
    if options.decimal != ".":
        clean = clean.str.replace(options.decimal, ".", regex=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return s, np.array(pd.to_numeric(clean, errors="coerce"), dtype=np.float64)


def negative_weight(source: str, column: str | None, line: int, value: float) -> str:
    """The message for a negative weight (R's lm refuses them too)."""
    return (
        f"{source}: negative weight {value:g} in column {quote(column)} at line {line}; "
        "weights must be finite and ≥ 0 (0 leaves a row out of the fit): fix that row"
    )


def numeric_cells(values, options: CsvOptions) -> np.ndarray:
    """Which text cells :func:`parse_text_column` reads as a number or as missing (so that a
    column with any other cell is text: categorical in a formula, as R makes a factor)."""
    s, num = _coerce(values, options)
    ok = ~np.isnan(num)
    if not ok.all():
        ok |= s.isin(NA_TOKENS | TRUE_TOKENS | FALSE_TOKENS).to_numpy()
    return ok


def _line_of(lines, r: int) -> int:
    """The line of row ``r``: ``lines`` is the first row's line, or every row's."""
    return int(lines) + r if isinstance(lines, (int, np.integer)) else int(lines[r])


class CsvReader:
    """One pass over a CSV input: the header on opening, then validated blocks of rows.

    ``reopen`` (when given) opens the same bytes again; it is used only on an error path, to
    quote a cell exactly as written. By default a named file is reopened; stdin is not."""

    def __init__(
        self,
        path: str,
        options: CsvOptions | None = None,
        stream: IO[bytes] | None = None,
        reopen: Callable[[], IO[bytes]] | None = None,
    ) -> None:
        """Open ``path`` and read its header (``stream``, when given, is read instead)."""
        self.path = path
        self.name = display_name(path)
        self.options = options or CsvOptions()
        self.sep = self.options.delimiter_for(path)
        if self.options.decimal == self.sep:
            raise UsageError(
                f"--decimal {quote(self.options.decimal)} is also the delimiter; "
                "pass another --sep (e.g. --sep ';')"
            )
        if reopen is None and stream is None and path != "-":
            reopen = functools.partial(open_binary, path)
        self._reopen = reopen
        self._given_stream = stream is not None
        raw = open_binary(path) if stream is None else stream
        self._shape: RowShape | None = None
        try:
            self._stream = self._decoded(raw)
            self.columns = self._read_header()
        except BaseException:
            if path != "-" or stream is not None:
                with contextlib.suppress(OSError, ValueError):
                    raw.close()
            raise
        self._positions: dict[str, list[int]] | None = None

    # -- header ---------------------------------------------------------------------------
    def _decoded(self, raw: IO[bytes]) -> IO[bytes]:
        """``raw`` as bytes the scanner can read: as is for ASCII-compatible encodings, else
        transcoded to UTF-8 (UTF-16/32, named or announced by a byte-order mark)."""
        encoding = self.options.encoding
        with _read_errors(self.name):
            head = raw.peek(4)[:4]  # type: ignore[attr-defined]
        if text_codec(encoding).name in ("utf-8", "utf-8-sig"):
            for bom, enc in _BOMS:
                if head.startswith(bom):
                    encoding = enc
                    break
        self.raw_encoding = encoding
        if ascii_compatible(encoding):
            self.transcoded = False
            self._encoding = "utf-8" if text_codec(encoding).name == "utf-8-sig" else encoding
            return raw
        self.transcoded = True
        self._encoding = "utf-8"
        return io.BufferedReader(Transcoded(raw, encoding), 1 << 20)  # type: ignore[arg-type]

    def _read_header(self) -> list[str]:
        with _read_errors(self.name):
            probe = self._stream.peek(_BINARY_PROBE)[:_BINARY_PROBE]  # type: ignore[attr-defined]
            if b"\x00" in probe:
                raise InputError(
                    f"{self.name} looks like a binary file (it holds NUL bytes), not CSV "
                    "text; give a CSV file (plain or gzipped), or name its encoding if it is "
                    "UTF-16/UTF-32 text without a byte-order mark (--encoding utf-16)"
                )
            consumed = b""
            while True:  # blank lines before the header are skipped, as pandas skips them
                line = _read_record(self._stream, MAX_HEADER_BYTES, self.name)
                if not line:
                    raise DataError(
                        f"{self.name} is empty: expected a header line and rows of numbers"
                    )
                stripped = line.strip(b" \t\r\n\x0b\x0c")
                if stripped not in (b"", b"\xef\xbb\xbf"):
                    break
                consumed += line
        self.header_bytes = consumed + line  # as read: the rows start right after
        self.header_line = 1 + count_line_ends(consumed)
        self.data_line = 1 + count_line_ends(self.header_bytes)
        if self._encoding.replace("-", "").replace("_", "").lower() == "utf8":
            line = line.removeprefix(b"\xef\xbb\xbf")
        with _read_errors(self.name):
            text = line.decode(self._encoding)
        self._header_text = text.lstrip("\ufeff")
        body = self._header_text.rstrip("\r\n")
        width = line.count(self.sep.encode()) + 1 if len(self.sep.encode()) == 1 else 1
        if width > MAX_COLUMNS and b'"' in line:
            width = _QUOTED.sub(b"", line).count(self.sep.encode()) + 1
        if width > MAX_COLUMNS:
            raise DataError(
                f"{self.name}: the header has {width:,} columns; linfit reads at most "
                f"{MAX_COLUMNS:,}; keep the columns you need (e.g. with cut -d) and retry"
            )
        try:
            row = next(csv.reader(io.StringIO(body, newline=""), delimiter=self.sep), [])
        except csv.Error as exc:
            raise DataError(
                f"{self.name}: cannot read the header line ({exc}); check --sep and --encoding"
            ) from None
        return [c.strip() for c in row]

    # -- columns --------------------------------------------------------------------------
    def columns_list(self, limit: int = 12) -> str:
        """The first ``limit`` column names, each quoted, for messages."""
        shown = ", ".join(quote(c) for c in self.columns[:limit])
        more = len(self.columns) - limit
        return shown + (f", … ({more:,} more)" if more > 0 else "")

    def positions(self, name: str) -> list[int]:
        """Where ``name`` appears in the header (built once: linear in the header)."""
        if self._positions is None:
            pos: dict[str, list[int]] = {}
            for i, c in enumerate(self.columns):
                pos.setdefault(c, []).append(i)
            self._positions = pos
        return self._positions.get(name, [])

    def _twice(self, name: str, hits: list[int]) -> DataError:
        where = " and ".join(str(i) for i in hits[:5]) + (" …" if len(hits) > 5 else "")
        return DataError(
            f"{self.name}: column name {quote(name)} appears more than once (columns {where}); "
            "rename one, or choose by 0-based index with --x/--y"
        )

    def resolve(self, spec: str) -> int:
        """Column position of ``spec``: a header name, else a 0-based index."""
        hits = self.positions(spec)
        if len(hits) > 1:
            raise self._twice(spec, hits)
        if hits:
            return hits[0]
        if re.fullmatch(r"-?\d{1,18}", spec.strip()):
            i = int(spec)
            if 0 <= i < len(self.columns):
                return i
            raise DataError(
                f"{self.name}: column index {i} is out of range; the file has "
                f"{len(self.columns)} columns (0..{len(self.columns) - 1})"
            )
        raise DataError(
            f"{self.name}: column {quote(spec)} not found; columns are: {self.columns_list()}"
        )

    def select(
        self,
        x: Sequence[str] | None,
        y: str | None,
        exclude: Sequence[str] | None = None,
        weights: str | None = None,
    ) -> Selection:
        """Choose the target and feature columns (defaults: y last, x every other column
        but those in ``exclude`` and the ``weights`` column)."""
        if weights is not None:
            w_idx = self.resolve(weights)
            sel = self.select(x, y, [*(exclude or ()), weights])
            if w_idx == sel.y_idx or w_idx in sel.x_idx:
                role = "target (--y)" if w_idx == sel.y_idx else "a feature (--x)"
                raise DataError(
                    f"{self.name}: column {quote(self.columns[w_idx])} is both the weights "
                    f"(--weights) and {role}; choose it once"
                )
            return Selection(
                sel.x_idx, sel.y_idx, sel.x_names, sel.y_name, w_idx, self.columns[w_idx]
            )
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
        drop = {self.resolve(c) for c in exclude or ()}
        n_features = len(x) if x else len(self.columns) - 1 - len(drop - {y_idx})
        if n_features > MAX_PARAMS - 1:
            raise DataError(
                f"{self.name}: {n_features:,} feature columns chosen; linfit fits at most "
                f"{MAX_PARAMS:,} coefficients ({MAX_PARAMS - 1:,} features and the "
                "intercept); choose fewer with --x"
            )
        if x:
            x_idx = [self.resolve(s) for s in x]
        else:
            x_idx = [i for i in range(len(self.columns)) if i != y_idx and i not in drop]
            if not x_idx:
                raise DataError(f"{self.name}: --exclude leaves no feature column to fit")
        seen: dict[int, str] = {}
        for i, spec in zip(x_idx, x or [str(i) for i in x_idx]):
            if i == y_idx:
                raise DataError(
                    f"{self.name}: column {quote(self.columns[i])} is both the target (--y) "
                    "and a feature (--x); choose it once"
                )
            if i in seen:
                raise DataError(
                    f"{self.name}: column {quote(self.columns[i])} is chosen twice as a "
                    f"feature ({quote(seen[i])} and {quote(spec)}); choose each column once"
                )
            seen[i] = spec
        for i in [*x_idx, y_idx]:  # a chosen name that appears twice would be ambiguous later
            hits = self.positions(self.columns[i])
            if len(hits) > 1:
                raise self._twice(self.columns[i], hits)
        return Selection(
            tuple(x_idx), y_idx, tuple(self.columns[i] for i in x_idx), self.columns[y_idx]
        )

    # -- rows -----------------------------------------------------------------------------
    def _frames(self, usecols: list[int] | None, chunk_rows: int, as_text: bool):
        import pandas as pd

        self._shape = RowShape(self._stream, self.name, self.sep, len(self.columns), self.data_line)
        self._estimate = False
        stream = io.BufferedReader(self._shape, 1 << 20)
        kwargs = dict(
            sep=self.sep,
            header=None,
            names=list(range(len(self.columns))),
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
            with _read_errors(self.name):
                with warnings.catch_warnings():
                    # pandas' warnings are not for the user: linfit validates what it reads
                    warnings.simplefilter("ignore")
                    frames = pd.read_csv(stream, **kwargs)
                while True:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        frame = next(frames, None)
                    if frame is None:
                        return
                    yield frame
        except pd.errors.EmptyDataError:
            return
        except pd.errors.ParserError as exc:
            from . import errors

            if errors.interruption is not None:  # raised in our read call: pandas lost it
                raise errors.interruption from None
            shape = self._shape
            if shape is not None and shape.open_quote_line is not None:
                raise DataError(
                    f"{self.name}: a quoted field opened at line {shape.open_quote_line} is "
                    "never closed; close the quote or remove it"
                ) from exc
            raise DataError(f"{self.name}: {_parser_message(str(exc))}") from exc

    @property
    def irregular(self) -> bool:
        """Whether the rows read so far held a quote or a lone CR line end."""
        return self._shape is not None and (self._shape.quoted or self._shape.lone_cr)

    def _row_lines(self, frame, offset: int) -> Lines:
        """File lines of the frame's rows (counted while scanning; estimated if that fails)."""
        lines = None if self._estimate else self._shape.take(len(frame))  # type: ignore[union-attr]
        if lines is None:
            self._estimate = True  # the two counts disagree: estimate from here on
            lines = range(self.data_line + offset, self.data_line + offset + len(frame))
        return lines

    def frames_text(self, chunk_rows: int = 1 << 16):
        """All columns as text, in blocks (for predict, which passes rows through). Yields
        (offset, frame): ``offset`` rows came before; the frame's index holds file lines."""
        import pandas as pd

        offset = 0
        for frame in self._frames(None, chunk_rows, as_text=True):
            frame.columns = self.columns
            frame.index = pd.Index(self._row_lines(frame, offset), name="line")
            yield offset, frame
            offset += len(frame)

    @functools.cached_property
    def fast(self) -> bool:
        """Whether the fast reader (polars: :mod:`linfit.fastread`) reads the rows; it hands
        any input it does not read exactly as pandas does back to pandas."""
        if self._given_stream or self.transcoded:
            return False
        from .fastread import usable

        utf8 = text_codec(self._encoding).name == "utf-8"
        return usable(self.path, self.sep, self.options.decimal, self.options.thousands, utf8)

    def blocks(
        self, sel: Selection, report: ReadReport, chunk_rows: int | None = None
    ) -> Iterator[Block]:
        """Validated float64 blocks of the chosen columns; drops or refuses missing values
        (a missing weight drops its row too); a negative weight is an error naming its line.

        The fast reader reads what it can; where it stops (see :mod:`linfit.fastread`) pandas
        reads on, from the same row, so the blocks are the same whichever read them."""
        wanted = [*sel.x_idx, sel.y_idx] + ([] if sel.w_idx is None else [sel.w_idx])
        if chunk_rows is None:
            chunk_rows = max(1 << 14, min(1 << 20, (1 << 21) // max(1, len(wanted))))
        done = 0  # frames the fast reader gave
        if self.fast:
            from .fastread import Fallback, StreamMismatch, frames

            start, cols = len(self.header_bytes), len(self.columns)
            try:
                for V, lines, lo, hi in frames(
                    self.path, start, self.data_line, self.sep, cols, wanted, chunk_rows
                ):
                    done += 1
                    try:
                        block = self._block(V, lines, sel, wanted, report, lo, hi)
                    except DataError:
                        # pandas words every error: it may meet another first (a ragged row
                        # its parser reads ahead to), and the stream's rows may be from the
                        # wrong place before polars raises (see linfit.fastread)
                        self._first_error(sel, wanted, chunk_rows)
                        raise
                    if block is not None:
                        yield block
                return
            except Fallback:
                pass
            except StreamMismatch:  # the file holds what polars raised on: pandas words it
                self._first_error(sel, wanted, chunk_rows)
                raise
        yield from self._pandas_blocks(sel, wanted, chunk_rows, report, done)

    def _pandas_blocks(
        self, sel: Selection, wanted: list[int], chunk_rows: int, report: ReadReport, skip: int
    ) -> Iterator[Block]:
        """The pandas reader's blocks, after the first ``skip`` frames (read already)."""
        wide = len(self.columns) > WIDE_HEADER
        usecols = sorted(set(wanted)) if wide else None
        offset = 0
        for frame in self._frames(usecols, chunk_rows, as_text=False):
            lines = self._row_lines(frame, offset)
            offset += len(frame)
            if skip:  # read by the fast reader already
                skip -= 1
                continue
            pos = {c: k for k, c in enumerate(usecols)} if wide else None
            cols = [(pos[i] if pos else i) for i in wanted]
            sub = frame.iloc[:, cols]
            V = self._numeric(sub, [self.columns[i] for i in wanted], lines)
            block = self._block(V, lines, sel, wanted, report)
            if block is not None:
                yield block

    def _first_error(self, sel: Selection, wanted: list[int], chunk_rows: int) -> None:
        """Read the whole input with pandas, raising the first error it meets (none: return):
        for an error found in rows the fast reader gave."""
        for _ in self._pandas_blocks(sel, wanted, chunk_rows, ReadReport(), 0):
            pass

    def _block(
        self,
        V: np.ndarray,
        lines: Lines,
        sel: Selection,
        wanted: list[int],
        report: ReadReport,
        lo: np.ndarray | None = None,
        hi: np.ndarray | None = None,
    ) -> Block | None:
        """The block of a frame's values (None when it has no rows), whichever reader read
        them: missing values dropped (or refused), negative weights refused."""
        report.rows_read += V.shape[1]
        if V.shape[1] == 0:
            return None
        if lo is None or hi is None:  # NaN and inf show up here: one pass each
            lo, hi = V.min(axis=1), V.max(axis=1)
        if not (np.isfinite(lo).all() and np.isfinite(hi).all()):
            V, kept = self._drop_missing(V, wanted, lines, report)
            lines = np.asarray(lines)[kept]
            lo, hi = V.min(axis=1, initial=np.inf), V.max(axis=1, initial=-np.inf)
        if sel.w_idx is not None and lo[-1] < 0:
            r = int(np.flatnonzero(V[-1] < 0)[0])
            line = _line_of(lines, r)
            raise DataError(negative_weight(self.name, sel.w_name, line, V[-1, r]))
        return Block(V, len(sel.x_idx), int(lines[0]) if len(lines) else 0, lo, hi)

    def _drop_missing(self, V, wanted, lines: Lines, report: ReadReport):
        """Refuse inf; drop (or refuse, with --na raise) rows with a missing value."""
        inf = np.isinf(V)
        if inf.any():
            c, r = (int(v) for v in np.argwhere(inf)[0])
            line = int(lines[r])
            raw = self.raw_cell(line, wanted[c])
            shown = quote(raw) if raw is not None else "(inf, or a number beyond ±1.8e308)"
            raise DataError(
                f"{self.name}: non-finite value {shown} in column "
                f"{quote(self.columns[wanted[c]])} at line {line}; linfit fits finite numbers "
                "only: remove or fix that row"
            )
        nan = np.isnan(V)
        missing = nan.any(axis=0)
        bad = int(np.flatnonzero(missing)[0])
        if self.options.na == "raise":
            col = self.columns[wanted[int(np.flatnonzero(nan[:, bad])[0])]]
            raise DataError(
                f"{self.name}: missing value in column {quote(col)} at line {int(lines[bad])}; "
                "fix the file or pass --na drop to skip such rows"
            )
        report.drop(lines, missing)
        return np.ascontiguousarray(V[:, ~missing]), ~missing

    def raw_cell(self, line: int, column: int) -> str | None:
        """The cell of the row at file ``line`` as written (e.g. ``1e999``, which pandas reads
        as inf), read again from the file; None where the input cannot be reread (stdin)."""
        if self._reopen is None:
            return None
        try:
            raw = self._reopen()
            stream = self._decoded(raw)
            text = io.TextIOWrapper(stream, encoding=self._encoding, newline="")  # type: ignore[arg-type]
            try:
                reader = csv.reader(text, delimiter=self.sep)
                start = 1
                for row in reader:
                    if start == line and len(row) > column:
                        return row[column].strip()
                    if start > line:
                        break
                    start = reader.line_num + 1
            finally:
                text.close()
        except (OSError, ValueError, LinfitError, csv.Error):
            pass
        return None

    def _numeric(self, sub, names: list[str], lines: Lines) -> np.ndarray:
        """The chunk column by column, shape (columns, rows), float64; a non-numeric cell is
        an error naming it (text columns go through :func:`parse_text_column`, the meaning
        every command gives a cell)."""
        import pandas as pd

        out = np.empty((sub.shape[1], sub.shape[0]), dtype=np.float64)
        for k in range(sub.shape[1]):
            col = sub.iloc[:, k]
            if pd.api.types.is_numeric_dtype(col.dtype) and not pd.api.types.is_bool_dtype(
                col.dtype
            ):
                out[k] = col.to_numpy(dtype=np.float64, na_value=np.nan)
                continue
            cells = col.astype(object).where(col.notna(), "")
            out[k] = parse_text_column(
                cells, names[k], self.name, lines, self.options, "choose other columns with --x/--y"
            )
        return out

    def close(self) -> None:
        if self.path != "-":
            with contextlib.suppress(OSError, ValueError):
                self._stream.close()


FIT_CHOOSE = "choose other columns with --x/--y"


def _number_hint(value: str, choose: str | None = FIT_CHOOSE, name: str | None = None) -> str:
    v = value.strip()
    if re.fullmatch(r"[-+]?\d{1,3}(,\d{3})+(\.\d*)?", v):
        return "; it looks like a thousands separator: pass --thousands ,"
    if re.fullmatch(r"[-+]?\d*,\d+", v):
        return "; it looks like a decimal comma: pass --decimal , (with --sep ';' if needed)"
    if choose == FIT_CHOOSE and name is not None and re.search(r"[^\W\d_]", v):
        shown = name if re.fullmatch(r"[A-Za-z.][A-Za-z0-9._]*", name) else f"`{name}`"
        return (
            f"; the column holds text: it is categorical (a factor, as R would make it), which "
            f"a formula fits, e.g. --formula 'TARGET ~ ... + {shown}', or leave it "
            f"out with --exclude {quote(name)}; otherwise fix or remove that row"
        )
    return "; fix or remove that row" + _row_lines_hint(choose)


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
