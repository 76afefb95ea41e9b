"""What reading an input produces: the problem for the solvers, what happened while reading,
and a bounded random sample of rows for plots. Shared by every reader (one process, two
processes, several files, formulas, Dask), so none of them imports another."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import DataError
from .io import ReadReport
from .solvers import Problem

#: Rows are kept in memory while rows × columns ≤ this (2**22 float64 values = 32 MiB), to
#: spare lstsq's refinement passes a reread of the input: a speed optimisation, never the
#: accuracy (past it the input is read again, with the same result).
KEEP_VALUES = 1 << 22


def keep_values() -> int:
    """The in-memory limit: KEEP_VALUES, or the environment's LINFIT_KEEP_VALUES (tests and
    benchmarks set it to 0 to take the reread path on small inputs)."""
    env = os.environ.get("LINFIT_KEEP_VALUES", "").strip()
    return int(env) if env.isdigit() else KEEP_VALUES


class Reservoir:
    """A uniform random sample of at most ``size`` rows, in bounded memory (random keys:
    the rows with the smallest keys are the sample)."""

    def __init__(self, size: int, seed: int = 0) -> None:
        self.size = size
        self.rng = np.random.default_rng(seed)
        self.keys = np.empty(0)
        self.X: np.ndarray | None = None
        self.y = np.empty(0)

    def add(self, X: np.ndarray, y: np.ndarray) -> None:
        """Offer rows to the sample."""
        self._keep(self.rng.random(len(y)), X, y)

    def merge(self, other: Reservoir) -> None:
        """Fold another reservoir's sample in (the union's smallest keys are kept)."""
        if other.X is not None:
            self._keep(other.keys, other.X, other.y)

    def _keep(self, keys: np.ndarray, X: np.ndarray, y: np.ndarray) -> None:
        keys = np.concatenate([self.keys, keys])
        X = X if self.X is None else np.concatenate([self.X, X])
        y = np.concatenate([self.y, y])
        if len(keys) > self.size:
            keep = np.argpartition(keys, self.size)[: self.size]
            keys, X, y = keys[keep], X[keep], y[keep]
        self.keys, self.X, self.y = keys, X, y


@dataclass
class Dataset:
    """A read input: the problem for the solvers and what happened while reading, and the
    formula's design (terms, levels, coefficient names) when it was read through one."""

    problem: Problem
    report: ReadReport
    source: str
    sample: Reservoir | None = None
    design: Any = None  # design.DesignSpec


def several(first: str, count: int) -> str:
    """How several inputs read as one are named in messages: ``a.csv and 2 more files``."""
    if count <= 1:
        return first
    return f"{first} and {count - 1} more file{'s' if count > 2 else ''}"


def no_rows(name: str, report: ReadReport) -> None:
    """Refuse an input with no row left to fit, saying why."""
    if report.rows_read == 0:
        raise DataError(f"{name} has a header but no data rows; add rows of numbers below it")
    raise DataError(
        f"{name}: all {report.rows_read} rows have missing values in the chosen columns; "
        "nothing is left to fit: check the delimiter (--sep) and the columns (--x, --y)"
    )
