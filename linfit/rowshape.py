"""The shape of CSV rows, checked as their bytes stream to the parser.

pandas' C parser drops, pads or truncates a row whose field count differs from the header's,
depending on where it is (the first data row, a wide file read with ``usecols``, a short
row). :class:`RowShape` sits between the input and pandas and refuses every such row, naming
its line, and records the file line where each row starts. It is linear in the input and
checks quote-free (and well-quoted) chunks at numpy speed.
"""

from __future__ import annotations

import io
import re
from typing import IO

import numpy as np

from .errors import DataError

#: File lines of a block's rows: a range when consecutive, else an int64 array.
Lines = range | np.ndarray

_LINE_END = re.compile(rb"\r\n|\n|\r(?!\Z)")


class RowShape(io.RawIOBase):
    """The data rows' bytes, passed through unchanged, checked on the way: every row must have
    as many fields as the header (a ragged row is an error naming its line), and the file line
    where each row starts is recorded, so messages name real lines even after blank lines or
    quoted newlines.

    Rows follow pandas' C parser: a line end is LF, CRLF or a lone CR; a line of spaces and
    tabs (other than the delimiter) is blank and skipped; a quote opens a quoted field only
    at the start of a field, and ``""`` inside one is a quote. Chunks without a quote are
    checked with numpy; only chunks holding quotes are scanned byte event by event.
    """

    def __init__(self, raw: IO[bytes], name: str, sep: str, fields: int, line: int) -> None:
        self._raw = raw
        self._name = name
        self._sep = ord(sep) if len(sep.encode()) == 1 else None
        self._fields = fields
        self._line = line  # the file line of the next byte
        self._carry = b""  # the start of an unfinished line (fast mode)
        self._eof = False
        self._lines: list[tuple[int, int] | np.ndarray] = []  # (first, count) or an array
        # event-mode state, kept between chunks (a quoted field can span them)
        self._event = False
        self._in_quote = False
        self._closed_at = -2  # absolute offset of the last closing quote
        self._field_start = 0  # absolute offset where the current field starts
        self._count = 1  # fields of the current row so far
        self._content = False  # the current row has something besides blanks
        self._row_line = line
        self._seen = 0  # absolute offset of the first byte of the next chunk
        self._rows: list[int] = []
        self.quoted = False  # a quote was seen
        self.lone_cr = False  # a lone CR line end was seen
        self._skip_lf = -1

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        n = self._raw.readinto(buffer)  # type: ignore[attr-defined]
        if not n:
            if not self._eof:
                self._eof = True
                self._scan(b"", final=True)
            return 0
        view = memoryview(buffer)[:n]
        if self._event or self._sep is None or not self._fast(view):
            self._scan(bytes(view), final=False)
        return n

    def _fast(self, view: memoryview) -> bool:
        """Check a chunk in place when it holds no quote (the common case): the lines inside
        it at numpy speed, the line it completes (begun in an earlier chunk) on its own.
        Returns False, having changed nothing, when the chunk needs the general path."""
        b = np.frombuffer(view, dtype=np.uint8)
        sep = self._sep
        if sep < 45:  # one comparison finds LF, CR, quote and the delimiter (, tab space)
            mask = b < 45
        else:
            mask = b < 35
            mask |= b == sep
        S = np.flatnonzero(mask)
        K = b[S]
        other = (sep != K) & (K != 10) & (K != 13) & (K != 34)  # e.g. '+' of 1e+05
        if other.any():
            S, K = S[~other], K[~other]
        if (K == 34).any():
            return False
        cr = K == 13
        if cr.any():  # CRLF is fine here; a lone CR goes the general way
            at = S[cr]
            if at[-1] + 1 >= len(b) or not (b[at + 1] == 10).all():
                return False
            S, K = S[~cr], K[~cr]
        nl = np.flatnonzero(K == 10)
        if len(nl) < 2:
            return False
        first, last = int(nl[0]), int(nl[-1])
        self._seen += len(b)
        self._check_lines(self._carry + bytes(view[: S[first] + 1]))
        n = self._fields
        mid = K[first + 1 : last + 1]
        rows = len(mid) // n
        if (
            n > 1
            and len(mid) == rows * n
            and (mid[n - 1 :: n] == 10).all()  # every n-th is a line end…
            and int(np.count_nonzero(mid == 10)) == rows  # …and no other is
        ):
            self._add_run(self._line, rows)
            self._line += rows
        else:
            self._check_lines(bytes(view[S[first] + 1 : S[last] + 1]))
        self._carry = bytes(view[S[last] + 1 :])
        return True

    def close(self) -> None:  # the stream below belongs to the CsvReader, which closes it
        super().close()

    @property
    def open_quote_line(self) -> int | None:
        """The line of the row whose quoted field the input ended inside, if it did."""
        return self._row_line if self._eof and self._in_quote else None

    # -- row lines ----------------------------------------------------------------------
    def take(self, n: int) -> Lines | None:
        """File lines of the next ``n`` rows (None when the scan and pandas disagree): a
        ``range`` when they are consecutive (no memory per row), else an array."""
        head = self._lines[0] if self._lines else None
        if isinstance(head, tuple) and head[1] >= n:
            first, count = head
            if count > n:
                self._lines[0] = (first + n, count - n)
            else:
                self._lines.pop(0)
            return range(first, first + n)
        out: list[np.ndarray] = []
        need = n
        while need and self._lines:
            head = self._lines[0]
            if isinstance(head, tuple):
                first, count = head
                k = min(need, count)
                out.append(np.arange(first, first + k, dtype=np.int64))
                self._lines[0] = (first + k, count - k) if count > k else None  # type: ignore[assignment]
            else:
                k = min(need, len(head))
                out.append(head[:k])
                self._lines[0] = head[k:] if len(head) > k else None  # type: ignore[assignment]
            if self._lines[0] is None:
                self._lines.pop(0)
            need -= k
        if need:
            return None
        return np.concatenate(out) if out else np.empty(0, dtype=np.int64)

    def _add_run(self, first: int, count: int) -> None:
        """Record ``count`` rows on consecutive lines from ``first`` (joined to the run
        before when they continue it, so a block's lines are usually one ``range``)."""
        last = self._lines[-1] if self._lines else None
        if isinstance(last, tuple) and last[0] + last[1] == first:
            self._lines[-1] = (last[0], last[1] + count)
        else:
            self._lines.append((first, count))

    # -- scanning -----------------------------------------------------------------------
    def _ragged(self, line: int, count: int) -> DataError:
        few = "too few" if count < self._fields else "too many"
        hint = ""
        if count == self._fields + 1:
            hint = (
                "; if every row has one field more than the header, the first is probably a "
                "row name: give it a name in the header"
            )
        return DataError(
            f"{self._name}: line {line} has {count} field{'s' if count != 1 else ''} but the "
            f"header has {self._fields} ({few}); fix that row, quote fields that contain the "
            f"delimiter, or check --sep{hint}"
        )

    def _scan(self, chunk: bytes, final: bool) -> None:
        if self._sep is None:  # a multi-byte delimiter: leave the shape to pandas
            return
        if self._event:
            if final or self._in_quote or b'"' in chunk:
                self._scan_events(chunk, final)
                return
            # no quote open or coming: finish the current row event by event, then go back
            # to the fast path
            m = _LINE_END.search(chunk)
            if m is None or m.end() == len(chunk):
                self._scan_events(chunk, final)
                return
            self._scan_events(chunk[: m.end()], False)
            self._event = False
            chunk = chunk[m.end() :]
        data = self._carry + chunk if self._carry else chunk
        if b'"' in data and not final and self._quoted_rows(data, len(chunk)):
            return
        if b'"' in data:
            self._carry = b""
            self._event = self.quoted = True
            self._field_start = self._seen - (len(data) - len(chunk))
            self._row_line = self._line
            self._count, self._content = 1, False
            self._scan_events(data, final, base=self._field_start)
            return
        if final:
            if data:
                data += b"\n"
            cut = len(data)
        else:
            end = len(data) - 1 if data.endswith(b"\r") else len(data)  # CR: maybe half a CRLF
            cut = max(data.rfind(b"\n", 0, end), data.rfind(b"\r", 0, end)) + 1
        self._seen += len(chunk)
        self._carry = data[cut:]
        if cut:
            self._check_lines(data[:cut])

    def _quoted_rows(self, data: bytes, fresh: int) -> bool:
        """Complete rows of ``data`` (which starts at a row) holding well-formed quoted
        fields, at numpy speed: a quote's parity tells whether a delimiter or line end is
        inside a field. Well-formed: each quote opens a field (at its start) or closes one
        (before a delimiter, a line end or an escaped quote). Returns False, having changed
        nothing, for anything else (the event scan then decides), e.g. a stray ``5"``."""
        n, sep = self._fields, self._sep
        b = np.frombuffer(data, dtype=np.uint8)
        S = np.flatnonzero((b < 35) | (b == sep))
        K = b[S]
        keep = (sep == K) | (K == 10) | (K == 13) | (K == 34)
        S, K = S[keep], K[keep]
        cr = K == 13
        if cr.any():
            at = S[cr]
            if at[-1] + 1 >= len(b) or not (b[at + 1] == 10).all():
                return False
            S, K = S[~cr], K[~cr]
        quote = K == 34
        parity = np.cumsum(quote) & 1  # after each event: 1 inside a quoted field
        qpos = S[quote]
        opening = parity[quote] == 1
        before = np.where(qpos > 0, b[np.maximum(qpos - 1, 0)], 10)
        after = np.where(qpos + 1 < len(b), b[np.minimum(qpos + 1, len(b) - 1)], 34)
        ok_open = (before == sep) | (before == 10) | (before == 34)
        ok_close = (after == sep) | (after == 10) | (after == 13) | (after == 34)
        # an opening quote after a quote is the second half of an escaped "" (its first half
        # closed); a quote at the very start opens the row's first field
        if not np.where(opening, ok_open, ok_close).all():
            return False
        outside = (K != 34) & (parity == 0)
        lf = K == 10
        ends = np.flatnonzero(outside & lf)
        if n < 2 or len(ends) < 1:
            return False
        last = int(ends[-1])
        row_events = K[: last + 1][outside[: last + 1]]
        rows = len(row_events) // n
        if not (
            len(row_events) == rows * n
            and (row_events[n - 1 :: n] == 10).all()
            and int(np.count_nonzero(row_events == 10)) == rows
        ):
            return False
        lines_before = np.cumsum(lf)  # physical lines ended up to each event
        starts = np.concatenate(([0], lines_before[ends[:-1]]))
        self._lines.append(self._line + starts.astype(np.int64))
        self._line += int(lines_before[last])
        self._seen += fresh
        self._carry = data[S[last] + 1 :]
        self.quoted = True
        return True

    def _check_lines(self, text: bytes) -> None:
        """Complete lines without quotes: the common, numpy-speed path."""
        b = np.frombuffer(text, dtype=np.uint8)
        cr = b"\r" in text and text.count(b"\r") != text.count(b"\r\n")
        self.lone_cr |= cr
        n = self._fields
        if not cr and n > 1:
            # every line a row of n fields: the delimiters and line ends alternate as n - 1
            # delimiters then one LF (a blank line, or a ragged row, breaks the pattern)
            special = np.flatnonzero((b == self._sep) | (b == 10))
            kinds = b[special] == 10
            rows = len(special) // n
            if (
                len(special) == rows * n
                and kinds[n - 1 :: n].all()
                and int(np.count_nonzero(kinds)) == rows
            ):
                self._add_run(self._line, rows)
                self._line += rows
                return
        # the general path: line by line (blank lines, lone CRs, or a ragged row somewhere)
        ends = np.flatnonzero(b == 10)
        if cr:
            nxt = np.append(b[1:], 0)
            lone = np.flatnonzero((b == 13) & (nxt != 10))
            ends = np.union1d(ends, lone)
        starts = np.concatenate(([0], ends[:-1] + 1))
        seps = np.flatnonzero(b == self._sep)
        counts = np.searchsorted(seps, ends) - np.searchsorted(seps, starts) + 1
        length = ends - starts - ((ends > starts) & (b[np.maximum(ends - 1, 0)] == 13))
        blank = (counts == 1) & (length == 0)
        maybe = np.flatnonzero((counts == 1) & (length > 0) & np.isin(b[starts], (32, 9)))
        for i in maybe:
            if not text[starts[i] : ends[i]].strip(b" \t\r"):
                blank[i] = True
        lines = self._line + np.arange(len(ends), dtype=np.int64)
        bad = np.flatnonzero(~blank & (counts != self._fields))
        if len(bad):
            k = int(bad[0])
            raise self._ragged(int(lines[k]), int(counts[k]))
        self._lines.append(lines[~blank])
        self._line += len(ends)

    def _scan_events(self, data: bytes, final: bool, base: int | None = None) -> None:
        """Chunks holding quotes: walk the delimiters, quotes and line ends in order."""
        if base is None:
            base = self._seen
            self._seen += len(data)
        else:
            self._seen = base + len(data)
        if final:
            data += b"\n"
        b = np.frombuffer(data, dtype=np.uint8)
        events = np.flatnonzero((b == self._sep) | (b == 10) | (b == 13) | (b == 34))
        sep, fields = self._sep, self._fields
        prev = self._field_start - base - 1  # local offset of the last event handled
        prev = max(prev, -1)
        rows = self._rows
        for e in events.tolist():
            c = data[e]
            pos = base + e
            if c == 10 and pos == self._skip_lf:  # the LF of a CRLF split between chunks
                prev = e
                continue
            if c == 13 and e + 1 == len(data):
                self._skip_lf = pos + 1
            if c == 13 and data[e + 1 : e + 2] != b"\n":
                self.lone_cr = True
            if self._in_quote:
                if c == 34:
                    self._in_quote = False
                    self._closed_at = pos
                elif c == 10 or (c == 13 and data[e + 1 : e + 2] != b"\n"):
                    self._line += 1
                prev = e
                continue
            if not self._content and e > prev + 1 and data[prev + 1 : e].strip(b" \t\r"):
                self._content = True
            if c == 34:
                if pos == self._closed_at + 1 or pos == self._field_start:
                    self._in_quote = True
                self._content = True
            elif c == sep:
                self._count += 1
                self._field_start = pos + 1
                self._content = True
            elif c == 10 or (c == 13 and data[e + 1 : e + 2] != b"\n"):
                if self._content or self._count > 1:
                    if self._count != fields:
                        raise self._ragged(self._row_line, self._count)
                    rows.append(self._row_line)
                self._line += 1
                self._row_line = self._line
                self._count, self._content = 1, False
                self._field_start = pos + 1
            prev = e
        if not self._in_quote and not self._content and data[prev + 1 :].strip(b" \t\r\n"):
            self._content = True
        if rows:
            self._lines.append(np.array(rows, dtype=np.int64))
            self._rows = []
