"""The linfit command: fit, predict, compare. Thin: parse options, call the library, render.

This module is the one place where errors become messages: every LinfitError is printed as
one ``Error: …`` line on stderr and the process exits with its code (see errors.ExitCode).
Heavy modules (numpy, pandas, torch, scipy) are imported inside the commands, so
``linfit --help`` stays fast.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable
from enum import Enum
from typing import Annotated

import typer

from . import __version__
from .errors import ExitCode, LinfitError, UsageError

app = typer.Typer(
    name="linfit",
    help=(
        "Fit lines (linear least squares, one or many features) to CSV data.\n\n"
        "DATA is a CSV file, a .csv.gz, - for stdin, or (for fit and compare) several files, "
        "a glob or a folder. Results go to stdout (a table, or --format json/csv for "
        "scripts); logs, notices and errors go to stderr. Exit codes: 0 ok, 1 fit failed or "
        "check failed, 2 usage, 3 unreadable input, 4 bad data, 5 rank deficient, 6 bad "
        "model file, 7 cannot write output, 8 missing dependency or device, 130 interrupted, "
        "141 stdout closed."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


#: Rows drawn (uniformly at random) for plots, whatever the size of the input.
PLOT_SAMPLE = 5000


class Format(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


class PredictFormat(str, Enum):
    csv = "csv"
    json = "json"


class Interval(str, Enum):
    confidence = "confidence"
    prediction = "prediction"


class Engine(str, Enum):
    local = "local"
    dask = "dask"


class NaPolicy(str, Enum):
    drop = "drop"
    raise_ = "raise"


# -- shared options ------------------------------------------------------------------------
DataArg = Annotated[
    str,
    typer.Argument(
        help="CSV file, .csv.gz, or - for stdin; with --engine dask, a glob or a folder.",
        show_default=False,
    ),
]
DataFilesArg = Annotated[
    list[str],
    typer.Argument(
        help="CSV file(s): a path, a .csv.gz, - for stdin, a glob ('parts/*.csv') or a "
        "directory; several files are fitted as one data set.",
        show_default=False,
        metavar="DATA...",
    ),
]
EngineOpt = Annotated[
    Engine,
    typer.Option(
        "--engine",
        help="local (this process; two cores for a large file) or dask (a Dask cluster: a "
        "local one of --workers processes, or the one at --scheduler).",
    ),
]
SchedulerOpt = Annotated[
    str | None,
    typer.Option(
        "--scheduler",
        help="Dask scheduler address, e.g. tcp://host:8786 (with --engine dask). Default: "
        "start a local cluster.",
        show_default=False,
    ),
]
WorkersOpt = Annotated[
    int, typer.Option("--workers", help="Worker processes of the local Dask cluster.", min=1)
]
XOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--x",
        "-x",
        help="Feature column(s): header name, or 0-based index when no column has that name. "
        "Repeat or comma-separate. Default: every column except the target.",
        show_default=False,
    ),
]
YOpt = Annotated[
    str | None,
    typer.Option(
        "--y",
        "-y",
        help="Target column (name or 0-based index). Default: the last.",
        show_default=False,
    ),
]
SepOpt = Annotated[
    str | None,
    typer.Option(
        "--sep", help="Field delimiter. Default: tab for .tsv, else comma.", show_default=False
    ),
]
DecimalOpt = Annotated[
    str, typer.Option("--decimal", help="Decimal mark, e.g. ',' (with --sep ';').")
]
ThousandsOpt = Annotated[
    str | None,
    typer.Option(
        "--thousands", help="Thousands separator to ignore, e.g. ','.", show_default=False
    ),
]
EncodingOpt = Annotated[str, typer.Option("--encoding", help="Text encoding, e.g. latin-1.")]
NaOpt = Annotated[
    NaPolicy,
    typer.Option(
        "--na",
        help="Rows with a missing value in a chosen column: drop them (and say "
        "how many on stderr) or raise an error.",
    ),
]
NoInterceptOpt = Annotated[bool, typer.Option("--no-intercept", help="Fit y = Xw (b = 0).")]
MethodOpt = Annotated[
    str,
    typer.Option(
        "--method",
        "-m",
        help="Solver: lstsq (exact), gd (numpy gradient descent) or torch (autograd, cpu/cuda).",
    ),
]
LrOpt = Annotated[float, typer.Option("--lr", help="Learning rate (gd, torch).")]
EpochsOpt = Annotated[int, typer.Option("--epochs", help="Most epochs to run (gd, torch).")]
LogEveryOpt = Annotated[int, typer.Option("--log-every", help="Log every N epochs (stderr).")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed for the initial w, b and shuffling.")]
TolOpt = Annotated[
    float,
    typer.Option(
        "--tol",
        help="Stop when the gradient norm divided by sd(y) falls to TOL "
        "(gradient in the iterated, standardised coordinates); --epochs is the cap. "
        "0 runs every epoch.",
    ),
]
NoScaleOpt = Annotated[
    bool,
    typer.Option(
        "--no-scale",
        help="Iterate on the raw features, exactly the tutorial's loop "
        "(default: standardise features and centre y, report in original units).",
    ),
]
ScaleOpt = Annotated[
    str | None,
    typer.Option(
        "--scale",
        help="Coordinates gd/torch iterate in; the loss, update, --lr and --epochs are the same "
        "and w, b are reported in the data's units. whiten (default): a linear change of "
        "variables making ZᵀZ/n = I, so gradient descent on this equivalent problem shrinks "
        "the error by 1 − lr per epoch in every direction. standard: each feature "
        "standardised; shows how correlated features slow plain gradient descent. none: the "
        "raw features, the tutorial's loop (as --no-scale).",
        show_default=False,
    ),
]
BatchOpt = Annotated[
    int | None,
    typer.Option(
        "--batch-size",
        help="Mini-batch SGD with this many rows per step, shuffled "
        "with --seed (default: full batch).",
        show_default=False,
        min=1,
    ),
]
DeviceOpt = Annotated[str, typer.Option("--device", help="torch device: auto, cpu or cuda.")]
DtypeOpt = Annotated[str, typer.Option("--dtype", help="torch dtype: float64 or float32.")]
RankOpt = Annotated[
    bool,
    typer.Option(
        "--allow-rank-deficient",
        help="Return the minimum-norm solution when columns are collinear, instead of an error.",
    ),
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No epoch log, progress or notices.")]
TracebackOpt = Annotated[
    bool, typer.Option("--traceback", help="Show the Python traceback of an error (debugging).")
]


def _split(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    out: list[str] = []
    for v in values:
        out.extend(s for s in (p.strip() for p in v.split(",")) if s != "")
    return out or None


def _csv_options(sep, decimal, thousands, encoding, na):
    from .io import CsvOptions

    return CsvOptions(
        sep=sep,
        decimal=decimal,
        thousands=thousands,
        encoding=encoding,
        na=na.value if isinstance(na, Enum) else na,
    )


def _note(message: str, quiet: bool) -> None:
    if not quiet:
        from rich.markup import escape

        from .report import stderr_console

        stderr_console().print(
            f"[yellow]note:[/yellow] {escape(message)}", highlight=False, soft_wrap=True
        )


def _run(work: Callable[[], int | None], traceback: bool) -> None:
    """Run a command body; turn every failure into one line and an exit code."""
    try:
        code = work() or 0
    except LinfitError as exc:
        if traceback:
            raise
        _error(str(exc))
        code = int(exc.code)
    except KeyboardInterrupt:
        _error("interrupted; no output file was written")
        code = int(ExitCode.INTERRUPTED)
    except BrokenPipeError:
        _quiet_stdout()
        code = int(ExitCode.BROKEN_PIPE)
    except MemoryError:
        _error("out of memory; use fewer columns, or the lstsq/gd methods, which stream")
        code = int(ExitCode.FAILED)
    except Exception as exc:  # noqa: BLE001 - the one place unexpected errors become messages
        if traceback:
            raise
        _error(
            f"unexpected internal error ({type(exc).__name__}: {exc}); rerun with "
            "--traceback and report it"
        )
        code = int(ExitCode.FAILED)
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _quiet_stdout()
        code = int(ExitCode.BROKEN_PIPE)
    raise typer.Exit(code)


def _error(message: str) -> None:
    text = " ".join(message.split())
    try:
        sys.stderr.write(f"Error: {text}\n")
        sys.stderr.flush()
    except (BrokenPipeError, OSError):
        pass


def _quiet_stdout() -> None:
    """After a closed pipe, point stdout at /dev/null so the interpreter's exit stays quiet."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def _solver_options(
    lr,
    epochs,
    log_every,
    seed,
    tol,
    no_scale,
    batch_size,
    device,
    dtype,
    allow_rank_deficient,
    scale=None,
):
    from .solvers import SolverOptions

    if lr <= 0:
        raise UsageError(f"--lr must be positive (got {lr:g})")
    if epochs < 0:
        raise UsageError(f"--epochs must be 0 or more (got {epochs})")
    if tol < 0:
        raise UsageError(f"--tol must be 0 or more (got {tol:g})")
    if no_scale and scale not in (None, "none"):
        raise UsageError(f"--no-scale means --scale none; it cannot go with --scale {scale}")
    return SolverOptions(
        lr=lr,
        epochs=epochs,
        log_every=max(1, log_every),
        seed=seed,
        tol=tol,
        scale="none" if no_scale else (scale or True),
        batch_size=batch_size,
        device=device,
        dtype=dtype,
        allow_rank_deficient=allow_rank_deficient,
    )


