"""Reading CSV input on several cores.

One large file is split into byte ranges at line ends; each range is parsed and folded into
mergeable statistics by its own process (forked: nothing is re-imported), and the
statistics are merged. Used only where it pays: a plain (uncompressed) file of at least
PARALLEL_MIN_BYTES, when the rows need not be kept, and whose first MiB holds no quote, lone CR
or NUL byte. A split is right only when it falls between rows: a quoted field can hold a line
end, and a CR-only file has no LF to cut at. So each range reports whether it saw a quote or a
lone CR, and if any did, or any range failed, the file is read again in one process, which
gives the statistics and the first error (with its true line) exactly as one process does:
the two-process reader accepts every file the one-process reader accepts.
Several files totalling at least PARALLEL_MIN_BYTES are shared out whole among processes.
"""

from __future__ import annotations

import functools
import io
import os
from dataclasses import dataclass

from . import prefetch
from .accumulate import DesignStats
from .blas import one_thread
from .errors import LinfitError
from .io import CsvOptions, CsvReader, Prepended, RangeReader, ReadReport, Selection

PARALLEL_MIN_BYTES = 64 << 20
_PROBE = 1 << 20


def _jobs() -> int:
    return int(os.environ.get("LINFIT_JOBS", "0") or 0) or (os.cpu_count() or 1)


def workers_for_files(paths: list[str], keep_all_rows: bool) -> int:
    """How many processes to share several files among (1: read them here, in turn)."""
    if len(paths) < 2 or keep_all_rows or _jobs() < 2 or "-" in paths:
        return 1
    try:
        total = sum(os.path.getsize(p) for p in paths)
    except OSError:
        return 1
    return min(_jobs(), len(paths)) if total >= PARALLEL_MIN_BYTES else 1


def worker_signals() -> None:
    """In a forked reader: no polars imported before the fork (linfit.fastread.forked); leave
    Ctrl-C, SIGTERM and SIGHUP to the parent, which stops its workers and cleans up; a
    worker killed by them dies quietly instead of printing a traceback of its own."""
    import signal

    from .fastread import forked

    forked()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for sig in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
        if sig is not None:
            signal.signal(sig, signal.SIG_DFL)


def _read_file(args):
    fn, path, rest = args
    try:
        return "ok", fn(path, *rest)
    except LinfitError as exc:
        return "error", (type(exc), str(exc), exc.code)


def map_files(fn, paths: list[str], rest: tuple, workers: int) -> list:
    """``fn(path, *rest)`` for every path, in order, on ``workers`` forked processes."""
    import multiprocessing as mp

    prefetch.discard()  # defensive: drop the handle; forked readers never use polars
    with mp.get_context("fork").Pool(workers, initializer=worker_signals) as pool:
        results = pool.map(_read_file, [(fn, p, rest) for p in paths], chunksize=1)
    out = []
    for status, payload in results:
        if status == "error":
            kind, message, code = payload
            raise kind(message, code)
        out.append(payload)
    return out


