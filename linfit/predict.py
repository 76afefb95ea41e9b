"""Predictions for a CSV, block by block: every input row, in order, plus a prediction column.

Rows pass through as text (every column as it was), so nothing is lost or reformatted; only
the model's feature columns are parsed. A row with a missing feature keeps its place with an
empty prediction. Memory stays bounded by the block size whatever the file's length.

Output: CSV with the input's delimiter and decimal mark, the predictions written in full
(``repr``: they read back to the same float64); or JSON Lines, where every input cell is a
string (its text as read) and every prediction column a number, or null where none was made.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import TextIO

import numpy as np

from .accumulate import DesignStats
from .errors import DataError, ModelFileError, UsageError, quote
from .io import CsvOptions, CsvReader, parse_text_column, text_cells
from .metrics import fit_metrics
from .model import LinearModel
from .predict_fast import frame_predictions


@dataclass
class PredictReport:
    rows: int = 0
    missing: int = 0
    first_missing_line: int | None = None
    unseen: int = 0  # rows with a categorical level the model was not fitted with
    overflow: int = 0  # rows whose prediction is beyond float64's range (left empty)
    first_unseen_line: int | None = None
    score: dict | None = None
    no_target: bool = False  # --diagnostics without the target column: residuals empty
    no_weights: bool = False  # --diagnostics of a weighted model, no weights column: w = 1


def _parser(source: str, options: CsvOptions):
    def parse(cells: np.ndarray, name: str, lines: np.ndarray) -> np.ndarray:
        return parse_text_column(cells, name, source, lines, options, None)

    return parse


def predict_design(model: LinearModel, frame, source: str, options: CsvOptions):
    """The model's formula re-applied to a text frame: (X, ok, predictions, unseen)."""
    design = model.design
    lines = frame.index.to_numpy(dtype=np.int64)
    X, missing, unseen = design.matrix(
        text_cells(frame, design.term_columns()), lines, _parser(source, options)
    )
    ok = ~missing & ~unseen
    pred = np.full(len(frame), np.nan)
    if ok.any():
        pred[ok] = model.predict(X[ok])
    return X, ok, pred, unseen


def predict_frame(
    model: LinearModel, frame, idx: list[int], source: str, first_line: int, options: CsvOptions
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Parse the feature columns (positions ``idx``) of a text frame and predict.

    Returns the features, which rows have all of them, and the predictions (NaN elsewhere).
    """
    names = list(frame.columns)
    if len(frame):
        X = np.column_stack(
            [
                parse_text_column(frame.iloc[:, i], names[i], source, first_line, options)
                for i in idx
            ]
        )
    else:
        X = np.empty((0, len(idx)))
    ok, pred = frame_predictions(model, X)
    return X, ok, pred


def _locate(reader: CsvReader, name: str, what: str) -> int | None:
    hits = [i for i, c in enumerate(reader.columns) if c == name]
    if len(hits) > 1:
        raise DataError(f"{reader.name}: column {name!r} ({what}) appears more than once")
    return hits[0] if hits else None


def weights_column(reader: CsvReader, spec: str | None) -> int | None:
    """Where a weighted model's weights column (as the fit named it: a name, or a 0-based
    index) is in ``reader``'s data; None when the data has no such column."""
    if spec is None:
        return None
    i = _locate(reader, spec, "the model's weights")
    if i is None and spec.strip().isdigit() and int(spec) < len(reader.columns):
        i = int(spec)
    return i


def row_weights(cells, source: str, first_line: int, options: CsvOptions) -> np.ndarray:
    """The rows' weights (NaN where missing); a negative weight is an error naming its line,
    as in the fit."""
    from .io import negative_weight

    name = str(cells.name)
    w = parse_text_column(cells, name, source, first_line, options)
    bad = np.flatnonzero(w < 0)
    if len(bad):
        line = int(cells.index[bad[0]]) if cells.index.name == "line" else first_line + bad[0]
        raise DataError(negative_weight(source, name, line, float(w[bad[0]])))
    return w


