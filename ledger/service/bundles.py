"""Offline audit bundles: export a log range with its proofs, verify one with no database."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ledger.audit.replay import AuditReport
from ledger.bundle import export_bundle as _export
from ledger.bundle import verify_bundle as _verify
from ledger.service.ledger import Ledger
from ledger.service.log import verifiers


def export_bundle(ledger: Ledger, *, start: int = 0, end: int | None = None) -> dict[str, Any]:
    """Entries [start, end) with the checkpoint and proofs an offline auditor needs."""
    return _export(ledger, start=start, end=end)


def verify_bundle(data: bytes, vkeys: Sequence[str], *, source: str) -> AuditReport:
    """Audit a bundle against the log's verifier keys (signed-note form); raises on failure."""
    return _verify(data, verifiers(vkeys), source=source)
