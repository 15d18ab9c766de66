"""The register use case: from paths to signed, appended image.registered entries."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ledger.crypto.keys import SigningKey
from ledger.errors import PolicyError, StorageError
from ledger.model.kinds import kind_spec
from ledger.model.origin import check_consent, normalise_license
from ledger.registration.pipeline import (
    Progress,
    RegisterOptions,
    RegisterSummary,
    analysed_stream,
    default_workers,
)
from ledger.registration.workers import WorkerSettings
from ledger.sequencer import append
from ledger.service import Ledger
from ledger.store import reading


def register(
    ledger: Ledger,
    paths: Sequence[Path],
    options: RegisterOptions,
    *,
    progress: Progress | None = None,
) -> RegisterSummary:
    """Register every image under ``paths``; a rerun continues where a crash stopped."""
    license_id = normalise_license(options.license)
    consent = check_consent(options.consent)
    key = ledger.signing_key(options.key)
    _check_role(ledger, options.key)
    require = options.require_deidentified or ledger.setting("require_deidentified") == "yes"
    settings = WorkerSettings(
        ledger.dir.secret(), options.limits, options.keep_demographics, require
    )
    origin = {"source": options.source, "license": license_id, "consent": consent}
    if options.dataset:
        origin["dataset"] = options.dataset
    summary = RegisterSummary()
    batch: list[tuple[str, dict[str, Any]]] = []
    report = progress or (lambda _path, _outcome: None)
    workers = options.workers or default_workers()
    with _interruptible() as stop:
        for item in analysed_stream(paths, settings, workers=workers):
            if stop.is_set():
                summary.interrupted = True  # committed batches stay; the rest is redone on rerun
                break
            if item.facts is None:
                summary.refused.append({"path": item.path, "reason": item.refusal or "refused"})
                report(item.path, "refused")
                continue
            batch.append((item.path, item.facts))
            if len(batch) >= options.batch_size:
                _flush(ledger, key, origin, batch, summary, report)
                batch = []
        if stop.is_set():
            summary.interrupted = True  # the batch being assembled is dropped, never half-kept
        else:
            _flush(ledger, key, origin, batch, summary, report)
    if summary.registered:
        ledger.checkpoint()
    return summary


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


def _check_role(ledger: Ledger, name: str) -> None:
    """Refuse a key that may not register before decoding a single file."""
    info = ledger.key_info(name)
    allowed = kind_spec("image.registered").roles
    if info.role not in allowed:
        raise PolicyError(
            f"key {name} has role {info.role}; image.registered needs one of "
            + ", ".join(sorted(allowed))
        )


def _flush(
    ledger: Ledger,
    key: SigningKey,
    origin: dict[str, str],
    batch: list[tuple[str, dict[str, Any]]],
    summary: RegisterSummary,
    report: Progress,
) -> None:
    if not batch:
        return
    try:
        _append_new(ledger, key, origin, batch, summary, report)
    except StorageError:
        # Another run registered some of these files meanwhile: recount and retry once.
        _append_new(ledger, key, origin, batch, summary, report)


def _append_new(
    ledger: Ledger,
    key: SigningKey,
    origin: dict[str, str],
    batch: list[tuple[str, dict[str, Any]]],
    summary: RegisterSummary,
    report: Progress,
) -> None:
    source = origin["source"]
    with reading(ledger.store.engine) as conn:
        known = ledger.store.known_images(conn, [(f["file_sha256"], source) for _, f in batch])
    fresh: list[tuple[str, dict[str, Any]]] = []
    seen: set[str] = set()
    skipped: list[str] = []
    for path, facts in batch:
        digest = facts["file_sha256"]
        if (digest, source) in known or digest in seen:
            skipped.append(path)
            continue
        seen.add(digest)
        fresh.append((path, facts))
    envelopes = [
        ledger.sign("image.registered", origin | {"image": facts}, key=key) for _, facts in fresh
    ]
    results = append(ledger.store, envelopes, after=ledger.checkpoint_if_due)
    for path in skipped:
        summary.already_known += 1
        report(path, "known")
    for (path, _), result in zip(fresh, results, strict=True):
        if result.existing:
            summary.already_known += 1
            report(path, "known")
            continue
        summary.registered += 1
        summary.first_index = result.index if summary.first_index is None else summary.first_index
        summary.last_index = result.index
        report(path, "registered")