def predict_csv(
    model: LinearModel,
    path: str,
    out: TextIO | None,
    options: CsvOptions | None = None,
    column: str | None = None,
    fmt: str = "csv",
    interval: str | None = None,
    level: float = 0.95,
    score: bool = False,
    chunk_rows: int = 1 << 16,
    diagnostics: bool = False,
    line_column: str | None = None,
    header: bool = True,
    summary=None,
) -> PredictReport:
    """Write ``path``'s rows with predictions to ``out`` (CSV or JSON Lines); with
    ``diagnostics``, also each row's residual, leverage, studentised residuals and Cook's
    distance (linfit.diagnostics; empty where the row has no target value; a weighted model
    reads its weights column when the data has it, else gives every row weight 1, as R's
    predict.lm gives new rows). ``line_column``:
    a first column with each row's line number; ``header``: write the header line (off for a
    second file of the same table); ``summary``: a diagnostics.CheckSummary fed every row
    with a residual (fit --diagnostics); ``out`` None: write nothing (only the summary)."""
    options = options or CsvOptions()
    if diagnostics:
        from .diagnostics import require_inference

        require_inference(model)
    if interval and model.inference is None:
        name = model.source or "this model"
        raise ModelFileError(
            f"{name} has no 'inference' block, which --interval needs (lstsq writes one "
            f"unless --no-stats; other methods only with --stats); refit it with linfit fit "
            f"DATA --stats --save {model.source or 'MODEL'}"
        )
    reader = CsvReader(path, options)
    report = PredictReport()
    design = model.design
    try:
        idx = []
        for f in [] if design is not None else model.features:
            i = _locate(reader, f, "a model feature")
            if i is None:
                raise DataError(
                    f"{reader.name}: the model's feature column {f!r} is not in the data; "
                    f"columns are: {reader.columns_list()}"
                )
            idx.append(i)
        if design is not None:
            for c in design.term_columns():
                if _locate(reader, c, "a column of the model's formula") is None:
                    raise DataError(
                        f"{reader.name}: the model's formula uses column {quote(c)}, which is "
                        f"not in the data; columns are: {reader.columns_list()}"
                    )
        t_idx = _locate(reader, model.target, "the target")
        if design is not None:
            t_cols = design.formula.target.columns()
            t_idx = 0 if all(_locate(reader, c, "the target") is not None for c in t_cols) else None
        if score and t_idx is None:
            raise DataError(
                f"{reader.name}: --score needs the target column {model.target!r}, which is "
                "not in the data"
            )
        pred_col = column or f"{model.target}_pred"
        extra = [pred_col]
        if interval:
            extra += [f"{pred_col}_lower", f"{pred_col}_upper"]
        if diagnostics:
            from .diagnostics import SUFFIXES, column_names, row_diagnostics

            diag_cols = column_names(model.target)
            extra += diag_cols
            report.no_target = t_idx is None
            w_idx = weights_column(reader, model.weights)
            report.no_weights = model.weights is not None and w_idx is None
        clash = [c for c in extra + ([line_column] if line_column else []) if c in reader.columns]
        if clash:
            raise UsageError(
                f"{reader.name} already has a column {clash[0]!r}; name the prediction "
                "column with --column"
                + (" (diagnostics columns are named after the target)" if diagnostics else "")
            )

        skip = 0  # frames the fast path wrote (linfit.predict_fast)
        plain = not (interval or score or diagnostics or line_column or summary is not None)
        from .predict_fast import predict_rows, wanted

        if wanted(model, reader, fmt, out, plain):
            finished, skip = predict_rows(
                model, reader, idx, out, pred_col, header, chunk_rows, report
            )
            if finished:
                return report

        def target(frame, first_line: int) -> np.ndarray:
            if t_idx is None:
                return np.full(len(frame), np.nan)
            if design is not None:
                return design.target_values(
                    text_cells(frame, design.formula.target.columns()),
                    frame.index.to_numpy(),
                    _parser(reader.name, options),
                )
            return parse_text_column(
                frame.iloc[:, t_idx], model.target, reader.name, first_line, options
            )

        stats = DesignStats(len(model.features)) if score else None
        first = not skip
        for offset, frame in reader.frames_text(chunk_rows):
            if skip:  # written by the fast path
                skip -= 1
                continue
            first_line = offset + 2
            unseen = np.zeros(len(frame), dtype=bool)
            if design is not None:
                X, ok, pred, unseen = predict_design(model, frame, reader.name, options)
                if unseen.any():
                    report.unseen += int(unseen.sum())
                    if report.first_unseen_line is None:
                        report.first_unseen_line = int(frame.index[np.flatnonzero(unseen)[0]])
            else:
                X, ok, pred = predict_frame(model, frame, idx, reader.name, first_line, options)
            cols = {pred_col: pred}
            if interval:
                lo = np.full(len(frame), np.nan)
                hi = np.full(len(frame), np.nan)
                if ok.any():
                    from .inference import intervals

                    lo[ok], hi[ok] = intervals(model.inference, X[ok], pred[ok], interval, level)
                cols[f"{pred_col}_lower"], cols[f"{pred_col}_upper"] = lo, hi
            over = ok & ~np.isfinite(pred)  # beyond float64's range (features near 1e308)
            if over.any():
                report.overflow += int(over.sum())
                pred[over] = np.nan
            yv = target(frame, first_line) if (stats is not None or diagnostics) else None
            if diagnostics:
                wv = None
                if model.weights is not None:  # a weighted model: the rows' weights, or 1
                    wv = np.ones(len(frame))
                    if w_idx is not None:
                        wv = row_weights(frame.iloc[:, w_idx], reader.name, first_line, options)
                use = ok if wv is None else ok & ~np.isnan(wv)  # a missing weight: no figures
                got = {sfx: np.full(len(frame), np.nan) for sfx in SUFFIXES}
                if use.any():
                    wu = None if wv is None else wv[use]
                    diag = row_diagnostics(model.inference, X[use], yv[use], pred[use], wu)
                    for sfx, v in diag.items():
                        got[sfx][use] = v
                for name, sfx in zip(diag_cols, SUFFIXES):
                    cols[name] = got[sfx]
                if summary is not None:
                    have = use & ~np.isnan(yv)
                    lines = frame.index.to_numpy(dtype=np.int64)[have]
                    summary.update(
                        lines,
                        X[have],
                        pred[have],
                        {k: v[have] for k, v in got.items()},
                        None if wv is None else wv[have],
                    )
            miss = ~ok & ~unseen
            if miss.any():
                report.missing += int(miss.sum())
                if report.first_missing_line is None:
                    report.first_missing_line = int(frame.index[np.flatnonzero(miss)[0]])
            if stats is not None:
                use = ok & ~np.isnan(yv)
                stats.update(X[use], yv[use])
            report.rows += len(frame)
            if out is None:  # a pass for the summary only
                continue
            if line_column is not None:
                frame = frame.copy()
                frame.insert(0, line_column, frame.index.astype(str))
            write_block(out, frame, cols, fmt, first and header, reader.sep, options.decimal)
            first = False
        if first and header and out is not None:  # no data rows: still write the header
            import pandas as pd

            empty = pd.DataFrame(columns=([line_column] if line_column else []) + reader.columns)
            no_rows = {c: np.empty(0) for c in extra}
            write_block(out, empty, no_rows, fmt, True, reader.sep, options.decimal)
    finally:
        reader.close()
    if stats is not None and stats.n:
        report.score = fit_metrics(stats, stats.residual_norm(model.b, model.w), model.intercept)
    return report


