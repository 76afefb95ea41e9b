"""Rendering: text tables for people (laid out by layout.py for the output's width), JSON
and CSV for machines. No fitting logic here.

Results go to stdout; epoch logs, progress and notices go to stderr.
"""

from __future__ import annotations

import csv
import io
import json
import math
import sys
import time
from typing import TYPE_CHECKING, Any

from rich.cells import cell_len

if TYPE_CHECKING:  # rich.console (15 ms) is imported where a console is made
    from rich.console import Console

from .layout import MIN_DIGITS, MISSING, Column, Grid, number, output_width, render, wrap
from .model import INTERCEPT, LinearModel


def _pfmt(p: Any) -> str:
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "—"
    return "< 1e-300" if p < 1e-300 else f"{p:.3g}"


def stderr_console() -> Console:
    from rich.console import Console

    return Console(file=sys.stderr, highlight=False, width=output_width(sys.stderr))


def _param_names(model: LinearModel) -> list[tuple[str, str, float]]:
    """(key in ``stats.coef``, label, estimate) of each parameter, the intercept first."""
    rows = [(INTERCEPT, "b (intercept)", model.b)] if model.intercept else []
    rows += [(f, f"w[{f}]", float(v)) for f, v in zip(model.features, model.w)]
    return rows


def _model_text(model: LinearModel) -> str:
    """The formula as the user wrote it, or ``y ~ x1 + x2``."""
    if model.design is not None:
        return " ".join(model.design.formula.text.split())
    return f"{model.target} ~ {' + '.join(model.features)}"


def _cov_text(model: LinearModel) -> str:
    """Which covariance the standard errors use, when not the classical one."""
    cov = ((model.stats or {}).get("fit") or {}).get("cov_type", "nonrobust")
    return "" if cov == "nonrobust" else f" ({cov} standard errors)"


def fit_heading(model: LinearModel, source: str) -> str:
    """One line naming the method, the model and the data."""
    return (
        f"linfit · {model.method} · {_model_text(model)}"
        f"{'' if model.intercept else ' (no intercept)'}"
        f"{'' if model.weights is None else f' (weighted by {model.weights})'}"
        f"{_cov_text(model)}"
        f"  [{source}, n = {model.n_samples}]"
    )


#: How linfit's AIC/BIC relate to R's (see inference.py: k counts the coefficients only).
IC_NOTE = (
    "AIC and BIC count k = the coefficients (as statsmodels does); R's AIC() and BIC() "
    "also count σ, so theirs are larger by 2 and by log(n)."
)


def fit_grids(model: LinearModel) -> list[Grid]:
    """The parameter table and the metrics table of a fit, before layout."""
    s = model.stats
    cols = [Column("parameter", "left"), Column("estimate", max_digits=10)]
    if s:
        pct = f"{s['fit']['level'] * 100:g}%"
        cols += [
            Column("std. error", max_digits=6),
            Column("t", max_digits=6),
            Column("p"),
            Column(f"{pct} CI low", max_digits=8),
            Column(f"{pct} CI high", max_digits=8),
        ]
    rows = []
    for key, label, value in _param_names(model):
        row: list[Any] = [label, float(value)]
        if s:
            c = s["coef"][key]
            row += [c["se"], c["t"], _pfmt(c["p"]), c["ci_low"], c["ci_high"]]
        rows.append(row)
    params = Grid(None, cols, rows, name="coefficients")
    m = model.metrics
    r2_label = "R²" if m.get("r2_kind") == "centred" else "R² (uncentred: no intercept)"
    items: list[tuple[str, Any]] = [
        ("n", model.n_samples),
        ("loss (½·MSE)", m.get("loss")),
        ("MSE", m.get("mse")),
        ("RMSE", m.get("rmse")),
        (r2_label, m.get("r2")),
    ]
    notes = []
    if s:
        f = s["fit"]
        items += [
            ("adjusted R²", f["adj_r2"]),
            ("residual std. error", f["sigma"]),
            ("degrees of freedom", f["df_resid"]),
            (f"F ({f['df_model']}, {f['df_resid']})", f["f"]),
            ("p (F)", _pfmt(f["f_p"])),
            ("log-likelihood", f["loglik"]),
            ("AIC (k coefficients)", f["aic"]),
            ("BIC (k coefficients)", f["bic"]),
        ]
        notes.append(IC_NOTE)
        if s.get("assumes_convergence"):
            notes.append(
                "statistics are computed at the parameters reached; they assume convergence"
            )
    items.append(("condition number", m.get("cond")))
    sv = model.solver
    if "epochs_run" in sv:
        items += [("epochs run", sv["epochs_run"]), ("converged", sv["converged"])]
        if sv.get("device"):
            items.append(("device", f"{sv['device']} ({sv.get('dtype')})"))
    metrics = Grid(
        "fit",
        [Column("metric", "left"), Column("value", max_digits=10)],
        [[label, _num(value)] for label, value in items],
        notes=notes,
    )
    grids = [params, metrics]
    if model.diagnostics:
        grids += diagnostics_grids(model.diagnostics)
    return grids


