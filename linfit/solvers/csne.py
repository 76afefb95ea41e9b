"""Refinement of a least-squares solution in passes over the rows, in bounded memory.

The corrected semi-normal equations (Å. Björck, "Stability analysis of the method of
seminormal equations for linear least squares problems", 1987; and his *Numerical Methods
for Least Squares Problems*, 1996), iterated: each pass reads the rows block by block (from
memory, or from the input again), forms the residual r = y − Aθ of the original data in
double-double, accumulates g = Aᵀr in double-double, and solves RᵀR·δθ = g with the
triangular factor R the streamed read already computed; θ += δθ. Only R and the k-vector g
are held, so memory is bounded by the number of coefficients whatever the number of rows,
and block sums merge in double-double (the order of the blocks does not matter to the last
digit).

With R from a backward-stable QR of A, each pass shrinks the error by a factor ρ ≈ u·κ
(κ the condition number of the column-equilibrated design): the iteration converges to the
least-squares solution of the float64 data while κ ≲ 1e15, one to three passes typically.
Weighted rows: g = Aᵀ·W·r with the exact weights (not √w rounded), so the fixed point is the
exact weighted least-squares solution.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from .. import dd
from ..linalg import EPS, solve_lower_t, solve_upper

Rows = Iterable[tuple[np.ndarray, np.ndarray, np.ndarray | None]]  # (X, y, w) blocks

#: Passes at most (each is one read of the rows).
MAX_PASSES = 8
#: The contraction per pass assumed before two passes have measured it: ρ ≈ RHO_FACTOR·k·u·κ.
RHO_FACTOR = 64.0
UNIT = EPS / 2


@dataclass
class Frame:
    """How the user's rows map into the solve frame: A = [1, (X − s)·D] with target
    (y − t)·e (intercept), or A = X·D with target y·e (no intercept)."""

    intercept: bool
    shift: np.ndarray  # (p + 1,): feature shifts, then the target's
    scale: np.ndarray  # (p + 1,): powers of two


@dataclass
class Pass:
    """What one pass over the rows gives: g = Aᵀ·W·r as double-double (hi, lo), and Σ w·r²."""

    g_hi: np.ndarray
    g_lo: np.ndarray
    rss: float
    rows: int = 0

    def merge(self, other: Pass) -> Pass:
        """Both passes' sums (another block, or another process's range): double-double."""
        hi, err = dd.two_sum(self.g_hi, other.g_hi)
        return Pass(hi, self.g_lo + other.g_lo + err, self.rss + other.rss, self.rows + other.rows)


def _sum_rows(P: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column sums of P (m, k) as double-double (hi, lo): pairwise error-free additions, the
    errors summed in float64 (accurate to about u²·Σ|P|, Ogita–Rump–Oishi's Sum2)."""
    err = np.zeros(P.shape[1])
    while P.shape[0] > 1:
        if P.shape[0] % 2:  # an odd row is paired with zero (exact)
            P = np.vstack([P, np.zeros((1, P.shape[1]))])
        s, e = dd.two_sum(P[0::2], P[1::2])
        err += e.sum(axis=0)
        P = s
    if P.shape[0] == 0:
        return np.zeros(P.shape[1]), err
    return P[0].copy(), err


def _design(frame: Frame, X: np.ndarray, y: np.ndarray):
    """The block in the solve frame, exactly: A = Ah + Al (Al: the rounding errors of x − s)
    and the target yh + yl (all scaled by powers of two, which is exact)."""
    p = X.shape[1]
    d, e = frame.scale[:p], frame.scale[-1]
    m = len(y)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        if not frame.intercept:
            return X * d, None, y * e, np.zeros(m)
        dh, dl = dd.two_sum(X, -frame.shift[:p])
        yh, yl = dd.two_sum(y, -frame.shift[-1])
        Ah = np.empty((m, p + 1))
        Ah[:, 0] = 1.0
        Ah[:, 1:] = dh * d
        Al = np.zeros((m, p + 1))
        Al[:, 1:] = dl * d
        return Ah, Al, yh * e, yl * e


def block_pass(
    frame: Frame, X: np.ndarray, y: np.ndarray, w: np.ndarray | None, hi: np.ndarray, lo
) -> Pass:
    """One block's g = Aᵀ·W·(y − A·θ) and Σ w·r², θ = hi + lo, in double-double."""
    X = np.asarray(X, dtype=np.float64)
    X = X[:, None] if X.ndim == 1 else X
    Ah, Al, yh, yl = _design(frame, X, np.asarray(y, dtype=np.float64))
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        # residual r = y − A·θ as an unevaluated sum s + c (Dot2)
        s, c = yh.copy(), yl.copy()
        for j in range(Ah.shape[1]):
            p, pe = dd.two_prod(Ah[:, j], hi[j])
            s, err = dd.two_sum(s, -p)
            c += err - pe - Ah[:, j] * lo[j]
            if Al is not None:
                c -= Al[:, j] * hi[j]
        rh, rl = dd.two_sum(s, c)
        if w is not None:  # W·r exactly: w·rh as a product pair, plus w·rl
            w = np.asarray(w, dtype=np.float64)
            rss = float(np.dot(w * rh, rh))
            qh, qe = dd.two_prod(rh, w)
            qh, ql = dd.two_sum(qh, qe + rl * w)
        else:
            rss = float(np.dot(rh, rh))
            qh, ql = rh, rl
        P, E = dd.two_prod(Ah, qh[:, None])
        g_hi, g_lo = _sum_rows(P)
        small = E + Ah * ql[:, None]
        if Al is not None:
            small += Al * qh[:, None]
        g_lo = g_lo + small.sum(axis=0)
    return Pass(g_hi, g_lo, rss, len(y))


