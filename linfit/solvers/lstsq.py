"""Least squares by Householder QR, refined in double-double arithmetic.

1. The streamed factor R of the shifted, power-of-two-scaled design (see accumulate.py) gives
   a backward-stable solution; its error is about cond × 1e-16.
2. When the rows are in memory, the solution is refined on the *original* (unshifted) data:
   Björck's iteration on the augmented system r + Ax = y, Aᵀr = 0, with both residuals
   computed in double-double (linfit.dd) and every correction solved with one thin QR
   factorisation of the shifted design. This converges to the exact least-squares solution
   of the float64 data while cond × 1e-16 < 1, which is what lets linfit reach the NIST StRD
   certified values to the digits the data hold.

Rows are kept for refinement when they fit in memory (linfit.fitting.KEEP_ROWS); larger
inputs are solved from the streamed factor alone, without a second pass over the file.
"""

from __future__ import annotations

import math

import numpy as np

from .. import dd
from ..errors import DataError, RankError
from ..linalg import EPS, RankInfo, analyse_rank, equilibrated_cond, solve_lower_t, solve_upper
from . import FitResult, Hooks, Problem, SolverOptions, register

MAX_REFINE = 10
#: Refinement converges while cond × 1e-16 < 1; beyond this it is not attempted.
REFINE_COND_MAX = 1e15


def _solve_frame(problem: Problem) -> tuple[np.ndarray, np.ndarray]:
    """The parameter block and right-hand side of the factor the solve uses."""
    st = problem.stats
    k = problem.n_params
    if problem.intercept:
        return st.R[:k, :k], st.R[:k, -1]
    Rn = st.noint()
    return Rn[:k, :k], Rn[:k, -1]


def _from_frame(problem: Problem, theta: np.ndarray) -> tuple[np.ndarray, float]:
    """Map the solve frame's parameters to the user's w, b."""
    st = problem.stats
    p = len(problem.features)
    e = st.scale[-1]
    if problem.intercept:
        w = theta[1:] * st.scale[:p] / e
        c = st.shift[-1] + theta[0] / e
        return w, st.intercept_from_center(c, w)
    return theta * st.scale[:p] / e, 0.0


def original_cond(problem: Problem) -> float:
    """Condition number of the user's design ([1, X] or X), columns scaled to unit norm."""
    k = problem.n_params
    if problem.intercept:
        return equilibrated_cond(problem.stats.raw_scaled()[:k, :k])
    return equilibrated_cond(problem.stats.noint()[:k, :k])


def _describe_deficiency(problem: Problem, info: RankInfo) -> str:
    names = (["the intercept"] if problem.intercept else []) + [repr(f) for f in problem.features]
    const = problem.stats.constant_columns()
    if problem.intercept and const:
        j = const[0]
        return (
            f"{problem.source}: column {problem.features[j]!r} is constant (every value is "
            f"{problem.stats.lo[j]:.15g}), so it cannot be told apart from the intercept; drop "
            "it, or fit --no-intercept"
        )
    v = np.abs(info.null_vector)
    involved = [names[i] for i in np.flatnonzero(v > 0.05 * v.max())]
    if len(involved) == 1:
        what = f"{involved[0]} is zero in every row"
    else:
        what = (
            f"{', '.join(involved[:-1])} and {involved[-1]} are collinear (one is a linear "
            "combination of the others)"
        )
    return (
        f"{problem.source}: the data do not determine the fit: {what}; drop a column, or pass "
        "--allow-rank-deficient for the minimum-norm solution"
    )


def _min_norm(problem: Problem, rank: int) -> tuple[np.ndarray, float]:
    """Minimum-norm least-squares parameters (in the user's units) at the given rank."""
    st = problem.stats
    k = problem.n_params
    if problem.intercept:
        R = st.raw()
        A, z = R[:, :k], R[:, -1]
    else:
        R = st.noint() * (1.0 / st.scale)  # unscale columns of [X, y]
        A, z = R[:, :k], R[:, -1]
    u, s, vt = np.linalg.svd(A, full_matrices=False)
    theta = vt[:rank].T @ ((u[:, :rank].T @ z) / s[:rank])
    if problem.intercept:
        return theta[1:], float(theta[0])
    return theta, 0.0


