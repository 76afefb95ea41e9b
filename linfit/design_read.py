"""Reading an input through a formula: cells (io) → design blocks (design) → statistics
(accumulate), in one streamed pass with memory bounded by the number of coefficients.

Categorical levels are found while reading; a level first seen in a later block adds a
statistics column that was zero for every earlier row. Several inputs (files, or a file's
parts) each get their own design and statistics, merged by aligning columns by what they
mean (term and levels), so the result equals one pass over all rows.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from .accumulate import DesignStats
from .dataset import Dataset, Reservoir, keep_values
from .design import Column, Design
from .errors import DataError
from .formula import Formula
from .formula import parse as parse_formula
from .io import CsvOptions, CsvReader, ReadReport, numeric_cells, parse_text_column, text_cells
from .solvers import Problem


@dataclass
class DesignPart:
    """What one input contributed: its design state, statistics of its accumulated columns
    (in the order of ``design.full``), its rows when kept (blocks of shape (columns + 1,
    rows), narrower for blocks read before later columns appeared), what happened while
    reading, and a plot sample."""

    design: Design
    stats: DesignStats
    report: ReadReport
    source: str
    blocks: list[np.ndarray] | None = field(default_factory=list)
    sample: Reservoir | None = None
    clean: bool = True  # read as one range: no quote or lone CR made the cuts doubtful
    why_no_rows: str = "the rows were too many to keep in memory"
    weights: str | None = None  # the weights column (a weighted fit), as the user named it
    w_col: str | None = None  # ... and as the header names it
    kept_w: list[np.ndarray] | None = None  # the kept rows' weights, block by block

    def merge(self, other: DesignPart) -> DesignPart:
        """Both parts as one (other's rows come after this one's): levels and columns are
        matched by meaning, so the result is what one pass over both would give."""
        mine, theirs = self.design, other.design
        if (
            mine.formula.terms != theirs.formula.terms
            or mine.formula.target != theirs.formula.target
        ):
            raise DataError(
                f"{other.source}: the formula means other terms here than in {self.source} "
                "('.' stands for other columns); give the files the same columns"
            )
        for c, kind in theirs.kinds.items():
            have = mine.kinds.get(c)
            if have is None or have == kind:
                mine.kinds.setdefault(c, kind)
            elif mine.categorical_only(c):  # C(c): numbers in one input, text in another
                (mine if have == "numeric" else theirs).as_text(c)
            else:
                text_in, numbers_in = (
                    (self.source, other.source) if have == "text" else (other.source, self.source)
                )
                raise DataError(
                    f"column {c!r} holds text in {text_in} and numbers in {numbers_in}; make it "
                    f"categorical in every input with C({c}) in the formula"
                )
        mine_cols, their_cols = list(mine.full), list(theirs.full)
        have = set(mine_cols)
        mine.full = mine_cols + [col for col in their_cols if col not in have]
        mine.ensure_numeric_terms()
        for c, levels in theirs.levels.items():
            have = mine.levels.setdefault(c, {})
            for key, line in levels.items():
                if key not in have:
                    have[key] = line
        for c, levels in list(mine.levels.items()):
            for key in levels:  # products of levels first seen in different inputs
                mine.add_level_columns(c, key)
        union = list(mine.full)
        left = self.stats.permuted([_pos(mine_cols, col) for col in union])
        right = other.stats.permuted([_pos(their_cols, col) for col in union])
        blocks = None
        if self.blocks is not None and other.blocks is not None:
            blocks = [_widen(b, mine_cols, union) for b in self.blocks]
            blocks += [_widen(b, their_cols, union) for b in other.blocks]
        sample = self.sample
        if sample is not None and other.sample is not None:
            _widen_sample(sample, mine_cols, union)
            _widen_sample(other.sample, their_cols, union)
            sample.merge(other.sample)
        report = self.report.merge(other.report)
        clean = self.clean and other.clean
        out = DesignPart(mine, left.merge(right), report, self.source, blocks, sample, clean)
        out.weights, out.w_col = self.weights, self.w_col
        if blocks is not None and self.kept_w is not None and other.kept_w is not None:
            out.kept_w = self.kept_w + other.kept_w
        if blocks is None:
            out.why_no_rows = self.why_no_rows if self.blocks is None else other.why_no_rows
        return out


def _pos(cols: list[Column], col: Column) -> int | None:
    return cols.index(col) if col in cols else None


def _widen(V: np.ndarray, cols: list[Column], union: list[Column]) -> np.ndarray:
    """A kept block (rows: some first of ``cols``, then the target) in ``union``'s columns."""
    out = np.zeros((len(union) + 1, V.shape[1]))
    for j in range(V.shape[0] - 1):
        out[union.index(cols[j])] = V[j]
    out[-1] = V[-1]
    return out


