"""Reading CSV input on several cores.

One large file is split into byte ranges at line ends; each range is parsed and folded into
mergeable statistics by its own process (forked: nothing is re-imported), and the
statistics are merged. Used only where it is safe and pays: a plain (uncompressed) file of
at least PARALLEL_MIN_BYTES, with no quote character in its first MiB (a quoted field could
hold a newline, and a split must fall between rows), when the rows need not be kept.
Several files totalling at least PARALLEL_MIN_BYTES are shared out whole among processes.
"""

from __future__ import annotations

import functools
import io
import os
import re
from dataclasses import dataclass

from .accumulate import DesignStats
from .errors import LinfitError
from .io import CsvOptions, CsvReader, RangeReader, ReadReport, Selection, _Prepended

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


def _read_file(args):
    fn, path, rest = args
    try:
        return "ok", fn(path, *rest)
    except LinfitError as exc:
        return "error", (type(exc), str(exc), exc.code)


def map_files(fn, paths: list[str], rest: tuple, workers: int) -> list:
    """``fn(path, *rest)`` for every path, in order, on ``workers`` forked processes."""
    import multiprocessing as mp

    with mp.get_context("fork").Pool(workers) as pool:
        results = pool.map(_read_file, [(fn, p, rest) for p in paths], chunksize=1)
    out = []
    for status, payload in results:
        if status == "error":
            kind, message, code = payload
            raise kind(message, code)
        out.append(payload)
    return out


def workers_for(path: str, keep_all_rows: bool) -> int:
    """How many processes to read ``path`` with (1: read it in this process)."""
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
    if size < PARALLEL_MIN_BYTES or head[:2] == b"\x1f\x8b" or b'"' in head:
        return 1
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
        return Part(self.stats.merge(other.stats), report, sample)


def read_range(path, options, header: bytes, start, end, sel: Selection, sample: int) -> Part:
    """Parse bytes [start, end) of ``path`` (header prepended) into statistics."""
    from .fitting import Reservoir

    stream = io.BufferedReader(_Prepended(header, RangeReader(path, start, end)), 1 << 20)
    reader = CsvReader(path, options, stream=stream)
    report = ReadReport()
    stats = DesignStats(len(sel.x_idx))
    reservoir = Reservoir(sample, seed=start) if sample else None
    try:
        for block in reader.blocks(sel, report):
            stats.update_columns(block.V, block.lo, block.hi)
            if reservoir is not None:
                reservoir.add(block.X, block.y)
    finally:
        stream.close()
    return Part(stats, report, reservoir)


def _child(conn, *args) -> None:
    try:
        conn.send(("ok", read_range(*args)))
    except LinfitError as exc:
        conn.send(("error", (type(exc), str(exc), exc.code)))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which decides
        conn.send(("error", (RuntimeError, f"{type(exc).__name__}: {exc}", 1)))
    finally:
        conn.close()


def _shift_lines(message: str, offset: int) -> str:
    return re.sub(r"\bline (\d+)", lambda m: f"line {int(m.group(1)) + offset}", message)


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
    """Statistics of the whole file, its ranges read by ``workers`` processes."""
    import multiprocessing as mp

    header = reader._header_bytes
    cuts = split_points(reader.path, len(header), workers)
    ranges = list(zip(cuts[:-1], cuts[1:]))
    ctx = mp.get_context("fork")
    procs = []
    try:
        for start, end in ranges[1:]:
            parent_end, child_end = ctx.Pipe(duplex=False)
            proc = ctx.Process(
                target=_child,
                args=(child_end, reader.path, options, header, start, end, sel, sample),
                daemon=True,
            )
            proc.start()
            child_end.close()
            procs.append((proc, parent_end, start))
        parts = [read_range(reader.path, options, header, *ranges[0], sel, sample)]
        for proc, conn, start in procs:
            status, payload = conn.recv()
            proc.join()
            if status == "error":
                kind, message, code = payload
                offset = _lines_before(reader.path, start) - 1
                raise (kind if issubclass(kind, LinfitError) else LinfitError)(
                    _shift_lines(message, offset), code
                )
            part = payload
            if part.report.first_dropped_line is not None:  # counting lines costs a pass
                part.report.first_dropped_line += _lines_before(reader.path, start) - 1
            parts.append(part)
    finally:
        for proc, conn, _ in procs:
            if proc.is_alive():
                proc.terminate()
            conn.close()
    total = functools.reduce(Part.merge, parts)
    return total.stats, total.report, total.sample
