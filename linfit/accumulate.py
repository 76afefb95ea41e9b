"""Mergeable sufficient statistics of a linear fit: one pass, constant memory, exact merges.

The state is the triangular factor R of the augmented design ``[1, (X - s)·D, (y - t)·e]``:
a shift ``s, t`` (the first block's column means) removes offsets such as timestamps, and
``D, e`` are powers of two, so scaling adds no rounding. Blocks fold in by a QR of the stacked
factors (tall-skinny QR), so two halves' states merge into the whole's. Everything a fit
needs follows from R: the least-squares solution, the residual sum of squares at any
parameters, means, centred cross-products for gradient descent, and the inference
statistics.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from . import dd
from .errors import DataError
from .limits import MAX_PARAMS


def check_width(p: int, source: str = "the data", intercept: bool = True) -> None:
    """Refuse more coefficients than MAX_PARAMS before any p×p statistics are allocated."""
    k = p + int(intercept)
    if k > MAX_PARAMS:
        raise DataError(
            f"{source}: {p} feature columns make {k} coefficients, more than linfit's limit of "
            f"{MAX_PARAMS} (its statistics are a p×p factor); choose fewer columns with --x"
        )


def _scaled_diff(
    V: np.ndarray,
    shift: np.ndarray,
    scale: np.ndarray,
    lo: np.ndarray | None = None,
    hi: np.ndarray | None = None,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """(V − shift)·scale by rows, without overflow: where V − shift exceeds float64's range
    (values near ±1e308 of both signs) it is formed from halves (exact at that magnitude).

    Given the rows' minima ``lo`` and maxima ``hi``, the overflow is found from them alone
    (rounding is monotonic: every v − s lies between lo − s and hi − s); ``out`` is an
    array of V's shape to write into (a reused one spares the fresh pages a new one costs)."""
    with np.errstate(over="ignore", invalid="ignore"):
        D = np.subtract(V, shift[:, None], out=out)
        if lo is not None and hi is not None:
            bad = ~(np.isfinite(lo - shift) & np.isfinite(hi - shift))
        else:
            bad = ~np.isfinite(D).all(axis=1)
        if bad.any():
            h = 0.5
            D[bad] = (V[bad] * h - shift[bad, None] * h) * (scale[bad, None] / h)
            D[~bad] *= scale[~bad, None]
            return D
        D *= scale[:, None]
    return D


def _qr_r(A: np.ndarray) -> np.ndarray:
    """R of A (rows ≥ columns padded), with a non-negative diagonal."""
    R = np.linalg.qr(A, mode="r")
    k = A.shape[1]
    if R.shape[0] < k:
        R = np.vstack([R, np.zeros((k - R.shape[0], k))])
    signs = np.where(np.diag(R) < 0, -1.0, 1.0)
    return R * signs[:, None]


#: Largest condition number of a block's shifted, scaled design for which its R is taken
#: from the Cholesky factor of its Gram matrix (error ≈ cond² × 1e-16 ≤ 1e-13); blocks worse
#: than this, or singular, are factorised by Householder QR instead.
GRAM_COND_MAX = 30.0


def _gram(Z: np.ndarray) -> np.ndarray:
    """Z Zᵀ. For a few long rows, one dot product per pair: OpenBLAS's matrix product of so
    flat a shape is 2–3× slower (k = 2, 3 × 131,072: 0.07 against 0.17 ms, 0.16 against
    0.51 ms)."""
    k = Z.shape[0]
    if k > DOT_ROWS:
        return Z @ Z.T
    G = np.empty((k, k))
    for i in range(k):
        for j in range(i + 1):
            G[i, j] = G[j, i] = np.dot(Z[i], Z[j])
    return G


#: Up to this many rows, :func:`_gram` takes dot products pair by pair.
DOT_ROWS = 8


def _block_r(Z: np.ndarray, sw: np.ndarray | None = None) -> np.ndarray:
    """R of the block design [1, Zᵀ] (Z of shape (k, m), one row per column); with
    ``sw`` = √w (weighted rows, Z already multiplied by it) the design [√w, Zᵀ].

    Fast path: Cholesky of the Gram matrix, one BLAS pass over the block, used only when the
    block is well conditioned, where it is as accurate as Householder QR. Otherwise, or when
    the Gram matrix is not positive definite, Householder QR of the block.
    """
    k, m = Z.shape
    G = np.empty((k + 1, k + 1))
    G[0, 0] = m if sw is None else float(sw @ sw)
    G[0, 1:] = G[1:, 0] = Z.sum(axis=1) if sw is None else Z @ sw
    G[1:, 1:] = _gram(Z)
    d = np.sqrt(np.diag(G))
    if np.all(d > 0):
        try:
            L = np.linalg.cholesky(G / np.outer(d, d))
            s = np.linalg.svd(L, compute_uv=False)
            if s[-1] > 0 and s[0] / s[-1] <= GRAM_COND_MAX:
                return L.T * d[None, :]
        except np.linalg.LinAlgError:
            pass
    A = np.empty((m, k + 1), order="F")
    A[:, 0] = 1.0 if sw is None else sw
    A[:, 1:] = Z.T
    return _qr_r(A)


