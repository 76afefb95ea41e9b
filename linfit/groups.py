"""One fit per group (``--by COL``): every group's statistics in one streamed pass.

Each row goes to the statistics of its group (the values of the ``--by`` columns as written);
memory is one p×p factor per group, bounded by ``--max-groups``. Groups are then fitted one
by one, as R's ``lapply(split(d, d$g), function(s) lm(y ~ x, s))`` would; a group whose fit
fails (too few rows, collinear) reports its error in its row instead of stopping the others.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .accumulate import DesignStats, check_width
from .errors import DataError, LinfitError, UsageError, quote
from .io import NA_TOKENS, CsvOptions, CsvReader, ReadReport, negative_weight, parse_text_column
from .layout import MISSING, Column, Grid
from .model import LinearModel, check_names

#: Default of --max-groups: each group holds a p×p factor.
MAX_GROUPS = 1000


@dataclass
class Grouped:
    """What the pass gave: the groups' statistics by key, and the columns they share."""

    by: list[str]
    features: list[str]
    target: str
    weights: str | None
    stats: dict[tuple[str, ...], DesignStats] = field(default_factory=dict)
    report: ReadReport = field(default_factory=ReadReport)
    source: str = "the data"

    def ordered(self) -> list[tuple[str, ...]]:
        """The groups in order: each column's values as numbers when all are numbers, else
        as text."""
        numeric = []
        for j in range(len(self.by)):
            try:
                for k in self.stats:
                    float(k[j])
                numeric.append(True)
            except ValueError:
                numeric.append(False)
        return sorted(
            self.stats,
            key=lambda k: tuple(float(v) if num else v for v, num in zip(k, numeric)),
        )

    def values(self, key: tuple[str, ...]) -> dict[str, Any]:
        """The group's values (numbers as numbers, for JSON)."""
        out: dict[str, Any] = {}
        for name, v in zip(self.by, key):
            try:
                f = float(v)
                out[name] = int(f) if f.is_integer() and "." not in v and "e" not in v else f
            except ValueError:
                out[name] = v
        return out


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
    out: Grouped | None = None
    for path in paths:
        reader = CsvReader(path, csv_options)
        try:
            sel = reader.select(x, y, [*(exclude or ()), *by], weights)
            by_idx = [reader.resolve(c) for c in by]
            by_names = [reader.columns[i] for i in by_idx]
            for i, name in zip(by_idx, by_names):
                if i == sel.y_idx or i in sel.x_idx or i == sel.w_idx:
                    raise DataError(
                        f"{reader.name}: column {quote(name)} groups the rows (--by); it cannot "
                        "also be the target, a feature or the weights"
                    )
            check_width(len(sel.x_idx), reader.name)
            features = list(sel.x_names)
            if out is None:
                out = Grouped(by_names, features, sel.y_name, sel.w_name, source=reader.name)
                check_names(features, sel.y_name, reader.name)
            elif (out.by, out.features, out.target) != (by_names, features, sel.y_name):
                raise DataError(
                    f"{reader.name} has other columns than {out.source}; files read together "
                    "must match"
                )
            _read_file(reader, sel, by_names, out, max_groups)
        finally:
            reader.close()
    assert out is not None
    if len(paths) > 1:
        out.source += f" and {len(paths) - 1} more file{'s' if len(paths) > 2 else ''}"
    if not out.stats:
        raise DataError(f"{out.source}: no rows to fit (every row has a missing value)")
    return out


