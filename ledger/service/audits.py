"""The ``verify`` and ``bundle export`` use cases: every option honoured, or refused.

``verify`` audits a ledger directory, or a bundle with no database. The options
mean the same on both: ``pubkeys`` the log's key as the auditor knows it (a
ledger whose own key differs fails), ``checkpoint`` a checkpoint seen earlier
that the log must extend, ``tree_only`` hashes/chain/tree without signatures,
``workers`` processes for the signature checks.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ledger.audit.replay import AuditReport
from ledger.bundle import export_bundle, verify_bundle
from ledger.errors import InputError, VerificationError, show_path
from ledger.pubkeys import read_verifiers
from ledger.service import Ledger

__all__ = ["export_bundle_file", "read_input", "verify_bundle_file", "verify_ledger"]


def read_input(path: Path) -> bytes:
    """A file the user named, or one clear line saying why not."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"{show_path(path)}: {exc.strerror or exc}") from None


def _check_workers(*, tree_only: bool, workers: int | None) -> None:
    if tree_only and workers is not None:
        raise InputError("--workers runs signature checks in parallel; --tree-only checks none")


def _checkpoint_note(path: Path | None) -> tuple[str, str] | None:
    if path is None:
        return None
    try:
        return show_path(path), read_input(path).decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{show_path(path)}: not a checkpoint (not UTF-8 text)") from None


def verify_ledger(
    ledger: Ledger,
    *,
    pubkeys: Sequence[str] = (),
    checkpoint: Path | None = None,
    tree_only: bool = False,
    workers: int | None = None,
) -> AuditReport:
    """Audit a ledger; with ``pubkeys``, its log key must be one of them (exit 1 if not)."""
    _check_workers(tree_only=tree_only, workers=workers)
    earlier = _checkpoint_note(checkpoint)
    if pubkeys:
        given = read_verifiers(pubkeys)
        if ledger.verifier.vkey not in {v.vkey for v in given}:
            raise VerificationError(
                f"the log's key {ledger.verifier.label} is not the key given with --pubkey "
                f"({', '.join(v.label for v in given)})"
            )
    return ledger.verify(
        tree_only=tree_only, checkpoint=earlier[1] if earlier else None, workers=workers
    )


def verify_bundle_file(
    bundle: Path,
    *,
    pubkeys: Sequence[str],
    checkpoint: Path | None = None,
    tree_only: bool = False,
    workers: int | None = None,
) -> AuditReport:
    """Audit a bundle with the log's public key alone."""
    _check_workers(tree_only=tree_only, workers=workers)
    if not pubkeys:
        raise InputError("--bundle needs --pubkey (the log's verifier key)")
    verifiers = read_verifiers(pubkeys)
    earlier = _checkpoint_note(checkpoint)
    return verify_bundle(
        read_input(bundle),
        verifiers,
        source=show_path(bundle),
        earlier=earlier,
        signatures=not tree_only,
        workers=workers or 1,
    )


def export_bundle_file(
    ledger: Ledger, file: Path, *, start: int = 0, end: int | None = None, grids: bool = False
) -> dict[str, Any]:
    """Write a bundle to a new file; a bad target is one line and nothing is written."""
    where = show_path(file)
    if file.exists() or file.is_symlink():
        raise InputError(f"{where} already exists")
    parent = file.parent
    if not parent.is_dir():
        raise InputError(f"{where}: directory {show_path(parent)} does not exist")
    bundle = export_bundle(ledger, start=start, end=end, grids=grids)
    data = (json.dumps(bundle) + "\n").encode()
    try:
        fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except OSError as exc:
        raise InputError(f"{where}: cannot create: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
    except OSError as exc:
        file.unlink(missing_ok=True)
        raise InputError(f"{where}: cannot write: {exc.strerror}") from None
    return bundle
