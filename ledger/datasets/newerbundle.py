"""A newer bundle of the log, opened for ``dataset verify --bundle`` and ``check --bundle``.

The bundle is audited in full first (``ledger.bundle.verify_bundle``: signatures, chain, keys,
the root against its signed checkpoint), and, given a lock's checkpoint, must extend it (an
RFC 9162 consistency proof from the bundle's own hashes): a bundle of another log or an older
(rolled-back) one is a VerificationError. Only then are its leaves read. A bundle exported
with ``--grids`` also carries descriptor grids (side data), each used only under the digest
its image's signed leaf names.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ledger.bundle import verify_bundle
from ledger.checkpoints import open_checkpoint
from ledger.consent.replay import CONSENT_KINDS, Ended, ended, subject_of
from ledger.crypto.note import NoteVerifier
from ledger.errors import InputError, VerificationError
from ledger.fingerprint.descriptor import Descriptor
from ledger.log.checkpoint import Checkpoint
from ledger.model.images import DUP_GRID


@dataclass(frozen=True)
class NewerBundle:
    """An audited bundle: its checkpoint and its entries by index."""

    where: str
    checkpoint: Checkpoint
    start: int
    entries: dict[int, dict[str, Any]]  # index -> entry, every leaf of [start, size)
    grids: dict[str, bytes] = field(default_factory=dict)  # grid SHA-256 -> grid (side data)

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
    grids: dict[str, bytes] = {}
    for digest, text in (raw.get("grids") or {}).items():
        try:
            grids[str(digest)] = base64.b64decode(str(text), validate=True)
        except ValueError:
            raise InputError("malformed base64 in the bundle's grids", subject=where) from None
    return NewerBundle(where, checkpoint, start, entries, grids)


def bundle_grids(bundle: NewerBundle, pixels: Mapping[int, str | None] | None = None
                 ) -> dict[int, Descriptor]:  # fmt: skip
    """entry -> descriptor, for the images of ``pixels`` (entry -> the pixel digest its leaf
    must register, None for any; all the bundle's images when not given) whose grid the
    bundle carries. A grid is used only under the digest its image's signed leaf names, and
    it must hash to that digest and give the leaf's index keys (else VerificationError)."""
    wanted = pixels if pixels is not None else dict.fromkeys(bundle.entries)
    out: dict[int, Descriptor] = {}
    for index, expected in wanted.items():
        entry = bundle.entries.get(index) or {}
        image = (entry.get("body") or {}).get("image") or {}
        if entry.get("kind") != "image.registered" or (
                expected is not None and image.get("pixel_sha256") != expected):
            continue
        reference = (image.get("fingerprints") or {}).get(DUP_GRID)
        grid = bundle.grids.get(reference["grid_sha256"]) if reference else None
        if reference is None or grid is None:
            continue
        try:
            descriptor = Descriptor(grid=grid, keys=tuple(int(k, 16) for k in reference["keys"]))
            descriptor.check()
        except InputError:
            descriptor = None
        if descriptor is None or descriptor.grid_sha256 != reference["grid_sha256"]:
            raise VerificationError(f"the bundle's grid for entry {index} is not the one its "
                                    "leaf signs", subject=bundle.where)
        out[index] = descriptor
    return out


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