def refine(problem: Problem, w: np.ndarray, b: float) -> tuple[np.ndarray, float, float, int]:
    """Björck refinement on the original data; returns w, b, √SSE and iterations used."""
    st = problem.stats
    X, y = problem.X, problem.y
    p = X.shape[1]
    # original frame: [1, X·Do], y·eo (powers of two from the largest magnitudes)
    mag = np.maximum(np.abs(st.lo), np.abs(st.hi))
    do = np.array([dd.pow2_scale(float(v)) for v in mag[:p]])
    eo = dd.pow2_scale(float(mag[p]))
    ys = y * eo
    if problem.intercept:
        Ao = np.column_stack([np.ones(len(y)), X * do])
        S = np.column_stack([np.ones(len(y)), (X - st.shift[:p]) * st.scale[:p]])
        Q, R = np.linalg.qr(S)
        M = np.zeros((p + 1, p + 1))
        M[0, 0] = 1.0
        M[0, 1:] = st.shift[:p] * do
        M[1:, 1:] = np.diag(do / st.scale[:p])
        RO = R @ M
        x = np.concatenate([[b * eo], w * eo / do])
    else:
        Ao = X * do
        Q, RO = np.linalg.qr(Ao)
        x = w * eo / do
    r = dd.residual(ys, Ao, x)
    steps = 0
    last = np.inf
    while steps < MAX_REFINE:
        steps += 1
        f = dd.residual(ys, Ao, x, r)
        g = -np.array([dd.dot(Ao[:, j], r) for j in range(Ao.shape[1])])
        qf = Q.T @ f
        zt = solve_lower_t(RO, g)
        dx = solve_upper(RO, qf - zt)
        dr = f - Q @ (qf - zt)
        size = np.max(np.abs(dx)) / max(np.max(np.abs(x)), np.finfo(float).tiny)
        if size > 0.5 * last:  # no longer converging: keep what we have
            break
        x = x + dx
        r = r + dr
        last = size
        if size <= EPS:
            break
    r_final = dd.residual(ys, Ao, x)
    rss = math.sqrt(dd.dot(r_final, r_final)) / eo
    if problem.intercept:
        return x[1:] * do / eo, float(x[0] / eo), rss, steps
    return x * do / eo, 0.0, rss, steps


@register("lstsq", "least squares: Householder QR, refined in double-double (exact to the data)")
def solve(problem: Problem, options: SolverOptions, hooks: Hooks) -> FitResult:
    k = problem.n_params
    n = problem.n
    if n < k and not options.allow_rank_deficient:
        raise DataError(
            f"{problem.source}: {n} row{'s' if n != 1 else ''} cannot determine {k} "
            "parameters; a fit needs at "
            f"least {k} rows (or pass --allow-rank-deficient for the minimum-norm solution)"
        )
    Rp, z = _solve_frame(problem)
    info = analyse_rank(Rp, n) if n >= k else RankInfo(float("inf"), n, np.ones(k))
    result_notes: list[str] = []
    if info.deficient:
        if not options.allow_rank_deficient:
            raise RankError(_describe_deficiency(problem, info))
        w, b = _min_norm(problem, info.rank)
        result_notes.append(
            f"rank deficient (rank {info.rank} of {k}): returned the minimum-norm solution"
        )
        return FitResult(w, b, "lstsq", rank_deficient=True, notes=result_notes)
    theta = solve_upper(Rp, z)
    w, b = _from_frame(problem, theta)
    result = FitResult(w, b, "lstsq")
    if problem.X is not None and n > 0 and original_cond(problem) < REFINE_COND_MAX:
        w2, b2, rss, steps = refine(problem, w, b)
        if np.all(np.isfinite(w2)) and np.isfinite(b2):
            result.w, result.b, result.rss, result.refined = w2, b2, rss, True
            result.info["refinement_steps"] = steps
    result.info["cond_solve"] = info.cond
    return result
