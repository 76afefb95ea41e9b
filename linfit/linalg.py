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
        return RankInfo(float("inf"), k - zero.size, v)
    _, s, vt = np.linalg.svd(R / norms)
    cond = float(s[0] / s[-1]) if s[-1] > 0 else float("inf")
    tol = rank_tolerance(n) * s[0]
    rank = int(np.sum(s > tol))
    if rank == k:
        return RankInfo(cond, rank, None)
    return RankInfo(cond, rank, vt[-1])
