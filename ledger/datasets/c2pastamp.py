"""An optional C2PA manifest over a stamped PNG or JPEG, and its check against the stamp.

Order: medledger's stamp is written first, the C2PA manifest signed over the stamped bytes.
The manifest's hard binding (``c2pa.hash.data``) hashes every byte outside its own box, so
anything written after it would invalidate it; the stamp binds only to the canonical pixel
digest, which the manifest's box does not touch. Signed last, the manifest also protects the
stamp's bytes. Its assertions repeat the stamp (``org.medledger.provenance``) so that C2PA
tools show the provenance, and ``check`` requires the two to agree.

The manifest carries no thumbnail (a rendered copy of a medical image) and no file name; the
file as it was before stamping is its parent ingredient (``c2pa.opened``), so a manifest the
file already had is kept as that ingredient's. Validation is offline
(ledger/forensics/c2pamanifest.py): "valid" means signed by the chain given and unchanged
since, never "trusted" (no trust list is configured).
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any

from ledger.datasets import stampfile
from ledger.datasets.c2pasigner import C2paCredentials
from ledger.errors import InputError, PolicyError, VerificationError
from ledger.forensics.c2pamanifest import SETTINGS, failure_codes, read_store
from ledger.log.hashing import leaf_hash
from ledger.log.tlog_proof import parse_tlog_proof
from ledger.model.canonical import canonical_json

LABEL = "org.medledger.provenance"
GENERATOR = "medledger"
_MIMES = {"png": "image/png", "jpeg": "image/jpeg"}
_PARENT = "medledger-parent"


def _mime(data: bytes) -> str | None:
    from ledger.imaging.decode import sniff

    return _MIMES.get(sniff(data) or "")


def assertion(stamp_text: str) -> dict[str, Any]:
    """The ``org.medledger.provenance`` assertion's data, derived from a stamp's text."""
    stamp = json.loads(stamp_text)
    proof = stamp["proof"]
    return {
        "stamp": stamp["stamp"], "origin": stamp["log"]["origin"],
        "verifier_key": stamp["log"]["verifier_key"],
        "index": parse_tlog_proof(proof).index,
        "leaf_hash": leaf_hash(canonical_json(stamp["leaf"])).hex(),
        "pixel_sha256": stamp["leaf"]["envelope"]["entry"]["body"]["image"]["pixel_sha256"],
        "tlog_proof": proof,
    }  # fmt: skip


def seal(original: bytes, stamped: bytes, stamp_text: str, *,
         credentials: C2paCredentials | None, where: str) -> bytes:  # fmt: skip
    """``stamped`` with a C2PA manifest signed by ``credentials`` over it; without them, the
    stamped bytes as they are, unless the file had a manifest the stamp would invalidate."""
    mime = _mime(original)
    if credentials is None:
        if mime is not None and _has_manifest(original):
            raise PolicyError("carries a C2PA manifest that the stamp would invalidate: give "
                              "--c2pa-cert and --c2pa-key to sign a new one over it",
                              subject=where)
        return stamped
    if mime is None:
        raise InputError("C2PA manifests are written into PNG and JPEG files only (not "
                         "applicable to DICOM): stamp it without --c2pa-cert", subject=where)
    import c2pa

    data = assertion(stamp_text)
    manifest = {
        "claim_generator_info": [{"name": GENERATOR, "version": "1"}],
        "title": "medledger-stamped image", "format": mime,
        "assertions": [
            {"label": "c2pa.actions", "data": {"actions": [
                {"action": "c2pa.opened", "parameters": {"ingredientIds": [_PARENT]}},
                {"action": "c2pa.edited.metadata",
                 "description": f"medledger provenance stamp: registered in {data['origin']} "
                                f"at index {data['index']}; pixels untouched"},
            ]}},
            {"label": LABEL, "data": data},
        ],
    }  # fmt: skip
    settings = {**SETTINGS, "builder": {"thumbnail": {"enabled": False}}}
    info = c2pa.C2paSignerInfo(getattr(c2pa.C2paSigningAlg, credentials.algorithm),
                               credentials.chain_pem, credentials.key_pem, None)
    out = io.BytesIO()
    try:
        with c2pa.Builder(manifest, context=c2pa.Context.from_dict(settings)) as builder, \
                c2pa.Signer.from_info(info) as signer:
            builder.add_ingredient({"title": "the image before the medledger stamp",
                                    "relationship": "parentOf", "label": _PARENT},
                                   mime, io.BytesIO(original))
            builder.sign(signer, mime, io.BytesIO(stamped), out)
    except c2pa.C2paError as exc:
        raise PolicyError(f"C2PA signing refused: {_short(exc)}", subject=where) from None
    return out.getvalue()


def _embeds_manifest(data: bytes, mime: str) -> bool:
    """Whether the file has C2PA's own container: a PNG ``caBX`` chunk, or a JPEG APP11
    segment of JPEG XT boxes (``JP``). Looked for by structure, not by the bytes ``c2pa``
    and ``jumb``, which compressed pixel data can hold by chance."""
    where = "the file"
    if mime == "image/png":
        return any(kind == b"caBX" for kind, _ in stampfile._png_chunks(data, where))
    segments, _ = stampfile._jpeg_segments(data, where)
    return any(marker == 0xEB and payload.startswith(b"JP") for marker, payload in segments)


def read_store_or_damaged(data: bytes) -> dict[str, Any] | None:
    """The file's C2PA manifest store, None without one; VerificationError when damaged."""
    mime = _mime(data)
    if mime is None or not _embeds_manifest(data, mime):
        return None
    import c2pa

    try:
        store = read_store(data, mime)
    except c2pa.C2paError as exc:
        raise VerificationError(f"C2PA manifest is damaged: {_short(exc)}") from None
    if store is None:
        raise VerificationError("C2PA manifest is damaged: its container holds no manifest")
    return store


