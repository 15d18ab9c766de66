"""The registration run: discover, analyse in parallel, sign, append in atomic batches.

Memory stays bounded: files are discovered lazily and at most a small window of
tasks is in flight. Each batch is one transaction, so a crash or Ctrl-C loses
at most the batch being assembled, and a rerun skips what is already in the log
(same file bytes from the same source) — nothing is lost or registered twice.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

from ledger.imaging.limits import DecodeLimits
from ledger.registration.walk import Found, iter_files
from ledger.registration.workers import (
    Analysed,
    WorkerSettings,
    analyse_paths,
    init_worker,
)
from ledger.workerpool import WorkerPool

TASK_FILES = 8  # files per worker task: amortises pickling without starving a core
AHEAD_FILES = 512  # files submitted ahead: keeps workers busy while a batch is appended


@dataclass(frozen=True)
class RegisterOptions:
    source: str
    license: str
    consent: str
    key: str
    dataset: str | None = None
    workers: int = 0  # 0: every core
    require_deidentified: bool = False
    keep_demographics: bool = False
    limits: DecodeLimits = field(default_factory=DecodeLimits)
    batch_size: int = 256
    reject_duplicates: bool = False  # refuse exact and near duplicates of registered images
    defer_duplicate_check: bool = False  # bulk ingest: leave the check to the catch-up scan
    # Each worker's memory ceiling, in bytes above its start-up size: None for
    # default_memory_headroom(limits), 0 for none.
    worker_memory: int | None = None
    zero_preamble: Path | None = None  # register zeroed copies, written here, of polyglots
    screen: bool = True  # the forensic screening, recorded in each entry (docs/forensics.md)
    quarantine: str | None = None  # refuse images screened at or above this level


@dataclass
class RegisterSummary:
    registered: int = 0
    already_known: int = 0
    refused: list[dict[str, str]] = field(default_factory=list)
    interrupted: bool = False
    first_index: int | None = None
    last_index: int | None = None
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    quarantined: int = 0  # of the refused, those refused by --quarantine

    def to_json(self) -> dict[str, Any]:
        return {
            "registered": self.registered,
            "already_known": self.already_known,
            "refused": self.refused,
            "interrupted": self.interrupted,
            "duplicates": self.duplicates,
            "quarantined": self.quarantined,
            "entries": None
            if self.first_index is None
            else {"first": self.first_index, "last": self.last_index},
        }


# outcome is "registered", "known" or "refused"
Progress = Callable[[str, str], None]


def count_files(paths: Sequence[Path]) -> int:
    return sum(1 for _ in iter_files(paths))


class Workers(WorkerPool):
    """The run's worker processes, none for ``workers <= 1``: they analyse files
    (:func:`analysed_stream`) and verify the duplicate check's candidates (:meth:`map`).

    A :class:`~ledger.workerpool.WorkerPool` whose workers, and this process, are set up
    with the run's ``settings`` (the secret and decode limits that analysis needs)."""

    def __init__(self, settings: WorkerSettings, *, workers: int) -> None:
        super().__init__(workers=workers, initializer=init_worker, initargs=(settings,))
        self.settings = settings

    def __enter__(self) -> Self:
        init_worker(self.settings, in_pool=False)  # this process analyses some files too
        return super().__enter__()


def analysed_stream(
    paths: Sequence[Path],
    settings: WorkerSettings,
    *,
    workers: int,
    ahead: int = AHEAD_FILES,
    pool: Workers | None = None,
) -> Iterator[Analysed]:
    """Analyses in discovery order, computed on ``workers`` processes (inline for 1).

    About ``ahead`` files are submitted before their results are taken, so that the
    workers have work queued while the caller is busy (signing and appending a batch).
    ``pool``: the run's :class:`Workers` (started with the same settings and number),
    which the caller also uses for other work; without it the stream starts its own.
    """
    if pool is None:
        with Workers(settings, workers=workers) as own:
            yield from analysed_stream(paths, settings, workers=workers, ahead=ahead, pool=own)
        return
    found = iter_files(paths)
    executor = pool.pool
    if executor is None:
        for item in found:
            if item.problem is not None:
                yield Analysed(str(item.path), None, item.problem)
            else:
                yield from analyse_paths([str(item.path)])
        return
    in_flight = max(4 * pool.workers, -(-ahead // TASK_FILES))
    window: deque[Future[list[Analysed]] | list[Analysed]] = deque()
    try:
        for task in _tasks(found):
            # Until a worker has started, this process analyses files itself rather than
            # leave a core idle.
            if not window and not pool.started():
                yield from _inline(task)
                continue
            window.append(
                executor.submit(analyse_paths, task) if isinstance(task, list) else [task]
            )
            while len(window) > in_flight:
                yield from _result(window.popleft())
        while window:
            yield from _result(window.popleft())
    finally:
        for pending in window:
            if isinstance(pending, Future):
                pending.cancel()


def _inline(task: list[str] | Analysed) -> Iterator[Analysed]:
    if isinstance(task, Analysed):
        yield task
        return
    for path in task:
        yield from analyse_paths([path])


def _result(item: Future[list[Analysed]] | list[Analysed]) -> list[Analysed]:
    return item.result() if isinstance(item, Future) else item


def _tasks(found: Iterator[Found]) -> Iterator[list[str] | Analysed]:
    """Groups of readable paths to analyse, and unreadable ones as ready refusals."""
    group: list[str] = []
    for item in found:
        if item.problem is not None:
            if group:
                yield group
                group = []
            yield Analysed(str(item.path), None, item.problem)
            continue
        group.append(str(item.path))
        if len(group) == TASK_FILES:
            yield group
            group = []
    if group:
        yield group


def default_workers() -> int:
    return max(1, os.cpu_count() or 1)
