"""The register use case: from paths to signed, appended image.registered entries.

It lives in the service because it composes features: the analysis pipeline
(ledger.registration), the duplicate check (ledger.similarity) and the sequencer.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from ledger.consent.subjects import SubjectBatch
from ledger.crypto.keys import SigningKey
from ledger.errors import InputError, PolicyError, StorageError
from ledger.forensics.screen import quarantine_level
from ledger.model.images import DUP_GRID
from ledger.model.origin import check_consent, check_dataset, check_name, normalise_license
from ledger.model.registry import kind_spec
from ledger.registration.pipeline import (
    Progress,
    RegisterOptions,
    RegisterSummary,
    Workers,
    analysed_stream,
    default_workers,
)
from ledger.registration.workers import Analysed, WorkerSettings, memory_headroom
from ledger.sequencer import Appended, append
from ledger.service.inferred import infer_edges
from ledger.service.ledger import Ledger
from ledger.service.sources import check_may_register
from ledger.similarity.catalog import LedgerIndex, described_frames, descriptor_of
from ledger.similarity.findings import (
    Finding,
    Submission,
    TaskMap,
    check,
    check_appended,
    edges_and_groups,
    merged,
)
from ledger.store import reading
from ledger.store.duplicates import put_grids, put_scans


def register(
    ledger: Ledger,
    paths: Sequence[Path],
    options: RegisterOptions,
    *,
    progress: Progress | None = None,
) -> RegisterSummary:
    """Register every image under ``paths``; a rerun continues where a crash stopped."""
    if options.defer_duplicate_check and options.reject_duplicates:
        raise InputError(
            "--reject-duplicates needs the duplicate check; drop --defer-duplicate-check"
        )
    license_id = normalise_license(options.license)
    consent = check_consent(options.consent)
    check_name("--source", options.source)
    if options.dataset:
        check_dataset("--dataset", options.dataset)
    key = ledger.signing_key(options.key)
    _check_role(ledger, options.key)
    check_may_register(ledger, key=options.key, source=options.source, dataset=options.dataset)
    require = options.require_deidentified or ledger.require_deidentified()  # signed policy
    settings = WorkerSettings(
        ledger.dir.secret(), options.limits, options.keep_demographics, require,
        _zero_preamble_dir(options.zero_preamble, paths),
        memory_headroom=memory_headroom(options.worker_memory, options.limits),
        screen=options.screen,
        quarantine=quarantine_level(options.quarantine, screen=options.screen),
    )  # fmt: skip
    origin = {"source": options.source, "license": license_id, "consent": consent}
    if options.dataset:
        origin["dataset"] = options.dataset
    summary = RegisterSummary()
    index = ledger.duplicate_index(max_candidates=CHECK_CANDIDATES)
    batch: list[Analysed] = []
    report = progress or (lambda _path, _outcome: None)
    workers = options.workers or default_workers()
    # One pool: it analyses the files and verifies the duplicate check's candidates.
    with _interruptible() as stop, Workers(settings, workers=workers) as pool:
        run = Run(ledger, key, origin, index, options, summary, report, pool.map)
        for item in analysed_stream(paths, settings, workers=workers, pool=pool):
            if stop.is_set():
                summary.interrupted = True  # committed batches stay; the rest is redone on rerun
                break
            if item.facts is None:
                summary.refused.append({"path": item.path, "reason": item.refusal or "refused"})
                summary.quarantined += item.quarantined
                report(item.path, "refused")
                continue
            batch.append(item)
            if len(batch) >= options.batch_size:
                _flush(run, batch)
                batch = []
        if stop.is_set():
            summary.interrupted = True  # the batch being assembled is dropped, never half-kept
        else:
            _flush(run, batch)
    if summary.registered:
        ledger.checkpoint()
        index.sync()
        index.save()
    return summary


# The check verifies the closest candidates only and stops at a few matches: a series of
# similar slices would otherwise cost a full verification per pair (see docs/decisions.md).
CHECK_CANDIDATES = 8
CHECK_ENOUGH = 2
APPEND_ATTEMPTS = 5  # concurrent runs of the same source may keep taking files from a batch


@dataclass(frozen=True)
class Run:
    ledger: Ledger
    key: SigningKey
    origin: dict[str, str]
    index: LedgerIndex
    options: RegisterOptions
    summary: RegisterSummary
    report: Progress
    map_tasks: TaskMap  # the workers' map: the check's verifications run on them


@contextmanager
def _interruptible() -> Iterator[threading.Event]:
    """Ctrl-C sets a flag checked between files, so a batch is never half-counted."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = signal.signal(signal.SIGINT, lambda _sig, _frame: stop.set())
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)


