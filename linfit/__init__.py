"""linfit: fit lines (linear least squares, one or many features) to CSV data.

Library use::

    import linfit
    model = linfit.fit("data.csv", y="y")          # or linfit.fit_arrays(X, y)
    model.w, model.b, model.metrics["r2"]
    model.save("model.json"); linfit.load_model("model.json").predict(X)

Names are imported on first use, so ``linfit --help`` does not pay for numpy.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "fit": "fitting",
    "fit_arrays": "fitting",
    "fit_problem": "fitting",
    "read_dataset": "fitting",
    "LinearModel": "model",
    "load_model": "model",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'linfit' has no attribute {name!r}")
