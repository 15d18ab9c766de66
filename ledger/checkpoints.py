"""Signed checkpoints: a C2SP tlog-checkpoint body signed as a C2SP signed note."""

from __future__ import annotations

from collections.abc import Iterable

from ledger.crypto.note import NoteSigner, NoteVerifier, open_note, sign_note
from ledger.log.checkpoint import Checkpoint


def sign_checkpoint(signer: NoteSigner, *, origin: str, size: int, root: bytes) -> str:
    return sign_note(Checkpoint(origin=origin, size=size, root=root).to_text(), [signer])


def open_checkpoint(
    note: str | bytes, verifiers: Iterable[NoteVerifier], *, source: str | None = None
) -> Checkpoint:
    """Verify the note's signature, then parse its body; raises on either failure."""
    return Checkpoint.parse(open_note(note, verifiers, source=source).text)