def _widen_sample(sample: Reservoir, cols: list[Column], union: list[Column]) -> None:
    if sample.X is None:
        return
    X = np.zeros((len(sample.X), len(union)))
    for j in range(sample.X.shape[1]):
        X[:, union.index(cols[j])] = sample.X[:, j]
    sample.X = X


def new_part(
    formula: str | Formula,
    header: list[str],
    source: str,
    options: CsvOptions,
    intercept: bool,
    keep_rows: bool,
    sample: int,
    seed: int = 0,
    weights: str | None = None,
    w_col: str | None = None,
) -> DesignPart:
    """An empty part for an input with this header: the formula parsed against it (which
    gives ``.`` its meaning; ``intercept=False`` drops the intercept as ``- 1`` does)."""
    parsed = formula if isinstance(formula, Formula) else parse_formula(formula, header)
    if not intercept:
        parsed = dataclasses.replace(parsed, intercept=False)
    design = Design(parsed, header, source, options.na)
    part = DesignPart(
        design,
        DesignStats(0),
        ReadReport(),
        source,
        [] if keep_rows else None,
        Reservoir(sample, seed=seed) if sample else None,
    )
    part.weights, part.w_col = weights, w_col
    part.kept_w = [] if keep_rows and w_col is not None else None
    return part


def fold_frame(part: DesignPart, frame, lines: np.ndarray, options: CsvOptions) -> None:
    """Fold one block of text cells (a DataFrame with the header's columns) into the part."""
    design, stats, report = part.design, part.stats, part.report

    def parse(cells: np.ndarray, name: str, at: np.ndarray) -> np.ndarray:
        return parse_text_column(cells, name, part.source, at, options, None)

    def is_number(cells: np.ndarray) -> np.ndarray:
        return numeric_cells(cells, options)

    V, keep = design.transform(text_cells(frame, design.columns), lines, parse, is_number)
    w = None
    if part.w_col is not None:
        w = parse(text_cells(frame, [part.w_col])[part.w_col], part.w_col, lines)
        V, keep, w = weigh_rows(V, keep, w, part.w_col, lines, part.source, options.na)
    report.rows_read += len(lines)
    report.drop(lines, ~keep)
    stats.add_columns(len(design.full) - stats.p)  # levels first seen in this block
    if V.shape[1] == 0:
        return
    stats.update_columns(V, w=w)
    sample = part.sample
    if sample is not None:
        if sample.X is not None and sample.X.shape[1] < stats.p:
            sample.X = np.pad(sample.X, ((0, 0), (0, stats.p - sample.X.shape[1])))
        sample.add(V[:-1].T, V[-1])
    if part.blocks is not None:
        if sum(b.size for b in part.blocks) + V.size <= keep_values():
            part.blocks.append(V)
            if part.kept_w is not None and w is not None:
                part.kept_w.append(w)
        else:
            part.blocks = part.kept_w = None


def read_part(
    path: str,
    formula: str | Formula,
    csv: CsvOptions | None,
    intercept: bool,
    keep_rows: bool,
    sample: int,
    stream=None,
    reopen=None,
    weights: str | None = None,
) -> DesignPart:
    """One input through the formula, in one pass. ``stream``/``reopen``: read this
    instead of opening ``path`` (a range of it); ``weights``: the column of row weights (a
    missing one drops the row, as any missing value the formula uses; a negative one is an
    error)."""
    reader = CsvReader(path, csv, stream=stream, reopen=reopen)
    try:
        w_col = None if weights is None else reader.columns[reader.resolve(weights)]
        part = new_part(
            formula,
            reader.columns,
            reader.name,
            reader.options,
            intercept,
            keep_rows,
            sample,
            weights=weights,
            w_col=w_col,
        )
        for _, frame in reader.frames_text():
            fold_frame(part, frame, frame.index.to_numpy(dtype=np.int64), reader.options)
    finally:
        reader.close()
        if stream is not None:
            stream.close()
    part.clean = not reader.irregular
    return part


