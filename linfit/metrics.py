"""Goodness of fit from the statistics: the ½·MSE loss, MSE, RMSE and R²."""

from __future__ import annotations

import math

import numpy as np

from .accumulate import DesignStats


def fit_metrics(stats: DesignStats, rss: float, intercept: bool) -> dict[str, float | str | int]:
    """Metrics of a fit whose residual norm √SSE is ``rss``, on the rows in ``stats``.

    With an intercept R² is centred, 1 − SSE/Σ(y − ȳ)²; without one it is uncentred,
    1 − SSE/Σy² (as R and NIST define it). ``loss`` is the tutorial's J = SSE/(2n); a
    weighted fit's SSE is Σw·r² and its MSE Σw·r²/Σw. Ratios are formed from norms, so
    values near float64's limits (1e200) give finite R² and RMSE; squares beyond float64's
    range (MSE, SSE of 1e308 data) are inf.
    """
    n = stats.n
    mass = stats.total_weight  # n, or Σw for a weighted fit (the weighted mean square)
    tss = stats.total_norm(centred=intercept)
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        if tss > 0:
            q = rss / tss
            r2 = 1.0 - q * q
        else:
            r2 = 1.0 if rss == 0 else float("nan")
        rmse = rss / math.sqrt(mass) if mass > 0 else float("nan")
        mse = rmse * rmse
        sse = rss * rss
    return {
        "loss": mse / 2,
        "mse": mse,
        "rmse": rmse,
        "r2": r2,
        "r2_kind": "centred" if intercept else "uncentred",
        "sse": sse,
        "n": n,
    }
