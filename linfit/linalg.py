"""Small dense linear algebra on triangular factors: solves, condition, rank."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

EPS = float(np.finfo(np.float64).eps)


def solve_upper(R: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Back substitution: x with R x = b, R upper triangular and nonsingular."""
    k = R.shape[0]
    x = np.zeros(k)
    for i in range(k - 1, -1, -1):
        x[i] = (b[i] - R[i, i + 1 :] @ x[i + 1 :]) / R[i, i]
    return x


def solve_lower_t(R: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Forward substitution: x with Rᵀ x = b, R upper triangular and nonsingular."""
    k = R.shape[0]
    x = np.zeros(k)
    for i in range(k):
        x[i] = (b[i] - R[:i, i] @ x[:i]) / R[i, i]
    return x


def inv_upper(R: np.ndarray) -> np.ndarray:
    """R⁻¹ for an upper-triangular R."""
    k = R.shape[0]
    return np.column_stack([solve_upper(R, np.eye(k)[:, j]) for j in range(k)])


@dataclass
class RankInfo:
    """Rank analysis of a triangular factor after scaling its columns to unit norm."""

    cond: float
    rank: int
    null_vector: np.ndarray | None  # a direction the data do not determine
    null_basis: np.ndarray | None = None  # rows: every such direction (k − rank of them)

    @property
    def deficient(self) -> bool:
        return self.null_vector is not None


def rank_tolerance(n: int) -> float:
    """Relative singular-value threshold below which a column set counts as dependent."""
    return max(1e-13, 10.0 * np.sqrt(max(n, 1)) * EPS)


def equilibrated_cond(R: np.ndarray) -> float:
    """2-norm condition number of R with columns scaled to unit norm (inf when singular)."""
    norms = np.linalg.norm(R, axis=0)
    if np.any(norms == 0):
        return float("inf")
    s = np.linalg.svd(R / norms, compute_uv=False)
    return float(s[0] / s[-1]) if s[-1] > 0 else float("inf")


def analyse_rank(R: np.ndarray, n: int) -> RankInfo:
    """Numerical rank of R (columns equilibrated); a null vector when it is deficient."""
    k = R.shape[1]
    norms = np.linalg.norm(R, axis=0)
    zero = np.flatnonzero(norms == 0)
    if zero.size:
        v = np.zeros(k)
        v[zero[0]] = 1.0
        basis = np.zeros((zero.size, k))
        basis[np.arange(zero.size), zero] = 1.0
        return RankInfo(float("inf"), k - zero.size, v, basis)
    _, s, vt = np.linalg.svd(R / norms)
    cond = float(s[0] / s[-1]) if s[-1] > 0 else float("inf")
    tol = rank_tolerance(n) * s[0]
    rank = int(np.sum(s > tol))
    if rank == k:
        return RankInfo(cond, rank, None)
    return RankInfo(cond, rank, vt[-1], vt[rank:])


def _nullity(R: np.ndarray, n: int) -> int:
    """k − numerical rank of R's columns (equilibrated), by the rank_tolerance rule."""
    norms = np.linalg.norm(R, axis=0)
    if not np.any(norms):
        return R.shape[1]
    if np.any(norms == 0):
        return int(np.sum(norms == 0)) + _nullity(R[:, norms > 0], n)
    s = np.linalg.svd(R / norms, compute_uv=False)
    return int(R.shape[1] - np.sum(s > rank_tolerance(n) * s[0]))


def dependent_columns(R: np.ndarray, n: int, info: RankInfo) -> list[int]:
    """Positions of every column that takes part in a linear dependency of R's columns.

    Columns are ranked by their weight in the null space; the answer is the smallest such
    leading set that is as rank deficient as all of R (found by bisection): every column
    of each dependency is in it, and no column whose removal leaves the dependency intact.
    """
    k = R.shape[1]
    basis = info.null_basis if info.null_basis is not None else info.null_vector[None, :]
    order = np.argsort(-np.linalg.norm(basis, axis=0), kind="stable")
    want = k - info.rank
    lo, hi = 1, k  # _nullity(R[:, order[:hi]]) == want
    while lo < hi:
        mid = (lo + hi) // 2
        if _nullity(R[:, order[:mid]], n) >= want:
            hi = mid
        else:
            lo = mid + 1
    return sorted(int(j) for j in order[:hi])
