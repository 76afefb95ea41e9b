"""Plots of a fit: in the terminal (plotext, on stderr) and to a file (matplotlib).

Both come from the optional extra ``linfit[plot]`` and are imported only when asked for.
The figures: the data and the fitted line for one feature (residuals against fitted values
for several), and the loss curve for gd/torch. Data points are a uniform random sample of
at most 5,000 rows, so a plot costs the same for any file size.
"""

from __future__ import annotations

import os
import re
import sys

import numpy as np

from .diagnostics import ROW_FIELDS
from .errors import EnvironmentProblem, OutputError, UsageError
from .model import LinearModel

FILE_TYPES = (".png", ".svg", ".pdf")


def _title(model: LinearModel) -> str:
    r2 = model.metrics.get("r2")
    kind = "" if model.metrics.get("r2_kind") == "centred" else " (uncentred)"
    return f"{model.equation()}   R²{kind} = {r2:.6g}" if r2 is not None else model.equation()


def _panels(model: LinearModel, sample, result):
    """What to draw: (kind, x, y, line) for the data panel, and the loss curve or None."""
    X = sample.X if sample is not None and sample.X is not None else np.empty((0, 1))
    y = sample.y if sample is not None else np.empty(0)
    order = np.argsort(X[:, 0]) if len(X) else np.empty(0, dtype=int)
    if len(model.features) == 1:
        xs = X[order, 0]
        data = ("line", xs, y[order], model.predict(xs[:, None]) if len(xs) else xs)
    else:
        fitted = model.predict(X) if len(X) else np.empty(0)
        data = ("residuals", fitted, y - fitted, None)
    curve = np.asarray(result.loss_curve) if result is not None and result.loss_curve else None
    every = int(result.info.get("loss_curve_every", 1)) if result is not None else 1
    epochs = np.arange(len(curve)) * every if curve is not None else None
    return data, (epochs, curve) if curve is not None else None


def plot_fit(
    model: LinearModel, sample, result, terminal: bool, path: str | None, checks=None
) -> None:
    """Draw to the terminal (stderr) and/or write a figure file; with ``checks`` (a
    diagnostics.CheckSummary from the second pass), the file also has R's four plot(lm)
    panels."""
    if path is not None and not path.lower().endswith(FILE_TYPES):
        raise UsageError(f"--plot-file {path}: use a .png, .svg or .pdf file name")
    data, curve = _panels(model, sample, result)
    if terminal:
        _terminal(model, data, curve, checks)
    if path is not None:
        _file(model, data, curve, path, checks)


#: Terminal plot height per row of panels, and the widest a terminal plot grows.
TERMINAL_ROW_HEIGHT = 22
TERMINAL_MAX_WIDTH = 160


