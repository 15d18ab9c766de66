"""Offline audit bundles: a log (or a range of it) that verifies with no database.

    {"format": "medledger-bundle/v1", "origin", "log_key", "checkpoint": note,
     "start", "end", "leaves": [base64 leaf bytes],
     "outside": [{"start", "end", "hash"}],               RFC 9162 nodes outside the range
     "prev_leaf": {"index", "leaf_hash", "proof"} | null,  the chain's link into the range
     "prior_keys": [{"index", "leaf", "proof"}],          key entries before the range
     "grids"?: {grid_sha256: base64 grid}}                  optional side data (--grids)

The auditor needs only the log's public key: the checkpoint's signature binds
the root, the root binds every leaf (range proof), and each leaf carries its
signed entry. A range bundle proves that its prior key entries are in the log,
not that none were left out; only a bundle from index 0 proves key validity in full.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterable
from typing import Any

from pydantic import ValidationError

from ledger.audit.keystate import KeyState
from ledger.audit.leaves import check_leaf
from ledger.audit.replay import AuditReport, audit_log
from ledger.checkpoints import open_checkpoint
from ledger.crypto.note import NoteVerifier, OpenedNote, open_note
from ledger.errors import InputError, PolicyError, VerificationError
from ledger.handle import LedgerHandle
from ledger.log.chain import GENESIS_PREV
from ledger.log.checkpoint import Checkpoint
from ledger.log.hashing import leaf_hash
from ledger.log.known_nodes import NotDerivableError, consistency_from_range
from ledger.log.proofs import verify_consistency, verify_inclusion
from ledger.log.ranges import range_outside_nodes, range_proof, range_proof_nodes, root_from_range
from ledger.model.bundle import BundleFile
from ledger.store import reading
from ledger.store.duplicates import descriptor_parts

BUNDLE_FORMAT = "medledger-bundle/v1"


def export_bundle(
    ledger: LedgerHandle, *, start: int = 0, end: int | None = None, grids: bool = False
) -> dict[str, Any]:
    """The bundle of [start, end); ``grids``: with the near-duplicate descriptor grids of the
    range's images that this ledger holds (side data; their leaves sign their digests)."""
    note = ledger.checkpoint()
    size = open_checkpoint(note, [ledger.verifier]).size
    end = size if end is None else end
    if not 0 <= start <= end <= size:
        raise InputError(f"range [{start}, {end}) is outside the log of size {size}")
    store = ledger.store
    with reading(store.engine) as conn:
        leaves = [leaf for _, leaf, *_ in store.iter_leaves(conn, start=start, end=end)]
        nodes = store.perfect_nodes(conn, range_proof_nodes(start=start, end=end, size=size))
        prior = store.leaves_of_kinds(conn, ["key.added", "key.revoked"], end=start)
        held = descriptor_parts(conn, range(start, end)) if grids else {}
    outside = range_proof(start=start, end=end, size=size, nodes=nodes)
    prev_leaf = None
    if start > 0:
        proof = ledger.inclusion_proof(start - 1, size=size)
        prev_leaf = {
            "index": start - 1,
            "leaf_hash": _hex(proof.leaf_hash),
            "proof": [h.hex() for h in proof.hashes],
        }
    prior_keys = [
        {
            "index": idx,
            "leaf": _b64(leaf),
            "proof": [h.hex() for h in ledger.inclusion_proof(idx, size=size).hashes],
        }
        for idx, leaf in prior
    ]
    return {
        "format": BUNDLE_FORMAT,
        "origin": ledger.origin,
        "log_key": ledger.verifier.vkey,
        "checkpoint": note,
        "start": start,
        "end": end,
        "leaves": [_b64(leaf) for leaf in leaves],
        "outside": [
            {"start": lo, "end": hi, "hash": h.hex()} for (lo, hi), h in sorted(outside.items())
        ],
        "prev_leaf": prev_leaf,
        "prior_keys": prior_keys,
    } | ({"grids": _grids(held)} if grids else {})


def _grids(held: dict[int, tuple[bytes, bytes | None]]) -> dict[str, str]:
    found = {hashlib.sha256(g).hexdigest(): _b64(g) for _, g in held.values() if g is not None}
    return dict(sorted(found.items()))


