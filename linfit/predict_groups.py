"""Predictions of a grouped model (``fit --by … --save``): each row by its group's model.

Every input row is written, in order, with its columns as read, as ``predict`` does for one
model. A row's group is read from the group columns and matched as the fit matched it (a
number as its number, text as its text: linfit.group_keys). A row whose group the model
does not hold, whose group's fit failed, or whose group value is missing gets an empty
prediction; each kind is counted for the note on stderr. ``--interval`` uses the group's
own inference block.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TextIO

import numpy as np

from .errors import DataError, ModelFileError, UsageError, quote
from .group_keys import cells, split_rows
from .grouped_model import GroupedModel
from .io import NA_TOKENS, CsvOptions, CsvReader
from .predict import PredictReport, predict_design, predict_frame, write_block


@dataclass
class GroupedPredictReport(PredictReport):
    no_group: int = 0  # rows with a missing group value
    first_no_group_line: int | None = None
    unseen_group: int = 0  # rows of a group the model does not hold
    first_unseen_group_line: int | None = None
    failed_group: int = 0  # rows of a group whose fit failed
    first_failed_line: int | None = None


def _column(reader: CsvReader, name: str, what: str) -> int:
    hits = reader.positions(name)
    if len(hits) > 1:
        raise DataError(f"{reader.name}: column {quote(name)} ({what}) appears more than once")
    if not hits:
        raise DataError(
            f"{reader.name}: the model's {what} {quote(name)} is not in the data; columns are: "
            f"{reader.columns_list()}"
        )
    return hits[0]


def _count(report: GroupedPredictReport, kind: str, lines: np.ndarray) -> None:
    """Add rows (their file lines) to one of the report's counts."""
    if not len(lines):
        return
    setattr(report, kind, getattr(report, kind) + len(lines))
    first = {
        "no_group": "first_no_group_line",
        "unseen_group": "first_unseen_group_line",
        "failed_group": "first_failed_line",
        "missing": "first_missing_line",
        "unseen": "first_unseen_line",
    }[kind]
    line = int(lines.min())
    if getattr(report, first) is None or line < getattr(report, first):
        setattr(report, first, line)


def predict_grouped_csv(
    gm: GroupedModel,
    path: str,
    out: TextIO,
    options: CsvOptions | None = None,
    column: str | None = None,
    fmt: str = "csv",
    interval: str | None = None,
    level: float = 0.95,
    chunk_rows: int = 1 << 16,
) -> GroupedPredictReport:
    """Write ``path``'s rows, each with its group's prediction (and interval), to ``out``."""
    options = options or CsvOptions()
    models = [e.model for e in gm.entries if e.model is not None]
    if interval:
        for e in gm.entries:
            if e.model is not None and e.model.inference is None:
                raise ModelFileError(
                    f"{gm.source or 'the model'}: group {quote(e.label())} has no 'inference' "
                    "block, which --interval needs; refit with linfit fit DATA --by "
                    f"{','.join(gm.by)} --stats --save MODEL"
                )
    reader = CsvReader(path, options)
    report = GroupedPredictReport()
    try:
        by_idx = [_column(reader, c, "group column") for c in gm.by]
        by_names = [reader.columns[i] for i in by_idx]
        positions: dict[tuple[str, ...], list[int]] = {}
        for m in models:
            if m.design is not None:
                for c in m.design.term_columns():
                    _column(reader, c, "formula's column")
            elif tuple(m.features) not in positions:
                positions[tuple(m.features)] = [
                    _column(reader, f, "feature column") for f in m.features
                ]
        pred_col = column or f"{gm.target}_pred"
        extra = [pred_col] + ([f"{pred_col}_lower", f"{pred_col}_upper"] if interval else [])
        clash = [c for c in extra if c in reader.columns]
        if clash:
            raise UsageError(
                f"{reader.name} already has a column {clash[0]!r}; name the prediction "
                "column with --column"
            )
        first = True
        for _, frame in reader.frames_text(chunk_rows):
            cols = {c: np.full(len(frame), np.nan) for c in extra}
            _predict_block(gm, frame, reader.name, options, by_names, positions, cols, interval,
                           level, report)  # fmt: skip
            report.rows += len(frame)
            write_block(out, frame, cols, fmt, first, reader.sep, options.decimal)
            first = False
        if first:  # no data rows: still write the header
            import pandas as pd

            empty = pd.DataFrame(columns=reader.columns)
            write_block(out, empty, {c: np.empty(0) for c in extra}, fmt, True, reader.sep,
                        options.decimal)  # fmt: skip
    finally:
        reader.close()
    return report


def _predict_block(gm, frame, source, options, by_names, positions, cols, interval, level, report):
    """Fill ``cols`` (prediction, bounds) for one text block, group by group."""
    lines = frame.index.to_numpy(dtype=np.int64)
    keys = cells(frame, by_names)
    missing = np.zeros(len(frame), dtype=bool)
    for k in keys:
        missing |= np.isin(k, list(NA_TOKENS))
    _count(report, "no_group", lines[missing])
    have = np.flatnonzero(~missing)
    if not len(have):
        return
    parsed: dict[tuple[str, ...], tuple[np.ndarray, np.ndarray]] = {}  # features → X, ok
    pred_col = next(iter(cols))
    for key, sub in split_rows([k[have] for k in keys], options):
        rows = have[sub]
        entry = gm.lookup.get(key)
        if entry is None:
            _count(report, "unseen_group", lines[rows])
            continue
        model = entry.model
        if model is None:
            _count(report, "failed_group", lines[rows])
            continue
        if model.design is not None:
            X, ok, pred, unseen = predict_design(model, frame.iloc[rows], source, options)
            _count(report, "unseen", lines[rows][unseen])
        else:
            feats = tuple(model.features)
            if feats not in parsed:  # the block's features, parsed once for every group
                X_all, ok_all, _ = predict_frame(model, frame, positions[feats], source, 0,
                                                 options)  # fmt: skip
                parsed[feats] = (X_all, ok_all)
            X_all, ok_all = parsed[feats]
            X, ok = X_all[rows], ok_all[rows]
            pred = np.full(len(rows), np.nan)
            if ok.any():
                pred[ok] = model.predict(X[ok])
            unseen = np.zeros(len(rows), dtype=bool)
        if interval and ok.any():
            from .inference import intervals

            lo, hi = intervals(model.inference, X[ok], pred[ok], interval, level)
            cols[f"{pred_col}_lower"][rows[ok]] = lo
            cols[f"{pred_col}_upper"][rows[ok]] = hi
        over = ok & ~np.isfinite(pred)
        if over.any():
            report.overflow += int(over.sum())
            pred[over] = np.nan
        _count(report, "missing", lines[rows][~ok & ~unseen])
        cols[pred_col][rows] = pred
