"""The linfit command: fit, predict, compare. Thin: parse options, call the library, render.

This module is the one place where errors become messages: every LinfitError, every usage
error of the option parser, a closed pipe, a full disk and a signal end as one ``Error: …``
line on stderr (or none, for a closed stdout) and the documented exit code (errors.ExitCode).
Heavy modules (numpy, pandas, torch, scipy) are imported inside the commands, so
``linfit --help`` stays fast.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import errno
import math
import os
import re
import sys
import warnings
from collections.abc import Callable
from enum import Enum
from types import ModuleType
from typing import TYPE_CHECKING, Annotated

import typer
import typer.core

from . import __version__
from .errors import ExitCode, LinfitError, Terminated, UsageError, quote

if TYPE_CHECKING:
    from importlib.abc import Loader
    from importlib.machinery import ModuleSpec

app = typer.Typer(
    name="linfit",
    help=(
        "Fit lines (linear least squares, one or many features) to CSV data. "
        "DATA is a CSV file, a .csv.gz, - for stdin, or (for fit and compare) several files, "
        "a glob or a folder. Results go to stdout (a table, or --format json/csv for "
        "scripts); logs, notices and errors go to stderr. Exit codes: 0 ok, 1 fit failed or "
        "check failed, 2 usage, 3 unreadable input, 4 bad data, 5 rank deficient, 6 bad "
        "model file, 7 cannot write output, 8 missing dependency or device, 129 hangup, "
        "130 interrupted, 141 stdout closed, 143 terminated."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


#: Rows drawn (uniformly at random) for plots, whatever the size of the input.
PLOT_SAMPLE = 5000

# Help panels: options grouped by what they are about.
INPUT, MODEL, SOLVER, GD, OUTPUT, ENGINE = (
    "Input",
    "Model",
    "Solver",
    "Gradient descent (gd, torch)",
    "Output",
    "Engine",
)


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


class Scale(str, Enum):
    whiten = "whiten"
    standard = "standard"
    none = "none"


class Dtype(str, Enum):
    float64 = "float64"
    float32 = "float32"


# -- shared options ------------------------------------------------------------------------
DataArg = Annotated[
    str,
    typer.Argument(
        help="CSV file, .csv.gz, or - for stdin; with --engine dask, a glob or a folder.",
        show_default=False,
        metavar="DATA",
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
        rich_help_panel=ENGINE,
    ),
]
SchedulerOpt = Annotated[
    str | None,
    typer.Option(
        "--scheduler",
        help="Dask scheduler address, e.g. tcp://host:8786 (with --engine dask). Default: "
        "start a local cluster.",
        show_default=False,
        rich_help_panel=ENGINE,
    ),
]
WorkersOpt = Annotated[
    int,
    typer.Option(
        "--workers",
        help="Worker processes of the local Dask cluster.",
        min=1,
        rich_help_panel=ENGINE,
    ),
]
XOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--x",
        "-x",
        help="Feature column(s): header name, or 0-based index when no column has that name. "
        "Repeat or comma-separate; quote a name that holds a comma: -x '\"a,b\",c'. "
        "Default: every column except the target.",
        show_default=False,
        rich_help_panel=INPUT,
    ),
]
FormulaOpt = Annotated[
    str | None,
    typer.Option(
        "--formula",
        "-F",
        help="Model formula as R and statsmodels write it, e.g. 'mpg ~ wt * hp + C(cyl)' or "
        "'log(y) ~ log(x) + I(x^2) - 1' (instead of --x/--y). Text columns are categorical; "
        "see the README for the terms and functions.",
        show_default=False,
        rich_help_panel=MODEL,
    ),
]
ExcludeOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--exclude",
        help="Leave this column out of the default features (every column but the target): "
        "an id or row-name column. Repeat or comma-separate.",
        show_default=False,
        rich_help_panel=INPUT,
    ),
]
WeightsOpt = Annotated[
    str | None,
    typer.Option(
        "--weights",
        help="Column of row weights w ≥ 0: weighted least squares, minimising Σ w·r² as R's "
        "lm(weights=) (a zero weight keeps the row out of the fit and its degrees of freedom).",
        show_default=False,
        rich_help_panel=MODEL,
    ),
]
CovOpt = Annotated[
    str,
    typer.Option(
        "--cov",
        help="Covariance of the coefficients: nonrobust, or heteroskedasticity-consistent HC0, "
        "HC1, HC2, HC3 (statsmodels' names, R's sandwich::vcovHC types; a second pass over "
        "the rows).",
        rich_help_panel=MODEL,
    ),
]
ByOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--by",
        help="One fit per group of rows with equal values in this column (repeat or "
        "comma-separate for several): a table row, CSV row or JSON model per group.",
        show_default=False,
        rich_help_panel=MODEL,
    ),
]
MaxGroupsOpt = Annotated[
    int,
    typer.Option(
        "--max-groups",
        help="Most groups --by may make (each holds the statistics of a fit).",
        rich_help_panel=MODEL,
    ),
]
YOpt = Annotated[
    str | None,
    typer.Option(
        "--y",
        "-y",
        help="Target column (name or 0-based index). Default: the last.",
        show_default=False,
        rich_help_panel=INPUT,
    ),
]
SepOpt = Annotated[
    str | None,
    typer.Option(
        "--sep",
        help="Field delimiter, one character (tab: --sep tab). Default: tab for .tsv, else comma.",
        show_default=False,
        rich_help_panel=INPUT,
    ),
]
DecimalOpt = Annotated[
    str,
    typer.Option(
        "--decimal", help="Decimal mark, e.g. ',' (with --sep ';').", rich_help_panel=INPUT
    ),
]
ThousandsOpt = Annotated[
    str | None,
    typer.Option(
        "--thousands",
        help="Thousands separator to ignore, e.g. ','.",
        show_default=False,
        rich_help_panel=INPUT,
    ),
]
EncodingOpt = Annotated[
    str, typer.Option("--encoding", help="Text encoding, e.g. latin-1.", rich_help_panel=INPUT)
]
NaOpt = Annotated[
    NaPolicy,
    typer.Option(
        "--na",
        help="Rows with a missing value in a chosen column: drop them (and say "
        "how many on stderr) or raise an error.",
        rich_help_panel=INPUT,
    ),
]
NoInterceptOpt = Annotated[
    bool, typer.Option("--no-intercept", help="Fit y = Xw (b = 0).", rich_help_panel=MODEL)
]
MethodOpt = Annotated[
    str,
    typer.Option(
        "--method",
        "-m",
        help="Solver: lstsq (exact), gd (numpy gradient descent) or torch (autograd, cpu/cuda).",
        metavar="[lstsq|gd|torch]",
        rich_help_panel=SOLVER,
    ),
]
LrOpt = Annotated[float, typer.Option("--lr", help="Learning rate, > 0.", rich_help_panel=GD)]
EpochsOpt = Annotated[
    int, typer.Option("--epochs", help="Most epochs to run.", min=0, rich_help_panel=GD)
]
LogEveryOpt = Annotated[
    int,
    typer.Option("--log-every", help="Log every N epochs (stderr).", min=1, rich_help_panel=GD),
]
SeedOpt = Annotated[
    int,
    typer.Option(
        "--seed", help="Seed for the initial w, b and shuffling.", min=0, rich_help_panel=GD
    ),
]
TolOpt = Annotated[
    float,
    typer.Option(
        "--tol",
        help="Stop when the gradient norm divided by sd(y) falls to TOL "
        "(gradient in the iterated coordinates, see --scale); --epochs is the cap. "
        "0 runs every epoch.",
        rich_help_panel=GD,
    ),
]
NoScaleOpt = Annotated[
    bool,
    typer.Option(
        "--no-scale",
        help="The same as --scale none: the tutorial's loop on the raw features.",
        rich_help_panel=GD,
    ),
]
ScaleOpt = Annotated[
    Scale | None,
    typer.Option(
        "--scale",
        help="Coordinates gd/torch iterate in; the loss, update, --lr and --epochs are the same "
        "and w, b are reported in the data's units. whiten (default): a linear change of "
        "variables making ZᵀZ/n = I, so gradient descent on this equivalent problem shrinks "
        "the error by 1 − lr per epoch in every direction. standard: each feature "
        "standardised; shows how correlated features slow plain gradient descent. none: the "
        "raw features, the tutorial's loop (as --no-scale).",
        show_default=False,
        rich_help_panel=GD,
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
        rich_help_panel=GD,
    ),
]
DeviceOpt = Annotated[
    str,
    typer.Option(
        "--device",
        help="torch device.",
        metavar="[auto|cpu|cuda|cuda:N]",
        rich_help_panel=GD,
    ),
]
DtypeOpt = Annotated[Dtype, typer.Option("--dtype", help="torch dtype.", rich_help_panel=GD)]
RankOpt = Annotated[
    bool,
    typer.Option(
        "--allow-rank-deficient",
        help="Return the minimum-norm solution when columns are collinear, instead of an error.",
        rich_help_panel=MODEL,
    ),
]
QuietOpt = Annotated[
    bool,
    typer.Option(
        "--quiet", "-q", help="No epoch log, progress or notices.", rich_help_panel=OUTPUT
    ),
]
TracebackOpt = Annotated[
    bool,
    typer.Option(
        "--traceback",
        help="Show the Python traceback of an error (debugging).",
        rich_help_panel=OUTPUT,
    ),
]

#: Options that only gradient descent uses; lstsq ignores them (and says so).
GD_ONLY = ("lr", "epochs", "log_every", "seed", "tol", "no_scale", "scale", "batch_size")
TORCH_ONLY = ("device", "dtype")


def _split(values: list[str] | None, option: str = "--x", what: str = "column") -> list[str] | None:
    """Comma-separated values, CSV-quoted so that a name may hold a comma (``'"a,b",c'``)."""
    if not values:
        return None
    out: list[str] = []
    for v in values:
        try:
            fields = next(csv.reader([v], skipinitialspace=True, strict=True), [])
        except csv.Error as exc:
            raise UsageError(f"{option} {quote(v)}: {exc}; quote names with double quotes")
        out.extend(s for s in (f.strip() for f in fields) if s != "")
    if not out:
        raise UsageError(f"{option} {quote(','.join(values))} names no {what}")
    return out


def _finite(
    option: str,
    value: float,
    low: float | None = None,
    high: float | None = None,
    *,
    low_inclusive: bool = False,
) -> float:
    """Refuse NaN, infinity and values out of range for a float option (exit 2)."""
    bad = not math.isfinite(value)
    if low is not None:
        bad = bad or value < low or (value == low and not low_inclusive)
    if high is not None:
        bad = bad or value >= high
    if bad:
        if low is not None and high is not None:
            want = f"a number between {low:g} and {high:g}"
        elif low is not None:
            want = f"a finite number {'≥' if low_inclusive else '>'} {low:g}"
        else:
            want = "a finite number"
        raise UsageError(f"{option} must be {want} (got {value!r})")
    return value


def _model_terms(
    x: list[str] | None, y: str | None, formula: str | None, exclude: list[str] | None
) -> list[str] | None:
    """The --x columns, after checking that --x/--y, --formula and --exclude agree: --x/--y
    or --formula, not both; --exclude only trims the default features."""
    if formula is not None and (x or y is not None):
        raise UsageError("--formula names the target and the terms; use it or --x/--y, not both")
    if exclude and (x or formula is not None):
        raise UsageError("--exclude trims the default features; it cannot go with --x or --formula")
    return _split(x)


def _csv_options(sep, decimal, thousands, encoding, na):
    from .io import CsvOptions

    return CsvOptions(
        sep=sep,
        decimal=decimal,
        thousands=thousands,
        encoding=encoding,
        na=na.value if isinstance(na, Enum) else na,
    )


def _overflow_note(rep, quiet: bool) -> None:
    """The note for rows whose prediction is beyond float64's range (left empty)."""
    if rep.overflow:
        _note(
            f"{rep.overflow} of {rep.rows} rows have a prediction beyond float64's range "
            "(±1.8e308); it is left empty",
            quiet,
        )


