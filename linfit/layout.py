"""Plain-text tables that fit a width without ever cutting a number.

Rich folds or ellipsizes a cell that does not fit, which turns ``1.59879`` into ``1.5987`` /
``9``. Here a numeric column instead loses significant digits (never below ``MIN_DIGITS``);
when even that is too wide, the columns are split into stacked tables that repeat the key
column(s). Only text (labels, headers, notes) ever wraps. Full precision is in JSON/CSV.
"""

from __future__ import annotations

import math
import os
import textwrap
from dataclasses import dataclass, field
from typing import Any, TextIO

from rich.cells import cell_len, chop_cells

#: Fewest significant digits a number is shown with (R's summary.lm shows 4 to 7).
MIN_DIGITS = 4
#: Narrowest layout attempted; a smaller COLUMNS is treated as this.
MIN_WIDTH = 30
#: Width used when the stream is not a terminal and COLUMNS is not set.
DEFAULT_WIDTH = 100
#: A header word longer than this may be broken across lines when space is short.
HEAD_WORD = 12
#: What a missing value prints as.
MISSING = "—"


def output_width(stream: TextIO) -> int:
    """COLUMNS when set; else the terminal's width; else a fixed ``DEFAULT_WIDTH``."""
    env = os.environ.get("COLUMNS", "").strip()
    if env.isdigit() and int(env) > 0:
        return max(MIN_WIDTH, int(env))
    width = DEFAULT_WIDTH
    try:
        if stream.isatty():
            width = os.get_terminal_size(stream.fileno()).columns or 80
    except (AttributeError, OSError, ValueError):
        pass
    return max(MIN_WIDTH, width)


def number(v: Any, digits: int) -> str:
    """``v`` with at most ``digits`` significant digits; ints and text as they are."""
    if v is None:
        return MISSING
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return MISSING
        return f"{v:.{digits}g}"
    return str(v)


@dataclass
class Column:
    """A column: numeric cells (floats) are shown with ``min_digits``..``max_digits``
    significant digits; other cells (ints, text) are shown whole."""

    head: str
    align: str = "right"
    max_digits: int = 8
    min_digits: int = MIN_DIGITS


@dataclass
class Grid:
    """A table before layout. The first ``keys`` columns name the row and are repeated in
    every stacked part."""

    title: str | None
    columns: list[Column]
    rows: list[list[Any]]
    keys: int = 1
    notes: list[str] = field(default_factory=list)
    #: What the parts are called when the table is stacked and has no title.
    name: str = "table"


@dataclass
class _Spacing:
    indent: int
    gap: int


_WIDE, _COMPACT = _Spacing(2, 3), _Spacing(1, 2)


def render(grid: Grid, width: int) -> str:
    """The grid as text no wider than ``width`` (at least ``MIN_WIDTH``), no trailing spaces."""
    width = max(MIN_WIDTH, width)
    ncol = len(grid.columns)
    keys = list(range(min(grid.keys, ncol)))
    rest = list(range(len(keys), ncol))
    parts = _split(grid, keys, rest, width)
    out: list[str] = []
    for i, (cols, digits, widths, sp) in enumerate(parts):
        title = grid.title
        if len(parts) > 1:
            title = f"{grid.title or grid.name} (part {i + 1} of {len(parts)})"
        if title:
            out += wrap(title, width)
        out.append("")
        out += _body(grid, cols, digits, widths, sp)
        out.append("")
    for note in grid.notes:
        out += wrap(note, width)
    return "\n".join(line.rstrip() for line in out) + "\n"


# -- layout ---------------------------------------------------------------------------------
class _Measure:
    """Column widths of one grid, computed once per (column, digits)."""

    def __init__(self, grid: Grid) -> None:
        self.grid = grid
        self.cache: dict[tuple[int, int], int] = {}

    def text(self, c: int) -> bool:
        return self.grid.columns[c].align == "left"

    def natural(self, c: int, digits: int) -> int:
        """Width of column ``c`` at ``digits``: its widest cell or its header."""
        key = (c, digits)
        if key not in self.cache:
            head = cell_len(self.grid.columns[c].head)
            self.cache[key] = max([head, *map(cell_len, _cells(self.grid, c, digits))])
        return self.cache[key]

    def narrow(self, c: int, digits: int) -> int:
        """Width of column ``c`` at ``digits`` when its header wraps (at spaces, and inside
        a word longer than ``HEAD_WORD``)."""
        head = max((cell_len(w) for w in self.grid.columns[c].head.split()), default=0)
        return max([min(head, HEAD_WORD), *map(cell_len, _cells(self.grid, c, digits))])

    def text_min(self, c: int) -> int:
        """A text column may wrap at spaces down to its longest word (at least 8)."""
        key = (c, -1)
        if key not in self.cache:
            words = [w for cell in _cells(self.grid, c, 0) for w in cell.split()]
            words += self.grid.columns[c].head.split()
            self.cache[key] = min(self.natural(c, 0), max([8, *map(cell_len, words)]))
        return self.cache[key]

    def _width(self, c: int, digits: int, wrap_text: bool) -> int:
        if not wrap_text:
            return self.natural(c, digits)
        return self.text_min(c) if self.text(c) else self.narrow(c, digits)

    def fit(self, cols: list[int], width: int, wrap_text: bool):
        """Most digits per column that make ``cols`` fit, or None when min digits do not."""
        columns = self.grid.columns
        for sp in (_WIDE, _COMPACT):
            digits = {c: columns[c].max_digits for c in cols}
            while True:
                widths = [self._width(c, d, wrap_text) for c, d in digits.items()]
                if _total(widths, sp) <= width:
                    return digits, widths, sp
                # take a digit from the column showing the most digits (rightmost on ties)
                over = [c for c in cols if digits[c] > columns[c].min_digits]
                if not over:
                    break
                c = max(over, key=lambda k: (digits[k], k))
                digits[c] -= 1
        return None


