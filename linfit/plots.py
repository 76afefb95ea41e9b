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
        _terminal(model, data, curve)
    if path is not None:
        _file(model, data, curve, path, checks)


def _terminal(model: LinearModel, data, curve) -> None:
    try:
        import plotext as plt
    except ImportError:
        raise EnvironmentProblem(
            "--plot needs plotext; install it with pip install 'linfit[plot]'"
        ) from None
    kind, a, b, line = data
    plt.clear_figure()
    plt.theme("clear")
    plt.plotsize(
        min(100, max(60, os.get_terminal_size(2).columns if sys.stderr.isatty() else 80)), 22
    )
    if curve is not None:
        plt.subplots(1, 2)
        plt.subplot(1, 1)
    plt.title("data and fit" if kind == "line" else "residuals against fitted values")
    if kind == "line":
        plt.scatter(a.tolist(), b.tolist(), marker="dot", label="data")
        plt.plot(a.tolist(), line.tolist(), marker="braille", label="fit")
        plt.xlabel(model.features[0])
        plt.ylabel(model.target)
    else:
        plt.scatter(a.tolist(), b.tolist(), marker="dot")
        plt.xlabel("fitted")
        plt.ylabel("residual")
    if curve is not None:
        plt.subplot(1, 2)
        plt.title("loss by epoch")
        epochs, curve = curve
        plt.plot(epochs.tolist(), curve.tolist(), marker="braille")
        if np.all(curve > 0):
            plt.yscale("log")
        plt.xlabel("epoch")
    text = plt.build()
    if not sys.stderr.isatty():
        text = re.sub(r"\x1b\[[0-9;]*m", "", text)
    sys.stderr.write(_title(model) + "\n" + text + "\n")


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


#: How many of the rows with the largest Cook's distances the panels label (as R's plot.lm).
LABELLED = 3


def _lm_panels(axes, checks) -> None:
    """R's plot(lm): residuals vs fitted, normal Q-Q, scale-location, residuals vs leverage
    with Cook's distance contours 0.5 and 1. Points: a random sample of at most 5,000 fitted
    rows plus every flagged row kept; the Q-Q panel uses the random sample only (its
    quantiles assume one)."""
    from scipy.stats import norm

    r = checks.plot_rows()
    fitted, resid, std, hat, cook = r["fitted"], r["resid"], r["rstandard"], r["hat"], r["cooks"]
    top = np.argsort(-np.nan_to_num(cook, nan=-1.0))[:LABELLED]
    several = len(np.unique(r["file"])) > 1

    def label(ax, xs, ys) -> None:
        for i in top:
            if np.isfinite(xs[i]) and np.isfinite(ys[i]):
                name = f"{int(r['file'][i]) + 1}:{int(r['line'][i])}" if several else ""
                ax.annotate(
                    name or str(int(r["line"][i])),
                    (xs[i], ys[i]),
                    fontsize=8,
                    xytext=(3, 3),
                    textcoords="offset points",
                )

    ax = axes[0]
    ax.scatter(fitted, resid, s=6, alpha=0.5)
    ax.axhline(0, color="grey", lw=0.8, ls=":")
    label(ax, fitted, resid)
    ax.set(xlabel="fitted value", ylabel="residual", title="Residuals vs Fitted")

    ax = axes[1]
    s = np.sort(checks.rows[:, 2][np.isfinite(checks.rows[:, 2])])
    if len(s):
        n = len(s)
        a = 3.0 / 8.0 if n <= 10 else 0.5  # R's ppoints
        q = norm.ppf((np.arange(1, n + 1) - a) / (n + 1 - 2 * a))
        ax.scatter(q, s, s=6, alpha=0.5)
        lo, hi = np.percentile(s, [25, 75])
        qlo, qhi = norm.ppf([0.25, 0.75])
        slope = (hi - lo) / (qhi - qlo)  # R's qqline: through the quartiles
        ax.axline((qlo, lo), slope=slope, color="grey", lw=0.8, ls=":")
    ax.set(xlabel="theoretical quantile", ylabel="standardized residual", title="Normal Q-Q")

    ax = axes[2]
    root = np.sqrt(np.abs(std))
    ax.scatter(fitted, root, s=6, alpha=0.5)
    label(ax, fitted, root)
    ax.set(xlabel="fitted value", ylabel="√|standardized residual|", title="Scale-Location")

    ax = axes[3]
    ax.scatter(hat, std, s=6, alpha=0.5)
    ax.axhline(0, color="grey", lw=0.8, ls=":")
    label(ax, hat, std)
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
