"""Rendering: Rich tables for people, JSON and CSV for machines. No fitting logic here.

Results go to stdout; epoch logs, progress and notices go to stderr.
"""

from __future__ import annotations

import csv
import io
import json
import math
import sys
import time
from typing import Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .model import INTERCEPT, LinearModel


def fmt(v: Any, digits: int = 10) -> str:
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "—"
        return f"{v:.{digits}g}"
    return str(v)


def _pfmt(p: Any) -> str:
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "—"
    return "< 1e-300" if p < 1e-300 else f"{p:.3g}"


def stdout_console() -> Console:
    # Piped output is never cut to 80 columns: a number must not lose digits to an ellipsis.
    width = None if sys.stdout.isatty() else 200
    return Console(file=sys.stdout, highlight=False, width=width)


def stderr_console() -> Console:
    width = None if sys.stderr.isatty() else 200
    return Console(file=sys.stderr, highlight=False, width=width)


def _param_names(model: LinearModel) -> list[tuple[str, str, float]]:
    """(key in ``stats.coef``, label, estimate) of each parameter, the intercept first."""
    rows = [(INTERCEPT, "b (intercept)", model.b)] if model.intercept else []
    rows += [(f, f"w[{f}]", float(v)) for f, v in zip(model.features, model.w)]
    return rows


def fit_heading(model: LinearModel, source: str) -> str:
    """One line naming the method, the model and the data."""
    return (
        f"linfit · {model.method} · {model.target} ~ {' + '.join(model.features)}"
        f"{'' if model.intercept else ' (no intercept)'}  [{source}, n = {model.n_samples}]"
    )


def fit_tables(model: LinearModel) -> list[Table]:
    """The parameter table and the metrics table of a fit."""
    s = model.stats
    params = Table(box=box.SIMPLE_HEAD)
    params.add_column("parameter", no_wrap=True)
    params.add_column("estimate", justify="right", no_wrap=True)
    if s:
        level = s["fit"]["level"]
        pct = f"{level * 100:g}%"
        for head in ("std. error", "t", "p", f"{pct} CI low", f"{pct} CI high"):
            params.add_column(head, justify="right", overflow="fold")
    for key, label, value in _param_names(model):
        row = [escape(label), fmt(value, 12)]
        if s:
            c = s["coef"][key]
            row += [
                fmt(c["se"], 6),
                fmt(c["t"], 6),
                _pfmt(c["p"]),
                fmt(c["ci_low"], 8),
                fmt(c["ci_high"], 8),
            ]
        params.add_row(*row)
    m = model.metrics
    met = Table(box=box.SIMPLE_HEAD, title="fit", title_justify="left")
    met.add_column("metric")
    met.add_column("value", justify="right")
    r2_label = "R²" if m.get("r2_kind") == "centred" else "R² (uncentred: no intercept)"
    rows: list[tuple[str, Any]] = [
        ("n", model.n_samples),
        ("loss (½·MSE)", m.get("loss")),
        ("MSE", m.get("mse")),
        ("RMSE", m.get("rmse")),
        (r2_label, m.get("r2")),
    ]
    if s:
        f = s["fit"]
        rows += [
            ("adjusted R²", f["adj_r2"]),
            ("residual std. error", f["sigma"]),
            ("degrees of freedom", f["df_resid"]),
            (f"F ({f['df_model']}, {f['df_resid']})", f["f"]),
            ("p (F)", _pfmt(f["f_p"])),
            ("log-likelihood", f["loglik"]),
            ("AIC", f["aic"]),
            ("BIC", f["bic"]),
        ]
    rows.append(("condition number", m.get("cond")))
    sv = model.solver
    if "epochs_run" in sv:
        rows += [("epochs run", sv["epochs_run"]), ("converged", sv["converged"])]
        if sv.get("device"):
            rows.append(("device", f"{sv['device']} ({sv.get('dtype')})"))
    for label, value in rows:
        met.add_row(escape(label), value if isinstance(value, str) else fmt(value))
    if s and s.get("assumes_convergence"):
        met.caption = "statistics are computed at the parameters reached; they assume convergence"
    return [params, met]