def _cells(grid: Grid, c: int, digits: int) -> list[str]:
    return [number(row[c], digits) if c < len(row) else "" for row in grid.rows]


def _total(widths: list[int], sp: _Spacing) -> int:
    return sp.indent + sum(widths) + sp.gap * (len(widths) - 1)


def _split(grid: Grid, keys: list[int], rest: list[int], width: int):
    """The columns in as few stacked parts as fit, each part with the key columns; the parts
    are balanced so that each keeps as many digits as it can."""
    m = _Measure(grid)
    chunks = _greedy(m, keys, rest, width)
    if len(chunks) > 1:  # same number of parts, columns spread evenly
        size = -(-len(rest) // len(chunks))
        even = [rest[i : i + size] for i in range(0, len(rest), size)]
        if len(even) == len(chunks) and all(m.fit(keys + c, width, False) for c in even):
            chunks = even
    parts = []
    for chunk in chunks:
        cols = keys + chunk
        fitted = m.fit(cols, width, False) or m.fit(cols, width, True)
        if fitted is None:  # even one column with wrapped labels is too wide: cut the labels
            digits = {c: grid.columns[c].min_digits for c in cols}
            widths = [m.narrow(c, digits[c]) for c in cols]
            spare = width - _total(widths, _COMPACT)
            for i, c in enumerate(cols):
                if m.text(c) and spare < 0:
                    cut = min(-spare, widths[i] - 1)
                    widths[i] -= cut
                    spare += cut
            fitted = digits, widths, _COMPACT
        digits, widths, sp = fitted
        widths = _widen_heads(grid, cols, widths, sp, width)
        parts.append((cols, digits, widths, sp))
    return parts


def _greedy(m: _Measure, keys: list[int], rest: list[int], width: int) -> list[list[int]]:
    """As many columns in each part as fit at the fewest digits."""
    chunks, todo = [], list(rest)
    while True:
        take = 1
        while take < len(todo) and m.fit(keys + todo[: take + 1], width, False) is not None:
            take += 1
        chunks.append(todo[:take])
        todo = todo[take:]
        if not todo:
            return chunks


def _widen_heads(grid: Grid, cols: list[int], widths: list[int], sp: _Spacing, width: int):
    """Give spare room to headers that would otherwise wrap."""
    widths = list(widths)
    for i, c in enumerate(cols):
        spare = width - _total(widths, sp)
        need = cell_len(grid.columns[c].head) - widths[i]
        if need > 0:
            widths[i] += min(need, max(spare, 0))
    return widths


# -- drawing --------------------------------------------------------------------------------
def _body(grid: Grid, cols: list[int], digits: dict, widths: list[int], sp: _Spacing):
    heads = [wrap(grid.columns[c].head, w) for c, w in zip(cols, widths)]
    height = max(len(h) for h in heads)
    heads = [[""] * (height - len(h)) + h for h in heads]  # bottom-aligned headers
    lines = [_line(grid, cols, [h[k] for h in heads], widths, sp) for k in range(height)]
    lines.append(" " * (sp.indent - 1) + "─" * (sum(widths) + sp.gap * (len(widths) - 1) + 1))
    for row in grid.rows:
        cells = [
            wrap(number(row[c], digits[c]), w) if c < len(row) else [""]
            for c, w in zip(cols, widths)
        ]
        for k in range(max(len(cell) for cell in cells)):
            texts = [cell[k] if k < len(cell) else "" for cell in cells]
            lines.append(_line(grid, cols, texts, widths, sp))
    return lines


def _line(grid: Grid, cols: list[int], texts: list[str], widths: list[int], sp: _Spacing) -> str:
    out = []
    for c, t, w in zip(cols, texts, widths):
        pad = " " * (w - cell_len(t))
        out.append(t + pad if grid.columns[c].align == "left" else pad + t)
    return (" " * sp.indent + (" " * sp.gap).join(out)).rstrip()


def wrap(text: str, width: int) -> list[str]:
    """Text broken at spaces to ``width`` terminal cells (a longer word is cut); numbers never
    reach here wider than their column. Widths are display cells (Rich's measure), so a CJK
    or emoji character counts two."""
    if cell_len(text) <= width:
        return [text]
    if cell_len(text) == len(text):  # one cell per character: the standard library's wrap
        return textwrap.wrap(text, width, break_on_hyphens=False) or [""]
    lines: list[str] = []
    line = ""
    for word in text.split():
        while cell_len(word) > width:  # cut a word wider than the column
            if line:
                lines.append(line)
                line = ""
            head = chop_cells(word, max(width, 2))[0] or word[0]
            lines.append(head)
            word = word[len(head) :]
        joined = f"{line} {word}" if line else word
        if cell_len(joined) <= width:
            line = joined
        else:
            lines.append(line)
            line = word
    if line:
        lines.append(line)
    return lines or [""]