#: Rows per piece of a block in a pass (its temporaries are a few pieces × k columns).
PIECE = 1 << 15


def pass_over(frame: Frame, rows: Rows, hi: np.ndarray, lo: np.ndarray) -> Pass:
    """g and Σ w·r² over every block of ``rows`` (in pieces of PIECE rows)."""
    total = Pass(np.zeros(len(hi)), np.zeros(len(hi)), 0.0)
    for X, y, w in rows:
        for a in range(0, len(y), PIECE):
            b = a + PIECE
            part = block_pass(frame, X[a:b], y[a:b], None if w is None else w[a:b], hi, lo)
            total = total.merge(part)
    return total


class RemotePasses(Protocol):
    """Rows that stay where they are (a Dask cluster's workers): each share of a pass is
    :func:`pass_over` of its rows there, and the shares merge with :meth:`Pass.merge`."""

    def refine_pass(self, frame: Frame, hi: np.ndarray, lo: np.ndarray) -> Pass: ...


@dataclass
class Refined:
    """The outcome: θ = hi + lo, √(Σ w·r²) in the solve frame's units (divide by e), the
    passes read, the estimated relative error left, and whether it converged."""

    hi: np.ndarray
    lo: np.ndarray
    rss_frame: float
    passes: int
    bound: float
    converged: bool
    applied: int = 0  # corrections applied (a pass whose correction did not shrink adds none)
    rows_seen: int | None = None  # rows a pass read, when not the expected number (changed)


def refine(
    frame: Frame,
    R: np.ndarray,
    theta: np.ndarray,
    open_rows: Callable[[], Rows] | None,
    cond: float = 1.0,
    judge: Callable[[np.ndarray, np.ndarray, np.ndarray], float] | None = None,
    rows: int | None = None,
    remote: RemotePasses | None = None,
) -> Refined:
    """Iterate the corrected semi-normal equations from θ until the error left is below the
    last digit of every coefficient, or the correction stops shrinking. ``open_rows()``
    gives the rows afresh for each pass; ``R`` is the k×k factor of the solve frame's design
    (RᵀR ≈ AᵀWA); ``judge(hi, lo, δθ)`` turns absolute errors δθ of θ = hi + lo into the
    worst relative error of the user's coefficients (default: relative to max|θ|); ``rows``:
    the number of rows each pass must read (one that reads another number stops the
    iteration, θ unchanged by it, and reports it in ``rows_seen``: the input has changed);
    ``remote``: rows left where they are (a Dask cluster), whose ``refine_pass`` sums a pass
    there, used instead of ``open_rows``.

    The error left after a pass is ρ/(1 − ρ) times its correction, normwise in the
    column-equilibrated frame, with ρ the contraction: measured from the last two corrections,
    and not below the a-priori RHO_FACTOR·k·u·κ.
    """
    k = len(theta)
    norms = np.linalg.norm(R, axis=0)
    norms = np.where(norms > 0, norms, 1.0)
    if judge is None:

        def judge(hi: np.ndarray, lo: np.ndarray, dtheta: np.ndarray) -> float:
            return float(np.max(dtheta) / max(float(np.max(np.abs(hi))), np.finfo(float).tiny))

    hi = np.array(theta, dtype=np.float64)
    lo = np.zeros(k)
    rho0 = min(0.5, RHO_FACTOR * k * UNIT * cond)
    last = math.inf
    bound = math.inf
    rss = math.nan
    passes = applied = 0
    converged = False
    while passes < MAX_PASSES:
        if remote is not None:
            total = remote.refine_pass(frame, hi, lo)
        else:
            total = pass_over(frame, open_rows(), hi, lo)
        passes += 1
        if rows is not None and total.rows != rows:
            return Refined(hi, lo, rss, passes, bound, False, applied, total.rows)
        rss = math.sqrt(total.rss)
        g = total.g_hi + total.g_lo
        with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
            dx = solve_upper(R, solve_lower_t(R, g))
        if not np.all(np.isfinite(dx)):
            break
        step_eq = float(np.max(np.abs(dx * norms)))
        size = step_eq / max(float(np.max(np.abs(hi * norms))), np.finfo(float).tiny)
        if size > 0.5 * last:  # no longer converging: keep what we have
            break
        # the residual at θ + δθ: ‖r − Aδθ‖² = ‖r‖² − 2δθᵀg + ‖Aδθ‖² = ‖r‖² − ‖Rδθ‖²
        # (g = RᵀRδθ), so no pass is spent on it
        step = float(np.linalg.norm(R @ dx))
        rss = math.sqrt(max(0.0, total.rss - step * step))
        hi, err = dd.two_sum(hi, dx)
        lo = lo + err
        hi, lo = dd.two_sum(hi, lo)
        applied += 1
        rho = min(0.5, max(rho0, size / last if math.isfinite(last) and last > 0 else 0.0))
        last = size
        bound = max(UNIT, judge(hi, lo, rho / (1 - rho) * step_eq / norms))
        if bound <= UNIT or step_eq == 0:
            converged = True
            break
    return Refined(hi, lo, rss, passes, bound, converged, applied)