def _dropped_note(data, quiet: bool) -> None:
    rep = data.report
    if rep.rows_dropped:
        _note(
            f"dropped {rep.rows_dropped} of {rep.rows_read} rows with missing values in the "
            f"chosen columns (first at line {rep.first_dropped_line}); --na raise refuses them",
            quiet,
        )


def _write_stdout(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


# -- commands --------------------------------------------------------------------------------
@app.command()
def fit(
    data: DataFilesArg,
    x: XOpt = None,
    y: YOpt = None,
    method: MethodOpt = "lstsq",
    fmt: Annotated[Format, typer.Option("--format", "-f", help="Output on stdout.")] = Format.table,
    json_: Annotated[bool, typer.Option("--json", help="Shorthand for --format json.")] = False,
    save: Annotated[
        str | None,
        typer.Option(
            "--save",
            "-o",
            help="Write the model (JSON) to this file, atomically.",
            show_default=False,
        ),
    ] = None,
    no_intercept: NoInterceptOpt = False,
    lr: LrOpt = 0.1,
    epochs: EpochsOpt = 100,
    log_every: LogEveryOpt = 10,
    seed: SeedOpt = 0,
    tol: TolOpt = 1e-12,
    no_scale: NoScaleOpt = False,
    scale: ScaleOpt = None,
    batch_size: BatchOpt = None,
    device: DeviceOpt = "auto",
    dtype: DtypeOpt = "float64",
    stats: Annotated[
        bool | None,
        typer.Option(
            "--stats/--no-stats",
            help="Inference statistics (se, t, p, CI, F, AIC…). "
            "Default: on for lstsq, off for gd/torch.",
            show_default=False,
        ),
    ] = None,
    level: Annotated[
        float, typer.Option("--level", help="Confidence level of the intervals.")
    ] = 0.95,
    allow_rank_deficient: RankOpt = False,
    plot: Annotated[
        bool, typer.Option("--plot", help="Draw the fit in the terminal (stderr).")
    ] = False,
    plot_file: Annotated[
        str | None,
        typer.Option(
            "--plot-file", help="Write the figures to a PNG, SVG or PDF file.", show_default=False
        ),
    ] = None,
    engine: EngineOpt = Engine.local,
    scheduler: SchedulerOpt = None,
    workers: WorkersOpt = 2,
    sep: SepOpt = None,
    decimal: DecimalOpt = ".",
    thousands: ThousandsOpt = None,
    encoding: EncodingOpt = "utf-8",
    na: NaOpt = NaPolicy.drop,
    quiet: QuietOpt = False,
    traceback: TracebackOpt = False,
) -> None:
    """Fit y ~ x on DATA and print w, b and the fit's metrics.

    Example: linfit fit data.csv --method gd --lr 0.1 --epochs 100
    """

    def work() -> int:
        from .fitting import fit_problem, read_dataset
        from .report import EpochLogTable, EpochProgress, fit_csv, print_fit_table
        from .solvers import Hooks, get_solver

        if not 0 < level < 1:
            raise UsageError(f"--level must be between 0 and 1 (got {level:g})")
        options = _solver_options(
            lr,
            epochs,
            log_every,
            seed,
            tol,
            no_scale,
            batch_size,
            device,
            dtype,
            allow_rank_deficient,
            scale,
        )
        spec = get_solver(method)
        csv_opts = _csv_options(sep, decimal, thousands, encoding, na)
        sample = PLOT_SAMPLE if (plot or plot_file) else 0
        if engine == Engine.dask:
            from .dask_engine import read_dask

            if spec.needs_rows(options):
                raise UsageError(
                    f"method {method!r}{' with --batch-size' if method == 'gd' else ''} needs "
                    "the rows in one process; use --engine local"
                )
            ds = read_dask(
                data, _split(x), y, csv_opts, not no_intercept, scheduler, workers, sample
            )
        else:
            ds = read_dataset(
                data,
                _split(x),
                y,
                csv_opts,
                not no_intercept,
                keep_all_rows=spec.needs_rows(options),
                sample=sample,
            )
        _dropped_note(ds, quiet)
        log = EpochLogTable(ds.problem.features, not no_intercept)
        progress = EpochProgress(options.epochs, enabled=not quiet)
        hooks = Hooks(on_log=None if quiet else log, on_epoch=progress)
        try:
            outcome = fit_problem(ds.problem, method, options, hooks, stats, level)
        finally:
            progress.close()
            if not quiet:
                log.print()
        model = outcome.model
        model.data = {
            "source": ds.source,
            "rows_read": ds.report.rows_read,
            "rows_dropped": ds.report.rows_dropped,
        }
        for n in outcome.notes:
            _note(n, quiet)
        if save:
            model.save(save)
        if plot or plot_file:
            from .plots import plot_fit

            plot_fit(model, ds.sample, outcome.result, terminal=plot, path=plot_file)
        out_fmt = Format.json if json_ else fmt
        if out_fmt == Format.json:
            _write_stdout(model.to_json() + "\n")
        elif out_fmt == Format.csv:
            _write_stdout(fit_csv(model))
        else:
            print_fit_table(model, ds.source)
        return 0

    _run(work, traceback)


@app.command()
def predict(
    model: Annotated[
        str, typer.Argument(help="Model file written by linfit fit --save.", show_default=False)
    ],
    data: DataArg,
    output: Annotated[
        str | None,
        typer.Option(
            "--output",
            "-o",
            help="Write to this file (atomically) instead of stdout.",
            show_default=False,
        ),
    ] = None,
    column: Annotated[
        str | None,
        typer.Option(
            "--column",
            help="Name of the prediction column. Default: <target>_pred.",
            show_default=False,
        ),
    ] = None,
    fmt: Annotated[
        PredictFormat, typer.Option("--format", "-f", help="csv, or json (JSON Lines).")
    ] = PredictFormat.csv,
    score: Annotated[
        bool,
        typer.Option(
            "--score", help="Print the model's metrics on DATA (needs the target column) to stderr."
        ),
    ] = False,
    interval: Annotated[
        Interval | None,
        typer.Option(
            "--interval",
            help="Add lower/upper columns: a confidence interval for the "
            "mean, or a prediction interval for a new value (as R's predict.lm).",
            show_default=False,
        ),
    ] = None,
    level: Annotated[float, typer.Option("--level", help="Interval level.")] = 0.95,
    engine: EngineOpt = Engine.local,
    scheduler: SchedulerOpt = None,
    workers: WorkersOpt = 2,
    sep: SepOpt = None,
    decimal: DecimalOpt = ".",
    thousands: ThousandsOpt = None,
    encoding: EncodingOpt = "utf-8",
    quiet: QuietOpt = False,
    traceback: TracebackOpt = False,
) -> None:
    """Add a prediction column to every row of DATA (CSV or JSON Lines on stdout, or -o FILE).

    Rows keep their order and all their columns; a row with a missing feature gets an empty
    prediction.
    """

    def work() -> int:
        from .atomic import atomic_writer
        from .model import load_model
        from .predict import predict_csv

        if not 0 < level < 1:
            raise UsageError(f"--level must be between 0 and 1 (got {level:g})")
        m = load_model(model)
        csv_opts = _csv_options(sep, decimal, thousands, encoding, "drop")
        kw = dict(
            options=csv_opts,
            column=column,
            fmt=fmt.value,
            interval=interval.value if interval else None,
            level=level,
            score=score,
        )
        if engine == Engine.dask:
            from .dask_engine import predict_dask

            if not output:
                raise UsageError("--engine dask writes one file per partition: give -o FOLDER")
            files = predict_dask(m, data, output, csv_opts, column, fmt.value, scheduler, workers)
            _note(f"wrote {len(files)} files to {output}", quiet)
            return 0
        if output:
            with atomic_writer(output, "w", encoding="utf-8", newline="") as fh:
                rep = predict_csv(m, data, fh, **kw)
        else:
            rep = predict_csv(m, data, sys.stdout, **kw)
        if rep.missing:
            _note(
                f"{rep.missing} of {rep.rows} rows have a missing feature value (first at line "
                f"{rep.first_missing_line}); their prediction is empty",
                quiet,
            )
        if score and rep.score:
            s = rep.score
            sys.stderr.write(
                f"score on {rep.score['n']} rows: loss (½·MSE) {s['loss']:.10g}, MSE "
                f"{s['mse']:.10g}, RMSE {s['rmse']:.10g}, R² {s['r2']:.10g}\n"
            )
        return 0

    _run(work, traceback)


@app.command()
def compare(
    data: DataFilesArg,
    methods: Annotated[
        str | None,
        typer.Option(
            "--methods",
            help="Comma-separated methods. Default: every registered one.",
            show_default=False,
        ),
    ] = None,
    x: XOpt = None,
    y: YOpt = None,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="table or json.")] = Format.table,
    json_: Annotated[bool, typer.Option("--json", help="Shorthand for --format json.")] = False,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Exit 1 when a method disagrees with lstsq beyond --rtol/--atol, or fails.",
        ),
    ] = False,
    rtol: Annotated[
        float, typer.Option("--rtol", help="Relative tolerance (standardised coefficients).")
    ] = 1e-3,
    atol: Annotated[
        float,
        typer.Option(
            "--atol", help="Absolute tolerance (standardised coefficients: units of sd(y))."
        ),
    ] = 1e-3,
    no_intercept: NoInterceptOpt = False,
    lr: LrOpt = 0.1,
    epochs: EpochsOpt = 100,
    log_every: LogEveryOpt = 10,
    seed: SeedOpt = 0,
    tol: TolOpt = 1e-12,
    no_scale: NoScaleOpt = False,
    scale: ScaleOpt = None,
    batch_size: BatchOpt = None,
    device: DeviceOpt = "auto",
    dtype: DtypeOpt = "float64",
    allow_rank_deficient: RankOpt = False,
    sep: SepOpt = None,
    decimal: DecimalOpt = ".",
    thousands: ThousandsOpt = None,
    encoding: EncodingOpt = "utf-8",
    na: NaOpt = NaPolicy.drop,
    quiet: QuietOpt = False,
    traceback: TracebackOpt = False,
) -> None:
    """Fit DATA with every method and compare each with lstsq (coefficients, loss, time).

    Coefficients are compared standardised: w·sd(x)/sd(y), and the intercept through the
    fitted mean. With --check, a disagreement or a failed method exits 1.
    """

    def work() -> int:
        from .compare import differences, disagreements, run_methods
        from .fitting import read_dataset
        from .report import compare_table, dumps, stdout_console
        from .solvers import available, get_solver

        names = _split([methods]) if methods else available()
        for n in names:
            get_solver(n)
        options = _solver_options(
            lr,
            epochs,
            log_every,
            seed,
            tol,
            no_scale,
            batch_size,
            device,
            dtype,
            allow_rank_deficient,
            scale,
        )
        needs = any(get_solver(n).needs_rows(options) for n in names)
        csv_opts = _csv_options(sep, decimal, thousands, encoding, na)
        ds = read_dataset(data, _split(x), y, csv_opts, not no_intercept, keep_all_rows=needs)
        _dropped_note(ds, quiet)
        rows = run_methods(ds.problem, names, options)
        diffs = differences(rows, not no_intercept)
        records = []
        for r in rows:
            d = r.as_dict()
            d.update(diffs.get(r.method, {}))
            records.append(d)
        if json_ or fmt == Format.json:
            _write_stdout(dumps(records) + "\n")
        else:
            stdout_console().print(compare_table(records, ds.problem.features, not no_intercept))
        failed = [r for r in rows if r.error]
        for r in failed:
            _note(f"{r.method} failed: {r.error}", quiet)
        if check:
            bad = disagreements(rows, rtol, atol)
            if bad or failed:
                what = bad + [f"{r.method} (failed)" for r in failed]
                _error(
                    f"methods disagree with lstsq beyond rtol={rtol:g}, atol={atol:g}: "
                    + "; ".join(what)
                )
                return int(ExitCode.FAILED)
        return int(ExitCode.FAILED) if failed else 0

    _run(work, traceback)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"linfit {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool | None,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = None,
) -> None:
    """Fit lines to CSV data."""


def main() -> None:
    """Console-script entry point."""
    app()
