"""The fast pass of ``fit --by`` when every group column holds numbers (no formula).

The group columns are then read with the features, as float64, by the same validated
blocks an ungrouped fit reads (and, for a large file, by two processes over byte ranges), so
grouping costs about what the per-group factors cost, not a text parse of every cell. A
number's key is its canonical text (linfit.group_keys): the groups are those the text pass
makes. Whether a file qualifies is decided on its first rows; a file whose later rows hold
text in a group column is read again by the text pass (its result, not this one's, counts).
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from .accumulate import DesignStats, update_groups
from .errors import DataError
from .group_keys import EXACT_DIGITS, number_of, significant_digits
from .io import NA_TOKENS, CsvReader, ReadReport, Selection

#: Rows of a file's start that decide whether its group columns hold numbers.
PROBE_ROWS = 4096
#: At most this much of a file is probed by the csv module (see _probe_cells).
PROBE_BYTES = 1 << 20


def block_rows(columns: int, cells: int = 1 << 22) -> int:
    """Rows per block: every block updates each group's factor once, so blocks are larger
    than an ungrouped read's (about 4M cells, 32 MB of float64)."""
    return max(1 << 16, cells // max(1, columns))


def looks_numeric(path: str, options, by: list[str]) -> bool:
    """Whether the first rows' group cells are all numbers (or missing)."""
    if path == "-":
        return False
    reader = CsvReader(path, options)
    try:
        opts = reader.options
        for cells in _probe_cells(reader, by):
            for cell in set(cells):
                cell = cell.strip()
                if cell in NA_TOKENS:
                    continue
                clean = cell.replace(opts.thousands, "") if opts.thousands else cell
                if opts.decimal != ".":
                    clean = clean.replace(opts.decimal, ".")
                if number_of(clean) is None:
                    return False
        return True
    finally:
        reader.close()


def _probe_cells(reader: CsvReader, by: list[str]) -> list[list[str]]:
    """The first PROBE_ROWS rows' cells of each group column, as text. A file the fast
    reader takes (plain UTF-8, one-byte delimiter), without a quote or lone CR in its first
    MiB, is probed by the csv module, which splits such rows as pandas does, without
    importing pandas (0.2 s); any other through pandas, with all its dialect options. Only
    speed rides on the probe: the numeric pass hands a text group value it meets to the
    text pass, which reads the file again."""
    cols = [reader.columns.index(c) for c in by]
    if reader.fast:
        import csv

        with open(reader.path, "rb") as fh:
            fh.seek(len(reader.header_bytes))
            data = fh.read(PROBE_BYTES)
        if b'"' not in data and data.count(b"\r") == data.count(b"\r\n"):  # no lone CR
            rows = data.decode("utf-8", "replace").replace("\r\n", "\n").split("\n")
            if len(data) == PROBE_BYTES:
                rows = rows[:-1]  # cut mid-line by the read
            rows = rows[:PROBE_ROWS]
            cells: list[list[str]] = [[] for _ in cols]
            try:
                for row in csv.reader(rows, delimiter=reader.sep):
                    for out, j in zip(cells, cols):
                        if j < len(row):
                            out.append(row[j])
                return cells
            except csv.Error:  # pandas, below, reads what the csv module refuses
                pass
    for _, frame in reader.frames_text(PROBE_ROWS):
        return [frame[c].tolist() for c in by]
    return []


def selection(reader: CsvReader, out) -> Selection:
    """Features, then the group columns, as the blocks' feature rows; target; weights."""
    x_names = [*out.features, *out.by]
    pos = [reader.columns.index(c) for c in x_names]
    y_idx = reader.columns.index(out.target)
    w_idx = None if out.weights is None else reader.columns.index(out.weights)
    return Selection(tuple(pos), y_idx, tuple(x_names), out.target, w_idx, out.weights)


def _group_order(K: np.ndarray) -> np.ndarray:
    """The order that sorts the rows by their group values (one sort, no np.unique): for one
    column of small integers (ids, codes, years) numpy's radix sort, O(n); else a sort of
    the floats (or of several columns)."""
    if len(K) > 1:
        return np.lexsort(K[::-1])
    k = K[0]
    lo, hi = k.min(initial=np.inf), k.max(initial=-np.inf)
    if lo >= -(1 << 15) and hi < (1 << 15):
        small = k.astype(np.int16)
        if np.array_equal(small, k):  # integral: the radix sort orders them as the floats
            return np.argsort(small, kind="stable")
    return np.argsort(k)


@functools.lru_cache(maxsize=1 << 16)
def _key_text(values: tuple[float, ...]) -> tuple[str, ...] | None:
    """A group's key as text (one rule for fit, predict and Dask), or None for a value of
    more digits than float64 holds exactly; cached: the same groups recur in every block."""
    from .group_keys import number_text

    key = tuple(number_text(v) for v in values)
    return None if any(significant_digits(t) > EXACT_DIGITS for t in key) else key


def fold_block(out, V: np.ndarray, first_line: int, limit: int, source: str) -> None:
    """One validated block (features, group columns, target, weights as rows of V) into
    the groups' statistics."""
    p, nb = len(out.features), len(out.by)
    K = V[p : p + nb]
    order = _group_order(K)
    Ks = K[:, order]
    change = np.empty(Ks.shape[1], dtype=bool)
    change[:1] = True
    change[1:] = (Ks[:, 1:] != Ks[:, :-1]).any(axis=0)
    starts = np.flatnonzero(change)
    ends = np.append(starts[1:], Ks.shape[1])
    # features and target in group order: each group a slice; min/max of every group at once
    D = np.empty((p + 1, len(order)))  # row by row: C order (V[:, order] would be F order,
    for j, src in enumerate([*range(p), p + nb]):  # and every group's reductions slow)
        D[j] = V[src][order]
    lo = np.minimum.reduceat(D, starts, axis=1)
    hi = np.maximum.reduceat(D, starts, axis=1)
    w = V[p + nb + 1][order] if out.weights is not None else None
    bounds = list(zip(starts.tolist(), ends.tolist()))
    keys, stats = [], []
    for a, b in bounds:
        key = _key_text(tuple(Ks[:, a].tolist()))
        if key is None:  # an id past float64's
            raise DataError(f"{source}: a group value of more than {EXACT_DIGITS} digits")
        st = out.stats.get(key)
        if st is None:
            if len(out.stats) >= limit:
                from .groups import too_many

                raise too_many(source, out.by, limit, first_line + int(order[a:b].min()))
            st = out.stats[key] = DesignStats(p)
        keys.append(key)
        stats.append(st)
    if w is None:
        update_groups(stats, D, starts.tolist(), lo, hi)  # every group's factor at once
    else:
        for g, (a, b) in enumerate(bounds):
            stats[g].update_columns(D[:, a:b], lo[:, g], hi[:, g], w=w[a:b])
    for key, (a, b) in zip(keys, bounds):
        out.keep(key, D[:, a:b], None if w is None else w[a:b])


def read_range(path, options, header: bytes, start, end, sel, template, limit: int):
    """Bytes [start, end) of ``path`` (header prepended) into a Grouped (no rows kept)."""
    from .parallel import range_opener

    reopen = range_opener(path, header, start, end)
    stream = reopen()
    reader = CsvReader(path, options, stream=stream, reopen=reopen)
    out = dataclasses.replace(template, stats={}, rows=None, parts=[], report=ReadReport())
    try:
        for block in reader.blocks(sel, out.report, block_rows(len(sel.x_idx) + 2)):
            fold_block(out, block.V, block.first_line, limit, reader.name)
    finally:
        stream.close()
    out.clean = not reader.irregular
    return out


def read_file(reader: CsvReader, template, limit: int):
    """The whole file into a new Grouped like ``template``: by two processes over byte
    ranges when the file is large (as an ungrouped fit reads it), else in this one."""
    from .groups import add_groups
    from .parallel import read_ranges, workers_for

    sel = selection(reader, template)
    workers = workers_for(reader.path, False, reader)  # polars: one process, every core
    if workers > 1:
        rest = (sel, template, limit)
        parts = read_ranges(read_range, reader.path, reader.options, reader.header_bytes, rest,
                            workers)  # fmt: skip
        if parts is not None and all(p.clean for p in parts):
            out = parts[0]
            for part in parts[1:]:
                add_groups(out, part, limit, reader.name)
            out.why_no_rows = "the file was read by several processes, which keep no rows"
            return out
    out = dataclasses.replace(template, stats={}, parts=[], report=ReadReport())
    out.rows = {}
    for block in reader.blocks(sel, out.report, block_rows(len(sel.x_idx) + 2)):
        fold_block(out, block.V, block.first_line, limit, reader.name)
    return out
