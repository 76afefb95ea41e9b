"""Heteroskedasticity-consistent covariances (``--cov HC0|HC1|HC2|HC3``), from a second pass.

The sandwich (X̃ᵀX̃)⁻¹ X̃ᵀ Ω X̃ (X̃ᵀX̃)⁻¹ of White and MacKinnon–White, with statsmodels' names
and R's ``sandwich::vcovHC(type=)`` meanings: X̃ and ẽ are the rows and residuals times √w
(weighted fits), Ω = diag(ωᵢ) with ωᵢ = ẽᵢ² (HC0), ẽᵢ²·n/(n − k) (HC1), ẽᵢ²/(1 − hᵢ)
(HC2) and ẽᵢ²/(1 − hᵢ)² (HC3), hᵢ the leverage. With R the streamed factor of X̃ in the
solve frame, zᵢ = R⁻ᵀx̃ᵢ gives hᵢ = ‖zᵢ‖², and the pass accumulates C = Σ ωᵢ zᵢzᵢᵀ (k×k):
the covariance in the frame is R⁻¹ C R⁻ᵀ. The pass needs the solved model, so it reads the
rows a second time: from memory when they were kept, otherwise from the files again.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator

import numpy as np

from .errors import DataError, UsageError, quote

#: statsmodels' names (R's sandwich::vcovHC types); "nonrobust" is the classical σ²(XᵀX)⁻¹.
COV_TYPES = ("nonrobust", "HC0", "HC1", "HC2", "HC3")

Rows = Iterator[tuple[np.ndarray, np.ndarray, np.ndarray | None]]  # (X, y, w) blocks


def cov_name(value: str) -> str:
    """The canonical name of ``--cov`` (case-insensitive), or a usage error."""
    for name in COV_TYPES:
        if value.lower() == name.lower():
            return name
    raise UsageError(f"unknown --cov {quote(value)}; use one of {', '.join(COV_TYPES)}")


def meat(
    rows: Rows,
    R: np.ndarray,
    shift: np.ndarray,
    scale: np.ndarray,
    intercept: bool,
    predict: Callable[[np.ndarray], np.ndarray],
    cov_type: str,
    nobs: int,
    source: str,
) -> np.ndarray:
    """C = Σ ωᵢ zᵢzᵢᵀ over the rows (see the module's note); ``R`` the k×k factor of the
    scaled design [1, (X − s)·D] (or X·D without an intercept), ``predict`` the model.
    ``rows`` with a ``meat`` method (linfit.dask_engine's) computes C where the rows are."""
    from scipy.linalg import solve_triangular

    remote = getattr(rows, "meat", None)
    if remote is not None:  # rows that stay where they are (a Dask cluster): summed there
        return remote(R, shift, scale, intercept, predict, cov_type, nobs, source)
    k = R.shape[0]
    C = np.zeros((k, k))
    df = nobs - k
    if cov_type == "HC1" and df <= 0:
        raise DataError(f"{source}: HC1 needs more rows than coefficients (n − k = {df})")
    for X, y, w in rows:
        A = (X - shift) * scale
        if intercept:
            A = np.column_stack([np.ones(len(y)), A])
        e = y - predict(X)
        if w is not None:
            sw = np.sqrt(w)
            A = A * sw[:, None]
            e = e * sw
        Z = solve_triangular(R, A.T, trans="T", lower=False, check_finite=False)  # (k, m)
        omega = e * e
        if cov_type == "HC1":
            omega = omega * (nobs / df)
        elif cov_type in ("HC2", "HC3"):
            h = np.einsum("ij,ij->j", Z, Z)
            with np.errstate(divide="ignore", invalid="ignore"):
                one = 1.0 - h
                omega = np.where(omega == 0, 0.0, omega / (one if cov_type == "HC2" else one**2))
        C += (Z * omega) @ Z.T
    return C


def _no_stdin(path: str) -> None:
    if path == "-":
        raise UsageError(
            "--cov HC needs a second pass over the rows, and stdin's rows were too many to keep "
            "in memory; write the data to a file and fit that"
        )


def reread_rows(
    paths: list[str],
    x: list[str] | None,
    y: str | None,
    csv,
    exclude: list[str] | None,
    weights: str | None,
) -> Rows:
    """The rows of the first pass again, read from the files (as --x/--y chose them)."""
    from .io import CsvReader, ReadReport

    for path in paths:
        _no_stdin(path)
    for path in paths:
        reader = CsvReader(path, csv)
        try:
            sel = reader.select(x, y, exclude, weights)
            for block in reader.blocks(sel, ReadReport()):
                yield block.X, block.y, block.w
        finally:
            reader.close()


def design_block(frame, design, wname: str | None, parse) -> tuple:
    """One text block through the fitted formula: the rows the fit used (X, y, w)."""
    from .io import text_cells

    lines = frame.index.to_numpy(dtype=np.int64)
    X, missing, unseen = design.matrix(text_cells(frame, design.term_columns()), lines, parse)
    yv = design.target_values(text_cells(frame, design.formula.target.columns()), lines, parse)
    ok = ~missing & ~unseen & np.isfinite(yv)
    w = None
    if wname is not None:
        w = parse(text_cells(frame, [wname])[wname], wname, lines)
        ok &= ~np.isnan(w)
        w = w[ok]
    return X[ok], np.asarray(yv)[ok], w


def reread_design_rows(paths: list[str], design, csv, weights: str | None) -> Rows:
    """The rows of the first pass again, read from the files through the fitted formula."""
    from .io import CsvReader, parse_text_column

    for path in paths:
        _no_stdin(path)
    for path in paths:
        reader = CsvReader(path, csv)
        options = reader.options

        def parse(cells, name, lines, source=reader.name, options=options):
            return parse_text_column(cells, name, source, lines, options, None)

        try:
            wname = None if weights is None else reader.columns[reader.resolve(weights)]
            for _, frame in reader.frames_text():
                yield design_block(frame, design, wname, parse)
        finally:
            reader.close()


@contextlib.contextmanager
def spooled_stdin(paths: list[str]) -> Iterator[list[str]]:
    """``paths`` with ``-`` replaced by a temporary copy of stdin (the sandwich reads the
    rows twice, and stdin only once); the copy is removed afterwards, also on Ctrl-C."""
    if "-" not in paths:
        yield paths
        return
    folder = tempfile.mkdtemp(prefix="linfit-stdin-")
    try:
        spool = os.path.join(folder, "stdin.csv")
        with open(spool, "wb") as out:
            shutil.copyfileobj(sys.stdin.buffer, out, 1 << 20)
        yield [spool if p == "-" else p for p in paths]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
