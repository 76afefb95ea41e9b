"""The library entry points: read a CSV into a Problem, fit it with a registered solver.

>>> import linfit
>>> model = linfit.fit("sample_data/tutorial_points.csv")
>>> round(model.w[0], 12), round(model.b, 12)
(1.7, 0.0)
"""

from __future__ import annotations

import contextlib
import functools
import os
from dataclasses import dataclass, field

import numpy as np

from . import prefetch
from .accumulate import DesignStats, check_width
from .blas import one_thread
from .dataset import KEEP_VALUES, Dataset, Reservoir, keep_values, no_rows, several
from .errors import DataError
from .io import CsvOptions, CsvReader, ReadReport, expand_inputs
from .metrics import fit_metrics
from .model import LinearModel, check_names
from .solvers import EpochLog, FitResult, Hooks, Problem, SolverOptions, get_solver

#: Rows are kept in memory (for SGD and torch, and to spare lstsq's refinement a reread)
#: while rows × columns ≤ this and dataset.keep_values(): a speed optimisation only; past it
#: lstsq's refinement reads the input again (linfit.solvers.csne), with the same result, and
#: it refines only when the streamed solution's error bound says it can change a digit.
KEEP_ROWS = KEEP_VALUES
#: After this many values have been read (2 MiB), lstsq's error bound of the rows so far is
#: checked once: if it is certain to need no refinement, no more rows are kept.
CHECK_VALUES = 1 << 18
#: A file the fast reader reads past this size has scipy.special imported on another thread
#: while polars parses it (linfit.special.preload): on a small file there is nothing to hide.
PRELOAD_BYTES = 16 << 20


def keep_limit() -> int:
    """How many values of rows may be kept in memory (see KEEP_ROWS)."""
    return min(KEEP_ROWS, keep_values())


def not_kept() -> str:
    """Why a read kept no rows (for the note of a fit that could not be refined)."""
    return f"the input has more than {keep_limit():,} values, so its rows were not kept in memory"


#: Why stdin's rows cannot be refined without a copy (read_dataset without stdin_spool).
STDIN_ONCE = (
    "standard input can be read only once and its rows were not kept in memory; fit a file, "
    "or use the linfit command, which keeps a temporary copy for the refinement"
)


@dataclass
class Outcome:
    """A fitted model and the notices a user should see (rows dropped, not converged, …)."""

    model: LinearModel
    result: FitResult
    notes: list[str] = field(default_factory=list)


def read_dataset(
    path: str | list[str],
    x: list[str] | None = None,
    y: str | None = None,
    csv: CsvOptions | None = None,
    intercept: bool = True,
    keep_all_rows: bool = False,
    sample: int = 0,
    formula: str | None = None,
    exclude: list[str] | None = None,
    weights: str | None = None,
    stdin_spool: str | None = None,
) -> Dataset:
    """Read the input once into statistics (and the rows, when they fit or are needed).

    ``path`` is a file, ``-`` for stdin, a glob, a directory of CSV files, or a list of
    these; several files are read one after another and their statistics merged, as if
    they were one file (their columns must match). ``sample`` > 0 also keeps a uniform
    random sample of that many rows (for plots). ``formula`` (Wilkinson notation, e.g.
    ``"mpg ~ wt * hp + C(cyl)"``) reads the input through its terms instead of ``x``/``y``;
    ``intercept=False`` then drops the intercept as ``- 1`` does. ``exclude`` leaves
    columns out of the default features. ``weights`` names a column of row weights w ≥ 0:
    the fit then minimises Σ w·r², as R's ``lm(weights=)``. ``stdin_spool``: the file a
    :func:`linfit.spool.stdin_copy` is copying stdin to, from which a refinement reads
    stdin's rows again.

    Rows not kept can be read again through ``problem.reread``, the one place that opens the
    inputs a second time (the same reader, columns, formula, missing-value policy and
    weights as this pass).
    """
    paths = expand_inputs(path)
    again = [stdin_spool if p == "-" and stdin_spool else p for p in paths]
    if formula is not None:
        data = _read_formula(paths, formula, csv, intercept, keep_all_rows, sample, weights)
        if data.problem.X is None:
            from .robust import reread_design_rows

            _reread(data, again, reread_design_rows, again, data.design, csv, weights)
        return data
    from .parallel import map_files, workers_for_files

    args = (x, y, csv, intercept, keep_all_rows, sample, exclude)
    workers = workers_for_files(paths, keep_all_rows)
    if workers > 1:  # the files are large together: no rows are kept, only statistics
        parts = map_files(_read_one, paths, (*args, False, weights), workers)  # keep no rows
    else:
        parts = [_read_one(p, *args, True, weights) for p in paths]
    data = parts[0] if len(parts) == 1 else _combine(parts, keep_all_rows)
    check_names(data.problem.features, data.problem.target, data.source)
    if data.problem.X is None:
        from .robust import reread_rows

        _reread(data, again, reread_rows, again, x, y, csv, exclude, weights)
    return data