def _zero_preamble_dir(directory: Path | None, paths: Sequence[Path]) -> str | None:
    """--zero-preamble's folder, refused inside a folder being registered (the walk would
    find the copies)."""
    if directory is None:
        return None
    target = directory.resolve()
    for path in paths:
        if target.is_relative_to(path.resolve()):
            raise InputError(f"--zero-preamble {directory} is inside {path}, which is registered")
    return str(target)


def _check_role(ledger: Ledger, name: str) -> None:
    """Refuse a key that may not register before decoding a single file."""
    info = ledger.key_info(name)
    allowed = kind_spec("image.registered", ledger.kinds).roles
    if info.role not in allowed:
        raise PolicyError(
            f"key {name} has role {info.role}; image.registered needs one of "
            + ", ".join(sorted(allowed))
        )


class _LateDuplicatesError(Exception):  # control flow inside `_flush`, never escapes
    """Raised inside the append transaction, which it rolls back (nothing is written).

    Under ``--reject-duplicates``, files of the batch turned out to duplicate images that
    another run appended after this batch was checked (``checked_to``: the batch's first
    index then, so the window up to it was checked for every file)."""

    def __init__(self, found: dict[int, list[Finding]], checked_to: int) -> None:
        super().__init__(f"{len(found)} files duplicate images appended meanwhile")
        self.found = found  # id(Analysed) -> its late findings
        self.checked_to = checked_to


def _flush(run: Run, batch: list[Analysed]) -> None:
    if not batch:
        return
    fresh, skipped = _unknown(run, batch)
    covered: int | None = None  # the log size the check covered
    if run.options.defer_duplicate_check:
        findings: list[list[Finding]] = [[] for _ in fresh]  # the catch-up scan does it later
    else:
        submissions = [_submission(a) for a in fresh]
        findings = check(run.index, submissions, enough=CHECK_ENOUGH, map_tasks=run.map_tasks)
        covered = run.index.size
    failures = 0
    while True:
        if run.options.reject_duplicates:
            fresh, findings = _refuse_duplicates(run, fresh, findings)
        try:
            _append_checked(run, fresh, findings, skipped, covered)
            return
        except _LateDuplicatesError as late:
            # Those files are refused on the next turn, so each turn refuses at least one
            # file: this ends. The window checked so far is not checked again.
            findings = [
                merged(f, late.found.get(id(a), [])) for a, f in zip(fresh, findings, strict=True)
            ]
            covered = late.checked_to
        except StorageError:
            # Another run registered some of these files since: recount and retry.
            failures += 1
            if failures == APPEND_ATTEMPTS:
                raise


def _refuse_duplicates(
    run: Run, fresh: list[Analysed], findings: list[list[Finding]]
) -> tuple[list[Analysed], list[list[Finding]]]:
    """--reject-duplicates: the files without findings; the others go to the refusals."""
    for a, f in zip(fresh, findings, strict=True):
        if f:
            run.summary.refused.append({"path": a.path, "reason": f[0].describe()})
            run.report(a.path, "refused")
    kept = [(a, f) for a, f in zip(fresh, findings, strict=True) if not f]
    return [a for a, _ in kept], [f for _, f in kept]


def _unknown(run: Run, batch: list[Analysed]) -> tuple[list[Analysed], list[str]]:
    """The files of ``batch`` this source has not registered, and the paths of the others."""
    source = run.origin["source"]
    with reading(run.ledger.store.engine) as conn:
        known = run.ledger.store.known_images(
            conn, [(_facts(a)["file_sha256"], source) for a in batch]
        )
    fresh: list[Analysed] = []
    seen: set[str] = set()
    skipped: list[str] = []
    for item in batch:
        digest = _facts(item)["file_sha256"]
        if (digest, source) in known or digest in seen:
            skipped.append(item.path)
            continue
        seen.add(digest)
        fresh.append(item)
    return fresh, skipped