def _terminal(model: LinearModel, data, curve, checks=None) -> None:
    """The figures in text on stderr: the fit (one feature) or residuals against fitted
    values, the loss curve, and, with ``checks``, R's first two plot(lm) panels (residuals vs
    fitted and the normal Q-Q of the standardized residuals), two panels a row, as wide as
    the terminal."""
    try:
        import plotext as plt
    except ImportError:
        raise EnvironmentProblem(
            "--plot needs plotext; install it with pip install 'linfit[plot]'"
        ) from None
    kind, a, b, line = data
    panels = []
    if kind == "line" or checks is None:
        panels.append("data")
    if curve is not None:
        panels.append("loss")
    if checks is not None:
        panels += ["resid", "qq"]
    rows, cols = (len(panels) + 1) // 2, min(2, len(panels))
    width = os.get_terminal_size(2).columns if sys.stderr.isatty() else 80
    width = min(TERMINAL_MAX_WIDTH, max(60, width))
    plt.clear_figure()
    plt.theme("clear")
    plt.limitsize(False, False)  # rows of panels may be taller than the terminal
    plt.plotsize(width, TERMINAL_ROW_HEIGHT * rows)
    if len(panels) > 1:
        plt.subplots(rows, cols)
    for i, panel in enumerate(panels):
        if len(panels) > 1:
            plt.subplot(i // cols + 1, i % cols + 1)
        if panel == "data" and kind == "line":
            plt.title("data and fit")
            plt.scatter(a.tolist(), b.tolist(), marker="dot", label="data")
            plt.plot(a.tolist(), line.tolist(), marker="braille", label="fit")
            plt.xlabel(model.features[0])
            plt.ylabel(model.target)
        elif panel == "data":
            plt.title("residuals against fitted values")
            plt.scatter(a.tolist(), b.tolist(), marker="dot")
            plt.xlabel("fitted")
            plt.ylabel("residual")
        elif panel == "loss":
            plt.title("loss by epoch")
            epochs, values = curve
            plt.plot(epochs.tolist(), values.tolist(), marker="braille")
            if np.all(values > 0):
                plt.yscale("log")
            plt.xlabel("epoch")
        else:
            _terminal_lm_panel(plt, panel, checks, width // cols)
    text = plt.build()
    if not sys.stderr.isatty():
        text = re.sub(r"\x1b\[[0-9;]*m", "", text)
    sys.stderr.write(_title(model) + "\n" + text + "\n")


def _terminal_lm_panel(plt, panel: str, checks, width: int) -> None:
    """R's Residuals vs Fitted (the rows R labels marked x, their line numbers in the title
    when it fits the panel's ``width``) or Normal Q-Q."""
    if panel == "resid":
        r = checks.plot_rows()
        top = labelled_rows(r)  # marked with x, named in the title (text labels collide)
        title = f"Residuals vs Fitted · x: {' '.join(_label(r, i) for i in top)}"
        plt.title(title if len(title) <= width - 6 else "Residuals vs Fitted · x: largest")
        rest = np.setdiff1d(np.arange(len(r["resid"])), top)
        plt.scatter(r["fitted"][rest].tolist(), r["resid"][rest].tolist(), marker="dot")
        plt.scatter(r["fitted"][top].tolist(), r["resid"][top].tolist(), marker="x")
        plt.hline(0.0)
        plt.xlabel("fitted")
        plt.ylabel("residual")
        return
    q, s, (qlo, lo), slope, _ = _qq(checks)
    plt.title("Normal Q-Q")
    if len(s):
        ends = [float(q[0]), float(q[-1])]
        plt.plot(ends, [lo + slope * (t - qlo) for t in ends], marker="braille")
        plt.scatter(q.tolist(), s.tolist(), marker="dot")
    plt.xlabel("theoretical quantile")
    plt.ylabel("std. residual")


def _file(model: LinearModel, data, curve, path: str, checks=None) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise EnvironmentProblem(
            "--plot-file needs matplotlib; install it with pip install 'linfit[plot]'"
        ) from None
    from .atomic import atomic_writer

    kind, a, b, line = data
    if checks is None:
        ncols = 2 if curve is not None else 1
        fig, axes = plt.subplots(1, ncols, figsize=(6.5 * ncols, 4.8), squeeze=False)
        ax, ax2 = axes[0, 0], axes[0, 1] if curve is not None else None
    else:  # the fit (and loss curve) on top, unless R's first panel already is the fit's
        top = kind == "line" or curve is not None
        fig = plt.figure(figsize=(13, 14 if top else 9.6))
        grid = fig.add_gridspec(3 if top else 2, 2)
        ax, ax2 = None, None
        if kind == "line" and curve is not None:
            ax, ax2 = fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[0, 1])
        elif kind == "line":
            ax = fig.add_subplot(grid[0, :])
        elif curve is not None:
            ax2 = fig.add_subplot(grid[0, :])
        cells = [fig.add_subplot(grid[int(top) + i // 2, i % 2]) for i in range(4)]
        _lm_panels(cells, checks)
    if ax is not None and kind == "line":
        ax.scatter(a, b, s=6, alpha=0.5, label="data")
        ax.plot(a, line, color="C3", lw=2, label="fit")
        ax.set_xlabel(model.features[0])
        ax.set_ylabel(model.target)
        ax.legend()
    elif ax is not None:
        ax.scatter(a, b, s=6, alpha=0.5)
        ax.axhline(0, color="C3", lw=1)
        ax.set_xlabel("fitted value")
        ax.set_ylabel("residual")
        ax.set_title("residuals against fitted values")
    if curve is not None:
        epochs, curve = curve
        ax2.plot(epochs, curve, color="C2")
        if np.all(curve > 0):
            ax2.set_yscale("log")
        ax2.set_xlabel("epoch")
        ax2.set_ylabel("loss (½·MSE)")
        ax2.set_title(f"{model.method}: loss by epoch")
    fig.suptitle(_title(model))
    fig.tight_layout(rect=(0, 0, 1, 0.98) if checks is not None else None)
    fmt = os.path.splitext(path)[1].lstrip(".").lower()
    try:
        with atomic_writer(path, "wb") as fh:
            fig.savefig(fh, format=fmt, dpi=110)
    except OutputError:
        raise
    finally:
        plt.close(fig)


#: How many points each panel labels with their line number (R's plot.lm id.n).
LABELLED = 3


def labelled_rows(r: dict, by: str = "resid") -> np.ndarray:
    """The rows a panel labels, as R's plot.lm picks them: the largest |residual| (Residuals
    vs Fitted), |standardized residual| (Q-Q, Scale-Location) or Cook's distance (Residuals
    vs Leverage)."""
    v = np.abs(r[by]) if by != "cooks" else r[by]
    return np.argsort(-np.nan_to_num(v, nan=-1.0))[:LABELLED]


def _label(r: dict, i: int) -> str:
    """A row's label: its line number (file:line when the fit read several files)."""
    line = int(r["line"][i])
    return f"{int(r['file'][i]) + 1}:{line}" if len(np.unique(r["file"])) > 1 else str(line)


def _qq(checks):
    """Normal Q-Q of the standardized residuals of the random sample (its quantiles assume
    one): theoretical quantiles, sorted residuals, their rows, a point of R's qqline (through
    the quartiles) and its slope."""
    from scipy.stats import norm

    rows = checks.rows[np.isfinite(checks.rows[:, 2])]
    rows = rows[np.argsort(rows[:, 2], kind="stable")]
    s = rows[:, 2]
    if not len(s):
        return s, s, (0.0, 0.0), 0.0, rows
    n = len(s)
    a = 3.0 / 8.0 if n <= 10 else 0.5  # R's ppoints
    q = norm.ppf((np.arange(1, n + 1) - a) / (n + 1 - 2 * a))
    lo, hi = np.percentile(s, [25, 75])
    qlo, qhi = norm.ppf([0.25, 0.75])
    return q, s, (qlo, lo), (hi - lo) / (qhi - qlo), rows


def _lm_panels(axes, checks) -> None:
    """R's plot(lm): residuals vs fitted, normal Q-Q, scale-location, residuals vs leverage
    with Cook's distance contours 0.5 and 1. Points: a random sample of at most 5,000 fitted
    rows plus every flagged row kept; the Q-Q panel uses the random sample only (its
    quantiles assume one). Each panel labels three points by line number, as R does."""
    r = checks.plot_rows()
    fitted, resid, std, hat = r["fitted"], r["resid"], r["rstandard"], r["hat"]

    def label(ax, xs, ys, rows, by) -> None:
        for i in labelled_rows(rows, by):
            if np.isfinite(xs[i]) and np.isfinite(ys[i]):
                ax.annotate(
                    _label(rows, i),
                    (xs[i], ys[i]),
                    fontsize=8,
                    xytext=(3, 3),
                    textcoords="offset points",
                )

    ax = axes[0]
    ax.scatter(fitted, resid, s=6, alpha=0.5)
    ax.axhline(0, color="grey", lw=0.8, ls=":")
    label(ax, fitted, resid, r, "resid")
    ax.set(xlabel="fitted value", ylabel="residual", title="Residuals vs Fitted")

    ax = axes[1]
    q, s, point, slope, qrows = _qq(checks)
    if len(s):
        ax.scatter(q, s, s=6, alpha=0.5)
        ax.axline(point, slope=slope, color="grey", lw=0.8, ls=":")
        sample = {name: qrows[:, i] for i, name in enumerate(ROW_FIELDS)}
        label(ax, q, s, sample, "rstandard")
    ax.set(xlabel="theoretical quantile", ylabel="standardized residual", title="Normal Q-Q")

    ax = axes[2]
    root = np.sqrt(np.abs(std))
    ax.scatter(fitted, root, s=6, alpha=0.5)
    label(ax, fitted, root, r, "rstandard")
    ax.set(xlabel="fitted value", ylabel="√|standardized residual|", title="Scale-Location")

    ax = axes[3]
    ax.scatter(hat, std, s=6, alpha=0.5)
    ax.axhline(0, color="grey", lw=0.8, ls=":")
    label(ax, hat, std, r, "cooks")
    top_h = np.nanmax(hat) if np.isfinite(hat).any() else 1.0
    h = np.linspace(max(top_h, 1e-9) / 200, min(top_h * 1.05, 0.999), 200)
    ylim = ax.get_ylim()
    for c, style in ((0.5, "--"), (1.0, "-.")):
        bound = np.sqrt(c * checks.k * (1 - h) / h)  # Cook's distance = c
        for sign in (1, -1):
            ax.plot(
                h,
                sign * bound,
                color="C3",
                lw=0.8,
                ls=style,
                label=f"Cook's distance {c:g}" if sign == 1 else None,
            )
    ax.set_ylim(ylim)
    ax.legend(fontsize=8, loc="lower left")
    ax.set(xlabel="leverage", ylabel="standardized residual", title="Residuals vs Leverage")
