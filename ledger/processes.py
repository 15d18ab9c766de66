"""Worker processes for the per-envelope work of appends: validation and Ed25519.

Checking an envelope costs far more CPU than storing it (an Ed25519
verification alone is about 120 us on a 2.4 GHz core), so large batches are
checked on a pool of worker processes, one per core, while the sequencer keeps
its own process for the ordered, transactional part. The pool starts on first
use and lives as long as the process; a pool that breaks is discarded and the
caller falls back to checking in its own process.

Workers start from a ``forkserver`` (no inherited locks, threads or database
connections) that has already imported the modules they run. Each task carries
the entry kinds it checks against (a ``KindRegistry``, pickled by its specs): the
default registry imports every module it lists, so nothing has to be imported
for its side effects. A task that fails makes the caller repeat the check itself,
so a worker can only ever cost time.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from concurrent.futures import Future, ProcessPoolExecutor

from ledger.processguard import die_with_parent

_pool: ProcessPoolExecutor | None = None
_warmup: list[Future[None]] = []
_pool_lock = threading.Lock()


def ready_pool() -> ProcessPoolExecutor | None:
    """The process-wide worker pool once its workers are up, else None.

    The first call starts the pool and returns None: the caller does its work itself
    while the workers start (about a second of imports each), so a process that
    appends once never waits for them. None also on a single core (nothing to gain).
    """
    global _pool
    workers = os.cpu_count() or 1
    if workers < 2:
        return None
    with _pool_lock:
        if _pool is None:
            _pool = ProcessPoolExecutor(
                workers, mp_context=forkserver_context(), initializer=ignore_sigint
            )
            _warmup[:] = [_pool.submit(_ready) for _ in range(workers)]
            return None
        if not all(future.done() for future in _warmup):
            return None
        pool = _pool
    if any(future.exception() is not None for future in _warmup):
        discard_pool(pool)
        return None
    return pool


def ignore_sigint() -> None:
    """Workers leave Ctrl-C to the parent, which stops cleanly between batches, and die
    with the fork server (also set at fork by its guard: ``ledger.processguard``)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent()


def _ready() -> None:
    """A worker's first task: it returns once the worker has started."""


# Imported once by the fork server, so that each worker it forks starts with them
# (without it every worker imports pydantic, SQLAlchemy and the ledger itself,
# about a second of CPU each). "__main__" is the default preload. The guard makes the
# fork server and its workers end with the parent (ledger.processguard).
_PRELOAD = ["__main__", "ledger.forkserver_guard", "ledger.audit.leaves", "ledger.sequencer"]


def forkserver_context() -> multiprocessing.context.ForkServerContext:
    """The ``forkserver`` context, preloading the modules the ledger's workers run."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(_PRELOAD)
    return context


def discard_pool(pool: ProcessPoolExecutor) -> None:
    """Forget a broken pool so that the next caller starts a fresh one."""
    global _pool
    with _pool_lock:
        if _pool is pool:
            _pool = None
    pool.shutdown(wait=False, cancel_futures=True)