def print_fit_table(model: LinearModel, source: str) -> None:
    con = stdout_console()
    con.print(fit_heading(model, source), markup=False, soft_wrap=True)
    for table in fit_tables(model):
        con.print(table)


def fit_csv(model: LinearModel) -> str:
    """One header row and one row: method, target, n, b, w per feature, metrics."""
    buf = io.StringIO()
    m = model.metrics
    head = ["method", "target", "n", "b"] + [f"w_{f}" for f in model.features]
    head += ["loss", "mse", "rmse", "r2"]
    row = [model.method, model.target, model.n_samples, repr(float(model.b))]
    row += [repr(float(v)) for v in model.w]
    row += [_csv_num(m.get(k)) for k in ("loss", "mse", "rmse", "r2")]
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(head)
    writer.writerow(row)
    return buf.getvalue()


def _csv_num(v: Any) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return ""
    return repr(float(v))


class EpochLogTable:
    """Collects the logged epochs and prints them as one table on stderr."""

    def __init__(self, features: list[str], intercept: bool) -> None:
        self.table = Table(title="epoch log", box=box.SIMPLE_HEAD, title_justify="left")
        for head in ["epoch", "loss"] + [f"w[{f}]" for f in features]:
            self.table.add_column(escape(head), justify="right")
        if intercept:
            self.table.add_column("b", justify="right")
        self.intercept = intercept
        self.rows = 0

    def __call__(self, entry) -> None:
        cells = [str(entry.epoch), fmt(entry.loss, 8)] + [fmt(float(v), 8) for v in entry.w]
        if self.intercept:
            cells.append(fmt(entry.b, 8))
        self.table.add_row(*cells)
        self.rows += 1

    def print(self) -> None:
        if self.rows:
            stderr_console().print(self.table)


class EpochProgress:
    """A Rich progress bar on stderr, shown only when a run looks like taking over a second
    or two and stderr is a terminal."""

    def __init__(self, total: int, enabled: bool, threshold_s: float = 1.5) -> None:
        self.total = total
        self.enabled = enabled and sys.stderr.isatty()
        self.threshold = threshold_s
        self.t0 = time.perf_counter()
        self.bar = None
        self.task = None
        self.last = 0.0

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
            from rich.progress import (
                BarColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self.bar = Progress(
                TextColumn("epoch {task.completed}/{task.total}"),
                BarColumn(),
                TextColumn("loss {task.fields[loss]}"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=stderr_console(),
                transient=True,
                auto_refresh=False,  # refreshed below, at most 10 times a second
            )
            self.bar.start()
            self.task = self.bar.add_task("fit", total=self.total, loss="")
        now = time.perf_counter()
        if now - self.last >= 0.1 or epoch >= self.total:  # a bar update costs ~1 ms
            self.last = now
            self.bar.update(self.task, completed=epoch, loss=fmt(loss, 6), refresh=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def compare_table(rows: list[dict[str, Any]], features: list[str], intercept: bool) -> Table:
    table = Table(title="linfit compare", box=box.SIMPLE_HEAD, title_justify="left")
    heads = ["method", "device"] + [f"w[{f}]" for f in features]
    heads += (["b"] if intercept else []) + ["loss", "R²", "epochs", "time (s)", "max |Δ| vs lstsq"]
    for h in heads:
        table.add_column(escape(h), justify="left" if h in ("method", "device") else "right")
    for r in rows:
        if r.get("error"):
            table.add_row(
                r["method"], r.get("device") or "—", f"[red]failed: {escape(r['error'])}[/red]"
            )
            continue
        cells = [r["method"], r.get("device") or "cpu"]
        cells += [fmt(r["w"][f], 10) for f in features]
        if intercept:
            cells.append(fmt(r["b"], 10))
        cells += [
            fmt(r["metrics"].get("loss"), 8),
            fmt(r["metrics"].get("r2"), 8),
            fmt(r.get("epochs_run")),
            f"{r['wall_time_s']:.4f}",
            fmt(r.get("max_abs_diff"), 3),
        ]
        table.add_row(*cells)
    return table


def dumps(obj: Any) -> str:
    from .model import _finite_or_null

    return json.dumps(_finite_or_null(obj), indent=2, allow_nan=False)
