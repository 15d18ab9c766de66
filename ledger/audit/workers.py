"""Worker processes for the per-envelope work of appends: validation and Ed25519.

Checking an envelope costs far more CPU than storing it (an Ed25519
verification alone is about 120 us on a 2.4 GHz core), so large batches are
checked on a pool of worker processes, one per core, while the sequencer keeps
its own process for the ordered, transactional part. The pool starts on first
use and lives as long as the process; a pool that breaks is discarded and the
caller falls back to checking in its own process.

Workers start from a ``forkserver`` (no inherited locks, threads or database
connections). Entry kinds are registered at import time, so each task names the
modules that define the kinds registered in the parent and the worker imports
the ones it lacks; a kind it still does not know makes its check fail, and the
caller then repeats the check itself, so a worker can only ever cost time.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import sys
import threading
from concurrent.futures import ProcessPoolExecutor

_pool: ProcessPoolExecutor | None = None
_pool_lock = threading.Lock()
_imported: set[str] = set()


def shared_pool() -> ProcessPoolExecutor | None:
    """The process-wide worker pool, or None on a single core (nothing to gain)."""
    global _pool
    workers = os.cpu_count() or 1
    if workers < 2:
        return None
    with _pool_lock:
        if _pool is None:
            context = multiprocessing.get_context("forkserver")
            _pool = ProcessPoolExecutor(workers, mp_context=context)
        return _pool


def discard_pool(pool: ProcessPoolExecutor) -> None:
    """Forget a broken pool so that the next caller starts a fresh one."""
    global _pool
    with _pool_lock:
        if _pool is pool:
            _pool = None
    pool.shutdown(wait=False, cancel_futures=True)


def kind_modules() -> tuple[str, ...]:
    """Modules (other than ``__main__``) whose import registers the known entry kinds."""
    from ledger.model.kinds import all_kinds

    return tuple(sorted({spec.body.__module__ for spec in all_kinds()} - {"__main__"}))


def import_kind_modules(modules: tuple[str, ...]) -> None:
    """In a worker: import the modules that register the parent's entry kinds."""
    for name in modules:
        if name in _imported:
            continue
        _imported.add(name)
        if name in sys.modules:
            continue
        try:
            importlib.import_module(name)
        except Exception:  # noqa: S112 - unknown kinds then fail the check, and the parent redoes it
            continue
