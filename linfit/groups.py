"""One fit per group (``--by COL``): every group's statistics in one streamed pass.

Each row goes to the statistics of its group (the values of the ``--by`` columns as written);
memory is one p×p factor per group, bounded by ``--max-groups``. Groups are then fitted one
by one, as R's ``lapply(split(d, d$g), function(s) lm(y ~ x, s))`` would; a group whose fit
fails (too few rows, collinear) reports its error in its row instead of stopping the others.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .accumulate import DesignStats, check_width
from .dataset import several
from .errors import DataError, LinfitError, UsageError, quote
from .group_keys import cells, key_value, sorted_keys, split_rows
from .grouped_model import GroupedModel, GroupEntry
from .io import (
    NA_TOKENS,
    CsvOptions,
    CsvReader,
    ReadReport,
    negative_weight,
    parse_text_column,
    text_cells,
)
from .layout import MISSING, Column, Grid
from .model import LinearModel, check_names

#: Default of --max-groups: each group holds a p×p factor.
MAX_GROUPS = 1000


def block_rows(columns: int) -> int:
    """Rows per block of a grouped read: each block updates every group's factor once, so
    large blocks (about 4M cells) keep the per-group cost small against the rows'."""
    return max(1 << 16, min(1 << 20, (1 << 22) // max(1, columns)))


@dataclass
class Grouped:
    """What the pass gave: the groups' statistics by key, and the columns they share."""

    by: list[str]
    features: list[str]
    target: str
    weights: str | None
    stats: dict[tuple[str, ...], Any] = field(default_factory=dict)  # DesignStats, or a
    # design_read.DesignPart per group when read through a formula
    report: ReadReport = field(default_factory=ReadReport)
    source: str = "the data"
    formula: str | None = None
    #: The groups' rows while all of them together hold at most fitting.keep_limit() values,
    #: the limit an ungrouped fit keeps rows under (for lstsq's refinement): per group (V, w)
    #: blocks; None once past the limit.
    rows: dict[tuple[str, ...], list] | None = field(default_factory=dict)
    kept_values: int = 0
    parts: list = field(default_factory=list)  # every group's DesignPart (formula)
    clean: bool = True  # read as one range: no quote or lone CR made the cuts doubtful
    #: Why a group's rows are not in memory (the note when its solution is not refined).
    why_no_rows: str = "the groups' rows were too many to keep in memory"

    def keep(self, key: tuple[str, ...], V: np.ndarray, w: np.ndarray | None, part=None) -> None:
        """Keep a group's block of rows while the budget allows; past it, drop them all."""
        if self.rows is None:
            return
        from .fitting import keep_limit

        self.kept_values += V.size
        if self.kept_values > keep_limit():
            self.rows = None
            for p in self.parts:
                p.blocks, p.kept_w = None, None
            return
        if part is not None:
            part.blocks.append(V)
            if w is not None:
                part.kept_w.append(w)
        else:
            self.rows.setdefault(key, []).append((V, w))

    def ordered(self) -> list[tuple[str, ...]]:
        """The groups in order: each column's values as numbers when all are numbers, else
        as text."""
        return sorted_keys(list(self.stats), len(self.by))

    def values(self, key: tuple[str, ...]) -> dict[str, Any]:
        """The group's values (numbers as numbers, for JSON)."""
        return {name: key_value(v) for name, v in zip(self.by, key)}


def read_groups(
    paths: list[str],
    x: list[str] | None,
    y: str | None,
    by: list[str],
    csv_options: CsvOptions | None,
    exclude: list[str] | None = None,
    weights: str | None = None,
    max_groups: int = MAX_GROUPS,
) -> Grouped:
    """Read the inputs once, each row into its group's statistics."""
    from . import groups_numeric

    out: Grouped | None = None
    for path in paths:
        reader = CsvReader(path, csv_options)
        try:
            mine = grouped_for(reader, x, y, by, exclude, weights)
            if out is None:
                out = dataclasses.replace(mine, stats={}, rows={}, parts=[], report=ReadReport())
            elif (out.by, out.features, out.target) != (mine.by, mine.features, mine.target):
                raise DataError(
                    f"{reader.name} has other columns than {out.source}; files read together "
                    "must match"
                )
            got = None
            if groups_numeric.looks_numeric(path, csv_options, mine.by):
                try:
                    got = groups_numeric.read_file(reader, mine, max_groups)
                except DataError:  # text in a group column further on (or bad data): the
                    got = None  # text pass reads the file, and words any error exactly
            if got is None:
                reader.close()
                reader = CsvReader(path, csv_options)
                got = mine
                for _, frame in reader.frames_text(block_rows(len(reader.columns))):
                    lines = frame.index.to_numpy(dtype=np.int64)
                    fold_frame(got, frame, lines, reader.name, reader.options, max_groups)
            absorb(out, got, max_groups)
        finally:
            reader.close()
    assert out is not None
    out.source = several(out.source, len(paths))
    if not out.stats:
        raise DataError(f"{out.source}: no rows to fit (every row has a missing value)")
    return out


def grouped_for(
    reader: CsvReader,
    x: list[str] | None,
    y: str | None,
    by: list[str],
    exclude: list[str] | None,
    weights: str | None,
) -> Grouped:
    """An empty Grouped for the reader's header: the columns chosen, the group columns
    checked to be none of them."""
    sel = reader.select(x, y, [*(exclude or ()), *by], weights)
    by_idx = [reader.resolve(c) for c in by]
    by_names = [reader.columns[i] for i in by_idx]
    for i, name in zip(by_idx, by_names):
        if i == sel.y_idx or i in sel.x_idx or i == sel.w_idx:
            raise DataError(
                f"{reader.name}: column {quote(name)} groups the rows (--by); it cannot also be "
                "the target, a feature or the weights"
            )
    check_width(len(sel.x_idx), reader.name)
    features = list(sel.x_names)
    check_names(features, sel.y_name, reader.name)
    return Grouped(by_names, features, sel.y_name, sel.w_name, source=reader.name)


def grouped_formula_for(reader: CsvReader, formula: str, by, intercept: bool, weights):
    """An empty Grouped for a formula, and the formula parsed against the reader's header."""
    from .formula import parse as parse_formula

    parsed = parse_formula(formula, reader.columns)
    if not intercept:
        parsed = dataclasses.replace(parsed, intercept=False)
    by_names = [reader.columns[reader.resolve(c)] for c in by]
    w_col = None if weights is None else reader.columns[reader.resolve(weights)]
    target = parsed.target.label()
    return Grouped(by_names, [], target, w_col, source=reader.name, formula=formula), parsed


def _group_keys(frame, by_names, lines, options, source: str):
    """The group columns' cells (stripped) and which rows have a missing group value."""
    keys = cells(frame, by_names)
    missing = np.zeros(len(lines), dtype=bool)
    for k in keys:
        missing |= np.isin(k, list(NA_TOKENS))
    if missing.any() and options.na == "raise":
        raise DataError(
            f"{source}: missing group value at line {int(lines[np.flatnonzero(missing)[0]])}; "
            "fix the file or pass --na drop to skip such rows"
        )
    return keys, missing


def too_many(
    where: str, by: list[str], limit: int, line: int | None = None, context: str = ""
) -> DataError:
    """The --max-groups error: ``where`` (a file name, or "" on a Dask worker) has more than
    ``limit`` groups; ``line`` starts another, or ``context`` says how they add up."""
    if line is not None:
        context = f" (line {line} starts another)"
    return DataError(
        f"{where + ': ' if where else ''}more than {limit:,} groups of {', '.join(by)}"
        f"{context}; raise --max-groups, or group by fewer or coarser columns"
    )


def add_groups(out: Grouped, got: Grouped, limit: int, where: str, context: str = "") -> None:
    """Add ``got``'s groups and read report (rows read after ``out``'s) to ``out``; more
    than ``limit`` groups together is the --max-groups error."""
    merge_groups(out, got.stats)
    out.report.merge(got.report)
    if len(out.stats) > limit:
        raise too_many(where, out.by, limit, context=context)


def read_groups_formula(
    paths: list[str],
    formula: str,
    by: list[str],
    csv_options: CsvOptions | None,
    intercept: bool,
    weights: str | None = None,
    max_groups: int = MAX_GROUPS,
) -> Grouped:
    """Read the inputs once through the formula, each group with its own design (levels
    seen in that group only, as R's lm on the group's rows)."""
    out: Grouped | None = None
    for path in paths:
        reader = CsvReader(path, csv_options)
        parts: dict[tuple[str, ...], Any] = {}
        try:
            mine, parsed = grouped_formula_for(reader, formula, by, intercept, weights)
            out = out or mine
            options = reader.options
            for _, frame in reader.frames_text(block_rows(len(reader.columns))):
                lines = frame.index.to_numpy(dtype=np.int64)
                fold_formula_frame(
                    out, parts, frame, lines, parsed, reader.columns, reader.name, options,
                    max_groups,
                )  # fmt: skip
        finally:
            reader.close()
        merge_groups(out, parts)
    assert out is not None
    out.source = several(out.source, len(paths))
    if not out.stats:
        raise DataError(f"{out.source}: no rows to fit (every row has a missing value)")
    return out


def absorb(out: Grouped, got: Grouped, limit: int) -> None:
    """Add one file's groups (``got``, read after ``out``'s files) to ``out``."""
    from .fitting import keep_limit

    add_groups(out, got, limit, got.source, " in the files together")
    if out.rows is None or got.rows is None:
        if got.rows is None:
            out.why_no_rows = got.why_no_rows
        out.rows = None
        return
    for key, blocks in got.rows.items():
        out.rows.setdefault(key, []).extend(blocks)
    out.kept_values += got.kept_values
    if out.kept_values > keep_limit():
        out.rows = None


def merge_groups(out: Grouped, stats: dict[tuple[str, ...], Any]) -> None:
    """Add groups' statistics (DesignStats, or DesignParts) read after ``out``'s."""
    for key, st in stats.items():
        out.stats[key] = st if key not in out.stats else out.stats[key].merge(st)


def fold_formula_frame(
    out: Grouped, parts: dict, frame, lines, parsed, header, source: str, options, limit: int
) -> None:
    """One text block through the formula, each row into its group's DesignPart (in
    ``parts``: this input's groups; ``out.stats``: earlier inputs')."""
    from .design import Design
    from .design_read import DesignPart, weigh_rows
    from .io import numeric_cells

    def parse(cells, name, at):
        return parse_text_column(cells, name, source, at, options, None)

    def is_number(cells):
        return numeric_cells(cells, options)

    w_col = out.weights
    out.report.rows_read += len(lines)
    keys, missing = _group_keys(frame, out.by, lines, options, source)
    if missing.any():
        out.report.drop(lines, missing)
        keys = [k[~missing] for k in keys]
        frame, lines = frame[~missing], lines[~missing]
    for key, idx in split_rows(keys, options):
        part = parts.get(key)
        if part is None:
            known = set(out.stats) | set(parts)
            if key not in known and len(known) >= limit:
                raise too_many(source, out.by, limit, int(lines[idx[0]]))
            design = Design(parsed, header, source, options.na)
            kept = None if out.rows is None else []
            part = DesignPart(design, DesignStats(0), ReadReport(), source, kept)
            part.weights = w_col
            part.kept_w = [] if kept is not None and w_col is not None else None
            part.why_no_rows = "the groups' rows were too many to keep in memory"
            out.parts.append(part)
            parts[key] = part
        design, stats = part.design, part.stats
        sub = frame.iloc[idx]
        g_lines = lines[idx]
        V, keep = design.transform(text_cells(sub, design.columns), g_lines, parse, is_number)
        w = None
        if w_col is not None:
            w = parse(text_cells(sub, [w_col])[w_col], w_col, g_lines)
            V, keep, w = weigh_rows(V, keep, w, w_col, g_lines, source, options.na)
        if (~keep).any():
            out.report.drop(g_lines, ~keep)
        stats.add_columns(len(design.full) - stats.p)
        if V.shape[1]:
            stats.update_columns(V, w=w)
            out.keep(key, V, w, part)


def fold_frame(out: Grouped, frame, lines, source: str, options, limit: int) -> None:
    """One text block (``out``'s features, target, weights and group columns), each row
    into its group's statistics; √w folded into each row of a weighted fit."""
    names = [*out.features, out.target] + ([out.weights] if out.weights else [])
    p = len(out.features)
    V = np.empty((len(names), len(lines)))
    for j, name in enumerate(names):
        V[j] = parse_text_column(frame[name], name, source, lines, options, None)
    keys = cells(frame, out.by)
    missing = np.isnan(V).any(axis=0)
    for k in keys:
        missing |= np.isin(k, list(NA_TOKENS))
    out.report.rows_read += len(lines)
    if missing.any():
        bad = int(np.flatnonzero(missing)[0])
        if options.na == "raise":
            raise DataError(
                f"{source}: missing value at line {int(lines[bad])}; fix the file or "
                "pass --na drop to skip such rows"
            )
        out.report.drop(lines, missing)
        V, lines = V[:, ~missing], lines[~missing]
        keys = [k[~missing] for k in keys]
    if V.shape[1] == 0:
        return
    w = V[p + 1] if out.weights else None
    if w is not None and (w < 0).any():
        r = int(np.flatnonzero(w < 0)[0])
        raise DataError(negative_weight(source, out.weights, int(lines[r]), float(w[r])))
    for key, idx in split_rows(keys, options):
        st = out.stats.get(key)
        if st is None:
            if len(out.stats) >= limit:
                raise too_many(source, out.by, limit, int(lines[idx[0]]))
            st = out.stats[key] = DesignStats(p)
        st.update_columns(V[: p + 1, idx], w=None if w is None else w[idx])
        out.keep(key, V[: p + 1, idx], None if w is None else w[idx])


@dataclass
class GroupFit:
    """One group's outcome: its model, or the error that stopped its fit."""

    key: tuple[str, ...]
    values: dict[str, Any]
    n: int
    model: LinearModel | None = None
    error: str | None = None
    notes: list[str] = field(default_factory=list)


def fit_groups(
    grouped: Grouped,
    intercept: bool,
    method: str,
    options,
    stats,
    level: float,
    cov: str = "nonrobust",
) -> list[GroupFit]:
    """Fit every group (in order); a failure is recorded in its row. A robust ``cov``
    (HC0–HC3) takes each group's sandwich from its rows, kept in memory while they fit
    (linfit.fitting.keep_limit); past that it is refused, with the reason."""
    from .design_read import finish
    from .fitting import fit_problem
    from .solvers import Problem

    if cov != "nonrobust" and (grouped.rows is None or grouped.formula is not None):
        raise DataError(
            f"{grouped.source}: --by with --cov {cov} needs every group's rows in memory for "
            f"its second pass, and they were not kept ({grouped.why_no_rows}); fit fewer rows, "
            "or use --cov nonrobust"
        )
    out = []
    for key in grouped.ordered():
        st = grouped.stats[key]
        values = grouped.values(key)
        label = ", ".join(f"{k}={v}" for k, v in values.items())
        design = None
        gf = GroupFit(key, values, st.n if grouped.formula is None else st.stats.n)
        try:
            if grouped.formula is None:
                problem = Problem(
                    st, list(grouped.features), grouped.target, intercept, source=f"group {label}"
                )
            else:
                data = finish(st, f"group {label}")
                problem, design = data.problem, data.design
            problem.weights = grouped.weights
            kept = None if grouped.rows is None else grouped.rows.get(key)
            if grouped.formula is None and kept:
                V = np.concatenate([v for v, _ in kept], axis=1)
                problem.X, problem.y = np.ascontiguousarray(V[:-1].T), V[-1].copy()
                if grouped.weights is not None:
                    problem.w = np.concatenate([w for _, w in kept])
            if problem.X is None:
                problem.where_rows = grouped.why_no_rows
            outcome = fit_problem(
                problem, method, options, stats=stats, level=level, design=design, cov=cov
            )
            gf.model, gf.notes = outcome.model, outcome.notes
            gf.model.data = {"source": grouped.source, "group": values}
        except LinfitError as exc:
            gf.error = str(exc)
        out.append(gf)
    return out


def _columns(grouped: Grouped, fits: list[GroupFit], intercept: bool) -> tuple[bool, list[str]]:
    """Whether there is an intercept, and the features every row has a place for (with a
    formula, groups may have different levels: the union, in order of first appearance)."""
    models = [gf.model for gf in fits if gf.model is not None]
    if grouped.formula is None:
        return intercept, list(grouped.features)
    names: list[str] = []
    for m in models:
        names += [f for f in m.features if f not in names]
    return (any(m.intercept for m in models) if models else intercept), names


def _coefs(model: LinearModel, intercept: bool, names: list[str]) -> list[Any]:
    """The model's b (when the table has one) and w in ``names``' order (None where absent)."""
    w = dict(zip(model.features, (float(v) for v in model.w)))
    head = [float(model.b) if model.intercept else None] if intercept else []
    return head + [w.get(f) for f in names]


def _title(grouped: Grouped, names: list[str]) -> str:
    model = (
        " ".join(grouped.formula.split())
        if grouped.formula
        else (f"{grouped.target} ~ {' + '.join(names)}")
    )
    return f"{model} by {', '.join(grouped.by)}"


def groups_grid(grouped: Grouped, fits: list[GroupFit], intercept: bool) -> Grid:
    """The table: one row per group (its values, n, each coefficient, R²)."""
    has_b, names = _columns(grouped, fits, intercept)
    heads = (["b"] if has_b else []) + [f"w[{f}]" for f in names]
    cols = [Column(b, "left") for b in grouped.by] + [Column("n")]
    cols += [Column(h, max_digits=10) for h in heads] + [Column("R²")]
    rows, notes = [], []
    for gf in fits:
        cells: list[Any] = [str(v) for v in gf.values.values()] + [gf.n]
        if gf.model is None:
            cells += ["failed"] + [MISSING] * len(heads)
            notes.append(f"{', '.join(cells[: len(grouped.by)])}: {gf.error}")
        else:
            coefs = _coefs(gf.model, has_b, names)
            cells += [MISSING if v is None else v for v in coefs]
            cells.append(float(gf.model.metrics.get("r2", math.nan)))
        rows.append(cells)
    weighted = f", weighted by {grouped.weights}" if grouped.weights else ""
    title = f"linfit · {_title(grouped, names)}{weighted}  [{grouped.source}, {len(fits)} groups]"
    return Grid(title, cols, rows, keys=len(grouped.by), notes=notes)


def groups_csv(grouped: Grouped, fits: list[GroupFit], intercept: bool) -> str:
    """One header, one row per group: group columns first, then n, coefficients (b, then
    w_<feature>, as compare's CSV), R² and the error of a failed group."""
    has_b, names = _columns(grouped, fits, intercept)
    heads = (["b"] if has_b else []) + [f"w_{f}" for f in names]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([*grouped.by, "n", *heads, "r2", "error"])
    for gf in fits:
        row: list[Any] = [*gf.key, gf.n]
        if gf.model is None:
            row += [""] * (len(heads) + 1) + [gf.error]
        else:
            row += ["" if v is None else repr(v) for v in _coefs(gf.model, has_b, names)]
            row += [repr(float(gf.model.metrics.get("r2", math.nan))), ""]
        writer.writerow(row)
    return buf.getvalue()


def grouped_model(grouped: Grouped, fits: list[GroupFit]) -> GroupedModel:
    """Every group's model (or error) as one grouped model: ``--save`` writes it and
    ``--format json`` prints it."""
    entries = [GroupEntry(gf.key, gf.values, gf.n, gf.model, gf.error) for gf in fits]
    return GroupedModel(list(grouped.by), grouped.target, entries, grouped.source)


def check_by_options(
    by: list[str],
    plot,
    cov: str,
    method_needs_rows: bool,
    formula: str | None = None,
    dask: bool = False,
) -> None:
    """What --by cannot go with (yet): clear usage errors."""
    if plot:
        raise UsageError("--by cannot draw plots yet; drop --plot/--plot-file")
    if cov != "nonrobust" and (formula is not None or dask):  # each group's rows, again
        raise UsageError(
            f"--by with --cov {cov} works with --x/--y on the local engine only for now (each "
            "group's rows are needed a second time); drop --formula/--engine dask or --cov"
        )
    if method_needs_rows:
        raise UsageError(
            "--by reads only the groups' statistics; use --method lstsq or gd without --batch-size"
        )
