"""Worker processes that die with their parent and stop at a memory ceiling.

The ledger's workers are forked by a fork server that the parent started
(``ledger.processes.forkserver_context``). When the parent is killed
(``kill -9``, the OOM killer), nothing tells them: a worker decoding a bomb
would go on for minutes. So, on Linux:

* the fork server, which has only a pipe to its parent, runs a watchdog thread
  that ends it once its parent has gone (it is re-parented: ``getppid()``
  changes). A watchdog rather than ``PR_SET_PDEATHSIG``, which fires when the
  parent *thread* that started it ends, and pools may be started from any thread;
* every process the fork server forks asks the kernel for SIGKILL when the fork
  server ends (``prctl(PR_SET_PDEATHSIG, SIGKILL)``), set in the child right after
  the fork (``os.register_at_fork``), before any pool's initialiser runs.

Elsewhere these are no-ops: workers then end when their parent's pipe closes.

``limit_address_space`` caps a worker's virtual memory (``RLIMIT_AS``): an
allocation over it raises MemoryError in that worker, which refuses the file it
was working on, instead of the machine swapping or the OOM killer ending the run.
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import sys
import threading
import time

PR_SET_PDEATHSIG = 1
WATCH_INTERVAL = 0.2  # seconds between the fork server's looks at its parent


def die_with_parent() -> None:
    """Linux: be sent SIGKILL when the process (thread) that forked this one ends."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):  # no prctl: the parent's pipe still ends the worker
        return
    if os.getppid() == 1:  # the parent died before the request was made
        os._exit(1)


def guard_forkserver() -> None:
    """In the fork server: end with the parent, and have every child end with it."""
    os.register_at_fork(after_in_child=die_with_parent)
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(WATCH_INTERVAL)
        os._exit(0)  # its children get SIGKILL from the kernel (PR_SET_PDEATHSIG)

    threading.Thread(target=watch, name="medledger-parent-watch", daemon=True).start()


def address_space() -> int:
    """This process's virtual memory size in bytes (0 where /proc is not available)."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            pages = int(statm.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 0
    return pages * os.sysconf("SC_PAGE_SIZE")


def limit_address_space(headroom: int) -> int | None:
    """Cap virtual memory at what is mapped now plus ``headroom`` bytes; the cap, or None.

    Measured from the current size, so that the libraries a worker has already
    loaded (numpy, OpenBLAS's buffers, the codecs) never count against the images.
    """
    if headroom <= 0 or not hasattr(resource, "RLIMIT_AS"):
        return None
    current = address_space()
    if current == 0:
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    ceiling = current + headroom
    if hard != resource.RLIM_INFINITY:
        ceiling = min(ceiling, hard)
    if soft != resource.RLIM_INFINITY and soft < ceiling:
        return soft  # a lower ceiling set from outside stays
    resource.setrlimit(resource.RLIMIT_AS, (ceiling, hard))
    return ceiling