#: What the diagnostics block's tests say (fit --diagnostics).
DIAGNOSTICS_NOTE = (
    "Durbin-Watson near 2: no first-order autocorrelation of the residuals in row order; "
    "a small p: Jarque-Bera rejects normal residuals, Breusch-Pagan (studentized, Koenker's, "
    "as R's lmtest::bptest) rejects constant variance."
)
#: Added for a weighted fit.
WEIGHTED_NOTE = (
    "Weighted fit: the tests use the weighted residuals √w·e of the rows of nonzero weight "
    "(R's weighted.residuals); n counts those rows."
)


def diagnostics_grids(d: dict[str, Any]) -> list[Grid]:
    """fit --diagnostics' block: flagged rows and the residual tests, then the worst rows."""
    jb, bp = d["jarque_bera"], d["breusch_pagan"]
    items: list[tuple[str, Any]] = [
        (f"rows with |rstudent| > {d['rstudent_cut']:g}", d["rstudent_over"]),
        (f"rows with Cook's distance > 4/n = {d['cooks_cut']:.3g}", d["cooks_over"]),
        ("Durbin-Watson", d["durbin_watson"]),
        ("Jarque-Bera", jb["statistic"]),
        ("p (Jarque-Bera)", _pfmt(jb["p"])),
        (f"Breusch-Pagan (df {bp['df']})", bp["statistic"]),
        ("p (Breusch-Pagan)", _pfmt(bp["p"])),
    ]
    grids = [
        Grid(
            "diagnostics",
            [Column("check", "left"), Column("value", max_digits=6)],
            [[label, _num(value)] for label, value in items],
            notes=[DIAGNOSTICS_NOTE]
            + ([WEIGHTED_NOTE] if d.get("residuals") == "weighted" else []),
        )
    ]
    if d["worst"]:
        several = "file" in d["worst"][0]
        cols = ([Column("file", "left")] if several else []) + [
            Column("line"),
            Column("rstudent", max_digits=6),
            Column("Cook's distance", max_digits=6),
            Column("leverage", max_digits=6),
        ]
        rows = [
            ([w["file"]] if several else []) + [w["line"], w["rstudent"], w["cooks"], w["hat"]]
            for w in d["worst"]
        ]
        grids.append(
            Grid("flagged rows, worst first", cols, rows, keys=1 + several, name="flagged rows")
        )
    return grids


def fit_table_text(model: LinearModel, source: str) -> str:
    """The heading, the coefficient table and the metrics table, laid out for stdout."""
    width = output_width(sys.stdout)
    head = fit_heading(model, source)
    parts = [head] if cell_len(head) <= width else head.split("  [", 1)
    if len(parts) == 2:
        parts[1] = "[" + parts[1]
    keep = f"n = {model.n_samples}]"  # never split "n =" from its number
    glue = "\ue000"  # one cell wide and not a space: "n =" stays beside its number
    glued = [p.replace(keep, keep.replace(" ", glue)) for p in parts]
    text = "\n".join(ln for p in glued for ln in wrap(p, width)).replace(glue, " ")
    return text + "\n" + "".join(render(g, width) for g in fit_grids(model))


def _num(v: Any) -> Any:
    """Numbers as floats (numpy scalars included), so the layout chooses their digits."""
    if isinstance(v, (str, bool, int)) or v is None:
        return v
    return float(v)


def _stats_columns(model: LinearModel) -> tuple[list[str], list[str]]:
    """The CSV's statistics columns: level, then se, t, p and CI per coefficient."""
    s = model.stats
    prefixes = (["b"] if model.intercept else []) + [f"w_{f}" for f in model.features]
    head, row = ["level"], [_csv_num(s["fit"]["level"]) if s else ""]
    for prefix, (key, _, _) in zip(prefixes, _param_names(model)):
        c = s["coef"][key] if s else {}
        for stat in CSV_STATS:
            head.append(f"{prefix}_{stat}")
            row.append(_csv_num(c.get(stat)))
    return head, row


