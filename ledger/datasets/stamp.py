"""A provenance stamp: the registration's leaf and its tlog-proof, carried in the image file.

The stamp is compact JSON ``{"stamp": "medledger.stamp/v1", "log": {"origin",
"verifier_key"}, "leaf": {...}, "proof": "<C2SP tlog-proof>"}``. Checking it needs nothing
but the file (and, to trust the log, its public key): the checkpoint's signature, the leaf's
inclusion, and the file's canonical pixel digest against the one the signed entry registers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledger.checkpoints import open_checkpoint
from ledger.crypto.note import NoteVerifier
from ledger.datasets import c2pastamp, stampfile
from ledger.errors import InputError, LedgerError, VerificationError, show_path
from ledger.log.hashing import leaf_hash
from ledger.log.proofs import verify_inclusion
from ledger.log.tlog_proof import parse_tlog_proof
from ledger.model.canonical import canonical_json

STAMP_FORMAT = "medledger.stamp/v1"
MAX_STAMP_FILE_BYTES = 2 << 30


def build(*, origin: str, verifier_key: str, leaf: bytes, tlog_proof: str) -> str:
    return json.dumps({"stamp": STAMP_FORMAT, "log": {"origin": origin,
                       "verifier_key": verifier_key}, "leaf": json.loads(leaf),
                       "proof": tlog_proof}, sort_keys=True, separators=(",", ":"))  # fmt: skip


def _format(data: bytes, where: str) -> str:
    from ledger.imaging.decode import sniff

    fmt = sniff(data)
    if fmt not in ("png", "jpeg", "dicom"):
        raise InputError("stamps are written into DICOM, PNG and JPEG files only", subject=where)
    return fmt


def read(data: bytes, where: str) -> str | None:
    """The stamp text a file carries, or None."""
    fmt = _format(data, where)
    if fmt == "png":
        return stampfile.png_stamp(data, where)
    if fmt == "jpeg":
        return stampfile.jpeg_stamp(data, where)
    return stampfile.dicom_stamp(data, where)


def embed(data: bytes, stamp: str, *, summary: str, where: str) -> bytes:
    """The file's bytes with ``stamp`` written in (a previous stamp replaced)."""
    fmt = _format(data, where)
    if fmt == "png":
        return stampfile.png_with_stamp(data, stamp, where)
    if fmt == "jpeg":
        return stampfile.jpeg_with_stamp(data, stamp, where)
    return stampfile.dicom_with_stamp(data, stamp, summary, where)


def pixel_digest(path: Path) -> str:
    from ledger.imaging.decode import decode
    from ledger.imaging.digest import pixel_digests
    from ledger.imaging.limits import DecodeLimits

    decoded = decode(path, limits=DecodeLimits())
    return pixel_digests(decoded.pixels, bits_stored=decoded.bits_stored,
                         signed=decoded.signed).pixel_sha256


@dataclass(frozen=True)
class Checked:
    path: str
    origin: str
    index: int
    pixel_sha256: str
    key_given: bool
    c2pa: c2pastamp.C2paChecked | None = None  # a C2PA manifest the file carries, checked

    def to_json(self) -> dict[str, Any]:
        return {"file": self.path, "origin": self.origin, "index": self.index,
                "pixel_sha256": self.pixel_sha256, "pixels": "match",
                "key": "given" if self.key_given else "the stamp's own (not given)",
                "c2pa": self.c2pa.to_json() if self.c2pa else None}


def check(path: Path, *, pubkeys: list[NoteVerifier] | None) -> Checked:
    """Verify the stamp a file carries; VerificationError (exit 1) for no stamp, a stamp of
    another log, a bad proof or checkpoint, or pixels that are not the registered ones."""
    where = show_path(path)
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_STAMP_FILE_BYTES)
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", subject=where) from None
    text = read(data, where)
    if text is None:
        raise VerificationError("no medledger stamp", subject=where)

    def fail(reason: str) -> VerificationError:
        return VerificationError(f"stamp {reason}", subject=where)

    try:
        stamp = json.loads(text)
        origin, vkey = stamp["log"]["origin"], stamp["log"]["verifier_key"]
        leaf, proof_text = stamp["leaf"], stamp["proof"]
        if stamp["stamp"] != STAMP_FORMAT:
            raise fail(f"is of format {str(stamp['stamp'])[:40]!r}")
        verifier = NoteVerifier.from_vkey(vkey)
        proof = parse_tlog_proof(proof_text)
    except (ValueError, KeyError, TypeError) as exc:
        raise fail(f"is damaged: {str(exc)[:100]}") from None
    except InputError as exc:
        raise fail(f"is damaged: {exc.message}") from None
    if pubkeys is not None and all(k.vkey != verifier.vkey for k in pubkeys):
        raise fail(f"is from an unknown log ({origin}): not signed by the key given")
    try:
        checkpoint = open_checkpoint(proof.checkpoint_note, [verifier])
    except LedgerError as exc:
        raise fail(f"checkpoint is not signed by its log key: {exc.message}") from None
    if checkpoint.origin != origin:
        raise fail(f"checkpoint is of log {checkpoint.origin!r}, not {origin!r}")
    try:
        verify_inclusion(index=proof.index, size=checkpoint.size,
                         leaf_hash=leaf_hash(canonical_json(leaf)), proof=list(proof.proof),
                         root=checkpoint.root)
        entry = leaf["envelope"]["entry"]
        registered = entry["body"]["image"]["pixel_sha256"]
    except LedgerError as exc:
        raise fail(f"leaf is not in the log: {exc.message}") from None
    except (KeyError, TypeError):
        raise fail("leaf is not an image registration") from None
    if entry.get("kind") != "image.registered" or entry.get("log") != verifier.public_key.key_id:
        raise fail("leaf is not an image registration of this log")
    found = pixel_digest(path)
    if found != registered:
        raise VerificationError(f"pixels changed: registered {registered[:16]} at index "
                                f"{proof.index} in {origin}, the file's are {found[:16]}",
                                subject=where)
    manifest = c2pastamp.verify(data, text, where=where)
    return Checked(where, origin, proof.index, found, key_given=pubkeys is not None,
                   c2pa=manifest)
