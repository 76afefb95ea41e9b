"""Inference statistics of a fit: standard errors, t, p, confidence and prediction intervals.

All figures come from the triangular factor R of the scaled design: Cov(θ) = σ²(RᵀR)⁻¹ is
formed as R⁻¹R⁻ᵀ, never by inverting XᵀX. The t and F distributions are scipy's
(scipy.special's stdtr, stdtrit and fdtrc, imported here only, and only when asked for).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .accumulate import DesignStats
from .linalg import inv_upper
from .model import INTERCEPT


def design_factor(stats: DesignStats, intercept: bool) -> tuple[np.ndarray, np.ndarray]:
    """R of the scaled design the covariance uses, and the frame's feature shift."""
    p = stats.p
    if intercept:
        return stats.R[: p + 1, : p + 1], stats.shift[:p]
    return stats.noint()[:p, :p], np.zeros(p)


def row_norms(L: np.ndarray) -> np.ndarray:
    """‖Lᵢ‖ of each row without underflow or overflow of the squares (a feature near 1e±300
    has a row of about 1e∓300: its squares would vanish, and its standard error with them)."""
    with np.errstate(all="ignore"):
        m = np.max(np.abs(L), axis=1) if L.size else np.zeros(len(L))
        safe = np.where(m > 0, m, 1.0)
        return m * np.linalg.norm(L / safe[:, None], axis=1)


def _safe(f) -> float:
    with np.errstate(all="ignore"):
        try:
            return float(f())
        except (ZeroDivisionError, ValueError, OverflowError):
            return float("nan")


def compute(
    stats: DesignStats,
    features: list[str],
    intercept: bool,
    w: np.ndarray,
    b: float,
    rss: float,
    level: float,
    cond: float,
    meat: np.ndarray | None = None,
    cov_type: str = "nonrobust",
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ``stats`` block (coef, fit) and the ``inference`` block of the model document.

    ``meat``: C = Σ ωᵢzᵢzᵢᵀ of a heteroskedasticity-consistent ``cov_type`` (linfit.robust);
    the covariance is then the sandwich R⁻¹CR⁻ᵀ (in the frame) instead of σ²R⁻¹R⁻ᵀ, t and p
    stay on the residual df (as lmtest::coeftest), and F is the Wald test of the slopes."""
    from .special import t_and_f

    stdtr, stdtrit, fdtrc = t_and_f()
    n, p = stats.nobs, len(features)  # weighted: rows of nonzero weight, as R counts them
    k = p + int(intercept)
    df = n - k
    R, shift = design_factor(stats, intercept)
    d = stats.scale[:p]
    with np.errstate(all="ignore"):
        sigma = rss / math.sqrt(df) if df > 0 else float("nan")
        Rinv = inv_upper(R)
        sc = np.concatenate([[1.0], d]) if intercept else d
        L = sc[:, None] * Rinv  # Cov((c, w) or w) = σ² L Lᵀ
        if intercept:
            J = np.eye(k)
            J[0, 1:] = -shift
            L = J @ L  # of (b, w)
        est = np.concatenate([[b], w]) if intercept else np.asarray(w, dtype=float)
        se = sigma * row_norms(L)
        V = None
        if meat is not None:
            V = L @ meat @ L.T  # Cov(b, w) (or w): the sandwich
            se = np.sqrt(np.diag(V))
        t = est / se
        pval = 2.0 * stdtr(df, -np.abs(t)) if df > 0 else np.full(k, np.nan)
        tcrit = float(stdtrit(df, 1.0 - (1.0 - level) / 2.0)) if df > 0 else float("nan")
    names = ([INTERCEPT] if intercept else []) + list(features)
    coef = {
        name: {
            "estimate": float(est[i]),
            "se": float(se[i]),
            "t": float(t[i]),
            "p": float(pval[i]),
            "ci_low": float(est[i] - tcrit * se[i]),
            "ci_high": float(est[i] + tcrit * se[i]),
        }
        for i, name in enumerate(names)
    }
    tss = stats.total_norm(centred=intercept)
    q = rss / tss if tss > 0 else float("nan")
    r2 = 1.0 - q * q
    df_model = p
    # F = ((TSS − SSE)/df_model) / (SSE/df), as ratios of norms (no overflow)
    f = _safe(lambda: ((1.0 - q * q) / df_model) / (q * q / df)) if df > 0 else float("nan")
    if V is not None and df > 0 and df_model > 0:  # Wald F of the slopes, robust covariance
        j = slice(1, None) if intercept else slice(None)
        f = _safe(lambda: float(est[j] @ np.linalg.solve(V[j, j], est[j])) / df_model)
    f_p = float(fdtrc(df_model, df, f)) if df > 0 and math.isfinite(f) else float("nan")
    # R's logLik.lm: weighted, ½Σlog w (nonzero w) − N/2·(log 2π + 1 − log N + log Σw·r²)
    loglik = _safe(
        lambda: (
            0.5 * stats.sum_log_w
            - 0.5 * n * (math.log(2 * math.pi) + 2 * math.log(rss / math.sqrt(n)) + 1.0)
        )
    )
    adj = _safe(lambda: 1.0 - (1.0 - r2) * ((n - 1) if intercept else n) / df)
    fit = {
        "n": n,
        "df_resid": df,
        "df_model": df_model,
        "sigma": sigma,
        "r2": r2,
        "adj_r2": adj,
        "r2_kind": "centred" if intercept else "uncentred",
        "f": f,
        "f_p": f_p,
        "loglik": loglik,
        "aic": -2.0 * loglik + 2.0 * k,
        "bic": -2.0 * loglik + k * math.log(n),
        "cond": cond,
        "level": level,
        "cov_type": cov_type,
    }
    inference = {
        "intercept": intercept,
        "frame_shift": shift.tolist(),
        "frame_scale": d.tolist(),
        "r": R.tolist(),
        "sigma": fit["sigma"],
        "df_resid": df,
    }
    if meat is not None:  # the sandwich in the frame, R⁻¹CR⁻ᵀ, for predict's intervals
        with np.errstate(all="ignore"):
            inference["cov_type"] = cov_type
            inference["cov_frame"] = (Rinv @ meat @ Rinv.T).tolist()
    return {"coef": coef, "fit": fit}, inference


def intervals(
    inference: dict[str, Any], X: np.ndarray, fitted: np.ndarray, kind: str, level: float
) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper bounds of a confidence (mean) or prediction (new value) interval."""
    from .special import t_and_f

    stdtrit = t_and_f()[1]
    R = np.asarray(inference["r"], dtype=np.float64)
    shift = np.asarray(inference["frame_shift"], dtype=np.float64)
    d = np.asarray(inference["frame_scale"], dtype=np.float64)
    sigma = math.nan if inference["sigma"] is None else float(inference["sigma"])  # null: df 0
    df = int(inference["df_resid"])
    A = (X - shift) * d
    if inference["intercept"]:
        A = np.column_stack([np.ones(len(X)), A])
    if inference.get("cov_frame") is not None:  # a robust (HC) covariance: aᵀ V a
        V = np.asarray(inference["cov_frame"], dtype=np.float64)
        var = np.einsum("ij,jk,ik->i", A, V, A)
    else:
        Z = np.linalg.solve(R.T, A.T)  # R⁻ᵀ a for every row
        var = sigma**2 * np.einsum("ij,ij->j", Z, Z)
    if kind == "prediction":
        var = var + sigma**2
    half = float(stdtrit(df, 1.0 - (1.0 - level) / 2.0)) * np.sqrt(var)
    return fitted - half, fitted + half