def verify_bundle(
    data: bytes,
    verifiers: Iterable[NoteVerifier],
    *,
    source: str,
    earlier: tuple[str, str] | None = None,
    signatures: bool = True,
    workers: int = 1,
) -> AuditReport:
    """Verify a bundle with the log's public key alone; raises on any problem.

    The leaves are replayed (signatures, chain, keys) before the root is compared,
    so a changed leaf is named by its index, as ``verify`` names it in a database.
    ``earlier``: (source, note) of a checkpoint the auditor saw before; the bundle's
    checkpoint must be that tree or extend it (consistency proof from the bundle's
    hashes). ``signatures=False`` checks hashes, chain and tree only."""
    verifiers = list(verifiers)
    bundle = _load(data, source)
    opened = open_note(bundle["checkpoint"], verifiers, source=source)
    checkpoint = Checkpoint.parse(opened.text)
    log_id = _log_id(opened, verifiers, origin=checkpoint.origin)
    start, end, size = bundle["start"], bundle["end"], checkpoint.size
    if not 0 <= start <= end <= size:
        raise InputError(f"{source}: range [{start}, {end}) is outside the checkpoint's {size}")
    leaves = [_unb64(v, source) for v in bundle["leaves"]]
    if len(leaves) != end - start:
        raise InputError(f"{source}: {len(leaves)} leaves for the range [{start}, {end})")
    outside = {(n["start"], n["end"]): _unhex(n["hash"], source) for n in bundle["outside"]}
    hashes = [leaf_hash(leaf) for leaf in leaves]
    root = root_from_range(start=start, end=end, size=size, leaf_hashes=hashes, outside=outside)
    prev, keys, public_keys, first_v2 = _prior_state(
        bundle, size=size, root=checkpoint.root, source=source, log_id=log_id
    )
    facts = [check_leaf(-1, leaf, {}, {}, log_id=log_id) for leaf in leaves]  # replay names bad
    for fact in facts:
        if fact.kind == "key.added" and fact.key_body:
            public_keys[fact.key_body["key_id"]] = base64.b64decode(fact.key_body["public_key"])
    rows = (
        (start + i, leaf, hashes[i], facts[i].kind, facts[i].actor)
        for i, leaf in enumerate(leaves)
    )
    report = audit_log(
        rows,
        log_id=log_id,
        public_keys=public_keys,
        checkpoints=[],
        stored_nodes=None,
        signatures=signatures,
        workers=workers,
        start=start,
        prev=prev,
        keys=keys,
        first_v2=first_v2,
    )
    if root != checkpoint.root:
        raise VerificationError(
            f"{source}: leaves give root {root.hex()}, the checkpoint says {checkpoint.root.hex()}"
        )
    report.checkpoints = 1 if start == 0 and end == size else 0
    if earlier is not None:
        _check_extends(earlier, verifiers, checkpoint, start=start, hashes=hashes,
                       outside=outside, source=source)
        report.checkpoints += 1
    report.root = root
    return report


def _check_extends(
    earlier: tuple[str, str],
    verifiers: list[NoteVerifier],
    checkpoint: Checkpoint,
    *,
    start: int,
    hashes: list[bytes],
    outside: dict[tuple[int, int], bytes],
    source: str,
) -> None:
    """The bundle's tree is the earlier checkpoint's tree or extends it; raises if not."""
    where, note = earlier
    old = open_checkpoint(note, verifiers, source=where)
    new = checkpoint
    mismatch = (
        f"{source}'s checkpoint (size {new.size}, root {new.root.hex()}) is not "
        f"consistent with {where} (size {old.size}, root {old.root.hex()})"
    )
    if old.origin != new.origin:
        raise VerificationError(f"{mismatch}: origins {new.origin!r} and {old.origin!r} differ")
    if old.size > new.size:
        raise VerificationError(f"{mismatch}: the bundle's log is older (a rollback?)")
    if old.size == 0:
        return  # the empty tree is a prefix of every tree
    try:
        _, proof = consistency_from_range(
            old_size=old.size, new_size=new.size, start=start, leaf_hashes=hashes, outside=outside
        )
    except NotDerivableError as exc:
        raise InputError(
            f"{source}: cannot prove consistency with {where} (size {old.size}): "
            f"{exc.message}; export a bundle that starts at or before index {old.size - 1}"
        ) from None
    try:
        verify_consistency(
            old_size=old.size, new_size=new.size, old_root=old.root, new_root=new.root,
            proof=proof,
        )
    except VerificationError:
        raise VerificationError(mismatch) from None


