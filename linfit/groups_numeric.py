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

import numpy as np

from .accumulate import DesignStats
from .errors import DataError
from .group_keys import EXACT_DIGITS, number_of, significant_digits
from .io import NA_TOKENS, CsvReader, ReadReport, Selection

#: Rows of a file's start that decide whether its group columns hold numbers.
PROBE_ROWS = 4096


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
        for _, frame in reader.frames_text(PROBE_ROWS):
            opts = reader.options
            for c in by:
                for cell in set(frame[c].tolist()):
                    cell = cell.strip()
                    if cell in NA_TOKENS:
                        continue
                    clean = cell.replace(opts.thousands, "") if opts.thousands else cell
                    if opts.decimal != ".":
                        clean = clean.replace(opts.decimal, ".")
                    if number_of(clean) is None:
                        return False
            return True
        return True
    finally:
        reader.close()


def selection(reader: CsvReader, out) -> Selection:
    """Features, then the group columns, as the blocks' feature rows; target; weights."""
    x_names = [*out.features, *out.by]
    pos = [reader.columns.index(c) for c in x_names]
    y_idx = reader.columns.index(out.target)
    w_idx = None if out.weights is None else reader.columns.index(out.weights)
    return Selection(tuple(pos), y_idx, tuple(x_names), out.target, w_idx, out.weights)


def fold_block(out, V: np.ndarray, first_line: int, limit: int, source: str) -> None:
    """One validated block (features, group columns, target, weights as rows of V) into
    the groups' statistics."""
    from .group_keys import number_text

    p, nb = len(out.features), len(out.by)
    K = V[p : p + nb]
    order = np.argsort(K[0]) if nb == 1 else np.lexsort(K[::-1])  # one sort, no np.unique
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
    for g, (a, b) in enumerate(zip(starts.tolist(), ends.tolist())):
        key = tuple(number_text(float(v)) for v in Ks[:, a])
        if any(significant_digits(k) > EXACT_DIGITS for k in key):  # an id past float64's
            raise DataError(f"{source}: a group value of more than {EXACT_DIGITS} digits")
        st = out.stats.get(key)
        if st is None:
            if len(out.stats) >= limit:
                from .groups import too_many

                raise too_many(source, out.by, limit, first_line + int(order[a:b].min()))
            st = out.stats[key] = DesignStats(p)
        Vg = D[:, a:b]
        wg = None if w is None else w[a:b]
        st.update_columns(Vg, lo[:, g], hi[:, g], w=wg)
        out.keep(key, Vg, wg)


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
    workers = workers_for(reader.path, False)
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
