"""``dataset verify``: a local copy against a lock, with no ledger at all (docs/datasets.md).

The lock's proofs are checked first (layout, log key, checkpoint signature, the version
entry's inclusion, the members against the signed root); only then is any file compared.
The files are hashed meanwhile, in the background (``ledger.datasets.hashahead``): their
digests are read only once the lock has passed, and a failed lock stops the hashing.
With ``--bundle`` the newer bundle must extend the lock's checkpoint before its consent
entries are read; run inside a ledger directory, missing members' descriptor grids let a
lossy copy be named (``lossy_copy_of``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledger.consent.replay import Ended
from ledger.crypto.note import NoteVerifier
from ledger.datasets.copycheck import CopyReport, check_copy
from ledger.datasets.hashahead import HashAhead
from ledger.datasets.hashprocs import HashProcesses
from ledger.datasets.lock import OpenedLock, open_lock
from ledger.datasets.lossycopy import explain_modified, find_lossy_copies
from ledger.datasets.newerbundle import NewerBundle, bundle_grids, consent_ended, open_bundle
from ledger.errors import InputError, VerificationError, show_path
from ledger.fingerprint.descriptor import Descriptor
from ledger.log.tlog_proof import parse_tlog_proof
from ledger.pubkeys import read_verifiers
from ledger.service.datasetgrids import checked_grids, same_log
from ledger.service.ledger import Ledger
from ledger.similarity.verification import DEFAULT_THRESHOLDS, Thresholds

# Without a newer bundle, consent is as the pin's checkpoint had it (the version excluded
# members withdrawn before it, unless --keep-withdrawn).
CONSENT_NOT_CHECKED = ("as of the pin's checkpoint (size {size}); changes after the pin are "
                       "not checked: give a newer bundle (--bundle)")


@dataclass(frozen=True)
class ConsentSince:
    """Consent of the members as of a newer bundle's checkpoint (``bundle`` None: the pin's)."""

    pin_size: int
    bundle: str | None = None
    size: int | None = None  # the bundle's checkpoint size
    ended: tuple[Ended, ...] = ()

    def line(self) -> str:
        if self.bundle is None:
            return CONSENT_NOT_CHECKED.format(size=self.pin_size)
        return (f"checked as of {self.bundle}'s checkpoint (size {self.size}, consistent with "
                f"the pin's size {self.pin_size}): {len(self.ended)} member(s) withdrawn or "
                "erased")

    def rows(self, members: dict[int, str | None]) -> list[dict[str, Any]]:
        return [{"status": "consent_withdrawn", "entry": e.image, "consent": e.status,
                 "since": e.since, "after_pin": e.since >= self.pin_size,
                 **({"path": members[e.image]} if members.get(e.image) else {})}
                for e in self.ended]  # fmt: skip


@dataclass(frozen=True)
class CopyVerified:
    lock_path: str
    folder: str
    opened: OpenedLock
    report: CopyReport
    strict_bytes: bool
    consent: ConsentSince
    lossy_checked: bool = False  # descriptor grids were at hand (a ledger, a bundle's grids)

    def require_match(self) -> None:
        """VerificationError unless the copy is the pinned version and no member's consent
        was withdrawn or its subject erased (as of the bundle given)."""
        ended = self.consent.ended
        consent = ""
        if ended:
            shown = ", ".join(str(e.image) for e in ended[:5])
            more = f" and {len(ended) - 5} more" if len(ended) > 5 else ""
            consent = f"consent withdrawn or subject erased: member(s) at entry {shown}{more}"
        try:
            self.report.require_match(strict_bytes=self.strict_bytes, where=self.folder)
        except VerificationError as exc:
            if consent:
                raise VerificationError(f"{exc.message}; {consent}", subject=self.folder) from None
            raise
        if consent:
            raise VerificationError(consent, subject=self.folder)

    def consent_rows(self) -> list[dict[str, Any]]:
        if not self.consent.ended:
            return []
        return self.consent.rows({m["entry"]: m.get("path") for m in self.opened.members})

    def to_json(self) -> dict[str, Any]:
        return self.summary() | {"files": [f.to_json() for f in self.report.files]
                                 + self.consent_rows()}  # fmt: skip

    def summary(self) -> dict[str, Any]:
        """``to_json`` without the per-file rows."""
        lock, cp = self.opened.lock, self.opened.checkpoint
        return {
            "lock": self.lock_path,
            "folder": self.folder,
            "dataset": f"{lock.dataset.name}@{lock.dataset.version}",
            "tier": self.opened.body.tier,
            "log": {"origin": lock.log.origin, "verifier_key": lock.log.verifier_key,
                    "key": "given" if self.opened.key_given else "the lock's own (not given)"},
            "entry": lock.entry.index,
            "checkpoint": {"size": cp.size, "root": cp.root.hex()},
            "members": len(self.opened.members),
            "counts": self.report.counts() | {"consent_withdrawn": len(self.consent.ended)},
            "decoded": self.report.decoded,
            "passed": not self.report.problems(strict_bytes=self.strict_bytes)
            and not self.consent.ended,
            "strict_bytes": self.strict_bytes,
            "consent": self.consent.line(),
            "consent_checked_at": self.consent.size or self.consent.pin_size,
            "lossy_checked": self.lossy_checked,
        }


# A lock this large (about 7,800 members) has its copy hashed in worker processes, which
# start in about 0.1 s but do not share the main process's GIL; a smaller one on threads.
# Only a speed choice: nothing in the unchecked lock is trusted.
PROCESSES_FROM_LOCK_BYTES = 2 * 1024 * 1024

GridSource = Callable[[dict[int, str | None]], dict[int, Descriptor]]


def _near_duplicates(sources: list[GridSource], thresholds: Thresholds, opened: OpenedLock,
                     folder: Path, report: CopyReport) -> None:  # fmt: skip
    """Name lossy copies of missing members, and say which modified files are near-duplicates
    of their member, with the grids the bundle carries or the ledger holds."""
    missing = [f.entry for f in report.files if f.status == "missing" and f.entry is not None]
    if not any(f.status == "extra" for f in report.files):
        missing = []
    modified = [f.entry for f in report.files if f.status == "modified" and f.entry is not None]
    pixels = {m["entry"]: m["pixel_sha256"] for m in opened.members}
    wanted: dict[int, str | None] = {e: pixels[e] for e in missing + modified}
    grids: dict[int, Descriptor] = {}
    for source in sources:
        if wanted:
            grids.update(source(wanted))
            wanted = {e: p for e, p in wanted.items() if e not in grids}
    if grids:
        find_lossy_copies(folder, report, grids, thresholds=thresholds)
        explain_modified(folder, report, grids, thresholds=thresholds)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"{show_path(path)}: cannot read: {exc.strerror or exc}") from exc


def _consent(opened: OpenedLock, where: str, bundle: Path | None
             ) -> tuple[ConsentSince, NewerBundle | None]:  # fmt: skip
    """Consent as of the pin, or as of the newer ``bundle`` (which must extend the lock's
    checkpoint)."""
    if bundle is None:
        return ConsentSince(opened.checkpoint.size), None
    note = parse_tlog_proof(opened.lock.proof).checkpoint_note
    newer = open_bundle(_read(bundle), where=show_path(bundle),
                        verifiers=[NoteVerifier.from_vkey(opened.lock.log.verifier_key)],
                        earlier=(f"the lock's checkpoint ({where})", note))
    return ConsentSince(opened.checkpoint.size, newer.where, newer.checkpoint.size,
                        tuple(consent_ended(newer, opened.members))), newer


def verify_copy(lock_path: Path, folder: Path, *, pubkeys: list[str] | None = None,
                strict_bytes: bool = False, workers: int = 0, bundle: Path | None = None,
                ledger: Ledger | None = None) -> CopyVerified:  # fmt: skip
    """Open the lock (VerificationError names what failed), then the newer ``bundle`` if
    given (it must extend the lock's checkpoint), then classify every file; ``ledger``:
    an opened ledger of the same log whose descriptor grids name lossy copies."""
    verifiers = read_verifiers(pubkeys) if pubkeys else None
    where = show_path(lock_path)
    data = _read(lock_path)
    hasher = HashProcesses if len(data) >= PROCESSES_FROM_LOCK_BYTES else HashAhead
    with hasher(folder, skip=frozenset({lock_path.resolve()}), workers=workers) as hashing:
        opened = open_lock(data, where=where, pubkeys=verifiers)
        if not folder.is_dir():
            raise InputError(f"{show_path(folder)}: not a folder")
        consent, newer = _consent(opened, where, bundle)
        digests = hashing.result()
    report = check_copy(folder, opened.members, digests=digests)
    log = opened.lock.log
    sources: list[GridSource] = []
    if newer is not None and newer.grids:
        sources.append(lambda wanted: bundle_grids(newer, wanted))
    thresholds = DEFAULT_THRESHOLDS
    if ledger is not None and same_log(ledger, log.origin, log.verifier_key):
        sources.append(lambda wanted: checked_grids(ledger, wanted))
        thresholds = ledger.duplicate_thresholds()
    lossy = bool(sources)
    if sources:
        _near_duplicates(sources, thresholds, opened, folder, report)
    return CopyVerified(where, show_path(folder), opened, report, strict_bytes, consent, lossy)
