"""torch intra-op threads of a benchmark process (``--xb-threads``, ``threads`` in ``[tool.xaibench]``).

Given: every process (serial run, each pytest-xdist worker) uses exactly that many. Not given, under
pytest-xdist with W workers: each worker uses ``max(1, os.cpu_count() // W)``, because W workers with
torch's default of one thread per core each would oversubscribe the cores (OpenMP threads spin-waiting
for busy cores slow small batches many times over). Not given and serial: torch's default is kept.

Cheap to import (torch is imported only when a count is applied): the pytest plugin calls it.
"""
from __future__ import annotations

import os
from typing import Mapping

# Set by pytest-xdist in each worker process (xdist.remote).
WORKER_COUNT_VARIABLE = "PYTEST_XDIST_WORKER_COUNT"


def effective_threads(option: int | None, environ: Mapping[str, str] | None = None,
                      cpu_count: int | None = None) -> int | None:
    """The thread count this process should use: ``option`` when given, else cores // xdist workers
    in an xdist worker, else None (keep torch's default)."""
    if option is not None:
        return int(option)
    environ = os.environ if environ is None else environ
    try:
        workers = int(environ.get(WORKER_COUNT_VARIABLE, ""))
    except ValueError:
        return None
    if workers <= 0:
        return None
    cores = cpu_count if cpu_count is not None else (os.cpu_count() or 1)
    return max(1, cores // workers)


def apply_threads(option: int | None) -> int | None:
    """``torch.set_num_threads`` with ``effective_threads(option)``; returns the count set (None: left
    at torch's default, torch not imported). Call it before any model is loaded."""
    threads = effective_threads(option)
    if threads is None:
        return None
    import torch

    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return threads
