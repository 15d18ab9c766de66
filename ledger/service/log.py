"""Log use cases beyond the Ledger's own methods: the latest checkpoint, signed notes, audits.

Keys, entries and proofs are methods of :class:`ledger.service.ledger.Ledger`; this module
holds what the CLI used to assemble from the modules below it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ledger.audit.replay import AuditReport
from ledger.checkpoints import open_checkpoint
from ledger.crypto.note import NoteVerifier, open_note
from ledger.log.encoding import MAX_UINT64
from ledger.pubkeys import read_verifiers
from ledger.service.ledger import Ledger

MAX_INDEX = MAX_UINT64 >> 1  # the largest index a database column holds (signed 64-bit)


@dataclass(frozen=True)
class LatestCheckpoint:
    """The log's latest signed checkpoint, as text and as its parsed body."""

    origin: str
    size: int
    root: bytes
    note: str

    def to_json(self) -> dict[str, Any]:
        return {
            "origin": self.origin,
            "size": self.size,
            "root": self.root.hex(),
            "note": self.note,
        }


@dataclass(frozen=True)
class NoteCheck:
    """A signed note that verified; ``size`` is None unless the note is a checkpoint."""

    signers: list[str]
    unknown_signatures: int
    origin: str | None = None
    size: int | None = None
    root: bytes | None = field(default=None)

    def to_json(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "ok": True,
            "signers": self.signers,
            "unknown_signatures": self.unknown_signatures,
        }
        if self.size is not None and self.root is not None:
            result |= {"origin": self.origin, "size": self.size, "root": self.root.hex()}
        return result


def latest_checkpoint(ledger: Ledger) -> LatestCheckpoint:
    """The latest checkpoint (signed now if the log grew since the last one)."""
    note = ledger.checkpoint()
    body = open_checkpoint(note, [ledger.verifier])
    return LatestCheckpoint(body.origin, body.size, body.root, note)


def verifiers(vkeys: Sequence[str]) -> list[NoteVerifier]:
    """Verifier keys in signed-note form (name+hash+key); a malformed one is an InputError."""
    return [NoteVerifier.from_vkey(v) for v in vkeys]


def verify_note(data: bytes, keys: Sequence[NoteVerifier], *, source: str) -> NoteCheck:
    """Verify any signed note against ``keys``; a note whose body reads as a C2SP checkpoint
    (origin, a decimal size, a root) is also opened as one. Raises on failure."""
    opened = open_note(data, keys, source=source)
    signers = [name for name, _ in opened.verified]
    lines = opened.text.split("\n")
    if len(lines) >= 4 and lines[1].isdigit():
        body = open_checkpoint(data, keys, source=source)
        return NoteCheck(signers, opened.unverified_count, body.origin, body.size, body.root)
    return NoteCheck(signers, opened.unverified_count)


def audit_json(report: AuditReport) -> dict[str, Any]:
    """The ``verify --json`` shape of a successful audit."""
    return {
        "ok": True,
        "size": report.size,
        "root": report.root.hex(),
        "signatures": report.signatures,
        "checkpoints": report.checkpoints,
        "tree_nodes": report.tree_nodes,
        "keys": report.keys,
        "kinds": report.kinds,
        "projection_rows": report.projection_rows,
        "findings": report.findings,
        "warnings": report.warnings,
        "recoveries": report.recoveries,
    }


__all__ = [
    "MAX_INDEX",
    "LatestCheckpoint",
    "NoteCheck",
    "audit_json",
    "latest_checkpoint",
    "read_verifiers",
    "verifiers",
    "verify_note",
]