def _reread(data: Dataset, paths: list[str], fn, *args) -> None:
    """Give the problem its way to read the rows again (none for stdin without a copy)."""
    if "-" in paths:
        data.problem.where_rows = STDIN_ONCE
        return
    from .spool import copy_failure

    for p in paths:
        why = copy_failure(p)
        if why is not None:
            data.problem.where_rows = (
                f"standard input's temporary copy could not be written ({why}), so its rows "
                "cannot be read again; fit a file, or free space in TMPDIR"
            )
            return
    data.problem.reread = functools.partial(fn, *args)


def _combine(parts: list[Dataset], keep_all_rows: bool) -> Dataset:
    first = parts[0].problem
    for part in parts[1:]:
        pr = part.problem
        if pr.features != first.features or pr.target != first.target:
            raise DataError(
                f"{part.source} has columns {pr.features + [pr.target]}, but {parts[0].source} "
                f"has {first.features + [first.target]}; files read together must match"
            )
    from .parallel import Part

    total = functools.reduce(Part.merge, [Part(p.problem.stats, p.report, p.sample) for p in parts])
    X = Y = W = None
    if all(p.problem.X is not None for p in parts):
        size = sum(p.problem.X.size + p.problem.y.size for p in parts)
        if keep_all_rows or size <= keep_limit():
            X = np.concatenate([p.problem.X for p in parts])
            Y = np.concatenate([p.problem.y for p in parts])
            if first.w is not None:
                W = np.concatenate([p.problem.w for p in parts])
    source = several(parts[0].source, len(parts))
    problem = Problem(
        total.stats, list(first.features), first.target, first.intercept, X, Y, source=source
    )
    problem.w, problem.weights = W, first.weights
    if X is None:
        problem.where_rows = (
            not_kept()
            if all(p.problem.X is not None for p in parts) or len(parts) < 2
            else "the files were read by several processes, which keep no rows"
        )
    return Dataset(problem, total.report, source, total.sample)


def _read_one(
    path: str,
    x: list[str] | None,
    y: str | None,
    csv: CsvOptions | None,
    intercept: bool,
    keep_all_rows: bool,
    sample: int,
    exclude: list[str] | None = None,
    keep_rows: bool = True,
    weights: str | None = None,
) -> Dataset:
    reader = CsvReader(path, csv)
    blas_limit = contextlib.ExitStack()
    report = ReadReport()
    reservoir = Reservoir(sample) if sample else None
    try:
        sel = reader.select(x, y, exclude, weights)
        check_width(len(sel.x_idx), reader.name, intercept)
        from .parallel import read_parallel, workers_for

        workers = workers_for(path, keep_all_rows, reader)
        if workers > 1:
            stats, report, reservoir = read_parallel(reader, reader.options, sel, workers, sample)
            if stats.n == 0:
                no_rows(reader.name, report)
            problem = Problem(stats, list(sel.x_names), sel.y_name, intercept, source=reader.name)
            problem.weights = weights
            problem.where_rows = "the file was read by several processes, which keep no rows"
            return Dataset(problem, report, reader.name, reservoir)
        stats = DesignStats(len(sel.x_idx))
        Xs: list[np.ndarray] = []
        ys: list[np.ndarray] = []
        ws: list[np.ndarray] = []
        kept = 0
        keep = keep_rows
        why = not_kept()
        limit = keep_limit()
        checked = False
        if reader.fast and os.path.getsize(reader.path) >= PRELOAD_BYTES:
            from .special import preload

            preload()  # while polars parses
        blas_limit.enter_context(one_thread())  # whichever reader, however large the input
        scratch = np.empty((0, 0))
        for block in reader.blocks(sel, report):
            V, lo, hi = block.data
            if scratch.shape != V.shape:
                scratch = np.empty_like(V)
            stats.update_columns(V, lo, hi, w=block.w, scratch=scratch)
            if reservoir is not None:
                reservoir.add(block.X, block.y)
            if keep:
                kept += block.V.size
                if keep_all_rows or kept <= limit:
                    Xs.append(block.X)
                    ys.append(block.y)
                    if block.w is not None:
                        ws.append(block.w)
                else:
                    keep, Xs, ys, ws = False, [], [], []
            if keep and not keep_all_rows and not checked and kept >= CHECK_VALUES:
                checked = True
                if _certified_so_far(stats, list(sel.x_names), intercept):
                    keep, Xs, ys, ws = False, [], [], []
                    why = (
                        f"its rows were not kept for refinement: after the first {stats.n:,} "
                        "rows the fit looked certain to need none"
                    )
    finally:
        blas_limit.close()
        reader.close()
        prefetch.discard()  # a scan started early that this read did not take
    if stats.n == 0:
        no_rows(reader.name, report)
    X = np.concatenate(Xs) if keep and Xs else None
    Y = np.concatenate(ys) if keep and ys else None
    problem = Problem(stats, list(sel.x_names), sel.y_name, intercept, X, Y, source=reader.name)
    problem.weights = weights
    if X is not None and weights is not None:
        problem.w = np.concatenate(ws)
    if X is None:
        problem.where_rows = why
    return Dataset(problem, report, reader.name, reservoir)