def _note(message: str, quiet: bool) -> None:
    """A note on stderr: one line when piped (for grep), wrapped at spaces under a hanging
    indent on a terminal, whose own wrap would cut words."""
    if not quiet:
        from rich.markup import escape

        from .layout import output_width, wrap
        from .report import stderr_console

        text = f"note: {message}"
        if sys.stderr.isatty():
            lines = wrap(text, output_width(sys.stderr) - 1 - 6)
            text = "\n      ".join(lines)
        head, rest = text[:5], text[5:]
        stderr_console().print(
            f"[yellow]{head}[/yellow]{escape(rest)}", highlight=False, soft_wrap=True
        )


def _given(ctx: typer.Context, names: tuple[str, ...]) -> list[str]:
    """The options (as spelled on the command line) among the parameters ``names`` that the
    user gave, on the command line or in the environment."""
    out = []
    for param in ctx.command.params:
        if param.name not in names:
            continue
        source = ctx.get_parameter_source(param.name)
        if source is not None and source.name in ("COMMANDLINE", "ENVIRONMENT"):
            out.append(max(param.opts, key=len))
    return out


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
    except Terminated as exc:
        import signal

        _error(f"stopped by {signal.Signals(exc.signum).name}; no output file was written")
        code = exc.code
    except BrokenPipeError:
        _quiet_stdout()
        code = int(ExitCode.BROKEN_PIPE)
    except MemoryError:
        _error("out of memory; use fewer columns, or the lstsq/gd methods, which stream")
        code = int(ExitCode.FAILED)
    except OSError as exc:
        if traceback:
            raise
        code = _os_error(exc)
    except Exception as exc:  # noqa: BLE001 - the one place unexpected errors become messages
        if traceback:
            raise
        _error(
            f"unexpected internal error ({type(exc).__name__}: {quote(exc, 200)}); rerun with "
            "--traceback and report it"
        )
        code = int(ExitCode.FAILED)
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _quiet_stdout()
        code = int(ExitCode.BROKEN_PIPE)
    except OSError as exc:
        code = _os_error(exc)
    raise typer.Exit(code)


