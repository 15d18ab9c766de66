"""What a registration worker process runs: analyse files, return small picklable results."""

from __future__ import annotations

import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledger.errors import LedgerError
from ledger.imaging.analyse import analyse
from ledger.imaging.limits import DecodeLimits


@dataclass(frozen=True)
class WorkerSettings:
    secret: bytes
    limits: DecodeLimits
    keep_demographics: bool
    require_deidentified: bool


@dataclass(frozen=True)
class Analysed:
    path: str
    facts: dict[str, Any] | None  # Analysis.to_json(): PHI-free by construction
    refusal: str | None = None
    grid: bytes | None = None  # the near-duplicate grid: kept in the store, never in the log


_SETTINGS: list[WorkerSettings] = []


def init_worker(settings: WorkerSettings, *, in_pool: bool = True) -> None:
    if in_pool:  # Ctrl-C goes to the parent, which stops cleanly; workers must not die mid-task
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    _SETTINGS[:] = [settings]


def worker_ready() -> None:
    """A worker's first task: done once the worker has started."""


def analyse_paths(paths: list[str]) -> list[Analysed]:
    settings = _SETTINGS[0]
    return [_analyse_one(path, settings) for path in paths]


def _analyse_one(path: str, settings: WorkerSettings) -> Analysed:
    try:
        analysis = analyse(
            Path(path),
            secret=settings.secret,
            limits=settings.limits,
            keep_demographics=settings.keep_demographics,
            require_deidentified=settings.require_deidentified,
        )
    except LedgerError as exc:
        return Analysed(path, None, exc.message)
    except (MemoryError, RecursionError):
        return Analysed(path, None, "too large or too deeply nested to decode safely")
    except Exception as exc:
        # Only the exception's type: decoder messages can quote header values.
        return Analysed(path, None, f"could not be decoded ({type(exc).__name__})")
    grid = analysis.descriptor.grid if analysis.descriptor is not None else None
    return Analysed(path, analysis.to_json(), grid=grid)