def _read_formula(
    paths: list[str],
    formula: str,
    csv: CsvOptions | None,
    intercept: bool,
    keep_all_rows: bool,
    sample: int,
    weights: str | None = None,
) -> Dataset:
    """Read every input through the formula (one process each, in order) and merge."""
    from .design_read import finish, read_file

    first = read_file(paths[0], formula, csv, intercept, keep_all_rows, sample, weights)
    parsed = first.design.formula  # '.' means the first file's columns, in every file
    parts = [first] + [
        read_file(p, parsed, csv, intercept, keep_all_rows, sample, weights) for p in paths[1:]
    ]
    total = functools.reduce(lambda a, b: a.merge(b), parts)
    source = several(parts[0].source, len(parts))
    data = finish(total, source)
    check_names(data.problem.features, data.problem.target, source)
    return data


def _certified_so_far(stats: DesignStats, features: list[str], intercept: bool) -> bool:
    """Whether the streamed solution of the rows read so far is certified (its error bound
    below lstsq.REFINE_BELOW): then refinement is unlikely to be needed, and rows need not
    be kept for it."""
    from .solvers.lstsq import REFINE_BELOW, streamed_bound

    problem = Problem(stats, features, "y", intercept)
    if problem.n <= problem.n_params:
        return False
    return streamed_bound(problem) < REFINE_BELOW


def _history(problem: Problem, logs: list[EpochLog]) -> list[dict]:
    return [
        {
            "epoch": e.epoch,
            "loss": e.loss,
            "w": {f: float(v) for f, v in zip(problem.features, e.w)},
            "b": float(e.b),
        }
        for e in logs
    ]


