"""A run's worker processes: started on entry, results in the tasks' order.

Registration (which also analyses files on them: ``ledger.registration.pipeline.Workers``)
and the catch-up scan verify near-duplicate candidates on such a pool. Workers start from
the ledger's fork server (``ledger.processes.forkserver_context``) and take a second or
more to come up; meanwhile :meth:`WorkerPool.map` computes the tasks in the calling
process, so no core idles and a short run never waits for them. The results never depend
on which process computed them.

Workers ignore Ctrl-C: the caller stops between tasks, and leaving the context shuts the
pool down, queued tasks cancelled (a worker finishes the task it is running).
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, Self, TypeVar

from ledger.processes import forkserver_context
from ledger.processguard import die_with_parent

T = TypeVar("T")
R = TypeVar("R")


class WorkerPool:
    """``workers`` processes (none for ``workers <= 1``: everything runs in this process),
    each set up by ``initializer(*initargs)`` when given. A context manager."""

    def __init__(
        self,
        *,
        workers: int,
        initializer: Callable[..., object] | None = None,
        initargs: tuple[Any, ...] = (),
    ) -> None:
        self.workers = workers
        self._initializer = initializer
        self._initargs = initargs
        self._pool: ProcessPoolExecutor | None = None
        self._starting: list[Future[None]] = []

    def __enter__(self) -> Self:
        if self.workers > 1:
            # The ledger's fork server settings: the first pool of a process starts the fork
            # server, and its preload decides what every later worker starts with.
            self._pool = ProcessPoolExecutor(
                self.workers,
                mp_context=forkserver_context(),
                initializer=_start_worker,
                initargs=(self._initializer, self._initargs),
            )
            self._starting = [self._pool.submit(_ready) for _ in range(self.workers)]
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    @property
    def pool(self) -> ProcessPoolExecutor | None:
        return self._pool

    def started(self) -> bool:
        """Whether a worker is up (they take a second or more: fork server, imports)."""
        return any(future.done() for future in self._starting)

    def map(self, fn: Callable[[T], R], tasks: Sequence[T]) -> list[R]:
        """``fn`` of each task, in the tasks' order, computed on the workers and here.

        Every task is submitted; meanwhile this process runs the last ones that no worker
        has taken yet (all of them while the workers are starting), so no core idles and the
        results do not depend on who computed them."""
        pool = self._pool
        if pool is None or len(tasks) < 2:
            return [fn(task) for task in tasks]
        futures = [pool.submit(fn, task) for task in tasks]
        here: dict[int, R] = {}
        try:
            for i in reversed(range(len(tasks))):
                if not futures[i].cancel():  # a worker has it, and every task before it
                    break
                here[i] = fn(tasks[i])
            return [here[i] if i in here else futures[i].result() for i in range(len(tasks))]
        finally:
            for future in futures:
                future.cancel()


def _start_worker(initializer: Callable[..., object] | None, initargs: tuple[Any, ...]) -> None:
    # Ctrl-C goes to the parent, which stops cleanly; workers must not die mid-task.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent()  # also set at fork by the fork server's guard; here in case it is absent
    if initializer is not None:
        initializer(*initargs)


def _ready() -> None:
    """A worker's first task: done once the worker has started."""