@dataclass
class DesignStats:
    """Statistics of the rows seen so far for p features and a target.

    While fewer rows than the factor has columns (p + 2) have been seen, they are held as
    they are (at most p + 1 rows) and the p×p factor is not built: a wide file with a
    handful of rows is refused for having too few rows without allocating it.
    """

    p: int
    n: int = 0
    shift: np.ndarray | None = None  # (p+1,): feature shifts, then the target's
    scale: np.ndarray | None = None  # (p+1,): powers of two
    factor: np.ndarray | None = None  # (p+2, p+2) upper triangular, once built
    lo: np.ndarray | None = None  # column minima (features, target)
    hi: np.ndarray | None = None  # column maxima
    pending: list[np.ndarray] = field(default_factory=list, repr=False)  # scaled rows, held
    # weighted rows (R's lm(weights=)): the factor is of [√w, √w·(X − s)D, √w·(y − t)e];
    # n counts every row, n_nonzero the rows of nonzero weight (R's n for the df), and
    # sum_w, sum_log_w (over nonzero weights) give the weighted means and log-likelihood
    weighted: bool = False
    n_nonzero: int = 0
    sum_w: float = 0.0
    sum_log_w: float = 0.0
    pending_sw: list[np.ndarray] = field(default_factory=list, repr=False)  # √w of held rows

    def __post_init__(self) -> None:
        check_width(self.p, intercept=False)

    @property
    def R(self) -> np.ndarray | None:
        """The triangular factor (built from the held rows when first asked for)."""
        self._fold()
        return self.factor

    def _fold(self) -> None:
        """Fold the held rows into the factor."""
        if self.pending:
            Z = self.pending[0] if len(self.pending) == 1 else np.concatenate(self.pending, axis=1)
            sw = np.concatenate(self.pending_sw) if self.weighted else None
            self.pending, self.pending_sw = [], []
            Rb = _block_r(Z, sw)
            self.factor = Rb if self.factor is None else _qr_r(np.vstack([self.factor, Rb]))

    @R.setter
    def R(self, value: np.ndarray | None) -> None:
        self.pending, self.pending_sw = [], []
        self.factor = value

    @property
    def nobs(self) -> int:
        """Rows that count for degrees of freedom: all, or those of nonzero weight."""
        return self.n_nonzero if self.weighted else self.n

    @property
    def total_weight(self) -> float:
        """Σw (n when unweighted): the normaliser of the (weighted) mean squared error."""
        return self.sum_w if self.weighted else float(self.n)

    def weights_from(self, *others: DesignStats) -> None:
        """Take the weight bookkeeping of ``others`` together (for derived statistics)."""
        self.weighted = any(o.weighted for o in others)
        self.n_nonzero = sum(o.n_nonzero for o in others)
        self.sum_w = float(sum(o.sum_w for o in others))
        self.sum_log_w = float(sum(o.sum_log_w for o in others))

    # -- building -----------------------------------------------------------------------
    def _set_frame(self, V: np.ndarray) -> None:
        V = V[:, : 1 << 16]  # the first rows are enough to remove an offset
        # the mean of values scaled into [0.5, 1) by a power of two cannot overflow
        mag = np.abs(V).max(axis=1)
        pre = np.array([dd.pow2_scale(float(v)) for v in mag])
        with np.errstate(over="ignore", under="ignore"):
            shift = (V * pre[:, None]).mean(axis=1) / pre
        # a mean rounds between the column's values: keep it within them
        lo, hi = V.min(axis=1), V.max(axis=1)
        shift = np.clip(shift, lo, hi)
        half = _scaled_diff(V, shift, np.full(len(shift), 0.5))
        spread = np.abs(half).max(axis=1)
        self.scale = np.array([dd.pow2_scale(float(v), doubled=True) for v in spread])
        # a round shift (a multiple of 2⁻⁸ of the spread's power of two) keeps x − s short,
        # so exact data give an exactly representable prediction c at the shift
        with np.errstate(over="ignore", under="ignore", invalid="ignore"):
            ex = np.frexp(self.scale)[1] - 1 + 8
            coarse = np.ldexp(np.round(np.ldexp(shift, ex)), -ex)
        ok = np.isfinite(coarse) & (coarse >= lo) & (coarse <= hi) & (spread > 0)
        self.shift = np.where(ok, coarse, shift)

    def update(self, X: np.ndarray, y: np.ndarray, w: np.ndarray | None = None) -> None:
        """Fold a block of rows in (X of shape (m, p), y of shape (m,), weights w ≥ 0)."""
        V = np.empty((self.p + 1, len(y)))
        V[: self.p] = np.asarray(X, dtype=np.float64).T
        V[self.p] = y
        self.update_columns(V, w=w)

    def update_columns(
        self,
        V: np.ndarray,
        lo: np.ndarray | None = None,
        hi: np.ndarray | None = None,
        w: np.ndarray | None = None,
        scratch: np.ndarray | None = None,
    ) -> None:
        """Fold a block in, given column-wise: V of shape (p+1, m), rows x₁…x_p, y.

        ``lo``/``hi`` are the block's column minima and maxima when the caller has them;
        ``w`` the rows' weights (finite, ≥ 0; checked by the reader), for a weighted fit.
        ``scratch``: an array of V's shape the fold may write into, for a caller streaming
        blocks of one size (reusing it spares the fresh pages a new array costs per block).
        """
        m = V.shape[1]
        if m == 0:
            return
        if w is not None:
            self.weighted = True
        elif self.weighted:
            w = np.ones(m)
        if self.shift is None:
            self._set_frame(V)
        lo = V.min(axis=1) if lo is None else lo
        hi = V.max(axis=1) if hi is None else hi
        self.lo = lo if self.lo is None else np.minimum(self.lo, lo)
        self.hi = hi if self.hi is None else np.maximum(self.hi, hi)
        self.n += m
        folds_now = self.factor is not None or self.n >= self.p + 2
        out = None
        if folds_now and not self.pending and scratch is not None and scratch.shape == V.shape:
            out = scratch  # Z is folded below, before the caller's next block reuses it
        Z = _scaled_diff(V, self.shift, self.scale, lo, hi, out)
        if w is not None:
            w = np.asarray(w, dtype=np.float64)
            pos = w[w > 0]
            self.n_nonzero += len(pos)
            self.sum_w += math.fsum(pos)
            self.sum_log_w += math.fsum(np.log(pos))
            sw = np.sqrt(w)
            Z *= sw
            self.pending_sw.append(sw)
        self.pending.append(Z)
        if folds_now:
            self._fold()

    def merge(self, other: DesignStats) -> DesignStats:
        """The statistics of both sets of rows (other is brought into this frame exactly)."""
        if other.R is None:
            return self
        if self.R is None:
            return other
        R2 = other.R.copy()
        ratio = self.scale / other.scale  # powers of two: exact
        R2[:, 1:] *= ratio
        R2[0, 1:] += R2[0, 0] * (other.shift - self.shift) * self.scale
        out = DesignStats(self.p, self.n + other.n, self.shift, self.scale)
        out.weights_from(self, other)
        out.R = _qr_r(np.vstack([self.R, R2]))
        out.lo = np.minimum(self.lo, other.lo)
        out.hi = np.maximum(self.hi, other.hi)
        return out

    # -- columns that appear while streaming (categorical levels) --------------------------
    def add_columns(self, k: int) -> None:
        """Append ``k`` feature columns (before the target) that were zero in every row seen
        so far: a level of a categorical column first seen now. Their shift is 0 and scale
        1, so the factor gains zero rows and columns and stays triangular (exact)."""
        if k <= 0:
            return
        check_width(self.p + k, intercept=False)
        p = self.p
        self.p = p + k
        if self.shift is not None:
            self.shift = np.insert(self.shift, p, np.zeros(k))
            self.scale = np.insert(self.scale, p, np.ones(k))
            self.lo = np.insert(self.lo, p, np.zeros(k))
            self.hi = np.insert(self.hi, p, np.zeros(k))
        self.pending = [np.insert(Z, p, np.zeros((k, Z.shape[1])), axis=0) for Z in self.pending]
        if self.factor is not None:
            R = np.insert(self.factor, p + 1, np.zeros((k, self.factor.shape[1])), axis=0)
            self.factor = np.insert(R, p + 1, np.zeros((k, R.shape[0])), axis=1)

    def select(self, columns: list[int]) -> DesignStats:
        """The statistics of the design made of the feature ``columns`` (in that order) and
        the target: the factor with the other columns deleted, re-triangularised (the R of
        A[:, J] is the R of R[:, J], exactly as if only those columns had been read)."""
        idx = np.asarray(columns, dtype=np.intp)
        out = DesignStats(len(idx), self.n)
        out.weights_from(self)
        if self.shift is None:
            return out
        keep = np.concatenate([idx, [self.p]])
        out.shift, out.scale = self.shift[keep], self.scale[keep]
        out.lo, out.hi = self.lo[keep], self.hi[keep]
        if self.R is not None:
            out.R = _qr_r(self.R[:, np.concatenate([[0], keep + 1])])
        return out

    def permuted(self, order: list[int | None]) -> DesignStats:
        """These statistics laid out in another column order: ``order[j]`` is the position of
        new feature j among this one's features, or None for a column these rows never had
        (zero in every row). Used to merge statistics whose columns were found in another
        order (levels seen by two processes, or in two files)."""
        missing = [j for j, i in enumerate(order) if i is None]
        out = DesignStats(self.p, self.n, self.shift, self.scale, self.factor, self.lo, self.hi)
        out.weights_from(self)
        out.pending, out.pending_sw = list(self.pending), list(self.pending_sw)
        out.add_columns(len(missing))
        src = list(order)
        for k, j in enumerate(missing):
            src[j] = self.p + k
        perm = np.asarray(src + [out.p], dtype=np.intp)
        if out.shift is None:
            return out
        res = DesignStats(len(order), out.n)
        res.weights_from(out)
        res.shift, res.scale = out.shift[perm], out.scale[perm]
        res.lo, res.hi = out.lo[perm], out.hi[perm]
        if out.R is not None:
            res.R = _qr_r(out.R[:, np.concatenate([[0], perm + 1])])
        return res

    # -- derived quantities ----------------------------------------------------------------
    def means(self) -> np.ndarray:
        """Column means (features, then target)."""
        with np.errstate(over="ignore", invalid="ignore"):
            return self.shift + self.R[0, 1:] / self.R[0, 0] / self.scale

    def centred(self) -> np.ndarray:
        """Triangular factor of the centred, unscaled [X, y] (its Gram is the co-moment matrix)."""
        with np.errstate(over="ignore", invalid="ignore"):
            return self.R[1:, 1:] / self.scale

    def raw(self) -> np.ndarray:
        """Triangular factor of the unshifted, unscaled [1, X, y]."""
        R = self.raw_scaled()
        with np.errstate(over="ignore", invalid="ignore"):
            return R / np.concatenate([[1.0], self.scale])

    def raw_scaled(self) -> np.ndarray:
        """Triangular factor of the unshifted [1, X·D, y·e] (scaled, not shifted)."""
        R = self.R.copy()
        with np.errstate(over="ignore", invalid="ignore"):
            R[0, 1:] += R[0, 0] * (self.shift * self.scale)
        return R

    def noint(self) -> np.ndarray:
        """Triangular factor of the unshifted [X·D, y·e] (for fits without an intercept)."""
        return _qr_r(self.raw_scaled()[:, 1:])

    def constant_columns(self) -> list[int]:
        """Feature positions whose values are all equal."""
        return [j for j in range(self.p) if self.lo[j] == self.hi[j]]

    def center_intercept(self, b: float, w: np.ndarray) -> float:
        """The prediction at x = shift, b + Σ w·s, computed without cancellation."""
        return dd.add_dot(b, w, self.shift[: self.p])

    def intercept_from_center(self, c: float, w: np.ndarray) -> float:
        """b = c − Σ w·s, computed without cancellation."""
        return dd.add_dot(c, -np.asarray(w), self.shift[: self.p])

    def residual_norm(self, b: float, w: np.ndarray) -> float:
        """‖y − b − Xw‖ at any parameters, from R alone (no overflow for huge values)."""
        c = self.center_intercept(b, w)
        e = self.scale[-1]
        ex = np.frexp(self.scale)[1] - 1
        with np.errstate(over="ignore", invalid="ignore", under="ignore"):
            c0 = dd.fsum([c, -float(self.shift[-1])])
            theta = np.concatenate([[np.ldexp(c0, ex[-1])], np.ldexp(w, ex[-1] - ex[:-1])])
            v = self.R[:, -1] - self.R[:, :-1] @ theta
            return float(np.linalg.norm(v)) / e

    def sse(self, b: float, w: np.ndarray) -> float:
        """Residual sum of squares Σ(y − b − Xw)² (inf when it exceeds float64's range)."""
        r = self.residual_norm(b, w)
        with np.errstate(over="ignore"):
            return r * r

    def total_norm(self, centred: bool) -> float:
        """√(Σ(y − ȳ)²) (centred) or √(Σy²), without overflow."""
        col = self.R[1:, -1] if centred else self.raw_scaled()[:, -1]
        with np.errstate(over="ignore"):
            return float(np.linalg.norm(col)) / self.scale[-1]

    def sst(self, centred: bool) -> float:
        """Total sum of squares of y: about its mean (centred) or about zero."""
        t = self.total_norm(centred)
        with np.errstate(over="ignore"):
            return t * t


