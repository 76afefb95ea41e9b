"""Safe file output: never write over an input, never leave a half-written file.

* A regular file (or a new path) is written atomically: a temporary file beside the target,
  then a rename. An interrupted or failed write (Ctrl-C, SIGTERM, SIGHUP, a full disk, an
  exception) removes the temporary file and leaves an existing file of that name untouched.
* A symlink is followed: its target is replaced and the link stays a link.
* Devices, FIFOs and sockets (``/dev/null``, ``/dev/stdout``, a named pipe) are written
  straight through: renaming a file over them would replace the device itself.
* :func:`refuse_clobber` compares the outputs of a command with its inputs as real files
  (device and inode, so symlinks and ``./`` spellings are seen through) before anything is
  read, and refuses an output that is also an input.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
import sys
import tempfile
from collections.abc import Iterable, Iterator
from typing import IO

from .errors import OutputError, UsageError, quote


def _describe(path: str, exc: OSError) -> str:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        why = "the disk is full"
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        why = "permission denied"
    elif exc.errno == errno.ENOENT:
        why = "its folder does not exist"
    elif exc.errno == errno.EISDIR:
        why = "it is a directory"
    elif exc.errno == errno.ELOOP:
        why = "it is a symlink loop"
    elif exc.errno == errno.ENOTDIR:
        why = "a part of its path is not a folder"
    else:
        why = exc.strerror or str(exc)
    return f"cannot write {path}: {why}; nothing was written there"


_FD_ALIAS = re.compile(r"/dev/(?:fd/(\d+)|std(in|out|err))|/proc/(?:self|\d+)/fd/(\d+)")


def fd_alias(path: str) -> int | None:
    """The descriptor a path like /dev/stdout, /dev/fd/3 or /proc/self/fd/1 names (these
    must be written through the open descriptor: reopening them would truncate a file that
    the shell opened with ``>>``, or write over the input behind ``<``)."""
    m = _FD_ALIAS.fullmatch(os.path.normpath(path))
    if not m:
        return None
    if m.group(2):
        return {"in": 0, "out": 1, "err": 2}[m.group(2)]
    fd = int(m.group(1) or m.group(3))
    if m.group(3) is not None and not path.startswith("/proc/self/"):
        pid = int(path.split("/")[2])
        if pid != os.getpid():
            return None
    return fd


def _is_stream(path: str) -> bool:
    """Whether ``path`` is written straight through: stdout (``-``), anything under /dev or
    /proc, or an existing file that is not a regular file (a device, FIFO or socket)."""
    if path == "-":
        return True
    real = os.path.realpath(path)
    if real.startswith(("/dev/", "/proc/")) or path.startswith(("/dev/", "/proc/")):
        return True
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


@contextlib.contextmanager
def _stream_writer(path: str, mode: str, **kwargs) -> Iterator[IO]:
    fd = 1 if path == "-" else fd_alias(path)
    if fd == 0:
        raise UsageError(f"{path} is the standard input; it cannot take output")
    if fd in (1, 2):  # the process's own stdout/stderr: write where it already points
        out = sys.stdout if fd == 1 else sys.stderr
        yield out if "b" not in mode else out.buffer
        out.flush()
        return
    try:
        if fd is not None:  # a descriptor the shell opened (e.g. with >>): never truncate
            fh = os.fdopen(os.dup(fd), mode.replace("w", "a"), **kwargs)  # noqa: SIM115
        else:
            fh = open(path, mode, **kwargs)  # noqa: SIM115 - closed below
    except OSError as exc:
        raise OutputError(_describe(path, exc)) from None
    try:
        yield fh
        fh.close()
    except OSError as exc:
        with contextlib.suppress(OSError):
            fh.close()
        if exc.errno == errno.EPIPE:
            raise BrokenPipeError(exc.errno, exc.strerror) from None
        raise OutputError(_describe(path, exc)) from None
    finally:
        if not fh.closed:
            with contextlib.suppress(OSError):
                fh.close()


@contextlib.contextmanager
def atomic_writer(path: str, mode: str = "w", **kwargs) -> Iterator[IO]:
    """Open ``path`` for writing: atomically for a regular file, straight through for a
    device, FIFO or ``-``."""
    if _is_stream(path):
        with _stream_writer(path, mode, **kwargs) as fh:
            yield fh
        return
    try:
        if os.path.islink(path):
            os.stat(path)  # a symlink loop fails here (ELOOP); a dangling link is fine
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise OutputError(_describe(path, exc)) from None
    target = os.path.realpath(path)  # a symlink's target is replaced; the link stays
    if os.path.isdir(target):
        raise OutputError(f"cannot write {path}: it is a directory")
    folder = os.path.dirname(target)
    try:
        fd, tmp = tempfile.mkstemp(
            prefix=f".{os.path.basename(target)}.", suffix=".tmp", dir=folder
        )
    except OSError as exc:
        raise OutputError(_describe(path, exc)) from None
    try:
        with os.fdopen(fd, mode, **kwargs) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        if os.path.exists(target):
            with contextlib.suppress(OSError):
                os.chmod(tmp, os.stat(target).st_mode & 0o777)
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, BrokenPipeError):
            raise
        raise OutputError(_describe(path, exc)) from None
    except BaseException:  # Ctrl-C, SIGTERM/SIGHUP (raised by the CLI's handlers), errors
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str, text: str) -> None:
    with atomic_writer(path, "w", encoding="utf-8") as fh:
        fh.write(text)


def _identity(path: str) -> tuple[int, int] | None:
    """(device, inode) of an existing regular file or FIFO, following symlinks and
    descriptor aliases (/dev/stdout → whatever stdout is); else None (terminals, devices)."""
    fd = 1 if path == "-" else fd_alias(path)
    try:
        st = os.fstat(fd) if fd is not None else os.stat(path)
    except (OSError, ValueError):
        return None
    if stat.S_ISREG(st.st_mode) or stat.S_ISFIFO(st.st_mode):
        return (st.st_dev, st.st_ino)
    return None


def refuse_clobber(inputs: Iterable[tuple[str, str]], outputs: Iterable[tuple[str, str]]) -> None:
    """Refuse (exit 2) an output that is an input, or two outputs that are one file.

    ``inputs`` and ``outputs`` are (role, path) pairs, e.g. ("DATA", "d.csv") and
    ("--save", "m.json"). Existing files are compared by device and inode (so symlinks,
    hard links and other spellings of a path are seen through); new paths by their
    resolved absolute path. Devices, FIFOs and ``-`` are never the same "file".
    """
    seen: dict[object, tuple[str, str]] = {}
    for role, path in inputs:
        if path == "-":
            path = "/dev/stdin"
        key = _identity(path)
        if key is not None:
            seen.setdefault(key, (role, path))
    for role, path in outputs:
        if path is None:
            continue
        if path == "":
            raise UsageError(f"{role} needs a file name (or - for stdout)")
        if fd_alias(path) == 0:
            raise UsageError(f"{role} {quote(path)} is the standard input; it cannot take output")
        key: object = _identity(path)
        if key is None and (path == "-" or _is_stream(path)):
            continue
        if key is None:
            try:
                key = ("new", os.path.realpath(path))
            except (OSError, ValueError):
                continue
        if key in seen:
            other_role, other = seen[key]
            raise UsageError(
                f"{role} {quote(path)} and {other_role} {quote(other)} are the same file; "
                "linfit never writes over its own input, nor two outputs into one file: "
                "choose another file name"
            )
        seen[key] = (role, path)
