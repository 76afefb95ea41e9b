"""Exceptions and exit codes.

Every failure linfit reports is a :class:`LinfitError` carrying its exit code; the CLI turns
it into one ``Error: ...`` line on stderr. The codes are part of the command-line contract.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes (documented in the README)."""

    OK = 0
    FAILED = 1  # a fit diverged, or a check (compare --check) failed
    USAGE = 2  # bad command-line usage (Typer/click's own code)
    INPUT = 3  # the input cannot be read: missing, unreadable, not text, bad encoding/gzip
    DATA = 4  # the input was read but its contents cannot be fitted: columns, values, rows
    RANK = 5  # the data do not determine the fit: constant or collinear columns
    MODEL = 6  # a model file is not a valid linfit model
    OUTPUT = 7  # an output file cannot be written
    ENVIRONMENT = 8  # an optional dependency or a device is missing
    HANGUP = 129  # SIGHUP: the terminal went away (128 + 1)
    INTERRUPTED = 130  # Ctrl-C, SIGINT (128 + 2)
    BROKEN_PIPE = 141  # the reader of stdout went away, e.g. `| head` (128 + SIGPIPE 13)
    TERMINATED = 143  # SIGTERM, e.g. `kill` or a CI timeout (128 + 15)


def quote(value: object, limit: int | None = None) -> str:
    """``repr`` of a user's value for an error message, cut to at most ``limit`` characters
    (a 100 MB cell must not become a 100 MB message)."""
    from .limits import MAX_QUOTE

    limit = limit or MAX_QUOTE
    text = str(value)
    if len(text) > limit:
        return repr(text[: limit - 1]) + "…"
    return repr(text)


class LinfitError(Exception):
    """Base class: a message for the user and the exit code to leave with."""

    code: ExitCode = ExitCode.FAILED

    def __init__(self, message: str, code: ExitCode | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class InputError(LinfitError):
    code = ExitCode.INPUT


class DataError(LinfitError):
    code = ExitCode.DATA


class RankError(LinfitError):
    code = ExitCode.RANK


class ModelFileError(LinfitError):
    code = ExitCode.MODEL


class OutputError(LinfitError):
    code = ExitCode.OUTPUT


class EnvironmentProblem(LinfitError):
    code = ExitCode.ENVIRONMENT


class DivergenceError(LinfitError):
    code = ExitCode.FAILED


class UsageError(LinfitError):
    code = ExitCode.USAGE


#: The interruption (Ctrl-C, SIGTERM, SIGHUP) the command line's signal handlers raised last,
#: so that code can tell it from the error a library made of it: pandas' C parser turns an
#: exception raised inside its read call into "Calling read(nbytes) on source failed".
interruption: BaseException | None = None


class Terminated(BaseException):
    """Raised by the CLI's SIGTERM/SIGHUP handlers, so that every ``finally`` and cleanup
    (temporary files, worker processes) runs as it does for Ctrl-C. Not an ``Exception``:
    nothing may swallow it on the way out."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def code(self) -> int:
        return 128 + self.signum
