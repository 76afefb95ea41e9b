"""BLAS on one thread while rows are folded.

A streamed fold's BLAS calls are dot products over one block (two rows of 2²⁰ at most for a
single feature). OpenBLAS splits a long dot product among its threads, and the sum then
rounds otherwise: the same rows folded under another thread count, or by a reader that had
limited it, gave other last digits. Every fold of a file's rows (``linfit.fitting``'s, and
each reader process's in ``linfit.parallel``) runs with one BLAS thread, so the statistics
do not depend on the reader or on the machine's cores. It is also faster on 2 cores: while
polars parses on every core, a second BLAS thread only took a core from the parse, and the
caller spun in OpenBLAS waiting for it (about 0.05 s of the main thread's CPU at 5e7 rows,
and as much on the BLAS thread, in ``perf record``; 0.03–0.05 s of wall time in paired runs).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """numpy's BLAS limited to one thread for the duration (threadpoolctl), then restored;
    nothing changes where threadpoolctl is missing or cannot control the BLAS found."""
    try:
        from threadpoolctl import threadpool_limits

        limiter = threadpool_limits(limits=1, user_api="blas")
    except Exception:  # noqa: BLE001 - a speed-up only: run with the BLAS as it is
        limiter = contextlib.nullcontext()
    with limiter:
        yield