def _has_manifest(data: bytes) -> bool:
    try:
        return read_store_or_damaged(data) is not None
    except VerificationError:
        return True  # damaged, and the stamp would not mend it


@dataclass(frozen=True)
class C2paChecked:
    state: str  # "valid" or "trusted"
    generator: str
    medledger: str  # "agrees" or "absent" (a manifest by another tool)

    def to_json(self) -> dict[str, Any]:
        return {"state": self.state, "generator": self.generator,
                "medledger_assertion": self.medledger}


def verify(data: bytes, stamp_text: str, *, where: str) -> C2paChecked | None:
    """The file's C2PA manifest, checked: None without one; VerificationError (exit 1) for a
    damaged or invalid manifest, or a medledger assertion that disagrees with the stamp."""
    try:
        store = read_store_or_damaged(data)
    except VerificationError as exc:
        raise VerificationError(exc.message, subject=where) from None
    if store is None:
        return None
    state = str(store.get("validation_state") or "unknown").lower()
    if state not in ("valid", "trusted"):
        raise VerificationError(f"C2PA manifest is {state} ({failure_codes(store)}): changed "
                                "after signing or forged", subject=where)
    active = (store.get("manifests") or {}).get(store.get("active_manifest") or "") or {}
    found = [a.get("data") for a in active.get("assertions") or ()
             if isinstance(a, dict) and a.get("label") == LABEL]
    generator = _generator(active)
    if not found:
        return C2paChecked(state, generator, "absent")
    expected = assertion(stamp_text)
    if len(found) > 1 or not isinstance(found[0], dict):
        raise VerificationError("C2PA manifest has a malformed medledger assertion",
                                subject=where)
    for name in expected:
        if found[0].get(name) != expected[name]:
            raise VerificationError(f"C2PA manifest's medledger assertion disagrees with the "
                                    f"stamp on {name}: {str(found[0].get(name))[:24]!r} vs "
                                    f"{str(expected[name])[:24]!r}", subject=where)
    return C2paChecked(state, generator, "agrees")


def _generator(manifest: dict[str, Any]) -> str:
    info = manifest.get("claim_generator_info")
    if isinstance(info, list) and info and isinstance(info[0], dict):
        name = info[0].get("name")
        if isinstance(name, str):
            return "".join(c for c in name if c.isprintable())[:64]
    return "unnamed"


def _short(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__.lstrip('_')}: {text[:160]}"
