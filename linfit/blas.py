"""BLAS on one thread while rows stream in.

A streamed fold's BLAS calls are dot products over one frame (two rows of 2²⁰ at most for a
single feature): a second BLAS thread halves them on an idle machine, but while polars parses
on every core (or a second reader process does) that thread only takes a core from the
parser, and the caller spins in OpenBLAS waiting for it. On 2 cores, a 5e7-row fit spent
about 0.05 s of its main thread's CPU there and as much on the BLAS thread (``perf record``),
and ran 0.03–0.05 s faster on one thread (``bench/parser.py``'s paired rounds).
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
