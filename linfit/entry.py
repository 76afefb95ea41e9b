"""The console entry point, kept free of heavy imports so that every way out is handled
from the first instant: Ctrl-C, SIGTERM and SIGHUP during start-up end with one line and
their exit code (130, 143, 129), never a traceback."""

from __future__ import annotations

import atexit
import errno
import os
import signal
import sys

from . import errors, prefetch
from .errors import Terminated

#: OpenBLAS's idle threads spin for 2**28 cycles (about 0.1 s) after they start and after
#: every threaded call before they sleep; numpy's and scipy's copies each start a pool, so a
#: fit on 2 cores lost 0.15–0.2 s of CPU to spinning, taken from polars' parsing threads.
#: 2**4 cycles: they sleep at once and wake (microseconds) for the next call. Set here,
#: before numpy is imported, unless the user chose a value.
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")


def _terminate(signum: int, _frame: object) -> None:
    errors.interruption = Terminated(signum)
    raise errors.interruption


def _interrupt(signum: int, frame: object) -> None:
    errors.interruption = KeyboardInterrupt()
    raise errors.interruption


def install_signal_handlers() -> None:
    """SIGTERM and SIGHUP raise :class:`Terminated`, SIGINT KeyboardInterrupt as Python's own
    handler does, so cleanup code runs on every way out; each is recorded in
    :data:`linfit.errors.interruption` as it is raised."""
    for sig in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
        if sig is not None and signal.getsignal(sig) is signal.SIG_DFL:
            signal.signal(sig, _terminate)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _interrupt)


def _say(message: str) -> None:
    try:
        sys.stderr.write(f"Error: {message}\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


#: The garbage collector's thresholds (Python's defaults: 700, 10): allocations between two
#: collections of the youngest generation, and of those between two of the middle one. A
#: run imports some 600 modules and makes few cycles (none holding arrays); with the
#: defaults the collector took 34–42 ms of a fit (126 collections, some of them full), with
#: these 12–15 ms (7, none full; timed with gc.callbacks on a tiny and a 1e7-row file).
GC_THRESHOLDS = (20_000, 100)


class ClosedOutput:
    """Standard output when the process started without one (``linfit fit d.csv >&-``:
    Python then sets ``sys.stdout`` to None). Every write fails as a write to a closed file
    descriptor does (EBADF), so that linfit says it cannot write its output and exits with
    7, rather than losing it silently or failing with a traceback."""

    encoding = "utf-8"
    errors = "strict"
    closed = False

    @property
    def buffer(self) -> ClosedOutput:
        return self

    def write(self, data) -> int:
        raise OSError(errno.EBADF, "standard output is closed")

    def fileno(self) -> int:
        raise OSError(errno.EBADF, "standard output is closed")

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False

    def writable(self) -> bool:
        return True


def standard_streams() -> None:
    """Stand in for a standard stream the process started without: stdout as
    :class:`ClosedOutput`; stderr, which only ever carries messages, as /dev/null (the
    exit code still tells what happened)."""
    if sys.stdout is None:
        sys.stdout = ClosedOutput()  # type: ignore[assignment]
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - for the process


def main(argv: list[str] | None = None) -> None:
    """Run linfit and exit with its code."""
    import gc

    standard_streams()

    gc.set_threshold(*GC_THRESHOLDS, *gc.get_threshold()[2:])
    install_signal_handlers()
    try:
        prefetch.start(sys.argv[1:] if argv is None else argv)  # parses while we import
        from .cli import run

        code = run(argv)
    except KeyboardInterrupt:
        _say("interrupted; no output file was written")
        code = 130
    except Terminated as exc:
        _say(f"stopped by {signal.Signals(exc.signum).name}; no output file was written")
        code = exc.code
    finish(code)


def finish(code: int) -> None:
    """Exit with ``code``, skipping the interpreter's teardown (freeing numpy's, polars' and
    scipy's modules: 0.05–0.2 s) when it provably loses nothing: stdout and stderr are
    flushed, no other Python thread runs (non-daemon threads would be joined), and the
    atexit handlers (multiprocessing's child joins, Dask's cluster shutdown, weakref
    finalizers such as temporary directories, logging's flush) have run, here, as they
    would have. Otherwise, or if any of that fails, the ordinary exit."""
    import threading

    prefetch.discard()  # a scan started early that nothing took
    run_exitfuncs = getattr(atexit, "_run_exitfuncs", None)
    if run_exitfuncs is None or threading.active_count() > 1:
        sys.exit(code)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
        run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:  # noqa: BLE001 - the ordinary exit reports it as it always has
        sys.exit(code)
    os._exit(code)
