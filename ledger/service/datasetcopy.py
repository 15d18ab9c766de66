"""``dataset verify``: a local copy against a lock, with no ledger at all (docs/datasets.md).

The lock's proofs are checked first (layout, log key, checkpoint signature, the version
entry's inclusion, the members against the signed root); only then is any file compared.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledger.datasets.copycheck import CopyReport, check_copy
from ledger.datasets.lock import OpenedLock, open_lock
from ledger.errors import InputError, show_path
from ledger.pubkeys import read_verifiers

# Until a newer bundle can be given (--bundle, issue 19), consent is not checked.
CONSENT_NOT_CHECKED = "not checked: consent changes after the pin need a newer bundle (--bundle)"


@dataclass(frozen=True)
class CopyVerified:
    lock_path: str
    folder: str
    opened: OpenedLock
    report: CopyReport
    strict_bytes: bool

    def require_match(self) -> None:
        """VerificationError unless the copy is the pinned version."""
        self.report.require_match(strict_bytes=self.strict_bytes, where=self.folder)

    def to_json(self) -> dict[str, Any]:
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
            "members": len(lock.members),
            "counts": self.report.counts(),
            "decoded": self.report.decoded,
            "passed": not self.report.problems(strict_bytes=self.strict_bytes),
            "strict_bytes": self.strict_bytes,
            "consent": CONSENT_NOT_CHECKED,
            "files": [f.to_json() for f in self.report.files],
        }


def verify_copy(lock_path: Path, folder: Path, *, pubkeys: list[str] | None = None,
                strict_bytes: bool = False, workers: int = 0) -> CopyVerified:  # fmt: skip
    """Open the lock (VerificationError names what failed), then classify every file."""
    verifiers = read_verifiers(pubkeys) if pubkeys else None
    where = show_path(lock_path)
    try:
        data = lock_path.read_bytes()
    except OSError as exc:
        raise InputError(f"{where}: cannot read: {exc.strerror or exc}") from exc
    opened = open_lock(data, where=where, pubkeys=verifiers)
    if not folder.is_dir():
        raise InputError(f"{show_path(folder)}: not a folder")
    report = check_copy(folder, opened.members, skip=frozenset({lock_path.resolve()}),
                        workers=workers)
    return CopyVerified(where, show_path(folder), opened, report, strict_bytes)
