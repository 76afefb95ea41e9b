"""Least squares by Householder QR, refined in double-double arithmetic only when it pays.

1. The streamed factor R of the shifted, power-of-two-scaled design (see accumulate.py) gives
   a backward-stable solution θ in that frame: the prediction at the shift, and the slopes.
2. Its forward error is estimated from R alone (Higham, *Accuracy and Stability of
   Numerical Algorithms*, §20.1; Björck, *Numerical Methods for Least Squares Problems*,
   §1.4): ‖δθ‖/‖θ‖ ≲ u·(κ + κ²·‖r‖/(‖A‖‖θ‖)) with κ the condition number of the
   column-equilibrated shifted design, then carried to each user parameter (the intercept
   b = c − w·s inherits the slopes' error times the shift). Below REFINE_BELOW (relative, for
   every coefficient) the streamed solution is returned as it is.
3. Otherwise the solution is refined in the same shifted frame on the exact data, in passes
   over the rows (linfit.solvers.csne): the kept rows, or the input read again block by
   block (``Problem.reread``), or on the Dask workers that hold them
   (``Problem.remote_rows``: each partition's share, merged in double-double), so memory
   stays bounded by the number of coefficients at any size. Each x − s is held as the pair
   fl(x − s) + its rounding error, so the frame loses nothing however large the offset;
   residuals and Aᵀr are formed in double-double and the correction is solved through the
   streamed R (corrected semi-normal equations). It converges to the exact least-squares
   solution of the float64 data while κ × 1e-16 < 1; the intercept is then formed from the
   refined values in double-double, so exact data at any offset float64 holds give exact
   answers.
"""

from __future__ import annotations

import math

import numpy as np

from .. import dd
from ..errors import DataError, RankError
from ..linalg import (
    EPS,
    RankInfo,
    analyse_rank,
    dependent_columns,
    equilibrated_cond,
    solve_upper,
)
from . import FitResult, Hooks, Problem, SolverOptions, csne, register

#: Refinement converges while cond × 1e-16 < 1; beyond this it is not attempted.
REFINE_COND_MAX = 1e15
#: Relative forward-error bound below which the streamed solution is certified as it is.
REFINE_BELOW = 1e-15
#: Unit roundoff of float64.
UNIT = EPS / 2
#: Kept rows of at most this many values are refined whatever the bound: a pass costs about
#: a millisecond there, and it settles the last digit (the bound allows a few units in it).
REFINE_CHEAP = 1 << 16


def _solve_frame(problem: Problem) -> tuple[np.ndarray, np.ndarray]:
    """The parameter block and right-hand side of the factor the solve uses."""
    st = problem.stats
    k = problem.n_params
    if problem.intercept:
        return st.R[:k, :k], st.R[:k, -1]
    Rn = st.noint()
    return Rn[:k, :k], Rn[:k, -1]


def _exponents(scale: np.ndarray) -> np.ndarray:
    """log₂ of powers of two."""
    return np.frexp(scale)[1] - 1


def _from_frame(
    problem: Problem, theta: np.ndarray, low: np.ndarray | None = None
) -> tuple[np.ndarray, float, float]:
    """Map the solve frame's parameters θ (+ ``low``, a correction below θ's last digit) to
    the user's w, b and the prediction c at the shift (b and c rounded once, from every part).
    """
    st = problem.stats
    p = len(problem.features)
    low = np.zeros_like(theta) if low is None else low
    ex = _exponents(st.scale)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        if not problem.intercept:
            return np.ldexp(theta + low, ex[:p] - ex[-1]), 0.0, 0.0
        hi = np.ldexp(theta, np.concatenate([[-ex[-1]], ex[:p] - ex[-1]]))
        lo = np.ldexp(low, np.concatenate([[-ex[-1]], ex[:p] - ex[-1]]))
        w = hi[1:] + lo[1:]
        w_lo = (hi[1:] - w) + lo[1:]  # what rounding w dropped (w + w_lo ≈ hi + lo)
        s = st.shift[:p]
        c = math.fsum([float(st.shift[-1]), float(hi[0]), float(lo[0])])
        b = dd.add_dot(
            0.0,
            -np.concatenate([w, w_lo]),
            np.concatenate([s, s]),
            extra=[float(st.shift[-1]), float(hi[0]), float(lo[0])],
        )
    lost = (w == 0) & (np.abs(theta[-p:] if p else theta[:0]) > 1e-8 * np.max(np.abs(theta)))
    if p and lost.any():
        name = problem.features[int(np.flatnonzero(lost)[0])]
        raise DataError(
            f"{problem.source}: the slope of {name!r} is below float64's smallest number "
            "(about 5e-324) and cannot be represented: rescale that column or y (e.g. by a "
            "power of ten) and fit again"
        )
    if not (np.all(np.isfinite(w)) and math.isfinite(b) and math.isfinite(c)):
        raise DataError(
            f"{problem.source}: the fitted coefficients exceed float64's range (about 1.8e308): "
            "rescale the columns (e.g. divide y or multiply x by a power of ten) and fit again"
        )
    return w, b, c