def _append_checked(
    run: Run,
    checked: list[Analysed],
    findings: list[list[Finding]],
    skipped: list[str],
    covered: int | None,
) -> None:
    summary, report = run.summary, run.report
    # Checking took a while: drop what another run registered meanwhile, just before signing.
    still, also_known = _unknown(run, checked)
    keep = {id(a) for a in still}
    fresh = [a for a in checked if id(a) in keep]
    findings = [f for a, f in zip(checked, findings, strict=True) if id(a) in keep]
    subjects = SubjectBatch(run.ledger.store.engine, fresh)  # per-subject keys, pseudonyms
    envelopes = [
        run.ledger.sign("image.registered", run.origin | {"image": subjects.facts(a)}, key=run.key)
        for a in fresh
    ]

    recorded = findings

    def record(conn: Connection, results: Sequence[Appended]) -> None:
        nonlocal recorded
        subjects.record(conn)
        put_grids(conn, [_grid(a) for a in fresh if a.grid is not None])
        put_grids(conn, [g for a in fresh for g in a.frame_grids])  # issue 21: every frame
        if covered is None:
            return  # deferred, left unscanned: `scan` checks them in log order before any report
        assigned = [None if r.existing else r.index for r in results]
        late = _late_findings(conn, run, fresh, assigned, covered)
        if late and run.options.reject_duplicates:
            raise _LateDuplicatesError(late, min(i for i in assigned if i is not None))
        recorded = [merged(f, late.get(id(a), [])) for a, f in zip(fresh, findings, strict=True)]
        scans, edges = edges_and_groups(run.index, assigned, recorded, conn=conn)
        put_scans(conn, scans, edges)

    results = append(
        run.ledger.store,
        envelopes,
        log_id=run.ledger.log_id,
        guard=run.ledger.guard,
        after=run.ledger.checkpoint_if_due,
        within=record,
        kinds=run.ledger.kinds,
        projections=run.ledger.projections,
    )
    for path in skipped + also_known:
        summary.already_known += 1
        report(path, "known")
    signed = [(r.index, subjects.facts(a)) for a, r in zip(fresh, results, strict=True)
              if not r.existing]  # fmt: skip
    infer_edges(run.ledger, signed, key=run.options.key)  # DICOM-stated lineage
    for item, result, found in zip(fresh, results, recorded, strict=True):
        if result.existing:
            summary.already_known += 1
            report(item.path, "known")
            continue
        summary.registered += 1
        summary.first_index = result.index if summary.first_index is None else summary.first_index
        summary.last_index = result.index
        if found:
            summary.duplicates.append(_duplicate_report(item.path, result.index, found))
        report(item.path, "registered")


def _late_findings(
    conn: Connection,
    run: Run,
    fresh: list[Analysed],
    assigned: list[int | None],
    covered: int,
) -> dict[int, list[Finding]]:
    """id(file) -> its findings among the images appended after the check, before the batch.

    Runs under the sequencer's lock, so nothing can be appended in between any more: of two
    runs that checked at the same time, the one appending second finds the pairs. Usually
    the batch starts where the check ended and this costs nothing."""
    new = [i for i in assigned if i is not None]
    if not new or min(new) <= covered:
        return {}
    appended = [a for a, i in zip(fresh, assigned, strict=True) if i is not None]
    found = check_appended(
        conn,
        run.index,
        [_submission(a) for a in appended],
        start=covered,
        end=min(new),
        enough=CHECK_ENOUGH,
    )
    return {id(a): f for a, f in zip(appended, found, strict=True) if f}


def _facts(item: Analysed) -> dict[str, Any]:
    if item.facts is None:
        raise ValueError("a refused file has no facts")  # never: refusals are not batched
    return item.facts


def _grid(item: Analysed) -> tuple[str, bytes]:
    reference = _facts(item)["fingerprints"][DUP_GRID]
    return str(reference["grid_sha256"]), bytes(item.grid or b"")


def _submission(item: Analysed) -> Submission:
    facts = _facts(item)
    descriptor = None
    reference = facts["fingerprints"].get(DUP_GRID)
    if reference is not None and item.grid is not None:
        keys = b"".join(int(k, 16).to_bytes(8, "little") for k in reference["keys"])
        descriptor = descriptor_of(keys, item.grid)
    frames = described_frames(facts, item.frame_grids, descriptor)  # issue 21
    return Submission(item.path, facts["pixel_sha256"], descriptor, frames)


def _duplicate_report(path: str, index: int, found: list[Finding]) -> dict[str, Any]:
    return {"path": path, "index": index, "matches": [f.to_json() for f in found]}