def workers_for(path: str, keep_all_rows: bool, reader: CsvReader | None = None) -> int:
    """How many processes to read ``path`` with (1: read it in this process, as when the
    ``reader`` reads it with polars, which parses on every core itself)."""
    if reader is not None and reader.fast:
        return 1
    import multiprocessing as mp

    jobs = _jobs()
    if mp.current_process().daemon:  # already a worker sharing out several files
        return 1
    if jobs < 2 or keep_all_rows or path == "-" or not os.path.isfile(path):
        return 1
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as fh:
            head = fh.read(_PROBE)
    except OSError:
        return 1
    if size < PARALLEL_MIN_BYTES or head[:2] == b"\x1f\x8b" or b'"' in head or b"\x00" in head:
        return 1
    if b"\r" in head[:-1] and head[:-1].count(b"\r") != head.count(b"\r\n"):
        return 1  # lone CR line ends: nowhere to cut
    return min(jobs, 8, max(1, size // (PARALLEL_MIN_BYTES // 2)))


def split_points(path: str, start: int, parts: int) -> list[int]:
    """Offsets [start, …, size] that cut the file into ``parts`` ranges at line starts."""
    size = os.path.getsize(path)
    cuts = [start]
    with open(path, "rb") as fh:
        for k in range(1, parts):
            fh.seek(max(cuts[-1], start + (size - start) * k // parts))
            fh.readline()
            pos = fh.tell()
            if pos < size:
                cuts.append(pos)
    cuts.append(size)
    return sorted(set(cuts))


@dataclass
class Part:
    """What one range gave: its statistics, its reading report, its sample."""

    stats: DesignStats
    report: ReadReport
    sample: object | None
    clean: bool = True  # no quote and no lone CR seen: the cuts fell between rows

    def merge(self, other: Part) -> Part:
        """Both parts together, leaving both unchanged (associative, so any tree of merges
        gives the same statistics)."""
        report = ReadReport().merge(self.report).merge(other.report)
        sample = None
        if self.sample is not None:
            sample = type(self.sample)(self.sample.size)
            for s in (self.sample, other.sample):
                if s is not None:
                    sample.merge(s)
        return Part(self.stats.merge(other.stats), report, sample, self.clean and other.clean)


def range_opener(path: str, header: bytes, start: int, end: int):
    """A function that opens bytes [start, end) of ``path`` with the header before them."""

    def reopen():
        return io.BufferedReader(Prepended(header, RangeReader(path, start, end)), 1 << 20)

    return reopen


def read_range(path, options, header: bytes, start, end, sel: Selection, sample: int) -> Part:
    """Parse bytes [start, end) of ``path`` (header prepended) into statistics."""
    from .dataset import Reservoir

    reopen = range_opener(path, header, start, end)

    stream = reopen()
    reader = CsvReader(path, options, stream=stream, reopen=reopen)
    report = ReadReport()
    stats = DesignStats(len(sel.x_idx))
    reservoir = Reservoir(sample, seed=start) if sample else None
    try:
        with one_thread():  # as _read_one folds; two processes share the cores already
            for block in reader.blocks(sel, report):
                stats.update_columns(*block.data, w=block.w)
                if reservoir is not None:
                    reservoir.add(block.X, block.y)
    finally:
        stream.close()
    return Part(stats, report, reservoir, not reader.irregular)


def _child(conn, fn, *args) -> None:
    worker_signals()
    try:
        conn.send(("ok", fn(*args)))
    except LinfitError as exc:
        conn.send(("error", (type(exc), str(exc), exc.code)))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which decides
        conn.send(("error", (RuntimeError, f"{type(exc).__name__}: {exc}", 1)))
    finally:
        conn.close()


def _lines_before(path: str, pos: int) -> int:
    n = 0
    with open(path, "rb") as fh:
        left = pos
        while left > 0:
            chunk = fh.read(min(left, 1 << 24))
            if not chunk:
                break
            n += chunk.count(b"\n")
            left -= len(chunk)
    return n


def read_parallel(
    reader: CsvReader, options: CsvOptions, sel: Selection, workers: int, sample: int
) -> tuple[DesignStats, ReadReport, object | None]:
    """Statistics of the whole file, its ranges read by ``workers`` processes; read again in
    this process when a range saw a quote or a lone CR, or failed (see the module's note)."""
    header = reader.header_bytes
    size = os.path.getsize(reader.path)
    parts = read_ranges(read_range, reader.path, options, header, (sel, sample), workers)
    if parts is None or not all(p.clean for p in parts):
        parts = [read_range(reader.path, options, header, len(header), size, sel, sample)]
    total = functools.reduce(Part.merge, parts)
    return total.stats, total.report, total.sample


def read_ranges(fn, path, options, header: bytes, rest: tuple, workers: int):
    """``fn(path, options, header, start, end, *rest)`` for ``workers`` ranges of the file,
    the first in this process and the others in forked ones; their parts in order, or None
    when one failed (the caller then reads the file in one process, for exact messages).
    Every part has ``clean`` (its cuts fell between rows) and ``report``."""
    import multiprocessing as mp

    import pandas  # noqa: F401 - both processes parse with it: imported once, before the fork

    cuts = split_points(path, len(header), workers)
    ranges = list(zip(cuts[:-1], cuts[1:]))
    prefetch.discard()  # defensive: drop the handle; forked readers never use polars
    ctx = mp.get_context("fork")
    procs = []
    try:
        for start, end in ranges[1:]:
            parent_end, child_end = ctx.Pipe(duplex=False)
            proc = ctx.Process(
                target=_child,
                args=(child_end, fn, path, options, header, start, end, *rest),
                daemon=True,
            )
            proc.start()
            child_end.close()
            procs.append((proc, parent_end, start))
        try:
            parts = [fn(path, options, header, *ranges[0], *rest)]
        except LinfitError:
            return None
        for proc, conn, start in procs:
            try:
                status, payload = conn.recv()
            except EOFError:  # the child died without a word
                return None
            proc.join()
            if status == "error":
                return None
            part = payload
            if part.report.first_dropped_line is not None:  # counting lines costs a pass
                part.report.first_dropped_line += _lines_before(path, start) - header.count(b"\n")
            parts.append(part)
        return parts
    finally:
        for proc, conn, _ in procs:
            if proc.is_alive():
                proc.terminate()
            conn.close()