def original_cond(problem: Problem) -> float:
    """Condition number of the user's design ([1, X] or X), columns scaled to unit norm."""
    k = problem.n_params
    if problem.intercept:
        return equilibrated_cond(problem.stats.raw_scaled()[:k, :k])
    return equilibrated_cond(problem.stats.noint()[:k, :k])


def _intercept_involved(problem: Problem, Rp: np.ndarray, info: RankInfo) -> bool:
    """Whether a dependency needs the intercept in the user's columns [1, X], not only in the
    shifted frame (where x − s brings the shifts' combination in as a constant)."""
    st = problem.stats
    p = len(problem.features)
    norms = np.linalg.norm(Rp, axis=0)
    basis = info.null_basis if info.null_basis is not None else info.null_vector[None, :]
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for v in basis:
            theta = v / np.where(norms > 0, norms, 1.0)
            terms = theta[1:] * st.scale[:p] * st.shift[:p]  # what − Σθ·D·s moves to 1
            raw = theta[0] - float(np.sum(terms))
            size = abs(theta[0]) + float(np.sum(np.abs(terms)))
            if not np.isfinite(raw) or abs(raw) > 1e-8 * size:
                return True
    return False


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
    Rp, _ = _solve_frame(problem)
    cols = [j for j in dependent_columns(Rp, problem.n, info) if j or not problem.intercept]
    if problem.intercept and _intercept_involved(problem, Rp, info):
        cols.insert(0, 0)
    involved = [names[i] for i in cols]
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


def error_bound(problem: Problem, Rfull: np.ndarray, theta: np.ndarray, cond: float) -> float:
    """Estimated relative forward error of the streamed solution, the worst over the user's
    coefficients (w and b): u·(κ + κ²·η) normwise in the equilibrated frame (η = ‖r‖ /
    (‖A‖‖θ‖)), carried to each coefficient; b = c − w·s adds Σ|s|·δw. A coefficient that is
    exactly zero has an infinite relative bound unless its absolute bound is zero.
    """
    k = problem.n_params
    if not math.isfinite(cond):
        return math.inf
    Rp = Rfull[:k, :k]
    norms = np.linalg.norm(Rp, axis=0)
    t_eq = theta * norms
    size = float(np.linalg.norm(t_eq))
    if size == 0:
        return 0.0 if float(np.linalg.norm(Rfull[:, -1])) == 0 else math.inf
    resid = float(np.linalg.norm(Rfull[k:, -1]))
    eta = resid / size
    rel = UNIT * (cond + cond * cond * eta)
    dtheta = rel * size / norms  # absolute bound of each θ component, in the solve frame
    return coefficient_error(problem, theta, dtheta)


#: A coefficient smaller than this fraction of its natural scale is judged against that
#: fraction: below what float64 data can resolve, its relative digits mean nothing.
ZERO_FLOOR = 1e-15


def coefficient_error(
    problem: Problem, theta: np.ndarray, dtheta: np.ndarray, low: np.ndarray | None = None
) -> float:
    """The worst relative error of the user's coefficients (w and b) when θ (+ ``low``) is
    off by at most ``dtheta`` (absolute, per component, in the solve frame); b = c − w·s
    adds Σ|s|·δw. A coefficient is judged against at least ``ZERO_FLOOR`` of its natural
    scale (the size a coefficient of 1 in the solve frame has: |y| over |x|), so a true zero,
    which refinement drives towards 0 geometrically, is certified once it is that far below
    anything the data can resolve, instead of never."""
    st = problem.stats
    p = len(problem.features)
    e = st.scale[-1]
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        natural = st.scale[:p] / e
        if problem.intercept:
            w, b, _ = _from_frame(problem, theta, low)
            dw = dtheta[1:] * natural
            db = dtheta[0] / e + float(np.sum(np.abs(st.shift[:p]) * dw))
            absolute = np.concatenate([dw, [db]])
            values = np.abs(np.concatenate([w, [b]]))
            natural = np.append(natural, 1 / e + float(np.sum(np.abs(st.shift[:p]) * natural)))
        else:
            w, _, _ = _from_frame(problem, theta, low)
            absolute = dtheta * natural
            values = np.abs(w)
        values = np.maximum(values, ZERO_FLOOR * natural)
        ratios = np.where(absolute == 0, 0.0, absolute / values)
    return float(np.max(ratios))


