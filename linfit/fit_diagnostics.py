"""fit --diagnostics: a second streamed pass over the fitted input, after the fit.

Every input row is written (in order, with its line number) with the fitted value and the
per-row diagnostics of linfit.diagnostics, and the fitted rows feed a CheckSummary (outliers,
influential rows, Durbin–Watson, Jarque–Bera, Breusch–Pagan, the plots' sample). The input is
read twice, so it must be a file, not standard input.
"""

from __future__ import annotations

from typing import TextIO

from .diagnostics import CheckSummary, require_inference
from .errors import DataError, quote
from .io import CsvOptions, CsvReader, display_name
from .model import LinearModel
from .predict import predict_csv

#: The line-number column of the diagnostics file (``input_line`` when the data has a
#: column named ``line``).
LINE_COLUMN = "line"


def diagnostics_pass(
    model: LinearModel,
    inputs: list[str],
    out: TextIO | None,
    options: CsvOptions,
    sample: int = 0,
) -> CheckSummary:
    """Stream ``inputs`` again through the fitted ``model``; write the per-row table to
    ``out`` (None: only the summary) and return the summary of the fitted rows."""
    inference = require_inference(model)
    summary = CheckSummary(inference, sample=sample)
    columns = None
    for i, path in enumerate(inputs):
        reader = CsvReader(path, options)
        try:
            here = list(reader.columns)
        finally:
            reader.close()
        if columns is None:
            columns = here
        elif here != columns:
            raise DataError(
                f"{display_name(path)}: its columns differ from {display_name(inputs[0])}'s, "
                "so the rows cannot share one diagnostics table; give files with the same "
                f"header (first columns: {quote(', '.join(here[:5]))})"
            )
        line = LINE_COLUMN if LINE_COLUMN not in here else "input_line"
        summary.file = i
        predict_csv(
            model,
            path,
            out,
            options,
            diagnostics=True,
            line_column=line,
            header=i == 0,
            summary=summary,
        )
    if summary.rows_read != model.n_samples:
        raise DataError(
            f"the second pass over {', '.join(map(display_name, inputs))} found "
            f"{summary.rows_read} "
            f"rows with a residual, but the model was fitted on {model.n_samples}: did the "
            "file change during the fit? Run the fit again"
        )
    return summary
