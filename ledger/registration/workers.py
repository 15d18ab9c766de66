"""What a registration worker process runs: analyse files, return small picklable results."""

from __future__ import annotations

import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ledger.errors import InputError, LedgerError
from ledger.forensics.screen import screen_at_registration
from ledger.forensics.signal import Level
from ledger.imaging.analyse import analyse_decoded
from ledger.imaging.decode import decode
from ledger.imaging.limits import DecodeLimits
from ledger.imaging.pseudonym import SubjectMaterial
from ledger.imaging.zeropreamble import zeroed_copy
from ledger.model.canonical import canonical_json
from ledger.model.entry import MAX_ENVELOPE_BYTES
from ledger.model.images import ImageFacts
from ledger.processguard import limit_address_space

# What an image.registered envelope holds besides the image's facts, at its longest: the
# entry's fields, the signature and the origin (source and dataset of 128 characters, a
# licence of 200) take 862 bytes (v2 entries); the rest of the entry limit is the facts' budget.
ENTRY_RESERVE = 1024
MAX_FACTS_BYTES = MAX_ENVELOPE_BYTES - ENTRY_RESERVE


GIB = 1024 * 1024 * 1024


@dataclass(frozen=True)
class WorkerSettings:
    secret: bytes
    limits: DecodeLimits
    keep_demographics: bool
    require_deidentified: bool
    zero_preamble_dir: str | None = None  # --zero-preamble: register zeroed copies from here
    # A worker's memory ceiling: bytes of address space above its size at start-up
    # (0: no ceiling). The process that runs the pool has none.
    memory_headroom: int = 0
    screen: bool = True  # run the forensic screening and record it in the entry
    quarantine: int | None = None  # refuse images screened at or above this Level


def default_memory_headroom(limits: DecodeLimits) -> int:
    """Room for the decoded image, the copies analysis makes of it, and the codecs."""
    return 4 * limits.max_decoded_bytes + GIB


def memory_headroom(chosen: int | None, limits: DecodeLimits) -> int:
    """A run's ``worker_memory`` option (None: the default for its limits), validated."""
    if chosen is None:
        return default_memory_headroom(limits)
    if isinstance(chosen, bool) or not isinstance(chosen, int) or chosen < 0:
        raise InputError("--worker-memory-mb must be a whole number of MiB, 0 or more")
    return int(chosen)


@dataclass(frozen=True)
class Analysed:
    path: str
    facts: dict[str, Any] | None  # Analysis.to_json(): PHI-free by construction
    refusal: str | None = None
    grid: bytes | None = None  # the near-duplicate grid: kept in the store, never in the log
    frame_grids: tuple[tuple[str, bytes], ...] = ()  # (digest, grid) of the other frames
    quarantined: bool = False  # refused by --quarantine (the screening's level)

    # DICOM: the subject's tag and keyed material; the parent makes the pseudonyms from it
    subject: SubjectMaterial | None = None


_SETTINGS: list[WorkerSettings] = []
_CEILING: list[int] = []  # this worker's address space ceiling, once set


def init_worker(settings: WorkerSettings, *, in_pool: bool = True) -> None:
    if in_pool:  # Ctrl-C goes to the parent, which stops cleanly; workers must not die mid-task
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        ceiling = limit_address_space(settings.memory_headroom)
        _CEILING[:] = [ceiling] if ceiling is not None else []
    _SETTINGS[:] = [settings]


def analyse_paths(paths: list[str]) -> list[Analysed]:
    settings = _SETTINGS[0]
    return [_analyse_one(path, settings) for path in paths]


def _analyse_one(path: str, settings: WorkerSettings) -> Analysed:
    try:
        if settings.zero_preamble_dir is not None:
            copy = zeroed_copy(Path(path), Path(settings.zero_preamble_dir))
            path = str(copy) if copy is not None else path
        decoded = decode(Path(path), limits=settings.limits)
        analysis = analyse_decoded(
            decoded,
            secret=settings.secret,
            keep_demographics=settings.keep_demographics,
            require_deidentified=settings.require_deidentified,
        )
        screening = screen_at_registration(decoded) if settings.screen else None  # same decode
        del decoded
    except LedgerError as exc:
        return Analysed(path, None, exc.message)
    except MemoryError:
        return Analysed(path, None, _out_of_memory())
    except RecursionError:
        return Analysed(path, None, "too deeply nested to decode safely")
    except Exception as exc:
        # Only the exception's type: decoder messages can quote header values.
        return Analysed(path, None, f"could not be decoded ({type(exc).__name__})")
    facts = analysis.to_json()
    if screening is not None:
        facts["screening"] = screening.to_entry()
        if settings.quarantine is not None and screening.level >= settings.quarantine:
            return Analysed(path, None, quarantine_reason(screening.level, settings.quarantine,
                                                          screening.signals), quarantined=True)
    problem = entry_problem(facts)
    if problem is not None:
        return Analysed(path, None, problem)
    grid = analysis.descriptor.grid if analysis.descriptor is not None else None
    frame_grids = tuple((d.grid_sha256, d.grid) for _, d in analysis.frame_descriptors)
    return Analysed(path, facts, grid=grid, subject=analysis.subject, frame_grids=frame_grids)


def quarantine_reason(level: Level, at: int, signals: tuple[Any, ...]) -> str:
    named = ", ".join(s.name for s in signals if s.level >= Level.LOW)
    return (
        f"quarantined: suspected generated or altered image, screening level {level.label} "
        f"({named}) is at or above --quarantine {Level(at).label}; `medledger inspect` explains"
    )


def _out_of_memory() -> str:
    if _CEILING:
        return f"exceeded the worker memory ceiling ({_CEILING[0] // (1024 * 1024)} MiB)"
    return "too large to decode in the memory available"


def entry_problem(facts: dict[str, Any]) -> str | None:
    """Why an image.registered entry holding ``facts`` would be refused, or None.

    The sequencer validates a batch's entries when it appends them, all or nothing, so
    one file whose entry would fail must be refused here, alone: with the kind's own
    model for the facts (the origin is checked once per run) and the entry size limit.
    The reason names the field and the error type, never a value: pydantic's messages
    can quote their input, and the input here comes from the file's header.
    """
    try:
        ImageFacts.model_validate(facts)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_context=False, include_input=False)[0]
        where = ".".join(str(part) for part in ("image", *first["loc"]))
        return f"entry would be invalid: {where}: {first['type']}"
    try:
        size = len(canonical_json(facts))
    except InputError:  # its message may quote the value
        return "entry would be invalid: a value cannot be encoded as canonical JSON"
    if size > MAX_FACTS_BYTES:
        return (
            f"entry would be too large: the image's facts take {size} bytes of the "
            f"{MAX_FACTS_BYTES} an entry has room for (largest: {_largest(facts)})"
        )
    return None


def _largest(facts: dict[str, Any]) -> str:
    """The name of the field, or metadata attribute, that takes the most room."""
    parts = {f"image.{k}": v for k, v in facts.items() if k != "metadata"}
    parts |= {f"image.metadata.{k}": v for k, v in facts["metadata"].items()}
    return max(parts, key=lambda name: len(canonical_json(parts[name])))
