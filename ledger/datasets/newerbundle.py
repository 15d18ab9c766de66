"""A newer bundle of the log, opened for ``dataset verify --bundle`` and ``check --bundle``.

The bundle is audited in full first (``ledger.bundle.verify_bundle``: signatures, chain, keys,
the root against its signed checkpoint), and, given a lock's checkpoint, must extend it (an
RFC 9162 consistency proof from the bundle's own hashes): a bundle of another log or an older
(rolled-back) one is a VerificationError. Only then are its leaves read.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ledger.bundle import verify_bundle
from ledger.checkpoints import open_checkpoint
from ledger.consent.replay import CONSENT_KINDS, Ended, ended, subject_of
from ledger.crypto.note import NoteVerifier
from ledger.errors import InputError, VerificationError
from ledger.log.checkpoint import Checkpoint


@dataclass(frozen=True)
class NewerBundle:
    """An audited bundle: its checkpoint and its entries by index."""

    where: str
    checkpoint: Checkpoint
    start: int
    entries: dict[int, dict[str, Any]]  # index -> entry, every leaf of [start, size)

    def registered(self, index: int) -> dict[str, Any]:
        """The image fact of the image.registered entry at ``index`` (InputError if the
        bundle does not hold it; VerificationError if it is another kind)."""
        entry = self.entries.get(index)
        if entry is None:
            raise InputError(f"the bundle holds entries {self.start}..{self.checkpoint.size - 1},"
                             f" not entry {index}: export one from index {index} or earlier",
                             subject=self.where)
        if entry.get("kind") != "image.registered":
            raise VerificationError(f"entry {index} of the bundle is a {entry.get('kind')} "
                                    "entry, not an image registration", subject=self.where)
        image: dict[str, Any] = entry["body"]["image"]
        return image


def open_bundle(data: bytes, *, where: str, verifiers: Sequence[NoteVerifier],
                earlier: tuple[str, str] | None = None) -> NewerBundle:  # fmt: skip
    """Audit ``data`` (a medledger-bundle/v1) under ``verifiers``; ``earlier`` = (what, signed
    checkpoint note) that the bundle's checkpoint must be or extend."""
    verify_bundle(data, verifiers, source=where, earlier=earlier)
    raw = json.loads(data)  # audited above: well formed
    checkpoint = open_checkpoint(raw["checkpoint"], list(verifiers), source=where)
    start, end = int(raw["start"]), int(raw["end"])
    if end != checkpoint.size:
        raise InputError(f"the bundle ends at {end}, before its checkpoint's size "
                         f"{checkpoint.size}: export it to the end of the log", subject=where)
    entries = {start + i: json.loads(base64.b64decode(leaf))["envelope"]["entry"]
               for i, leaf in enumerate(raw["leaves"])}
    return NewerBundle(where, checkpoint, start, entries)


def consent_ended(bundle: NewerBundle, members: Sequence[Mapping[str, Any]]) -> list[Ended]:
    """The members (lock records) whose consent the bundle's signed entries withdraw or whose
    subject they erase; each member's own registration in the bundle names its subject."""
    subjects: dict[int, str | None] = {}
    for m in members:
        image = bundle.registered(int(m["entry"]))
        if image.get("pixel_sha256") != m["pixel_sha256"]:
            raise VerificationError(f"entry {m['entry']} of the bundle registers other pixels "
                                    "than the lock's member", subject=bundle.where)
        subjects[int(m["entry"])] = subject_of(bundle.entries[int(m["entry"])])
    consent = ((i, e) for i, e in bundle.entries.items() if e.get("kind") in CONSENT_KINDS)
    return ended(consent, subjects)
