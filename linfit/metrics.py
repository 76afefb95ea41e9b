"""Goodness of fit from the statistics: the ½·MSE loss, MSE, RMSE and R²."""

from __future__ import annotations

import math

from .accumulate import DesignStats


def fit_metrics(stats: DesignStats, sse: float, intercept: bool) -> dict[str, float | str | int]:
    """Metrics of a fit with residual sum of squares ``sse`` on the rows in ``stats``.

    With an intercept R² is centred, 1 − SSE/Σ(y − ȳ)²; without one it is uncentred,
    1 − SSE/Σy² (as R and NIST define it). ``loss`` is the tutorial's J = SSE/(2n).
    """
    n = stats.n
    sst = stats.sst(centred=intercept)
    r2 = 1.0 - sse / sst if sst > 0 else (1.0 if sse == 0 else float("nan"))
    return {
        "loss": sse / (2 * n),
        "mse": sse / n,
        "rmse": math.sqrt(sse / n),
        "r2": r2,
        "r2_kind": "centred" if intercept else "uncentred",
        "sse": sse,
        "n": n,
    }