def fit_problem(
    problem: Problem,
    method: str = "lstsq",
    options: SolverOptions | None = None,
    hooks: Hooks | None = None,
    stats: bool | None = None,
    level: float = 0.95,
    design: object | None = None,
    cov: str = "nonrobust",
) -> Outcome:
    """Fit ``problem`` with the solver registered as ``method`` (``design``: the formula's
    design the problem was read through, stored in the model for predict; ``cov``: the
    coefficients' covariance, "nonrobust" or a heteroskedasticity-consistent HC0…HC3, which
    costs a second pass over the rows)."""
    from .solvers.lstsq import original_cond

    options = options or SolverOptions()
    spec = get_solver(method)
    if problem.stats.weighted and problem.stats.n_nonzero == 0:
        raise DataError(
            f"{problem.source}: every row's weight is 0, so no row is left to fit; check the "
            "weights column"
        )
    if spec.needs_rows(options) and problem.X is None:
        raise DataError(
            f"method {method!r} needs the rows in memory; read the data with keep_all_rows"
        )
    result = spec.solve(problem, options, hooks or Hooks())
    st = problem.stats
    w, b = np.asarray(result.w, dtype=np.float64), float(result.b)
    rss = result.rss if result.rss is not None else st.residual_norm(b, w)
    notes = list(result.notes)
    solver: dict = {"name": method}
    info = dict(result.info)
    center_y = info.pop("center_y", None)
    if method == "lstsq":
        solver["refined"] = result.refined
        solver.update(info)
    else:
        solver.update(
            lr=options.lr,
            epochs=options.epochs,
            epochs_run=result.epochs,
            converged=result.converged,
            stop_reason=result.stop_reason,
            tol=options.tol,
            seed=options.seed,
            batch_size=options.batch_size,
            scaled=options.scale != "none",
            scale=options.scale,
            history_thinned=info.get("history_thinned", False),
            history_every=info.get("history_every", max(1, options.log_every)),
        )
        if method == "torch":
            solver.update(device=result.device, dtype=result.dtype)
    cond = original_cond(problem) if problem.n >= problem.n_params else float("inf")
    model = LinearModel(
        features=list(problem.features),
        target=problem.target,
        w=w,
        b=b,
        intercept=problem.intercept,
        method=method,
        n_samples=problem.n,
        metrics=fit_metrics(st, rss, problem.intercept),
        solver=solver,
        history=_history(problem, result.history),
        design=design,
        weights=problem.weights,
    )
    model.metrics["cond"] = cond
    if problem.intercept:
        model.center = st.shift[: len(w)].copy()
        model.c = center_y if center_y is not None else st.center_intercept(b, w)
    want_stats = (method == "lstsq") if stats is None else stats
    if want_stats and not result.rank_deficient:
        from .inference import compute, design_factor

        meat = None
        if cov != "nonrobust":
            from . import robust

            again = problem.open_rows()
            if problem.remote_rows is not None:  # summed where the rows are (Dask)
                rows = problem.remote_rows
            elif again is None:
                raise DataError(f"{problem.source}: --cov {cov} needs the rows a second time")
            else:
                rows = again()
            R, shift = design_factor(st, problem.intercept)
            scale = st.scale[: len(problem.features)]
            meat = robust.meat(
                rows,
                R,
                shift,
                scale,
                problem.intercept,
                model.predict,
                cov,
                st.nobs,
                problem.source,
            )
        model.stats, model.inference = compute(
            st, problem.features, problem.intercept, w, b, rss, level, cond, meat, cov
        )
        if method != "lstsq":
            model.stats["assumes_convergence"] = True
    # a run that reached --epochs: the solver's notes say why (loss still falling, SGD's
    # noise floor, an ill-conditioned --scale) and what to change
    return Outcome(model, result, notes)


def fit(
    path: str,
    x: list[str] | None = None,
    y: str | None = None,
    method: str = "lstsq",
    intercept: bool = True,
    csv: CsvOptions | None = None,
    options: SolverOptions | None = None,
    stats: bool | None = None,
    formula: str | None = None,
) -> LinearModel:
    """Fit a CSV file (``-`` for stdin) and return the model; ``formula`` (e.g.
    ``"log(y) ~ x * C(g)"``) instead of ``x``/``y`` fits its terms."""
    options = options or SolverOptions()
    needs = get_solver(method).needs_rows(options)
    with contextlib.ExitStack() as stack:
        spool = None
        if method == "lstsq" and "-" in expand_inputs(path):
            from .spool import stdin_copy

            spool = stack.enter_context(stdin_copy())
        data = read_dataset(
            path, x, y, csv, intercept, keep_all_rows=needs, formula=formula, stdin_spool=spool
        )
        return fit_problem(data.problem, method, options, stats=stats, design=data.design).model


def fit_arrays(
    X,
    y,
    features: list[str] | None = None,
    target: str = "y",
    method: str = "lstsq",
    intercept: bool = True,
    options: SolverOptions | None = None,
    stats: bool | None = None,
) -> LinearModel:
    """Fit in-memory arrays (X of shape (n, p) or (n,), y of shape (n,))."""
    X = np.asarray(X, dtype=np.float64)
    X = X[:, None] if X.ndim == 1 else X
    y = np.asarray(y, dtype=np.float64)
    features = features or [f"x{j}" for j in range(X.shape[1])]
    check_width(X.shape[1], "the arrays", intercept)
    st = DesignStats(X.shape[1])
    st.update(X, y)
    problem = Problem(st, list(features), target, intercept, X, y)
    return fit_problem(problem, method, options, stats=stats).model
