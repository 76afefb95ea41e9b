"""Predictions for a CSV, block by block: every input row, in order, plus a prediction column.

Rows pass through as text (every column as it was), so nothing is lost or reformatted; only
the model's feature columns are parsed. A row with a missing feature keeps its place with an
empty prediction. Memory stays bounded by the block size whatever the file's length.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import TextIO

import numpy as np

from .accumulate import DesignStats
from .errors import DataError, ModelFileError, UsageError
from .io import CsvOptions, CsvReader, parse_text_column
from .metrics import fit_metrics
from .model import LinearModel


@dataclass
class PredictReport:
    rows: int = 0
    missing: int = 0
    first_missing_line: int | None = None
    score: dict | None = None


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
    ok = ~np.isnan(X).any(axis=1)
    pred = np.full(len(frame), np.nan)
    if ok.any():
        pred[ok] = model.predict(X[ok])
    return X, ok, pred


def _locate(reader: CsvReader, name: str, what: str) -> int | None:
    hits = [i for i, c in enumerate(reader.columns) if c == name]
    if len(hits) > 1:
        raise DataError(f"{reader.name}: column {name!r} ({what}) appears more than once")
    return hits[0] if hits else None


def predict_csv(
    model: LinearModel,
    path: str,
    out: TextIO,
    options: CsvOptions | None = None,
    column: str | None = None,
    fmt: str = "csv",
    interval: str | None = None,
    level: float = 0.95,
    score: bool = False,
    chunk_rows: int = 1 << 16,
) -> PredictReport:
    """Write ``path``'s rows with predictions to ``out`` (CSV or JSON Lines)."""
    options = options or CsvOptions()
    if interval and model.inference is None:
        raise ModelFileError(
            "this model has no inference block, which intervals need; refit it with "
            "linfit fit ... --stats --save MODEL"
        )
    reader = CsvReader(path, options)
    report = PredictReport()
    try:
        idx = []
        for f in model.features:
            i = _locate(reader, f, "a model feature")
            if i is None:
                raise DataError(
                    f"{reader.name}: the model's feature column {f!r} is not in the data; "
                    f"columns are: {reader._columns_list()}"
                )
            idx.append(i)
        t_idx = _locate(reader, model.target, "the target")
        if score and t_idx is None:
            raise DataError(
                f"{reader.name}: --score needs the target column {model.target!r}, which is "
                "not in the data"
            )
        pred_col = column or f"{model.target}_pred"
        extra = [pred_col]
        if interval:
            extra += [f"{pred_col}_lower", f"{pred_col}_upper"]
        clash = [c for c in extra if c in reader.columns]
        if clash:
            raise UsageError(
                f"{reader.name} already has a column {clash[0]!r}; name the prediction "
                "column with --column"
            )
        stats = DesignStats(len(idx)) if score else None
        first = True
        for offset, frame in reader.frames_text(chunk_rows):
            first_line = offset + 2
            X, ok, pred = predict_frame(model, frame, idx, reader.name, first_line, options)
            cols = {pred_col: pred}
            if interval:
                lo = np.full(len(frame), np.nan)
                hi = np.full(len(frame), np.nan)
                if ok.any():
                    from .inference import intervals

                    lo[ok], hi[ok] = intervals(model.inference, X[ok], pred[ok], interval, level)
                cols[f"{pred_col}_lower"], cols[f"{pred_col}_upper"] = lo, hi
            n_missing = int((~ok).sum())
            if n_missing:
                report.missing += n_missing
                if report.first_missing_line is None:
                    report.first_missing_line = first_line + int(np.flatnonzero(~ok)[0])
            if stats is not None:
                yv = parse_text_column(
                    frame.iloc[:, t_idx], model.target, reader.name, first_line, options
                )
                use = ok & ~np.isnan(yv)
                stats.update(X[use], yv[use])
            report.rows += len(frame)
            _write(out, frame, cols, fmt, first, reader.columns, idx, t_idx)
            first = False
        if first:  # no data rows: still write the header
            import pandas as pd

            empty = pd.DataFrame(columns=reader.columns)
            _write(
                out, empty, {c: np.empty(0) for c in extra}, fmt, True, reader.columns, idx, t_idx
            )
    finally:
        reader.close()
    if stats is not None and stats.n:
        report.score = fit_metrics(stats, stats.residual_norm(model.b, model.w), model.intercept)
    return report


def _write(out, frame, cols, fmt, first, names, idx, t_idx) -> None:
    if fmt == "csv":
        frame = frame.copy()
        for k, v in cols.items():
            frame[k] = v
        frame.to_csv(out, header=first, index=False, na_rep="", lineterminator="\n")
        return
    numeric = set(idx) | ({t_idx} if t_idx is not None else set())
    lines = []
    values = frame.to_numpy(dtype=object)
    extra = {k: v.tolist() for k, v in cols.items()}
    for r in range(len(frame)):
        rec = {}
        for j, name in enumerate(names):
            cell = values[r, j]
            if j in numeric:
                try:
                    x = float(cell)
                    cell = x if math.isfinite(x) else None
                except (TypeError, ValueError):
                    cell = None
            rec[name] = cell
        for k, v in extra.items():
            rec[k] = v[r] if math.isfinite(v[r]) else None
        lines.append(json.dumps(rec, allow_nan=False))
    if lines:
        out.write("\n".join(lines) + "\n")