def _os_error(exc: OSError) -> int:
    """An OSError that escaped the library: writing stdout failed (a full disk, /dev/full,
    stdout closed)."""
    _quiet_stdout()
    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO, errno.EBADF):
        _error(f"cannot write the output: {exc.strerror or exc}; the output is incomplete")
        return int(ExitCode.OUTPUT)
    _error(f"{exc.strerror or exc}; rerun with --traceback and report it")
    return int(ExitCode.FAILED)


def _error(message: str) -> None:
    text = " ".join(message.split())
    try:
        sys.stderr.write(f"Error: {text}\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def _quiet_stdout() -> None:
    """After a closed pipe or a failed write, point stdout at /dev/null so that the
    interpreter's final flush stays quiet."""
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

    _finite("--lr", lr, 0.0)
    _finite("--tol", tol, 0.0, low_inclusive=True)
    if not re.fullmatch(r"auto|cpu|cuda(:\d+)?|mps", device):
        raise UsageError(f"--device {quote(device)} is not a device; use auto, cpu, cuda or cuda:N")
    scale = scale.value if isinstance(scale, Enum) else scale
    if no_scale and scale not in (None, "none"):
        raise UsageError(f"--no-scale means --scale none; it cannot go with --scale {scale}")
    return SolverOptions(
        lr=lr,
        epochs=epochs,
        log_every=log_every,
        seed=seed,
        tol=tol,
        scale="none" if no_scale else (scale or True),
        batch_size=batch_size,
        device=device,
        dtype=dtype.value if isinstance(dtype, Enum) else dtype,
        allow_rank_deficient=allow_rank_deficient,
    )


def _check_scheduler(scheduler: str | None) -> None:
    if scheduler is not None and not re.fullmatch(
        r"([a-z][a-z0-9+]*://)?(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+)(:\d{1,5})?", scheduler
    ):
        raise UsageError(
            f"--scheduler {quote(scheduler)} is not a scheduler address; give one like "
            "tcp://host:8786"
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
    """Write all of ``text`` to stdout, or fail: a reader that leaves early is a closed
    pipe (exit 141), a full disk is exit 7 — never a silent partial write."""
    sys.stdout.flush()
    try:
        fd = sys.stdout.fileno()
    except (OSError, ValueError, AttributeError):  # not a real file (tests, notebooks)
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    view = memoryview(text.encode(sys.stdout.encoding or "utf-8"))
    while view:
        view = view[os.write(fd, view) :]


# -- commands --------------------------------------------------------------------------------
class _Command(typer.core.TyperCommand):
    """Usage lines as people write them: ``linfit predict [OPTIONS] MODEL DATA`` (Typer
    braces required arguments: ``{MODEL}``)."""

    def collect_usage_pieces(self, ctx: typer.Context) -> list[str]:
        return [re.sub(r"\{([^{}]*)\}", r"\1", p) for p in super().collect_usage_pieces(ctx)]


FIT_HELP = (
    "Fit y ~ x on DATA and print w, b and the fit's metrics (a table, or --format json/csv). "
    "Example: linfit fit data.csv --method gd --lr 0.1 --epochs 100"
)
PREDICT_HELP = (
    "Add a prediction column to every row of DATA (CSV or JSON Lines on stdout, or -o FILE). "
    "Rows keep their order and all their columns; a row with a missing feature gets an empty "
    "prediction."
)
COMPARE_HELP = (
    "Fit DATA with every method and compare each with lstsq (coefficients, loss, time). "
    "Coefficients are compared standardised: w·sd(x)/sd(y), and the intercept through the "
    "fitted mean. With --check, a disagreement or a failed method exits 1."
)


@app.command(cls=_Command, help=FIT_HELP)
def fit(
    ctx: typer.Context,
    data: DataFilesArg,
    x: XOpt = None,
    y: YOpt = None,
    formula: FormulaOpt = None,
    exclude: ExcludeOpt = None,
    weights: WeightsOpt = None,
    cov: CovOpt = "nonrobust",
    by: ByOpt = None,
    max_groups: MaxGroupsOpt = 1000,
    method: MethodOpt = "lstsq",
    fmt: Annotated[
        Format, typer.Option("--format", "-f", help="Output on stdout.", rich_help_panel=OUTPUT)
    ] = Format.table,
    json_: Annotated[
        bool, typer.Option("--json", help="Shorthand for --format json.", rich_help_panel=OUTPUT)
    ] = False,
    save: Annotated[
        str | None,
        typer.Option(
            "--save",
            help="Write the model (JSON) to this file, atomically; with --by, every group's "
            "model in one file. (No short form: -o is predict's output file; fit's results go "
            "to stdout.)",
            show_default=False,
            rich_help_panel=OUTPUT,
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
    dtype: DtypeOpt = Dtype.float64,
    stats: Annotated[
        bool | None,
        typer.Option(
            "--stats/--no-stats",
            help="Inference statistics (se, t, p, CI, F, AIC…). "
            "Default: on for lstsq, off for gd/torch.",
            show_default=False,
            rich_help_panel=MODEL,
        ),
    ] = None,
    level: Annotated[
        float,
        typer.Option("--level", help="Confidence level of the intervals.", rich_help_panel=MODEL),
    ] = 0.95,
    allow_rank_deficient: RankOpt = False,
    no_refine: Annotated[
        bool,
        typer.Option(
            "--no-refine",
            help="lstsq: return the streamed solution as it is, without the refinement passes "
            "its error bound may call for (a note says when it is then not certified).",
            rich_help_panel=MODEL,
        ),
    ] = False,
    plot: Annotated[
        bool,
        typer.Option(
            "--plot", help="Draw the fit in the terminal (stderr).", rich_help_panel=OUTPUT
        ),
    ] = False,
    plot_file: Annotated[
        str | None,
        typer.Option(
            "--plot-file",
            help="Write the figures to a PNG, SVG or PDF file.",
            show_default=False,
            rich_help_panel=OUTPUT,
        ),
    ] = None,
    diagnostics: Annotated[
        str | None,
        typer.Option(
            "--diagnostics",
            help="After the fit, read DATA again and write every row with its fitted value, "
            "residual, leverage, rstandard, rstudent and Cook's distance to this CSV file "
            "(atomically), and add a diagnostics block (outliers, influential rows, "
            "Durbin-Watson, Jarque-Bera, Breusch-Pagan) to the output. Needs the inference "
            "statistics (lstsq's default) and a file, not stdin.",
            show_default=False,
            rich_help_panel=OUTPUT,
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
    """linfit fit (help: FIT_HELP)."""

    def work() -> int:
        from .atomic import refuse_clobber
        from .fitting import fit_problem, read_dataset
        from .io import expand_inputs

        def again() -> list[str]:
            """The inputs for a second pass: stdin as the copy taken while it was read."""
            return [stdin_spool if p == "-" and stdin_spool else p for p in expand_inputs(data)]

        from .report import EpochLogTable, EpochProgress, fit_csv, fit_table_text
        from .solvers import Hooks, get_solver

        _finite("--level", level, 0.0, 1.0)
        from .robust import cov_name

        cov_type = cov_name(cov)
        xs = _model_terms(x, y, formula, exclude)
        if json_ and _given(ctx, ("fmt",)) and fmt != Format.json:
            raise UsageError(f"--json and --format {fmt.value} contradict each other; use one")
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
        if no_refine:
            options = dataclasses.replace(options, refine=False)
        spec = get_solver(method)
        _check_scheduler(scheduler)
        csv_opts = _csv_options(sep, decimal, thousands, encoding, na)
        if engine == Engine.local:
            inputs = [("DATA", p) for p in expand_inputs(data)]
            refuse_clobber(
                inputs,
                [
                    ("--save", save),
                    ("--plot-file", plot_file),
                    ("--diagnostics", diagnostics),
                    ("stdout", "-"),
                ],
            )
        if diagnostics:  # stdin is copied as it is read (spooled), for the second pass
            if by:
                raise UsageError(
                    "--diagnostics is not available with --by yet; fit one group at a time "
                    "(a file per group) for its diagnostics"
                )
            if engine == Engine.dask:
                raise UsageError(
                    "--diagnostics is not available with --engine dask; use --engine local"
                )
            if stats is False or (stats is None and method != "lstsq"):
                raise UsageError(
                    "--diagnostics needs the inference statistics: "
                    + ("drop --no-stats" if stats is False else f"add --stats to --method {method}")
                )
        ignored = _given(ctx, GD_ONLY + TORCH_ONLY) if method == "lstsq" else []
        if method == "gd":
            ignored = _given(ctx, TORCH_ONLY)
        if ignored:
            _note(
                f"{', '.join(ignored)} {'does' if len(ignored) == 1 else 'do'} not apply to "
                f"--method {method}; ignored",
                quiet,
            )
        sample = PLOT_SAMPLE if (plot or plot_file) else 0
        if by:
            return _fit_by(
                data,
                xs,
                y,
                by,
                max_groups,
                formula,
                exclude,
                weights,
                cov_type,
                csv_opts,
                not no_intercept,
                method,
                options,
                stats,
                level,
                save,
                plot or plot_file,
                engine,
                scheduler,
                workers,
                json_,
                fmt,
                quiet,
            )
        if engine == Engine.dask:
            from .dask_engine import read_dask

            if spec.needs_rows(options):
                raise UsageError(
                    f"method {method!r}{' with --batch-size' if method == 'gd' else ''} needs "
                    "the rows in one process; use --engine local"
                )
            ds = read_dask(
                data,
                xs,
                y,
                csv_opts,
                not no_intercept,
                scheduler,
                workers,
                sample,
                formula,
                _split(exclude, "--exclude"),
                weights,
            )
        else:
            ds = read_dataset(
                data,
                xs,
                y,
                csv_opts,
                not no_intercept,
                keep_all_rows=spec.needs_rows(options),
                sample=sample,
                formula=formula,
                exclude=_split(exclude, "--exclude"),
                weights=weights,
                stdin_spool=stdin_spool,
            )
        for path in spool:
            ds.source = ds.source.replace(path, "<stdin>")
        _dropped_note(ds, quiet)
        log = EpochLogTable(ds.problem.features, not no_intercept)
        progress = EpochProgress(options.epochs, enabled=not quiet)
        hooks = Hooks(on_log=None if quiet else log, on_epoch=progress)
        try:
            outcome = fit_problem(
                ds.problem, method, options, hooks, stats, level, ds.design, cov_type
            )
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
        checks = None
        if diagnostics:
            from .atomic import atomic_writer
            from .errors import RankError
            from .fit_diagnostics import diagnostics_pass

            if model.inference is None:  # stats were asked for: the fit is rank-deficient
                raise RankError(
                    "--diagnostics needs the inference statistics, which a rank-deficient fit "
                    "does not have; drop the collinear columns (or fit without --diagnostics)"
                )
            sample_n = PLOT_SAMPLE if (plot or plot_file) else 0
            with atomic_writer(diagnostics, "w", encoding="utf-8", newline="") as fh:
                checks = diagnostics_pass(model, again(), fh, csv_opts, sample_n)
            model.diagnostics = checks.result(expand_inputs(data))
        elif (plot or plot_file) and model.inference is not None and engine == Engine.local:
            from .fit_diagnostics import diagnostics_pass

            if "-" in again():
                _note(
                    "the plot has no diagnostics panels: standard input cannot be read twice", quiet
                )
            else:
                checks = diagnostics_pass(model, again(), None, csv_opts, PLOT_SAMPLE)
        if save:
            model.save(save)
        if plot or plot_file:
            from .plots import plot_fit

            plot_fit(model, ds.sample, outcome.result, terminal=plot, path=plot_file, checks=checks)
        out_fmt = Format.json if json_ else fmt
        if out_fmt == Format.json:
            _write_stdout(model.to_json() + "\n")
        elif out_fmt == Format.csv:
            _write_stdout(fit_csv(model))
        else:
            _write_stdout(fit_table_text(model, ds.source))
        return 0

    spool: list[str] = []  # stdin's temporary copy (shown as <stdin>)
    stdin_spool: str | None = None  # the copy of stdin taken while it is read (refinement)

    def spooled() -> int:
        """--cov HC reads the rows twice: stdin is copied to a temporary file first. lstsq
        may refine in passes over the rows: stdin is copied as it is read (removed after)."""
        nonlocal data, stdin_spool
        if engine == Engine.dask:  # one cluster for both passes (--cov HC)
            from .dask_engine import session

            with session():
                return work()
        if by or "-" not in data:
            return work()
        if cov.lower() == "nonrobust":
            second = diagnostics or ((plot or plot_file) and engine == Engine.local)
            if (method != "lstsq" or no_refine) and not second:
                return work()
            from .spool import stdin_copy

            with stdin_copy() as stdin_spool:
                return work()
        from .robust import spooled_stdin

        with spooled_stdin(list(data)) as paths:
            data = paths
            spool.extend(p for p in paths if p.endswith("/stdin.csv") and "linfit-stdin-" in p)
            return work()

    _run(spooled, traceback)


def _fit_by(
    data,
    xs,
    y,
    by,
    max_groups,
    formula,
    exclude,
    weights,
    cov_type,
    csv_opts,
    intercept,
    method,
    options,
    stats,
    level,
    save,
    plot,
    engine,
    scheduler,
    workers,
    json_,
    fmt,
    quiet,
) -> int:
    """fit --by: one model per group, one pass; exit 1 when a group's fit failed."""
    from .groups import (
        check_by_options,
        fit_groups,
        grouped_model,
        groups_csv,
        groups_grid,
        read_groups,
        read_groups_formula,
    )
    from .io import expand_inputs
    from .layout import output_width, render
    from .solvers import get_solver

    names = _split(by, "--by") or []
    if max_groups < 1:
        raise UsageError(f"--max-groups must be at least 1, not {max_groups}")
    check_by_options(
        names, plot, cov_type, get_solver(method).needs_rows(options), formula,
        engine == Engine.dask,
    )  # fmt: skip
    paths = expand_inputs(data)
    if engine == Engine.dask:
        from .dask_engine import read_dask_groups

        grouped = read_dask_groups(
            data, xs, y, names, csv_opts, intercept, scheduler, workers, formula,
            _split(exclude, "--exclude"), weights, max_groups,
        )  # fmt: skip
    elif formula is not None:
        grouped = read_groups_formula(
            paths, formula, names, csv_opts, intercept, weights, max_groups
        )
    else:
        excluded = _split(exclude, "--exclude")
        grouped = read_groups(paths, xs, y, names, csv_opts, excluded, weights, max_groups)
    if grouped.report.rows_dropped:
        r = grouped.report
        _note(
            f"dropped {r.rows_dropped:,} of {r.rows_read:,} rows with a missing value (first at "
            f"line {r.first_dropped_line})",
            quiet,
        )
    fits = fit_groups(grouped, intercept, method, options, stats, level, cov_type)
    for gf in fits:
        for n in gf.notes:
            _note(f"{', '.join(f'{k}={v}' for k, v in gf.values.items())}: {n}", quiet)
    if save:
        grouped_model(grouped, fits).save(save)
    if json_ or fmt == Format.json:
        _write_stdout(grouped_model(grouped, fits).to_json() + "\n")
    elif fmt == Format.csv:
        _write_stdout(groups_csv(grouped, fits, intercept))
    else:
        _write_stdout(render(groups_grid(grouped, fits, intercept), output_width(sys.stdout)))
    return 1 if any(gf.error for gf in fits) else 0


@app.command(cls=_Command, help=PREDICT_HELP)
def predict(
    model: Annotated[
        str,
        typer.Argument(
            help="Model file written by linfit fit --save.", show_default=False, metavar="MODEL"
        ),
    ],
    data: DataArg,
    output: Annotated[
        str | None,
        typer.Option(
            "--output",
            "-o",
            help="Write to this file (atomically) instead of stdout.",
            show_default=False,
            rich_help_panel=OUTPUT,
        ),
    ] = None,
    column: Annotated[
        str | None,
        typer.Option(
            "--column",
            help="Name of the prediction column. Default: <target>_pred.",
            show_default=False,
            rich_help_panel=OUTPUT,
        ),
    ] = None,
    fmt: Annotated[
        PredictFormat,
        typer.Option("--format", "-f", help="csv, or json (JSON Lines).", rich_help_panel=OUTPUT),
    ] = PredictFormat.csv,
    score: Annotated[
        bool,
        typer.Option(
            "--score",
            help="Print the model's metrics on DATA (needs the target column) to stderr.",
            rich_help_panel=OUTPUT,
        ),
    ] = False,
    interval: Annotated[
        Interval | None,
        typer.Option(
            "--interval",
            help="Add lower/upper columns: a confidence interval for the "
            "mean, or a prediction interval for a new value (as R's predict.lm).",
            show_default=False,
            rich_help_panel=MODEL,
        ),
    ] = None,
    level: Annotated[
        float, typer.Option("--level", help="Interval level.", rich_help_panel=MODEL)
    ] = 0.95,
    diagnostics: Annotated[
        bool,
        typer.Option(
            "--diagnostics",
            help="Add <target>_resid, _hat (leverage), _rstandard, _rstudent and _cooks "
            "columns (as R's residuals, hatvalues, rstandard, rstudent, cooks.distance; "
            "needs the model's inference block). A weighted model reads its weights column "
            "from DATA when it is there, else gives every row weight 1.",
            rich_help_panel=OUTPUT,
        ),
    ] = False,
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
    """linfit predict (help: PREDICT_HELP)."""

    def work() -> int:
        from .atomic import refuse_clobber
        from .grouped_model import GroupedModel, load_any
        from .predict import predict_csv

        _finite("--level", level, 0.0, 1.0)
        _check_scheduler(scheduler)
        if engine == Engine.local:
            refuse_clobber(
                [("MODEL", model), ("DATA", data)],
                [("--output", output)] if output is not None else [("stdout", "-")],
            )
        m = load_any(model)
        csv_opts = _csv_options(sep, decimal, thousands, encoding, "drop")
        if isinstance(m, GroupedModel):
            return _predict_groups(
                m, data, output, csv_opts, column, fmt, interval, level, score, diagnostics,
                engine, quiet,
            )  # fmt: skip
        kw = _predict_kw(csv_opts, column, fmt, interval, level, score=score)
        if diagnostics:
            kw["diagnostics"] = True
        if engine == Engine.dask:
            from .dask_engine import predict_dask

            if diagnostics:
                raise UsageError(
                    "--diagnostics is not available with --engine dask; use --engine local"
                )
            if not output:
                raise UsageError("--engine dask writes one file per partition: give -o FOLDER")
            files = predict_dask(m, data, output, csv_opts, column, fmt.value, scheduler, workers)
            _note(f"wrote {len(files)} files to {output}", quiet)
            return 0
        rep = _predict_out(output, predict_csv, m, data, kw)
        if rep.missing:
            _note(
                f"{rep.missing} of {rep.rows} rows have a missing feature value (first at line "
                f"{rep.first_missing_line}); their prediction is empty",
                quiet,
            )
        _overflow_note(rep, quiet)
        if diagnostics and rep.no_weights:
            _note(
                f"{data} has no weights column {m.weights!r}: the diagnostics give every row "
                "weight 1 (as R's predict.lm gives new rows)",
                quiet,
            )
        if diagnostics and rep.no_target:
            _note(
                f"{data} has no target column {m.target!r}: the diagnostics columns other "
                "than the leverage are empty",
                quiet,
            )
        if rep.unseen:
            _note(
                f"{rep.unseen} of {rep.rows} rows have a categorical level the model was not "
                f"fitted with (first at line {rep.first_unseen_line}); their prediction is empty",
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


def _predict_kw(csv_opts, column, fmt, interval, level: float, **more) -> dict:
    """The predict options a model (plain or grouped) is applied with."""
    interval = interval.value if interval else None
    return dict(
        options=csv_opts, column=column, fmt=fmt.value, interval=interval, level=level, **more
    )


def _predict_out(output: str | None, write, m, data, kw: dict):
    """``write(m, data, stream, **kw)`` into ``output`` (atomically) or onto stdout."""
    from .atomic import atomic_writer

    if output:
        with atomic_writer(output, "w", encoding="utf-8", newline="") as fh:
            return write(m, data, fh, **kw)
    return write(m, data, sys.stdout, **kw)


def _predict_groups(
    m, data, output, csv_opts, column, fmt, interval, level, score, diagnostics, engine, quiet
) -> int:
    """predict with a grouped model (fit --by --save): each row by its group's model."""
    from .predict_groups import predict_grouped_csv

    for flag, given in (("--score", score), ("--diagnostics", diagnostics)):
        if given:
            raise UsageError(
                f"{flag} is not available with a grouped model (fit --by) yet; fit one "
                "group's rows alone for it"
            )
    if engine == Engine.dask:
        raise UsageError(
            "a grouped model (fit --by) predicts with --engine local only for now; drop "
            "--engine dask"
        )
    kw = _predict_kw(csv_opts, column, fmt, interval, level)
    rep = _predict_out(output, predict_grouped_csv, m, data, kw)
    by = ", ".join(m.by)
    for count, line, what in (
        (rep.no_group, rep.first_no_group_line, f"a missing value in a group column ({by})"),
        (rep.unseen_group, rep.first_unseen_group_line, "a group the model does not hold"),
        (rep.failed_group, rep.first_failed_line, "a group whose fit failed"),
        (rep.missing, rep.first_missing_line, "a missing feature value"),
        (rep.unseen, rep.first_unseen_line, "a categorical level their group was not fitted with"),
    ):
        if count:
            _note(
                f"{count} of {rep.rows} rows have {what} (first at line {line}); their "
                "prediction is empty",
                quiet,
            )
    _overflow_note(rep, quiet)
    return 0


@app.command(cls=_Command, help=COMPARE_HELP)
def compare(
    data: DataFilesArg,
    methods: Annotated[
        str | None,
        typer.Option(
            "--methods",
            help="Comma-separated methods. Default: every registered one.",
            show_default=False,
            rich_help_panel=SOLVER,
        ),
    ] = None,
    x: XOpt = None,
    y: YOpt = None,
    formula: FormulaOpt = None,
    exclude: ExcludeOpt = None,
    weights: WeightsOpt = None,
    fmt: Annotated[
        Format,
        typer.Option("--format", "-f", help="table, json or csv.", rich_help_panel=OUTPUT),
    ] = Format.table,
    json_: Annotated[
        bool, typer.Option("--json", help="Shorthand for --format json.", rich_help_panel=OUTPUT)
    ] = False,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Exit 1 when a method disagrees with lstsq beyond --rtol/--atol, or fails.",
            rich_help_panel=SOLVER,
        ),
    ] = False,
    rtol: Annotated[
        float,
        typer.Option(
            "--rtol",
            help="Relative tolerance (standardised coefficients).",
            rich_help_panel=SOLVER,
        ),
    ] = 1e-3,
    atol: Annotated[
        float,
        typer.Option(
            "--atol",
            help="Absolute tolerance (standardised coefficients: units of sd(y)).",
            rich_help_panel=SOLVER,
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
    dtype: DtypeOpt = Dtype.float64,
    allow_rank_deficient: RankOpt = False,
    sep: SepOpt = None,
    decimal: DecimalOpt = ".",
    thousands: ThousandsOpt = None,
    encoding: EncodingOpt = "utf-8",
    na: NaOpt = NaPolicy.drop,
    quiet: QuietOpt = False,
    traceback: TracebackOpt = False,
) -> None:
    """linfit compare (help: COMPARE_HELP)."""

    def work() -> int:
        from .compare import differences, disagreements, run_methods
        from .fitting import read_dataset
        from .report import compare_csv, compare_text, dumps
        from .solvers import available, get_solver

        if json_ and fmt not in (Format.table, Format.json):
            raise UsageError(f"--json and --format {fmt.value} contradict each other; use one")
        _finite("--rtol", rtol, 0.0, low_inclusive=True)
        _finite("--atol", atol, 0.0, low_inclusive=True)
        names = _split([methods], "--methods", "method") if methods is not None else available()
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
        xs = _model_terms(x, y, formula, exclude)
        from .atomic import refuse_clobber
        from .io import expand_inputs

        refuse_clobber([("DATA", p) for p in expand_inputs(data)], [("stdout", "-")])
        ds = read_dataset(
            data,
            xs,
            y,
            csv_opts,
            not no_intercept,
            keep_all_rows=needs,
            formula=formula,
            exclude=_split(exclude, "--exclude"),
            weights=weights,
        )
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
            show = compare_csv if fmt == Format.csv else compare_text
            _write_stdout(show(records, ds.problem.features, not no_intercept))
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


# -- the process ---------------------------------------------------------------------------
def _click_error_class(name: str) -> type[BaseException]:
    """A class of the option parser's exceptions, found through Typer's public BadParameter
    (Typer vendors its own click, whose modules are private)."""
    for cls in typer.BadParameter.__mro__:
        if cls.__name__ == name:
            return cls
    raise LookupError(name)


_CLICK_EXCEPTION = _click_error_class("ClickException")


def _usage_message(exc: BaseException) -> str:
    """One line for a usage error of the option parser: what is wrong, and where to look."""
    text = " ".join(str(exc.format_message()).split())  # type: ignore[attr-defined]
    text = (text[:1].lower() + text[1:]).rstrip(".")
    # a value quoted by the parser is cut like every other quoted value (80 characters)
    text = re.sub(r"'([^']{80,})'", lambda m: quote(m.group(1)), text)
    ctx = getattr(exc, "ctx", None)
    command = ctx.command_path if ctx is not None else "linfit"
    hint = ""
    if command.endswith(" fit") and re.search(r"option:? '?(-o|--output)\b", text):
        hint = "; fit writes the model with --save FILE and prints its results on stdout (use >)"
    return f"{text}{hint}; see '{command} --help'"


def _pipe_errors_propagate() -> None:
    """Rich (help, notes, progress) exits 1 on a closed pipe; let it raise instead, so the
    documented 141 applies to every output of the process. Done when rich.console is first
    imported (15 ms of start-up that a fit writing JSON, or a table through linfit's own
    renderer, never needs), by whoever imports it: linfit, or Typer for its help."""
    console = sys.modules.get("rich.console")
    if console is not None:
        _raise_on_broken_pipe(console)
    elif not any(isinstance(f, _AfterImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _AfterImport("rich.console", _raise_on_broken_pipe))


def _raise_on_broken_pipe(module: ModuleType) -> None:
    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError

    module.Console.on_broken_pipe = on_broken_pipe


class _AfterImport:
    """A meta-path finder that runs ``then(module)`` right after the module ``name`` is
    first executed (importlib has no post-import hook of its own). It finds the module's
    spec by asking the finders after it, as importlib would, and leaves sys.meta_path only
    once the module has run, by rebinding the list: another thread may be walking it."""

    def __init__(self, name: str, then: Callable[[ModuleType], None]) -> None:
        self.name, self.then = name, then

    def find_spec(self, fullname: str, path=None, target=None) -> ModuleSpec | None:
        if fullname != self.name:
            return None
        for finder in list(sys.meta_path):
            find = getattr(finder, "find_spec", None)
            if finder is self or find is None:
                continue
            spec = find(fullname, path, target)
            if spec is not None:
                if spec.loader is not None:
                    spec.loader = _ThenLoader(spec.loader, self._done)
                return spec
        return None

    def _done(self, module: ModuleType) -> None:
        sys.meta_path = [f for f in sys.meta_path if f is not self]
        self.then(module)


class _ThenLoader:
    """A module's own loader (every other attribute is the loader's), then a function of
    the executed module."""

    def __init__(self, loader: Loader, then: Callable[[ModuleType], None]) -> None:
        self.loader, self.then = loader, then

    def __getattr__(self, name: str):
        return getattr(self.loader, name)

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        return self.loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self.loader.exec_module(module)
        self.then(module)


def run(argv: list[str] | None = None) -> int:
    """Parse ``argv`` (default: sys.argv), run the command, return the exit code."""
    if "--traceback" not in (argv if argv is not None else sys.argv):
        # numpy's RuntimeWarnings, pandas' DtypeWarning…: linfit says what matters itself.
        warnings.simplefilter("ignore")
    _pipe_errors_propagate()
    try:
        rv = app(args=argv, prog_name="linfit", standalone_mode=False)
    except _CLICK_EXCEPTION as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":
            try:
                exc.show()  # type: ignore[attr-defined]
            except BrokenPipeError:  # the help (on stderr) into a closed pipe
                return int(ExitCode.BROKEN_PIPE)
        else:
            _error(_usage_message(exc))
        return int(getattr(exc, "exit_code", ExitCode.USAGE))
    except typer.Abort:
        _error("interrupted; no output file was written")
        return int(ExitCode.INTERRUPTED)
    except BrokenPipeError:  # --help or --version into a closed pipe
        _quiet_stdout()
        return int(ExitCode.BROKEN_PIPE)
    except OSError as exc:  # --help or --version into a full disk or a closed stdout
        return _os_error(exc)
    return rv if isinstance(rv, int) else 0


def main() -> None:
    """Console-script entry point (see :mod:`linfit.entry`, which handles signals)."""
    from .entry import main as entry_main

    entry_main()
