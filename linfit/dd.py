"""Error-free transformations (double-double arithmetic), vectorised in numpy.

numpy has no fused multiply-add, so products are split exactly with Dekker's method. These
give residuals as if computed in twice the working precision, which is what iterative
refinement of a least-squares solution needs to reach the accuracy the data allow.
"""

from __future__ import annotations

import math

import numpy as np

_SPLITTER = 134217729.0  # 2**27 + 1


def two_sum(a, b):
    """s + e == a + b exactly, with s = fl(a + b)."""
    s = a + b
    bb = s - a
    e = (a - (s - bb)) + (b - bb)
    return s, e


def _split(a):
    c = _SPLITTER * a
    hi = c - (c - a)
    return hi, a - hi


def two_prod(a, b):
    """p + e == a * b exactly, with p = fl(a * b) (no overflow assumed)."""
    p = a * b
    ah, al = _split(a)
    bh, bl = _split(b)
    e = ((ah * bh - p) + ah * bl + al * bh) + al * bl
    return p, e


def residual(y: np.ndarray, A: np.ndarray, x: np.ndarray, r: np.ndarray | None = None):
    """y - r - A @ x, row by row, computed as if in twice the precision (Ogita-Rump-Oishi Dot2)."""
    s = np.array(y, dtype=np.float64, copy=True)
    c = np.zeros_like(s)
    if r is not None:
        s, e = two_sum(s, -r)
        c += e
    for j in range(A.shape[1]):
        p, pe = two_prod(A[:, j], x[j])
        s, e = two_sum(s, -p)
        c += e - pe
    return s + c


def dot(a: np.ndarray, b: np.ndarray) -> float:
    """Σ a·b correctly rounded from its exact products (math.fsum of the exact parts)."""
    p, e = two_prod(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
    return math.fsum(np.concatenate([np.ravel(p), np.ravel(e)]).tolist())


def add_dot(c: float, w: np.ndarray, x: np.ndarray) -> float:
    """c + Σ w·x, correctly rounded (no cancellation when the terms are large and opposite,
    as in an intercept b = c − w·x̄ for offset data)."""
    p, e = two_prod(np.asarray(w, dtype=np.float64), np.asarray(x, dtype=np.float64))
    return math.fsum([c, *np.ravel(p).tolist(), *np.ravel(e).tolist()])


def pow2_scale(magnitude: float) -> float:
    """A power of two s with magnitude * s in [0.5, 1); 1 for zero or non-finite magnitudes."""
    if not np.isfinite(magnitude) or magnitude == 0.0:
        return 1.0
    _, exp = math.frexp(magnitude)
    return math.ldexp(1.0, -exp)