def update_groups(
    stats: list[DesignStats], D: np.ndarray, starts: list[int], lo: np.ndarray, hi: np.ndarray
) -> None:
    """Fold a block whose rows are sorted by group into each group's statistics:
    ``stats[g]`` takes the columns ``D[:, starts[g]:starts[g + 1]]`` (the last to the end),
    whose minima and maxima are ``lo[:, g]``, ``hi[:, g]``. The same as
    ``stats[g].update_columns(...)`` for each g, with the small factorisations of every
    group done at once (batched Cholesky, SVD and QR): with a thousand groups per block the
    per-call overhead of those, not the arithmetic, was most of ``fit --by``'s time.

    Unweighted groups past their first rows take the batched road; the others (a group's
    first rows, weights, a block of at most k rows) each take
    :meth:`DesignStats.update_columns`, and a block whose Gram matrix is not finite or
    too ill-conditioned gets its own :func:`_block_r`, as there."""
    ends = [*starts[1:], D.shape[1]]
    k = D.shape[0]
    fast: list[int] = []
    for g, st in enumerate(stats):
        # a block of at most k rows has a singular Gram matrix (its Cholesky would fail the
        # whole batch): it takes the single road, as a block of one group's first rows does
        if st.factor is not None and not st.pending and not st.weighted and ends[g] - starts[g] > k:
            fast.append(g)
        else:
            st.update_columns(D[:, starts[g] : ends[g]], lo[:, g], hi[:, g])
    if not fast:
        return
    G = np.empty((len(fast), k + 1, k + 1))
    Zs = []
    for i, g in enumerate(fast):
        a, b, st = starts[g], ends[g], stats[g]
        Z = _scaled_diff(D[:, a:b], st.shift, st.scale, lo[:, g], hi[:, g])
        Zs.append(Z)
        G[i, 0, 0] = b - a
        G[i, 0, 1:] = G[i, 1:, 0] = Z.sum(axis=1)
        G[i, 1:, 1:] = _gram(Z)
    d = np.sqrt(np.diagonal(G, axis1=1, axis2=2))  # (G, k+1)
    Rb = np.zeros_like(G)
    done = np.zeros(len(fast), dtype=bool)
    usable = (d > 0).all(axis=1) & np.isfinite(d).all(axis=1)  # else: _block_r's own road
    idx = np.flatnonzero(usable)
    if len(idx):
        Gn = G[idx] / (d[idx, :, None] * d[idx, None, :])
        try:
            L = np.linalg.cholesky(Gn)
        except np.linalg.LinAlgError:  # one is not positive definite: each on its own below
            L = None
        if L is not None:
            sv = np.linalg.svd(L, compute_uv=False)
            with np.errstate(divide="ignore", invalid="ignore"):
                good = (sv[:, -1] > 0) & (sv[:, 0] / sv[:, -1] <= GRAM_COND_MAX)  # as _block_r
            sel = idx[good]
            Rb[sel] = np.transpose(L[good], (0, 2, 1)) * d[sel, None, :]
            done[sel] = True
    for i in np.flatnonzero(~done).tolist():  # each its own _block_r: Cholesky, or QR
        Rb[i] = _block_r(Zs[i])
    F = np.array([stats[g].factor for g in fast])
    R = np.linalg.qr(np.concatenate([F, Rb], axis=1), mode="r")
    signs = np.where(np.diagonal(R, axis1=1, axis2=2) < 0, -1.0, 1.0)
    R *= signs[:, :, None]
    for i, g in enumerate(fast):
        st = stats[g]
        st.factor = R[i]
        st.n += ends[g] - starts[g]
        st.lo = np.minimum(st.lo, lo[:, g])
        st.hi = np.maximum(st.hi, hi[:, g])
