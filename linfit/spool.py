"""A copy of standard input taken while it is read, so that it can be read again.

lstsq refines a fit whose error bound needs it in passes over the rows; a file is simply
read again, but stdin can be read only once. While :func:`stdin_copy` is active every byte
any reader takes from ``sys.stdin`` is also written to a temporary file (no extra pass, no
wait for the end of the input before reading starts), which the refinement then reads. The
copy is removed when the context ends, also on Ctrl-C or an error; it is made whether or not
it turns out to be needed, since that is known only after the first pass.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from typing import IO

#: Copies that could not be written (a full or read-only temporary folder): path → why.
_FAILED: dict[str, str] = {}


def copy_failure(path: str) -> str | None:
    """Why the copy at ``path`` could not be written, or None when it is whole."""
    return _FAILED.get(path)


class Tee(io.RawIOBase):
    """Reads ``source``, writing every byte read to ``copy``. A copy that cannot be written
    is given up (and removed), never the read: the fit goes on, only unable to reread."""

    def __init__(self, source: IO[bytes], copy: IO[bytes], path: str) -> None:
        self._source = source
        self._copy: IO[bytes] | None = copy
        self._path = path
        self._read = getattr(source, "readinto1", None) or source.readinto  # type: ignore[attr-defined]

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        n = self._read(buffer) or 0
        if n and self._copy is not None:
            try:
                self._copy.write(memoryview(buffer)[:n])
            except OSError as exc:
                _FAILED[self._path] = exc.strerror or str(exc)
                self._copy = None
                with contextlib.suppress(OSError):
                    os.unlink(self._path)
        return n


@contextlib.contextmanager
def stdin_copy() -> Iterator[str]:
    """While active, stdin's bytes are copied as they are read to the file whose path is
    yielded (complete once stdin has been read to its end); removed afterwards."""
    folder = tempfile.mkdtemp(prefix="linfit-stdin-")
    path = os.path.join(folder, "stdin.csv")
    saved = sys.stdin
    try:
        with open(path, "wb", buffering=0) as copy:
            source = saved.buffer if hasattr(saved, "buffer") else saved
            tee = io.BufferedReader(Tee(source, copy, path), 1 << 20)
            sys.stdin = io.TextIOWrapper(tee, encoding=getattr(saved, "encoding", None) or "utf-8")
            try:
                yield path
            finally:
                sys.stdin = saved
    finally:
        _FAILED.pop(path, None)
        shutil.rmtree(folder, ignore_errors=True)
