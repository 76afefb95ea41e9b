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
from .errors import DataError, EnvironmentProblem, InputError, LinfitError, UsageError
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


@contextlib.contextmanager
def cluster(scheduler: str | None, workers: int) -> Iterator[object]:
    """A distributed Client: to ``scheduler``, or to a local cluster started for the run."""
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


def partition_stats(pdf, names: list[str], na: str, sample: int, seed: int) -> Part:
    """Fold one partition (a pandas DataFrame of the chosen columns) into statistics."""
    p = len(names) - 1
    V = np.empty((p + 1, len(pdf)))
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
    stats = DesignStats(p)
    stats.update_columns(V)
    res = None
    if sample:
        res = Reservoir(sample, seed=seed)
        if V.shape[1]:
            res.add(V[:p].T, V[p])
    return Part(stats, ReadReport(rows_read=len(pdf), rows_dropped=dropped), res)


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


def partition_design(pdf, formula: str, header, csv: CsvOptions, intercept, sample, seed):
    """Fold one partition (text cells) through the formula: a design part (its levels,
    statistics of its columns), merged with the others by meaning."""
    from .design_read import fold_frame, new_part

    part = new_part(formula, header, f"partition {seed}", csv, intercept, False, sample, seed)
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
) -> Dataset:
    """A formula over the files on a Dask cluster: each partition finds its levels; the
    parts merge in a binary tree, matching columns by term and level."""
    from dask import delayed

    from .design_read import finish

    reader = CsvReader(files[0], csv)
    reader.close()
    header = list(reader.columns)
    with cluster(scheduler, workers) as client:
        df = _read_csv(files, csv, dtype=str, keep_default_na=False, na_filter=False)
        tasks = [
            delayed(partition_design)(part, formula, header, csv, intercept, sample, i)
            for i, part in enumerate(df.to_delayed())
        ]
        total = _compute(client, tree_reduce(tasks, _merge_design))
    source = files[0] if len(files) == 1 else f"{files[0]} and {len(files) - 1} more (dask)"
    total.why_no_rows = "the rows stay on the Dask workers"
    total.blocks = None
    return finish(total, source)


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
) -> Dataset:
    """Read the files on a Dask cluster into the statistics the solvers use."""
    files = _files(spec)
    if formula is not None:
        return read_dask_formula(files, formula, csv, intercept, scheduler, workers, sample)
    reader = CsvReader(files[0], csv)
    try:
        sel = reader.select(x, y)
    finally:
        reader.close()
    names = list(sel.x_names) + [sel.y_name]
    from dask import delayed

    with cluster(scheduler, workers) as client:
        try:
            df = _read_csv(files, csv, usecols=names, dtype={n: "float64" for n in names})
        except (ValueError, KeyError) as exc:
            raise DataError(f"{files[0]}: cannot read the files together ({exc})") from None
        parts = df.to_delayed()
        tasks = [
            delayed(partition_stats)(part, names, csv.na, sample, i) for i, part in enumerate(parts)
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
    return Dataset(problem, report, source, total.sample)


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