def _read_file(reader: CsvReader, sel, by_names: list[str], out: Grouped, limit: int) -> None:
    options = reader.options
    names = [*sel.x_names, sel.y_name] + ([sel.w_name] if sel.w_name else [])
    p = len(sel.x_names)
    for _, frame in reader.frames_text():
        lines = frame.index.to_numpy(dtype=np.int64)
        V = np.empty((len(names), len(lines)))
        for j, name in enumerate(names):
            V[j] = parse_text_column(frame[name], name, reader.name, lines, options, None)
        keys = [np.char.strip(frame[c].to_numpy(dtype=object).astype(str)) for c in by_names]
        missing = np.isnan(V).any(axis=0)
        for k in keys:
            missing |= np.isin(k, list(NA_TOKENS))
        out.report.rows_read += len(lines)
        if missing.any():
            bad = int(np.flatnonzero(missing)[0])
            if options.na == "raise":
                raise DataError(
                    f"{reader.name}: missing value at line {int(lines[bad])}; fix the file or "
                    "pass --na drop to skip such rows"
                )
            out.report.rows_dropped += int(missing.sum())
            if out.report.first_dropped_line is None:
                out.report.first_dropped_line = int(lines[bad])
            V, lines = V[:, ~missing], lines[~missing]
            keys = [k[~missing] for k in keys]
        if V.shape[1] == 0:
            continue
        w = V[p + 1] if sel.w_name else None
        if w is not None and (w < 0).any():
            r = int(np.flatnonzero(w < 0)[0])
            raise DataError(negative_weight(reader.name, sel.w_name, int(lines[r]), float(w[r])))
        joined = keys[0] if len(keys) == 1 else np.array(["\x1f".join(t) for t in zip(*keys)])
        uniq, inverse = np.unique(joined, return_inverse=True)
        for g, label in enumerate(uniq):
            key = tuple(str(label).split("\x1f")) if len(keys) > 1 else (str(label),)
            st = out.stats.get(key)
            if st is None:
                if len(out.stats) >= limit:
                    raise DataError(
                        f"{reader.name}: more than {limit:,} groups of {', '.join(out.by)} "
                        f"(line {int(lines[np.flatnonzero(inverse == g)[0]])} starts another); "
                        "raise --max-groups, or group by fewer or coarser columns"
                    )
                st = out.stats[key] = DesignStats(p)
            idx = np.flatnonzero(inverse == g)
            st.update_columns(V[: p + 1, idx], w=None if w is None else w[idx])


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
    grouped: Grouped, intercept: bool, method: str, options, stats, level: float
) -> list[GroupFit]:
    """Fit every group (in order); a failure is recorded in its row."""
    from .fitting import fit_problem
    from .solvers import Problem

    out = []
    for key in grouped.ordered():
        st = grouped.stats[key]
        values = grouped.values(key)
        label = ", ".join(f"{k}={v}" for k, v in values.items())
        problem = Problem(
            st, list(grouped.features), grouped.target, intercept, source=f"group {label}"
        )
        problem.weights = grouped.weights
        problem.where_rows = "the groups' rows are not kept in memory"
        gf = GroupFit(key, values, st.n)
        try:
            outcome = fit_problem(problem, method, options, stats=stats, level=level)
            gf.model, gf.notes = outcome.model, outcome.notes
            gf.model.data = {"source": grouped.source, "group": values}
        except LinfitError as exc:
            gf.error = str(exc)
        out.append(gf)
    return out


def _names(grouped: Grouped, intercept: bool) -> list[str]:
    """CSV names of the coefficients (as compare's CSV): b, then w_<feature>."""
    return (["b"] if intercept else []) + [f"w_{f}" for f in grouped.features]


def _coefs(model: LinearModel) -> list[float]:
    return ([float(model.b)] if model.intercept else []) + [float(v) for v in model.w]


def groups_grid(grouped: Grouped, fits: list[GroupFit], intercept: bool) -> Grid:
    """The table: one row per group (its values, n, each coefficient, R²)."""
    heads = (["b"] if intercept else []) + [f"w[{f}]" for f in grouped.features]
    cols = [Column(b, "left") for b in grouped.by] + [Column("n")]
    cols += [Column(h, max_digits=10) for h in heads] + [Column("R²")]
    rows, notes = [], []
    for gf in fits:
        cells: list[Any] = [str(v) for v in gf.values.values()] + [gf.n]
        if gf.model is None:
            cells += ["failed"] + [MISSING] * len(heads)
            notes.append(f"{', '.join(cells[: len(grouped.by)])}: {gf.error}")
        else:
            cells += _coefs(gf.model) + [float(gf.model.metrics.get("r2", math.nan))]
        rows.append(cells)
    weighted = f", weighted by {grouped.weights}" if grouped.weights else ""
    title = (
        f"linfit · {grouped.target} ~ {' + '.join(grouped.features)} by {', '.join(grouped.by)}"
        f"{weighted}  [{grouped.source}, {len(fits)} groups]"
    )
    return Grid(title, cols, rows, keys=len(grouped.by), notes=notes)


def groups_csv(grouped: Grouped, fits: list[GroupFit], intercept: bool) -> str:
    """One header, one row per group: group columns first, then n, coefficients, R², error."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    names = _names(grouped, intercept)
    writer.writerow([*grouped.by, "n", *names, "r2", "error"])
    for gf in fits:
        row: list[Any] = [*gf.key, gf.n]
        if gf.model is None:
            row += [""] * (len(names) + 1) + [gf.error]
        else:
            row += [repr(v) for v in _coefs(gf.model)]
            row += [repr(float(gf.model.metrics.get("r2", math.nan))), ""]
        writer.writerow(row)
    return buf.getvalue()


def groups_doc(grouped: Grouped, fits: list[GroupFit]) -> dict[str, Any]:
    """The JSON: each group a full model document with its ``group`` values (or its error)."""
    groups = []
    for gf in fits:
        if gf.model is None:
            groups.append({"group": gf.values, "n_samples": gf.n, "error": gf.error})
        else:
            doc = gf.model.to_doc()
            doc["group"] = gf.values
            groups.append(doc)
    return {"by": list(grouped.by), "source": grouped.source, "groups": groups}


def check_by_options(by: list[str], save, plot, cov: str, method_needs_rows: bool) -> None:
    """What --by cannot go with (yet): clear usage errors."""
    if save:
        raise UsageError("--by fits one model per group; --save writes one model: drop one of them")
    if plot:
        raise UsageError("--by cannot draw plots yet; drop --plot/--plot-file")
    if cov != "nonrobust":
        raise UsageError("--by works with --cov nonrobust only for now")
    if method_needs_rows:
        raise UsageError(
            "--by reads only the groups' statistics; use --method lstsq or gd without --batch-size"
        )
