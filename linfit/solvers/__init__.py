"""The solver registry: a solver is a function registered under a name.

Every solver has one signature, ``solve(problem, options, hooks) -> FitResult``; it never
prints, and reports progress through ``hooks``. Register one with ``@register("name")``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..accumulate import DesignStats
from ..errors import UsageError, quote


@dataclass
class Problem:
    """What a solver gets: the statistics, and the rows themselves when they were kept."""

    stats: DesignStats
    features: list[str]
    target: str
    intercept: bool = True
    X: np.ndarray | None = None  # (n, p) rows, when kept in memory
    y: np.ndarray | None = None
    #: why the rows can be neither refined from memory nor read again (for notices)
    where_rows: str = "the rows were not kept in memory and cannot be read again"
    source: str = "the data"  # the input's name, for messages
    weights: str | None = None  # the weights column's name (a weighted fit)
    w: np.ndarray | None = None  # the kept rows' weights, when weighted and kept
    #: Reads the rows again, in (X, y, w) blocks, when they were not kept (for lstsq's
    #: refinement passes and --cov HC): the one place that knows how to open the input again
    reread: Callable[[], Iterator[tuple[np.ndarray, np.ndarray, np.ndarray | None]]] | None = None
    #: Rows left where they are (a Dask cluster's workers): an object whose ``meat`` sums
    #: --cov HC's second pass there (linfit.robust.meat), and whose ``refine_pass`` sums
    #: lstsq's refinement passes there (csne.RemotePasses)
    remote_rows: Any = None

    def open_rows(self) -> Callable[[], Iterator[tuple]] | None:
        """What gives the rows afresh for one more pass, in (X, y, w) blocks: the kept rows,
        or the input read again; None when neither is possible."""
        if self.X is not None:
            X, y, w = self.X, self.y, self.w
            return lambda: kept_blocks(X, y, w)
        return self.reread

    @property
    def n(self) -> int:
        return self.stats.n

    @property
    def n_params(self) -> int:
        return len(self.features) + int(self.intercept)


#: Rows per block when kept rows are handed out in blocks (bounded working memory).
BLOCK_ROWS = 1 << 16


def kept_blocks(X: np.ndarray, y: np.ndarray, w: np.ndarray | None) -> Iterator[tuple]:
    """Rows kept in memory, in (X, y, w) blocks."""
    for start in range(0, len(y), BLOCK_ROWS):
        end = start + BLOCK_ROWS
        yield X[start:end], y[start:end], None if w is None else w[start:end]


#: The coordinates gradient descent iterates in (``--scale``; the first is the default):
#: whitened features, standardised features, or the user's own (the tutorial's loop).
SCALES = ("whiten", "standard", "none")


def scale_name(scale: str | bool) -> str:
    """The name in SCALES that ``scale`` means (True: the default, False: none)."""
    if scale is True:
        return SCALES[0]
    if scale is False:
        return "none"
    if scale in SCALES:
        return str(scale)
    raise UsageError(f"unknown --scale {quote(scale)}; use whiten, standard or none")


@dataclass(frozen=True)
class SolverOptions:
    """Options of all solvers (each uses the ones it needs)."""

    lr: float = 0.1
    epochs: int = 100
    log_every: int = 10
    seed: int = 0
    tol: float = 1e-12
    scale: str = SCALES[0]  # a name in SCALES (True and False are accepted: default, none)
    batch_size: int | None = None
    device: str = "auto"
    dtype: str = "float64"
    allow_rank_deficient: bool = False
    refine: bool = True  # lstsq: refine when the error bound says it can change a digit

    def __post_init__(self) -> None:
        object.__setattr__(self, "scale", scale_name(self.scale))


@dataclass
class EpochLog:
    """One line of the epoch log, in the user's units."""

    epoch: int
    loss: float
    w: np.ndarray
    b: float


@dataclass
class Hooks:
    """How a solver reports while it runs: a logged epoch, and a tick every epoch."""

    on_log: Callable[[EpochLog], None] | None = None
    on_epoch: Callable[[int, float], None] | None = None


@dataclass
class FitResult:
    """What every solver returns."""

    w: np.ndarray
    b: float
    method: str
    epochs: int | None = None
    converged: bool | None = None
    stop_reason: str | None = None
    history: list[EpochLog] = field(default_factory=list)
    loss_curve: list[float] = field(default_factory=list)
    device: str = "cpu"
    dtype: str = "float64"
    rss: float | None = None  # residual norm √SSE, when the solver knows it best
    rank_deficient: bool = False
    refined: bool = False
    notes: list[str] = field(default_factory=list)
    info: dict = field(default_factory=dict)


Solve = Callable[[Problem, SolverOptions, Hooks], FitResult]


@dataclass(frozen=True)
class SolverSpec:
    name: str
    solve: Solve
    needs_rows: Callable[[SolverOptions], bool]
    summary: str


_REGISTRY: dict[str, SolverSpec] = {}
#: Modules that register the built-in solvers, imported on first lookup (torch stays unloaded).
_BUILTIN = ("lstsq", "gd_numpy", "gd_torch")


def register(
    name: str, summary: str, needs_rows: Callable[[SolverOptions], bool] = lambda o: False
) -> Callable[[Solve], Solve]:
    """Decorator: register ``solve`` under ``name``."""

    def deco(fn: Solve) -> Solve:
        _REGISTRY[name] = SolverSpec(name, fn, needs_rows, summary)
        return fn

    return deco


def _load_builtins() -> None:
    for mod in _BUILTIN:
        importlib.import_module(f"{__name__}.{mod}")


def available() -> list[str]:
    """Names of the registered solvers."""
    _load_builtins()
    return list(_REGISTRY)


def get_solver(name: str) -> SolverSpec:
    """The solver registered as ``name``; an unknown name is an error listing the known ones."""
    _load_builtins()
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(_REGISTRY)
        raise UsageError(f"unknown method {name!r}; known methods are: {known}") from None