def write_block(out, frame, cols, fmt: str, first: bool, sep: str, decimal: str) -> None:
    """One block of text cells, then the prediction columns (``cols``: name → floats), as
    CSV (``first``: with the header) or JSON Lines (also used by the Dask engine)."""
    if fmt == "csv":
        frame = frame.copy()
        for k, v in cols.items():
            frame[k] = numbers_text(v, decimal)
        frame.to_csv(out, header=first, index=False, sep=sep, na_rep="", lineterminator="\n")
        return
    names = list(frame.columns)
    values = frame.to_numpy(dtype=object).tolist()
    extra = [(k, v.tolist()) for k, v in cols.items()]
    lines = []
    for r, row in enumerate(values):
        rec = {name: (cell if isinstance(cell, str) else None) for name, cell in zip(names, row)}
        for k, v in extra:
            rec[k] = v[r] if math.isfinite(v[r]) else None
        lines.append(json.dumps(rec, allow_nan=False))
    if lines:
        out.write("\n".join(lines) + "\n")


def numbers_text(v: np.ndarray, decimal: str) -> list[str]:
    """Predictions in full (``repr`` reads back to the same float64), in the input's decimal
    mark; empty where none was made. ``repr`` is mapped in C: this is most of a wide output's
    cost."""
    texts = list(map(repr, np.asarray(v, dtype=np.float64).tolist()))
    for i in np.flatnonzero(~np.isfinite(v)).tolist():
        texts[i] = ""
    return texts if decimal == "." else [t.replace(".", decimal) for t in texts]
