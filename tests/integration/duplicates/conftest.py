"""Fixtures shared by the duplicate tests."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from ledger.workerpool import WorkerPool


@pytest.fixture
def pooled(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The sizes of the task lists a started pool's ``map`` got (registration's and the
    scan's); it waits for a worker first, so that the pool, not only this process, verifies
    (a fast run could end before the workers are up)."""
    sizes: list[int] = []
    original = WorkerPool.map

    def map_once_up(self: WorkerPool, fn: Callable[[Any], Any], tasks: Sequence[Any]) -> list[Any]:
        if self.pool is not None:
            deadline = time.monotonic() + 60
            while not self.started() and time.monotonic() < deadline:
                time.sleep(0.01)
            sizes.append(len(tasks))
        return original(self, fn, tasks)

    monkeypatch.setattr(WorkerPool, "map", map_once_up)
    return sizes
