"""Looking an image up: its registrations, each with signer, signature and inclusion proof."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from ledger.checkpoints import open_checkpoint
from ledger.crypto.keys import PublicKey
from ledger.crypto.signing import decode_sig, verify_entry
from ledger.errors import InputError, LedgerError
from ledger.handle import LedgerHandle
from ledger.log.hashing import leaf_hash
from ledger.log.proofs import verify_inclusion
from ledger.model.canonical import canonical_json
from ledger.projections import differing_columns
from ledger.store import reading

_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def digest_of(target: str) -> str:
    """A file's SHA-256 if ``target`` is a file, else ``target`` as a hex digest."""
    path = Path(target)
    if path.is_file():
        sha = hashlib.sha256()
        try:
            with path.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    sha.update(block)
        except OSError as exc:
            raise InputError(f"{target}: {exc.strerror or exc}") from exc
        return sha.hexdigest()
    value = target.lower()
    if _HEX64.fullmatch(value):
        return value
    raise InputError(f"{target}: neither a file nor a 64-hex-digit SHA-256 digest")


def show_image(ledger: LedgerHandle, target: str) -> dict[str, Any]:
    """Every registration of the image (by file or pixel digest), each re-checked now.

    The ``images`` projection only says where to look: every value shown comes from the
    signed leaf, whose hash is recomputed from its bytes before its inclusion proof is
    checked against a freshly signed and verified checkpoint. Where the projection row
    differs from what the leaf implies, ``projection_differs`` names the columns."""
    digest = digest_of(target)
    note = ledger.checkpoint()
    checkpoint = open_checkpoint(note, [ledger.verifier])
    with reading(ledger.store.engine) as conn:
        rows = ledger.store.images_by_digest(conn, digest)
        signers = _signers(ledger, conn)
        leaves = {row.idx: ledger.store.leaf(conn, row.idx)[0] for row in rows}
    registrations = []
    for row in rows:
        leaf_bytes = leaves[row.idx]
        digest_now = leaf_hash(leaf_bytes)  # not the stored column
        envelope = json.loads(leaf_bytes)["envelope"]
        entry = envelope["entry"]
        if entry.get("kind") != "image.registered":
            registrations.append(_not_a_registration(row.idx, digest_now, entry))
            continue
        body, image = entry["body"], entry["body"]["image"]
        signer = signers.get(entry["actor"])
        proof = ledger.inclusion_proof(row.idx, size=checkpoint.size)
        match = ("file" if image["file_sha256"] == digest
                 else "pixels" if image["pixel_sha256"] == digest else "none")
        registrations.append(
            {
                "index": row.idx,
                "leaf_hash": digest_now.hex(),
                "match": match,
                "source": body["source"],
                "dataset": body.get("dataset"),
                "license": body["license"],
                "consent": body["consent"],
                "registered": entry["time"],
                "signer": None
                if signer is None
                else {"name": signer["name"], "role": signer["role"], "key_id": signer["key_id"]},
                "signature": _signature_status(signer, entry, envelope["sig"],
                                               log_id=ledger.log_id),
                "inclusion": _inclusion_status(row.idx, digest_now, proof.hashes, checkpoint),
                "proof": {"tree_size": proof.tree_size, "hashes": [h.hex() for h in proof.hashes]},
                "image": image,
                "projection_differs": differing_columns(row.idx, entry, row.model_dump()),
            }
        )
    return {
        "digest": digest,
        "checkpoint": {"size": checkpoint.size, "root": checkpoint.root.hex(), "note": note},
        "registrations": registrations,
    }


def _not_a_registration(index: int, digest: bytes, entry: dict[str, Any]) -> dict[str, Any]:
    """A projection row pointing at an entry that registers nothing: shown as such."""
    return {"index": index, "leaf_hash": digest.hex(), "match": "none",
            "kind": entry.get("kind"), "projection_differs": ["idx"]}


def _signers(ledger: LedgerHandle, conn: Any) -> dict[str, dict[str, Any]]:
    """key id -> the body of its key.added leaf (not the ``keys`` projection)."""
    out: dict[str, dict[str, Any]] = {}
    for _, leaf in ledger.store.leaves_of_kinds(conn, ["key.added"]):
        body = json.loads(leaf)["envelope"]["entry"]["body"]
        out[body["key_id"]] = body
    return out


def _signature_status(
    signer: dict[str, Any] | None, entry: dict[str, Any], sig: str, *, log_id: str
) -> str:
    if signer is None:
        return "unknown key"
    if entry["v"] == 2 and entry["log"] != log_id:
        return "signed for another log"
    try:
        public = PublicKey.from_b64(signer["public_key"])
        verify_entry(public, canonical_json(entry), decode_sig(sig), version=entry["v"])
    except LedgerError:
        return "invalid"
    return "valid"


def _inclusion_status(index: int, leaf_hash: bytes, proof: list[bytes], checkpoint: Any) -> str:
    try:
        verify_inclusion(
            index=index, size=checkpoint.size, leaf_hash=leaf_hash, proof=proof,
            root=checkpoint.root,
        )
    except LedgerError:
        return "invalid"
    return "valid"