def weigh_rows(V, keep, w, name, lines, source, na):
    """Drop (or with --na raise, refuse) the design's rows whose weight is missing; refuse a
    negative weight. Returns the design, the kept-row mask and the kept rows' weights."""
    from .io import negative_weight

    missing = np.isnan(w) & keep
    if missing.any():
        if na == "raise":
            line = int(lines[np.flatnonzero(missing)[0]])
            raise DataError(
                f"{source}: missing value in column {name!r} at line {line}; fix the file or "
                "pass --na drop to skip such rows"
            )
        V = V[:, ~missing[keep]]
        keep = keep & ~missing
    neg = keep & (w < 0)
    if neg.any():
        r = int(np.flatnonzero(neg)[0])
        raise DataError(negative_weight(source, name, int(lines[r]), float(w[r])))
    return V, keep, w[keep]


def read_range(path, options, header: bytes, start, end, formula, intercept, sample, weights):
    """Bytes [start, end) of ``path`` (header prepended) through the formula (no rows kept):
    one of the parts of a file read by several processes."""
    from .parallel import range_opener

    reopen = range_opener(path, header, start, end)
    return read_part(path, formula, options, intercept, False, sample, reopen(), reopen, weights)


def read_file(
    path: str,
    formula: str | Formula,
    csv: CsvOptions | None,
    intercept: bool,
    keep_all_rows: bool,
    sample: int,
    weights: str | None = None,
) -> DesignPart:
    """One file through the formula: a large file in ranges read by two processes (no rows
    kept), merged in order; otherwise, or when a range is doubtful, in this process."""
    from .parallel import read_ranges, workers_for

    workers = workers_for(path, keep_all_rows)
    if workers > 1:
        reader = CsvReader(path, csv)
        header, options = reader.header_bytes, reader.options
        reader.close()
        parts = read_ranges(
            read_range, path, options, header, (formula, intercept, sample, weights), workers
        )
        if parts is not None and all(p.clean for p in parts):
            import functools

            total = functools.reduce(lambda a, b: a.merge(b), parts)
            total.blocks = None
            total.why_no_rows = "the file was read by several processes, which keep no rows"
            return total
    return read_part(path, formula, csv, intercept, True, sample, weights=weights)


def finish(part: DesignPart, source: str) -> Dataset:
    """R's coding of the merged design → the Problem the solvers see."""
    design = part.design
    if part.stats.n == 0:
        if part.report.rows_read == 0:
            raise DataError(f"{source} has a header but no data rows; add rows below it")
        raise DataError(
            f"{source}: all {part.report.rows_read} rows have missing values in the columns the "
            "formula uses; nothing is left to fit"
        )
    spec = design.coding()
    chosen = spec.chosen
    stats = part.stats.select(chosen)
    X = y = None
    width = len(design.full)
    if part.blocks is not None:
        full = np.concatenate([_pad(b, width) for b in part.blocks], axis=1)
        X = np.ascontiguousarray(full[chosen].T)
        y = full[-1].copy()
    sample = part.sample
    if sample is not None and sample.X is not None:
        Xs = np.zeros((len(sample.y), width))
        Xs[:, : sample.X.shape[1]] = sample.X
        sample.X = Xs[:, chosen]
    problem = Problem(
        stats,
        list(spec.names),
        design.formula.target.label(),
        design.formula.intercept,
        X,
        y,
        source=source,
    )
    problem.weights = part.weights
    if X is not None and part.kept_w is not None:
        problem.w = np.concatenate(part.kept_w)
    if X is None:
        problem.where_rows = part.why_no_rows
    return Dataset(problem, part.report, source, sample, design=spec)


def _pad(V: np.ndarray, width: int) -> np.ndarray:
    """A kept block from before some columns appeared: zero rows for the later columns."""
    if V.shape[0] == width + 1:
        return V
    out = np.zeros((width + 1, V.shape[1]))
    out[: V.shape[0] - 1] = V[:-1]
    out[-1] = V[-1]
    return out
