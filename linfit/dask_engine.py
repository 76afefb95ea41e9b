"""The Dask engine: the same fit and predict over many files, on a Dask cluster.

Files are read by ``dask.dataframe.read_csv`` with the local engine's CSV options; every
partition is folded into the same mergeable statistics as a local block (a QR factor), and
the partitions' statistics are combined in a binary tree of merges. The solver then runs on
the combined statistics exactly as it does locally. Without ``--scheduler`` a local cluster
of ``--workers`` processes is started and stopped; with it, an existing cluster is used.
dask and distributed (the ``linfit[dask]`` extra) are imported only here.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator

import numpy as np

from .accumulate import DesignStats
from .dataset import Dataset, Reservoir, no_rows
from .errors import DataError, EnvironmentProblem, InputError, LinfitError, UsageError, quote
from .io import CsvOptions, CsvReader, ReadReport, expand_inputs
from .model import LinearModel
from .parallel import Part
from .solvers import Problem

BLOCKSIZE = "64MB"


def _import_dask():
    try:
        import dask  # noqa: F401
        import dask.dataframe  # noqa: F401
        import distributed  # noqa: F401
    except ImportError:
        raise EnvironmentProblem(
            "--engine dask needs dask and distributed, which are not installed; install them "
            "with pip install 'linfit[dask]' (or make install)"
        ) from None


_ACTIVE: list = []  # the client a run's passes share (see session())
_SESSIONS: list[contextlib.ExitStack] = []


@contextlib.contextmanager
def session() -> Iterator[None]:
    """A run's block: the first cluster() opened inside stays open until the block ends, so
    a second pass (--cov HC) reuses its workers instead of starting another cluster."""
    with contextlib.ExitStack() as stack:
        _SESSIONS.append(stack)
        try:
            yield
        finally:
            _SESSIONS.pop()


@contextlib.contextmanager
def cluster(scheduler: str | None, workers: int) -> Iterator[object]:
    """A distributed Client: to ``scheduler``, or to a local cluster started for the run
    (inside session(), the session's one)."""
    if _ACTIVE:
        yield _ACTIVE[-1]
        return
    if _SESSIONS:
        stack = _SESSIONS[-1]
        client = stack.enter_context(_new_cluster(scheduler, workers))
        _ACTIVE.append(client)
        stack.callback(_ACTIVE.pop)  # runs first: callbacks run last in, first out
        yield client
        return
    with _new_cluster(scheduler, workers) as client:
        _ACTIVE.append(client)
        try:
            yield client
        finally:
            _ACTIVE.pop()


@contextlib.contextmanager
def _new_cluster(scheduler: str | None, workers: int) -> Iterator[object]:
    _import_dask()
    from distributed import Client, LocalCluster

    for name in ("distributed", "tornado", "asyncio"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    if scheduler:
        try:
            client = Client(scheduler, timeout="10s")
        except (OSError, TimeoutError) as exc:
            raise EnvironmentProblem(
                f"cannot reach the Dask scheduler at {scheduler} ({exc}); check the address, "
                "or leave out --scheduler to start a local cluster"
            ) from None
        try:
            yield client
        finally:
            client.close()
        return
    local = LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        silence_logs=logging.CRITICAL,
    )
    client = Client(local)
    try:
        yield client
    finally:
        client.close()
        local.close()


def partition_values(pdf, names: list[str], na: str) -> tuple[np.ndarray, int]:
    """A partition's chosen columns as float64 rows (one per name), rows with a missing
    value dropped (or refused under --na raise); the count dropped."""
    V = np.empty((len(names), len(pdf)))
    for j, name in enumerate(names):
        V[j] = pdf[name].to_numpy(dtype=np.float64, na_value=np.nan)
    inf = np.isinf(V)
    if inf.any():
        j = int(np.argwhere(inf)[0][0])
        raise DataError(f"non-finite value in column {names[j]!r}; fix or remove that row")
    missing = np.isnan(V).any(axis=0)
    dropped = int(missing.sum())
    if dropped:
        if na == "raise":
            j = int(np.flatnonzero(np.isnan(V[:, np.flatnonzero(missing)[0]]))[0])
            raise DataError(f"missing value in column {names[j]!r}; pass --na drop to skip it")
        V = np.ascontiguousarray(V[:, ~missing])
    return V, dropped


def _check_weights(w: np.ndarray, name: str) -> None:
    if (w < 0).any():
        raise DataError(
            f"negative weight {float(w[w < 0][0]):g} in column {quote(name)}; weights must be "
            "finite and ≥ 0 (0 leaves a row out of the fit): run linfit fit on the files with "
            "--engine local to find its line"
        )


def partition_stats(
    pdf, names: list[str], na: str, sample: int, seed: int, weights: str | None = None
) -> Part:
    """Fold one partition (a pandas DataFrame of the chosen columns: features, target and
    the weights when ``weights`` names them) into statistics; √w is folded into each row."""
    p = len(names) - 1 - (weights is not None)
    V, dropped = partition_values(pdf, names, na)
    w = None
    if weights is not None:
        w = V[p + 1]
        _check_weights(w, weights)
    stats = DesignStats(p)
    stats.update_columns(V[: p + 1], w=w)
    res = None
    if sample:
        res = Reservoir(sample, seed=seed)
        if V.shape[1]:
            res.add(V[:p].T, V[p])
    return Part(stats, ReadReport(rows_read=len(pdf), rows_dropped=dropped), res)


def partition_rows(pdf, names, na, weights):
    """One partition's rows as the fit used them: (X, y, w) blocks."""
    from .solvers import kept_blocks

    p = len(names) - 1 - (weights is not None)
    V, _ = partition_values(pdf, names, na)
    w = V[p + 1] if weights is not None else None
    return kept_blocks(np.ascontiguousarray(V[:p].T), V[p], w)


def partition_design_rows(pdf, design, w_col, csv: CsvOptions, label: str):
    """One partition's rows through the fitted formula (text cells): (X, y, w) blocks."""
    from .io import parse_text_column
    from .robust import design_block
    from .solvers import kept_blocks

    def parse(cells, name, lines):
        return parse_text_column(cells, name, label, lines, csv, None)

    pdf.index = np.arange(1, len(pdf) + 1)
    return kept_blocks(*design_block(pdf, design, w_col, parse))


def rows_meat(pdf, rows, rows_args, args) -> np.ndarray:
    """One partition's share of the sandwich's meat (robust.meat's C), for --cov HC."""
    from .robust import meat

    return meat(rows(pdf, *rows_args), *args)


def rows_pass(pdf, rows, rows_args, frame, hi, lo):
    """One partition's share of a refinement pass (csne.pass_over at θ = hi + lo)."""
    from .solvers.csne import pass_over

    return pass_over(frame, rows(pdf, *rows_args), hi, lo)


def _merge_pass(a, b):
    return a.merge(b)


class ClusterRows:
    """The rows of a Dask fit, left on the workers: robust.meat asks for C through
    :meth:`meat`, and lstsq's refinement for a pass's sums through :meth:`refine_pass`;
    each sums every partition's share in a tree (a further pass over the files there)."""

    def __init__(self, files, csv, scheduler, workers, names=None, weights=None, design=None):
        self.files, self.csv, self.scheduler, self.workers = files, csv, scheduler, workers
        self.names, self.weights, self.design = names, weights, design

    def _each(self, fn, extra: tuple, combine):
        """``fn(partition, rows, rows_args, *extra)`` on every partition, combined."""
        from dask import delayed

        with cluster(self.scheduler, self.workers) as client:
            if self.design is None:
                df = _read_csv(
                    self.files, self.csv, usecols=self.names,
                    dtype={n: "float64" for n in self.names},
                )  # fmt: skip
                tasks = [
                    delayed(fn)(
                        part, partition_rows, (self.names, self.csv.na, self.weights), *extra
                    )
                    for part in df.to_delayed()
                ]
            else:
                df = _read_csv(self.files, self.csv, dtype=str, keep_default_na=False,
                               na_filter=False)  # fmt: skip
                tasks = [
                    delayed(fn)(
                        part,
                        partition_design_rows,
                        (self.design, self.weights, self.csv, f"partition {i}"),
                        *extra,
                    )
                    for i, part in enumerate(df.to_delayed())
                ]
            return _compute(client, tree_reduce(tasks, combine))

    def meat(self, R, shift, scale, intercept, predict, cov_type, nobs, source) -> np.ndarray:
        args = (R, shift, scale, intercept, predict, cov_type, nobs, source)
        return self._each(rows_meat, (args,), np.add)

    def refine_pass(self, frame, hi: np.ndarray, lo: np.ndarray):
        """A refinement pass at θ = hi + lo (csne.Pass): each partition's g = AᵀW·r and
        Σw·r² in double-double, merged exactly in a tree (csne.RemotePasses)."""
        return self._each(rows_pass, (frame, hi, lo), _merge_pass)


def tree_reduce(items: list, combine) -> object:
    """Combine ``items`` pairwise, level by level (depth log2 n)."""
    from dask import delayed

    level = list(items)
    while len(level) > 1:
        nxt = [delayed(combine)(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def _files(spec: list[str] | str) -> list[str]:
    files = expand_inputs(spec)
    if "-" in files:
        raise UsageError("--engine dask reads files, not stdin; give file names or a glob")
    for f in files:
        if not os.path.isfile(f):
            raise InputError(f"{f}: no such file; check the path")
    return files


def _read_csv(files: list[str], csv: CsvOptions, **kw):
    import dask.dataframe as dd

    return dd.read_csv(
        files,
        sep=csv.delimiter_for(files[0]),
        decimal=csv.decimal,
        thousands=csv.thousands,
        encoding=csv.encoding,
        blocksize=None if any(f.lower().endswith(".gz") for f in files) else BLOCKSIZE,
        compression="infer",
        **kw,
    )


def _compute(client, task):
    try:
        return client.compute(task).result()
    except LinfitError:
        raise
    except (ValueError, TypeError) as exc:
        raise DataError(
            f"a value in the chosen columns is not a number ({exc}); run linfit fit on the "
            "files with --engine local to find the file and line"
        ) from None
    except Exception as exc:  # noqa: BLE001 - the cluster's failures, named for the user
        raise LinfitError(
            f"the Dask computation failed ({type(exc).__name__}: {exc}); check the cluster's "
            "workers and retry"
        ) from None


def partition_design(
    pdf, formula: str, header, csv: CsvOptions, intercept, sample, seed, weights=None, w_col=None
):
    """Fold one partition (text cells) through the formula: a design part (its levels,
    statistics of its columns), merged with the others by meaning."""
    from .design_read import fold_frame, new_part

    part = new_part(
        formula, header, f"partition {seed}", csv, intercept, False, sample, seed, weights, w_col
    )
    fold_frame(part, pdf, np.arange(1, len(pdf) + 1, dtype=np.int64), csv)
    return part


def _merge_design(a, b):
    return a.merge(b)


def read_dask_formula(
    files: list[str],
    formula: str,
    csv: CsvOptions,
    intercept: bool,
    scheduler: str | None,
    workers: int,
    sample: int,
    weights: str | None = None,
) -> Dataset:
    """A formula over the files on a Dask cluster: each partition finds its levels; the
    parts merge in a binary tree, matching columns by term and level."""
    from dask import delayed

    from .design_read import finish

    reader = CsvReader(files[0], csv)
    reader.close()
    header = list(reader.columns)
    w_col = None if weights is None else header[reader.resolve(weights)]
    with cluster(scheduler, workers) as client:
        df = _read_csv(files, csv, dtype=str, keep_default_na=False, na_filter=False)
        tasks = [
            delayed(partition_design)(
                part, formula, header, csv, intercept, sample, i, weights, w_col
            )
            for i, part in enumerate(df.to_delayed())
        ]
        total = _compute(client, tree_reduce(tasks, _merge_design))
    source = files[0] if len(files) == 1 else f"{files[0]} and {len(files) - 1} more (dask)"
    total.why_no_rows = "the rows stay on the Dask workers"
    total.blocks = None
    data = finish(total, source)
    data.problem.remote_rows = ClusterRows(
        files, csv, scheduler, workers, weights=w_col, design=data.design
    )
    return data


def read_dask(
    spec: list[str] | str,
    x: list[str] | None,
    y: str | None,
    csv: CsvOptions,
    intercept: bool,
    scheduler: str | None,
    workers: int,
    sample: int = 0,
    formula: str | None = None,
    exclude: list[str] | None = None,
    weights: str | None = None,
) -> Dataset:
    """Read the files on a Dask cluster into the statistics the solvers use. A second pass
    (--cov HC) runs on the cluster too: the problem's ``remote_rows`` is a ClusterRows."""
    files = _files(spec)
    if formula is not None:
        return read_dask_formula(
            files, formula, csv, intercept, scheduler, workers, sample, weights
        )
    reader = CsvReader(files[0], csv)
    try:
        sel = reader.select(x, y, exclude, weights)
    finally:
        reader.close()
    names = list(sel.x_names) + [sel.y_name] + ([sel.w_name] if sel.w_name else [])
    from dask import delayed

    with cluster(scheduler, workers) as client:
        try:
            df = _read_csv(files, csv, usecols=names, dtype={n: "float64" for n in names})
        except (ValueError, KeyError) as exc:
            raise DataError(f"{files[0]}: cannot read the files together ({exc})") from None
        parts = df.to_delayed()
        tasks = [
            delayed(partition_stats)(part, names, csv.na, sample, i, sel.w_name)
            for i, part in enumerate(parts)
        ]
        total: Part = _compute(client, tree_reduce(tasks, Part.merge))
    report = total.report
    source = files[0] if len(files) == 1 else f"{files[0]} and {len(files) - 1} more (dask)"
    if total.stats.n == 0:
        no_rows(source, report)
    problem = Problem(
        total.stats,
        list(sel.x_names),
        sel.y_name,
        intercept,
        where_rows="the rows stay on the Dask workers",
        source=source,
    )
    problem.weights = weights
    problem.remote_rows = ClusterRows(
        files, csv, scheduler, workers, names=names, weights=sel.w_name
    )
    return Dataset(problem, report, source, total.sample)


def partition_groups(pdf, template, csv: CsvOptions, limit: int, label: str, parsed=None):
    """One partition (text cells) into its groups' statistics (``template``: the empty
    Grouped whose columns to read; ``parsed``: its formula, parsed)."""
    import dataclasses

    import pandas as pd

    from .groups import fold_formula_frame, fold_frame

    out = dataclasses.replace(template, stats={}, rows=None, parts=[], source=label)
    out.report = ReadReport()
    lines = np.arange(1, len(pdf) + 1, dtype=np.int64)
    pdf.index = pd.Index(lines, name="line")
    if parsed is None:
        fold_frame(out, pdf, lines, label, csv, limit)
    else:
        parts: dict = {}
        fold_formula_frame(out, parts, pdf, lines, parsed, list(pdf.columns), label, csv, limit)
        out.stats, out.parts = parts, []
    return out


def merge_grouped(a, b, limit: int):
    """Two partitions' groups as one (b's rows after a's); more than ``limit`` groups is
    the --max-groups error."""
    import dataclasses

    from .groups import add_groups

    out = dataclasses.replace(a, stats=dict(a.stats), report=ReadReport().merge(a.report))
    add_groups(out, b, limit, "")
    return out


def read_dask_groups(
    spec: list[str] | str,
    x: list[str] | None,
    y: str | None,
    by: list[str],
    csv: CsvOptions,
    intercept: bool,
    scheduler: str | None,
    workers: int,
    formula: str | None = None,
    exclude: list[str] | None = None,
    weights: str | None = None,
    max_groups: int = 1000,
):
    """fit --by on a Dask cluster: each partition's groups' statistics, merged by group in a
    binary tree (linfit.groups fits them as it fits a local pass's)."""
    import functools

    from dask import delayed

    from .groups import grouped_for, grouped_formula_for

    files = _files(spec)
    reader = CsvReader(files[0], csv)
    try:
        parsed = None
        if formula is None:
            template = grouped_for(reader, x, y, by, exclude, weights)
        else:
            template, parsed = grouped_formula_for(reader, formula, by, intercept, weights)
    finally:
        reader.close()
    with cluster(scheduler, workers) as client:
        df = _read_csv(files, csv, dtype=str, keep_default_na=False, na_filter=False)
        tasks = [
            delayed(partition_groups)(part, template, csv, max_groups, f"partition {i}", parsed)
            for i, part in enumerate(df.to_delayed())
        ]
        merge = functools.partial(merge_grouped, limit=max_groups)
        total = _compute(client, tree_reduce(tasks, merge))
    total.source = files[0] if len(files) == 1 else f"{files[0]} and {len(files) - 1} more (dask)"
    total.rows = None
    total.why_no_rows = "the rows stay on the Dask workers"
    if not total.stats:
        raise DataError(f"{total.source}: no rows to fit (every row has a missing value)")
    return total


def predict_dask(
    model: LinearModel,
    spec: list[str] | str,
    out_dir: str,
    csv: CsvOptions,
    column: str | None,
    fmt: str,
    scheduler: str | None,
    workers: int,
) -> list[str]:
    """Write one output file per input partition into ``out_dir`` (rows in order in each)."""
    files = _files(spec)
    reader = CsvReader(files[0], csv)
    reader.close()
    needed = model.design.term_columns() if model.design is not None else model.features
    missing = [f for f in needed if f not in reader.columns]
    if missing:
        raise DataError(
            f"{files[0]}: the model's feature column {missing[0]!r} is not in the data; "
            f"columns are: {reader.columns_list()}"
        )
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise UsageError(f"-o {out_dir} exists and is not a folder")
    os.makedirs(out_dir, exist_ok=True)
    from dask import delayed

    ext = "csv" if fmt == "csv" else "jsonl"
    with cluster(scheduler, workers) as client:
        df = _read_csv(files, csv, dtype=str, keep_default_na=False, na_filter=False)
        parts = df.to_delayed()
        width = max(5, len(str(len(parts))))
        paths = [os.path.join(out_dir, f"part-{i:0{width}d}.{ext}") for i in range(len(parts))]
        tasks = [
            delayed(_write_partition)(
                part, model, path, csv, column, fmt, f"partition {i}", reader.sep
            )
            for i, (part, path) in enumerate(zip(parts, paths))
        ]
        _compute(client, delayed(list)(tasks))
    return paths


def _write_partition(
    pdf, model: LinearModel, path: str, csv: CsvOptions, column, fmt, label: str, sep: str
) -> int:
    """Predict one partition and write it atomically; returns its row count. Errors name
    the partition and the row within it (``label``, row 1 = its first row)."""
    from .atomic import atomic_writer
    from .predict import predict_design, predict_frame, write_block

    pred_col = column or f"{model.target}_pred"
    names = list(pdf.columns)
    if model.design is not None:
        pdf.index = np.arange(1, len(pdf) + 1)
        _, _, pred, _ = predict_design(model, pdf, label, csv)
    else:
        idx = [names.index(f) for f in model.features]
        _, _, pred = predict_frame(model, pdf, idx, label, 1, csv)
    with atomic_writer(path, "w", encoding="utf-8", newline="") as fh:
        write_block(fh, pdf, {pred_col: pred}, fmt, True, sep, csv.decimal)
    return len(pdf)
