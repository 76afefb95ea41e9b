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


def plot_fit(model: LinearModel, sample, result, terminal: bool, path: str | None) -> None:
    """Draw to the terminal (stderr) and/or write a figure file."""
    if path is not None and not path.lower().endswith(FILE_TYPES):
        raise UsageError(f"--plot-file {path}: use a .png, .svg or .pdf file name")
    data, curve = _panels(model, sample, result)
    if terminal:
        _terminal(model, data, curve)
    if path is not None:
        _file(model, data, curve, path)


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


def _file(model: LinearModel, data, curve, path: str) -> None:
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
    ncols = 2 if curve is not None else 1
    fig, axes = plt.subplots(1, ncols, figsize=(6.5 * ncols, 4.8), squeeze=False)
    ax = axes[0, 0]
    if kind == "line":
        ax.scatter(a, b, s=6, alpha=0.5, label="data")
        ax.plot(a, line, color="C3", lw=2, label="fit")
        ax.set_xlabel(model.features[0])
        ax.set_ylabel(model.target)
        ax.legend()
    else:
        ax.scatter(a, b, s=6, alpha=0.5)
        ax.axhline(0, color="C3", lw=1)
        ax.set_xlabel("fitted value")
        ax.set_ylabel("residual")
        ax.set_title("residuals against fitted values")
    if curve is not None:
        ax2 = axes[0, 1]
        epochs, curve = curve
        ax2.plot(epochs, curve, color="C2")
        if np.all(curve > 0):
            ax2.set_yscale("log")
        ax2.set_xlabel("epoch")
        ax2.set_ylabel("loss (½·MSE)")
        ax2.set_title(f"{model.method}: loss by epoch")
    fig.suptitle(_title(model))
    fig.tight_layout()
    fmt = os.path.splitext(path)[1].lstrip(".").lower()
    try:
        with atomic_writer(path, "wb") as fh:
            fig.savefig(fh, format=fmt, dpi=110)
    except OutputError:
        raise
    finally:
        plt.close(fig)
