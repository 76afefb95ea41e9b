"""Regression diagnostics per row: residual, leverage, studentised residuals, Cook's distance.

Everything comes from the model's ``inference`` block (the R factor of the scaled design, its
shift and scale, σ and the residual degrees of freedom), so rows can be streamed: the leverage
hᵢ = xᵢᵀ(XᵀX)⁻¹xᵢ is ‖R⁻ᵀaᵢ‖² for the scaled row aᵢ, never an inverse of XᵀX. On the rows the
model was fitted on, the columns equal R's ``residuals``, ``hatvalues``, ``rstandard``,
``rstudent`` and ``cooks.distance`` of the same ``lm``; on other rows they measure each row
against the fitted model's σ and design (as if it had been one of the fitted rows).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .errors import ModelFileError

#: Column suffixes, in output order: ``<target>_resid``, ``<target>_hat``, …
SUFFIXES = ("resid", "hat", "rstandard", "rstudent", "cooks")


def column_names(target: str) -> list[str]:
    """The diagnostics columns added for a model of ``target``."""
    return [f"{target}_{s}" for s in SUFFIXES]


def require_inference(model: Any, option: str = "--diagnostics") -> dict[str, Any]:
    """The model's inference block, or a ModelFileError saying how to get one."""
    if model.inference is None:
        name = model.source or "this model"
        raise ModelFileError(
            f"{name} has no 'inference' block, which {option} needs (lstsq writes one unless "
            f"--no-stats; other methods only with --stats); refit it with linfit fit DATA "
            f"--stats --save {model.source or 'MODEL'}"
        )
    return model.inference


def leverage(inference: dict[str, Any], X: np.ndarray) -> np.ndarray:
    """hᵢ of every row of the feature matrix ``X`` (rows × features)."""
    R = np.asarray(inference["r"], dtype=np.float64)
    shift = np.asarray(inference["frame_shift"], dtype=np.float64)
    d = np.asarray(inference["frame_scale"], dtype=np.float64)
    A = (np.asarray(X, dtype=np.float64) - shift) * d
    if inference["intercept"]:
        A = np.column_stack([np.ones(len(A)), A])
    if not len(A):
        return np.empty(0)
    Z = np.linalg.solve(R.T, A.T)  # R⁻ᵀ aᵢ for every row
    return np.einsum("ij,ij->j", Z, Z)


def row_diagnostics(
    inference: dict[str, Any], X: np.ndarray, y: np.ndarray, fitted: np.ndarray
) -> dict[str, np.ndarray]:
    """The five columns (by suffix) for rows with features ``X``, targets ``y`` (NaN where
    missing) and predictions ``fitted``. NaN where a figure does not exist (no target, h = 1,
    no residual degrees of freedom)."""
    k = len(inference["r"])
    df = int(inference["df_resid"])
    sigma = math.nan if inference["sigma"] is None else float(inference["sigma"])
    sse = sigma * sigma * df
    h = leverage(inference, X)
    e = np.asarray(y, dtype=np.float64) - np.asarray(fitted, dtype=np.float64)
    with np.errstate(all="ignore"):
        one_h = 1.0 - h
        std = e / (sigma * np.sqrt(one_h))
        s_i2 = (sse - e * e / one_h) / (df - 1) if df > 1 else np.full(len(e), np.nan)
        stud = e / (np.sqrt(s_i2) * np.sqrt(one_h))
        cooks = std * std * h / (one_h * k)
    bad = ~(one_h > 0)
    for a in (std, stud, cooks):
        a[bad | ~np.isfinite(a)] = np.nan
    return {"resid": e, "hat": h, "rstandard": std, "rstudent": stud, "cooks": cooks}