#: Per-coefficient statistics in ``--format csv``, in column order.
CSV_STATS = ("se", "t", "p", "ci_low", "ci_high")
#: Solver columns in ``--format csv`` (empty for lstsq).
CSV_SOLVER = ("epochs_run", "converged", "stop_reason")


def fit_csv(model: LinearModel) -> str:
    """One header row and one row: method, target, n, b, w per feature, metrics (the original
    columns, kept in place), then the statistics and the gradient solvers' stopping state."""
    buf = io.StringIO()
    m = model.metrics
    head = ["method", "target", "n", "b"] + [f"w_{f}" for f in model.features]
    head += ["loss", "mse", "rmse", "r2"]
    row = [model.method, model.target, model.n_samples, repr(float(model.b))]
    row += [repr(float(v)) for v in model.w]
    row += [_csv_num(m.get(k)) for k in ("loss", "mse", "rmse", "r2")]
    stats_head, stats_row = _stats_columns(model)
    head += stats_head + list(CSV_SOLVER)
    row += stats_row + [_csv_cell(model.solver.get(k)) for k in CSV_SOLVER]
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(head)
    writer.writerow(row)
    return buf.getvalue()


def _csv_cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return _csv_num(v)
    return str(v)


def _csv_num(v: Any) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return ""
    return repr(float(v))


class EpochLogTable:
    """Collects the logged epochs and prints them as one table on stderr. At most
    ``max_rows`` rows are kept (evenly thinned, the first and the last always), so memory and
    the printed log do not grow with --epochs; the title says when rows were left out."""

    def __init__(self, features: list[str], intercept: bool, max_rows: int = 200) -> None:
        heads = ["epoch", "loss"] + [f"w[{f}]" for f in features] + (["b"] if intercept else [])
        self.columns = [Column(h) for h in heads]
        self.intercept = intercept
        self.rows: list[list[Any]] = []
        self.max_rows = max_rows
        self.every = 1  # keep every `every`-th logged row
        self.seen = 0
        self.last: list[Any] | None = None

    def __call__(self, entry) -> None:
        cells = [int(entry.epoch), float(entry.loss)] + [float(v) for v in entry.w]
        if self.intercept:
            cells.append(float(entry.b))
        self.seen += 1
        self.last = cells
        if (self.seen - 1) % self.every:
            return
        self.rows.append(cells)
        if len(self.rows) > self.max_rows:  # halve: keep every other kept row
            self.rows = self.rows[::2]
            self.every *= 2

    def print(self) -> None:
        if self.rows:
            rows = self.rows if self.rows[-1] is self.last else [*self.rows, self.last]
            title = "epoch log"
            if self.every > 1:
                title += (
                    f" (every {self.every}th logged epoch of {self.seen}; all in --format json)"
                )
            grid = Grid(title, self.columns, rows)
            sys.stderr.write(render(grid, output_width(sys.stderr)))
            sys.stderr.flush()


