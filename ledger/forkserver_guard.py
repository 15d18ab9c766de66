"""Preloaded by the ledger's fork server only: it then ends with its parent, and so do
the workers it forks (:func:`ledger.processguard.guard_forkserver`).

A fork server runs ``multiprocessing.forkserver.main``, which imports its preload
list; importing this module anywhere else does nothing.
"""

from __future__ import annotations

import sys

from ledger.processguard import guard_forkserver


def _in_forkserver() -> bool:
    frame = sys._getframe(1)
    while frame is not None:
        code = frame.f_code
        if code.co_name == "main" and code.co_filename.endswith("forkserver.py"):
            return "multiprocessing" in code.co_filename
        frame = frame.f_back  # type: ignore[assignment]
    return False


if _in_forkserver():
    guard_forkserver()