def _log_id(opened: OpenedNote, verifiers: list[NoteVerifier], *, origin: str) -> str:
    """The id of the log's own key: the verified key named as the checkpoint's origin
    (a log signs its checkpoints under its origin; witnesses use other names)."""
    signed = set(opened.verified)
    matching = [v for v in verifiers if (v.name, v.key_hash) in signed]
    own = [v for v in matching if v.name == origin] or matching
    return own[0].public_key.key_id


def _prior_state(
    bundle: dict[str, Any], *, size: int, root: bytes, source: str, log_id: str
) -> tuple[str, KeyState, dict[str, bytes], int | None]:
    """The chain's prev, the keys and the first v2 index known before a range's start.

    Only the prior key entries are in a range bundle, so the first v2 entry is the first
    among them: a v1 entry in the range after a v2 one outside it that is not a key
    entry is found only by a bundle from index 0."""
    start = bundle["start"]
    if start == 0:
        return GENESIS_PREV, KeyState(), {}, None
    link = bundle.get("prev_leaf") or {}
    if link.get("index") != start - 1:
        raise InputError(f"{source}: a range from {start} needs the leaf hash at {start - 1}")
    prev = _unhex(link["leaf_hash"], source)
    verify_inclusion(
        index=start - 1,
        size=size,
        leaf_hash=prev,
        proof=[_unhex(h, source) for h in link["proof"]],
        root=root,
    )
    keys, public_keys = KeyState(), {}
    first_v2: int | None = None
    for item in bundle["prior_keys"]:
        leaf, idx = _unb64(item["leaf"], source), item["index"]
        verify_inclusion(
            index=idx,
            size=size,
            leaf_hash=leaf_hash(leaf),
            proof=[_unhex(h, source) for h in item["proof"]],
            root=root,
        )
        facts = check_leaf(idx, leaf, {}, {}, log_id=log_id)
        if facts.version == 2 and first_v2 is None:
            first_v2 = idx
        body = facts.key_body or {}
        if facts.kind == "key.added":
            public_keys[body["key_id"]] = base64.b64decode(body["public_key"])
        entry = {"kind": facts.kind, "actor": facts.actor, "body": body}
        try:
            keys.apply(index=idx, entry=entry)
        except PolicyError as exc:
            raise VerificationError(exc.message, index=idx) from exc
    return prev.hex(), keys, public_keys, first_v2


def _load(data: bytes, source: str) -> dict[str, Any]:
    try:
        bundle = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{source}: not a bundle (malformed JSON)") from exc
    except RecursionError:
        raise InputError(f"{source}: not a bundle (JSON nested too deeply)") from None
    if not isinstance(bundle, dict) or bundle.get("format") != BUNDLE_FORMAT:
        raise InputError(f"{source}: not a {BUNDLE_FORMAT} file")
    try:
        return BundleFile.model_validate(bundle).model_dump()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InputError(f"{source}: malformed bundle: {where}: {first['msg']}") from exc


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: Any, source: str) -> bytes:
    try:
        return base64.b64decode(str(text), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InputError(f"{source}: malformed base64 in bundle") from exc


def _hex(data: bytes | None) -> str:
    return (data or b"").hex()


def _unhex(text: Any, source: str) -> bytes:
    try:
        value = bytes.fromhex(str(text))
    except ValueError as exc:
        raise InputError(f"{source}: malformed hex hash in bundle") from exc
    if len(value) != 32:
        raise InputError(f"{source}: a hash in the bundle is not 32 bytes")
    return value


__all__ = ["BUNDLE_FORMAT", "export_bundle", "range_outside_nodes", "verify_bundle"]
