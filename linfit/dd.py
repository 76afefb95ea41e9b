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


#: Above this magnitude Dekker's split overflows; such factors are scaled down first.
_SPLIT_MAX = 2.0**995
_SHIFT = 64


def exact_products(a: np.ndarray, b: np.ndarray) -> list[float]:
    """Terms whose exact sum is Σ a·b (for math.fsum), at any finite magnitude.

    Factors too large to split are scaled by 2⁻⁶⁴ (exact) and their parts scaled back; a
    product beyond float64's range comes back infinite.
    """
    a = np.ravel(np.asarray(a, dtype=np.float64))
    b = np.ravel(np.asarray(b, dtype=np.float64))
    big = (np.abs(a) > _SPLIT_MAX).astype(int) + (np.abs(b) > _SPLIT_MAX).astype(int)
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        a2 = np.where(np.abs(a) > _SPLIT_MAX, np.ldexp(a, -_SHIFT), a)
        b2 = np.where(np.abs(b) > _SPLIT_MAX, np.ldexp(b, -_SHIFT), b)
        p, e = two_prod(a2, b2)
        p, e = np.ldexp(p, big * _SHIFT), np.ldexp(e, big * _SHIFT)
        e = np.where(np.isfinite(p), e, 0.0)
    return [*p.tolist(), *e.tolist()]


def fsum(terms: list[float]) -> float:
    """math.fsum, giving ±inf or nan instead of raising where the sum leaves float64's range."""
    try:
        return math.fsum(terms)
    except OverflowError:
        return math.copysign(math.inf, sum(math.copysign(1.0, t) for t in terms if t))
    except ValueError:  # inf − inf
        return math.nan


def dot(a: np.ndarray, b: np.ndarray) -> float:
    """Σ a·b correctly rounded from its exact products (math.fsum of the exact parts)."""
    return fsum(exact_products(a, b))


def add_dot(c: float, w: np.ndarray, x: np.ndarray, extra: list[float] | None = None) -> float:
    """c + Σ w·x (+ the ``extra`` terms), correctly rounded (no cancellation when the terms
    are large and opposite, as in an intercept b = c − w·x̄ for offset data)."""
    return fsum([c, *(extra or []), *exact_products(w, x)])


#: Exponent range of the scales: 2^±1022 and their reciprocals are normal numbers.
MAX_SCALE_EXP = 1022


def pow2_scale(magnitude: float, doubled: bool = False) -> float:
    """A power of two s with magnitude * s in [0.5, 1) (2·magnitude·s with ``doubled``,
    for a magnitude that was halved to avoid overflow); 1 for zero or non-finite magnitudes.

    s stays within 2^±1022, so s and 1/s are normal: for subnormal or near-overflow
    magnitudes the product is then only near [0.5, 1), which is all the scaling needs.
    """
    if not np.isfinite(magnitude) or magnitude == 0.0:
        return 1.0
    _, exp = math.frexp(magnitude)
    exp += int(doubled)
    return math.ldexp(1.0, max(-MAX_SCALE_EXP, min(MAX_SCALE_EXP, -exp)))
