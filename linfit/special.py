"""scipy.special's t and F distribution functions, imported the cheap way.

Importing scipy.special (scipy ≥ 1.15) builds an array-API namespace for numpy,
``scipy._lib.array_api_compat.numpy``, by ``from numpy import *`` and by copying every name
``dir(numpy)`` lists. numpy's ``__all__`` names submodules that numpy itself loads only on
first use (numpy.f2py, numpy.testing and unittest, numpy.ma, numpy.random, numpy.polynomial…),
so that copy loads them all: measured with ``python -X importtime``, about a fifth of the
import of scipy.special, which linfit needs for every p-value. While scipy.special is
imported here those names are hidden from numpy's ``__all__`` and ``dir``; the namespace
then gets them on first use (a module ``__getattr__`` that asks numpy), so it answers every
attribute as before. Nothing is hidden once the import is done.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable

_COMPAT = "scipy._lib.array_api_compat.numpy"


def _import_scipy_special() -> None:
    if "scipy.special" in sys.modules or _COMPAT in sys.modules:
        import scipy.special  # noqa: F401 - already built: nothing to save

        return
    import numpy

    saved_all = numpy.__all__
    saved_dir = numpy.__dict__.get("__dir__")
    lazy = frozenset(n for n in saved_all if n not in vars(numpy))  # loaded on first use
    try:
        numpy.__all__ = [n for n in saved_all if n not in lazy]
        if saved_dir is not None:
            numpy.__dir__ = lambda: [n for n in saved_dir() if n not in lazy]
        import scipy.special  # noqa: F401
    finally:
        numpy.__all__ = saved_all
        if saved_dir is not None:
            numpy.__dir__ = saved_dir
    compat = sys.modules.get(_COMPAT)
    if compat is not None and "__getattr__" not in vars(compat):

        def forward(name: str):
            if name in lazy:
                return getattr(numpy, name)
            raise AttributeError(f"module {_COMPAT!r} has no attribute {name!r}")

        compat.__getattr__ = forward  # type: ignore[attr-defined]


_preloading: threading.Thread | None = None


def preload() -> None:
    """Start importing scipy.special on another thread (once), for a caller about to wait
    on work that does not hold the GIL (polars parsing a large file): the import, 60–80 ms
    of a fit's start-up, then costs no wall time. :func:`t_and_f` waits for it to finish."""
    global _preloading
    if _preloading is None and "scipy.special" not in sys.modules:
        _preloading = threading.Thread(target=_quietly, name="linfit-preload")
        _preloading.start()


def _quietly() -> None:
    try:
        _import_scipy_special()
    except BaseException:  # noqa: BLE001 - t_and_f's own import, on the caller's thread,
        pass  # raises it where it can be reported


_functions: tuple[Callable, Callable, Callable] | None = None


def t_and_f() -> tuple[Callable, Callable, Callable]:
    """scipy.special's ``stdtr``, ``stdtrit`` and ``fdtrc`` (looked up once: the import
    statements cost 0.09 ms a call, 0.09 s of ``fit --by`` with 1,000 groups)."""
    global _functions
    if _functions is None:
        if _preloading is not None:
            _preloading.join()
        _import_scipy_special()
        from scipy.special import fdtrc, stdtr, stdtrit

        _functions = (stdtr, stdtrit, fdtrc)
    return _functions