def streamed_bound(problem: Problem) -> float:
    """The error bound of the streamed solution (inf when rank deficient or overflowing)."""
    Rp, z = _solve_frame(problem)
    info = analyse_rank(Rp, problem.n)
    if info.deficient:
        return math.inf
    with np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
        theta = solve_upper(Rp, z)
    Rfull = problem.stats.R if problem.intercept else problem.stats.noint()
    try:
        return error_bound(problem, Rfull, theta, info.cond)
    except DataError:  # coefficients beyond float64's range: the fit will say so
        return math.inf


def _frame(problem: Problem) -> csne.Frame:
    st = problem.stats
    return csne.Frame(problem.intercept, st.shift, st.scale)


def _unrefined_note(problem: Problem, bound: float, cond: float, options: SolverOptions) -> str:
    if not options.refine:
        why = "--no-refine was given"
    elif cond >= REFINE_COND_MAX:
        why = f"the design is too ill-conditioned to refine (cond {cond:.2g} ≥ 1e15)"
    else:
        why = problem.where_rows
    return (
        f"the solution could not be certified to 1e-15 (estimated error bound {bound:.1g}, "
        f"cond {cond:.2g}) and was not refined: {why}"
    )


@register("lstsq", "least squares: Householder QR, refined in double-double when it pays")
def solve(problem: Problem, options: SolverOptions, hooks: Hooks) -> FitResult:
    k = problem.n_params
    n = problem.stats.nobs  # weighted: rows of nonzero weight
    if n < k and not options.allow_rank_deficient:
        raise DataError(
            f"{problem.source}: {n} row{'s' if n != 1 else ''}"
            f"{' of nonzero weight' if problem.stats.weighted else ''} cannot determine {k} "
            f"parameters: the fit needs more rows than coefficients; supply at least {k} rows, "
            "choose fewer columns with --x, or pass --allow-rank-deficient for the "
            "minimum-norm solution"
        )
    Rp, z = _solve_frame(problem)
    info = analyse_rank(Rp, n) if n >= k else RankInfo(float("inf"), n, np.ones(k))
    result_notes: list[str] = []
    if info.deficient:
        if not options.allow_rank_deficient:
            raise RankError(_describe_deficiency(problem, info))
        w, b = _min_norm(problem, info.rank)
        result_notes.append(
            f"rank deficient (rank {info.rank} of {k}): returned the minimum-norm solution, "
            "which is not refined or certified"
        )
        result = FitResult(w, b, "lstsq", rank_deficient=True, notes=result_notes)
        result.info.update(refine_passes=0, error_bound=math.inf)
        return result
    with np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
        theta = solve_upper(Rp, z)
    Rfull = problem.stats.R if problem.intercept else problem.stats.noint()
    bound = error_bound(problem, Rfull, theta, info.cond)
    w, b, c = _from_frame(problem, theta)
    result = FitResult(w, b, "lstsq")
    passes = 0
    rows = problem.open_rows()
    remote = None  # rows on a Dask cluster: each pass is summed there
    if rows is None and hasattr(problem.remote_rows, "refine_pass"):
        remote = problem.remote_rows
    cheap = problem.X is not None and problem.X.size + problem.y.size <= REFINE_CHEAP
    wanted = bound >= REFINE_BELOW or cheap
    if (
        wanted
        and options.refine
        and info.cond < REFINE_COND_MAX
        and (rows is not None or remote is not None)
    ):

        def judge(hi: np.ndarray, lo: np.ndarray, dtheta: np.ndarray) -> float:
            try:
                return coefficient_error(problem, hi, dtheta, lo)
            except DataError:  # beyond float64's range: not certified
                return math.inf

        out = csne.refine(_frame(problem), Rp, theta, rows, info.cond, judge, problem.n, remote)
        if out.rows_seen is not None:
            raise DataError(
                f"{problem.source} changed while it was being fitted: the refinement read "
                f"{out.rows_seen:,} rows where the first pass read {problem.n:,}; fit it again "
                "once it is no longer being written"
            )
        passes = out.passes
        e = problem.stats.scale[-1]
        if out.applied and np.all(np.isfinite(out.hi)) and math.isfinite(out.rss_frame):
            w, b, c = _from_frame(problem, out.hi, out.lo)
            result.w, result.b, result.rss, result.refined = w, b, out.rss_frame / e, True
            result.info["refinement_steps"] = passes  # the name schema 1 documents
            bound = min(bound, out.bound)
        if bound >= REFINE_BELOW:
            result_notes.append(
                f"refinement stopped converging after {passes} pass"
                f"{'es' if passes != 1 else ''}: the solution could not be certified to 1e-15 "
                f"(estimated error bound {bound:.1g}, cond {info.cond:.2g})"
            )
    elif bound >= REFINE_BELOW:
        result_notes.append(_unrefined_note(problem, bound, info.cond, options))
    result.notes = result_notes
    result.info.update(refine_passes=passes, error_bound=bound, cond_solve=info.cond)
    result.info["center_y"] = c  # the prediction at the shift (popped by fit_problem)
    return result