class EpochProgress:
    """A Rich progress bar on stderr, shown only when a run looks like taking over a second
    or two and stderr is a terminal. It is laid out for the terminal's width: the bar
    shrinks, then the timings go, so the loss is never cut."""

    def __init__(self, total: int, enabled: bool, threshold_s: float = 1.5) -> None:
        self.total = total
        self.enabled = enabled and sys.stderr.isatty()
        self.threshold = threshold_s
        self.t0 = time.perf_counter()
        self.bar = None
        self.task = None
        self.last = 0.0
        self.digits = 6

    def __call__(self, epoch: int, loss: float) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            elapsed = time.perf_counter() - self.t0
            if epoch < 1 or elapsed < 0.2:
                return
            if elapsed / epoch * self.total < self.threshold:
                self.enabled = False
                return
            self._start()
        now = time.perf_counter()
        if now - self.last >= 0.1 or epoch >= self.total:  # a bar update costs ~1 ms
            self.last = now
            loss_text = number(float(loss), self.digits)
            self.bar.update(self.task, completed=epoch, loss=loss_text, refresh=True)

    def _start(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        width = output_width(sys.stderr) - 1  # the last column of a terminal wraps
        counter = len(f"epoch {self.total}/{self.total}")
        self.digits = 6 if width >= 40 else MIN_DIGITS
        loss = len("loss ") + len(f"{-1.0 / 3e-100:.{self.digits}g}")  # widest loss shown
        columns: list[Any] = [
            TextColumn("epoch {task.completed}/{task.total}"),
            TextColumn("loss {task.fields[loss]}"),
        ]
        used = counter + 1 + loss
        timing = len("0:00:00") + 1
        if width - used >= 2 * timing + 11:
            columns += [TimeElapsedColumn(), TimeRemainingColumn()]
            used += 2 * timing
        if width - used >= 11:
            columns.insert(1, BarColumn(bar_width=min(40, width - used - 1)))
        self.bar = Progress(
            *columns,
            console=Console(file=sys.stderr, highlight=False, width=width),
            transient=True,
            auto_refresh=False,  # refreshed in __call__, at most 10 times a second
        )
        self.bar.start()
        self.task = self.bar.add_task("fit", total=self.total, loss="")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


#: Header of compare's difference column; the note below the table says what it measures.
DIFF_HEAD = "max std. |Δ|"
DIFF_NOTE = (
    "max std. |Δ|: the largest difference from lstsq's coefficients on the unit-free scale "
    "that --check tests (w·sd(x)/sd(y); the intercept through the fitted mean, over sd(y)). "
    "Raw differences, in the data's units, are in --format json and csv."
)


def compare_grid(rows: list[dict[str, Any]], features: list[str], intercept: bool) -> Grid:
    """compare's table: one row per method, before layout."""
    heads = [f"w[{f}]" for f in features] + (["b"] if intercept else [])
    cols = [Column("method", "left"), Column("device", "left")]
    cols += [Column(h, max_digits=10) for h in heads]
    cols += [
        Column("loss"),
        Column("R²"),
        Column("epochs"),
        Column("time (s)"),
        Column(DIFF_HEAD, max_digits=3, min_digits=3),
    ]
    out, notes = [], [DIFF_NOTE]
    for r in rows:
        if r.get("error"):
            out.append([r["method"], r.get("device") or MISSING, "failed"])
            notes.append(f"{r['method']} failed: {r['error']}")
            continue
        cells: list[Any] = [r["method"], r.get("device") or "cpu"]
        cells += [float(r["w"][f]) for f in features]
        if intercept:
            cells.append(float(r["b"]))
        cells += [
            _num(r["metrics"].get("loss")),
            _num(r["metrics"].get("r2")),
            r.get("epochs_run"),
            f"{r['wall_time_s']:.4f}",
            _num(r.get("max_std_diff")),
        ]
        out.append(cells)
    return Grid("linfit compare", cols, out, notes=notes)


def compare_text(rows: list[dict[str, Any]], features: list[str], intercept: bool) -> str:
    """compare's table laid out for stdout's width."""
    return render(compare_grid(rows, features, intercept), output_width(sys.stdout))


#: compare's CSV columns after the coefficients, in order.
COMPARE_CSV = (
    "loss",
    "mse",
    "rmse",
    "r2",
    "epochs_run",
    "converged",
    "stop_reason",
    "wall_time_s",
    "max_abs_diff",
    "max_std_diff",
    "error",
)


def compare_csv(rows: list[dict[str, Any]], features: list[str], intercept: bool) -> str:
    """One header row, then one row per method, every number at full precision."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    coefs = [f"w_{f}" for f in features] + (["b"] if intercept else [])
    writer.writerow(["method", "device", *coefs, *COMPARE_CSV])
    for r in rows:
        ok = not r.get("error")
        metrics = r.get("metrics") or {}
        solver = r.get("solver") or {}
        row = [r["method"], _csv_cell(r.get("device"))]
        row += [_csv_num(r["w"][f]) if ok else "" for f in features]
        if intercept:
            row.append(_csv_num(r["b"]) if ok else "")
        row += [_csv_num(metrics.get(k)) for k in ("loss", "mse", "rmse", "r2")]
        row += [_csv_cell(solver.get(k)) for k in CSV_SOLVER]
        row += [_csv_num(r.get(k)) for k in ("wall_time_s", "max_abs_diff", "max_std_diff")]
        row.append(_csv_cell(r.get("error")))
        writer.writerow(row)
    return buf.getvalue()


def dumps(obj: Any) -> str:
    from .model import finite_or_null

    return json.dumps(finite_or_null(obj), indent=2, allow_nan=False)
