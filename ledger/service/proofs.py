"""``proof verify``: check an inclusion proof offline against a signed checkpoint.

Two inputs, no ledger:

* a C2SP tlog-proof (https://c2sp.org/tlog-proof): index, audit path and the
  signed checkpoint in one text; it does not carry the leaf, so the leaf is
  given with ``leaf`` (its bytes) or ``entry_json`` (a row of ``log entries --json``);
* an inclusion proof as ``proof inclusion --json`` prints it, with a checkpoint
  file; its ``leaf_hash`` is used unless the leaf itself is given.

The checkpoint's signature is checked with the given verifier keys, then the
audit path must bind the leaf hash at the index to the signed root. Raises
:class:`VerificationError` (exit 1) when the evidence does not hold and
:class:`InputError` (exit 2) for malformed or missing input.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledger.checkpoints import open_checkpoint
from ledger.crypto.note import NoteVerifier
from ledger.errors import InputError, VerificationError, show_path
from ledger.log.encoding import MAX_UINT64
from ledger.log.hashing import HASH_SIZE, leaf_hash
from ledger.log.proofs import verify_inclusion
from ledger.log.tlog_proof import parse_tlog_proof
from ledger.model.canonical import canonical_json
from ledger.pubkeys import read_verifiers
from ledger.service.audits import read_input

__all__ = ["ProofCheck", "verify_proof_files"]


@dataclass(frozen=True)
class ProofCheck:
    """What a verified proof established."""

    origin: str
    tree_size: int
    root: bytes
    index: int
    leaf_hash: bytes
    leaf_checked: bool  # the leaf itself was hashed, not a hash taken from the proof

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": True,
            "origin": self.origin,
            "tree_size": self.tree_size,
            "root": self.root.hex(),
            "index": self.index,
            "leaf_hash": self.leaf_hash.hex(),
            "leaf": "hashed" if self.leaf_checked else "from the proof",
        }


def verify_proof_files(
    *,
    pubkeys: list[str],
    tlog_proof: Path | None = None,
    inclusion: Path | None = None,
    checkpoint: Path | None = None,
    leaf: Path | None = None,
    entry_json: Path | None = None,
) -> ProofCheck:
    """Check one proof (tlog-proof, or inclusion JSON with a checkpoint); raise if it fails."""
    if (tlog_proof is None) == (inclusion is None):
        raise InputError("give one of --tlog-proof FILE or --inclusion FILE --checkpoint FILE")
    if tlog_proof is not None and checkpoint is not None:
        raise InputError("a tlog-proof carries its checkpoint; drop --checkpoint")
    if inclusion is not None and checkpoint is None:
        raise InputError("--inclusion needs --checkpoint FILE (the signed checkpoint)")
    if leaf is not None and entry_json is not None:
        raise InputError("give --leaf or --entry-json, not both")
    verifiers = read_verifiers(pubkeys)
    given = _given_leaf(leaf, entry_json)
    if tlog_proof is not None:
        return _check_tlog_proof(tlog_proof, verifiers, given)
    if inclusion is None or checkpoint is None:  # ruled out above; narrows the types
        raise InputError("--inclusion needs --checkpoint FILE")
    return _check_inclusion(inclusion, checkpoint, verifiers, given)


@dataclass(frozen=True)
class _Leaf:
    hash: bytes
    index: int | None  # the entry's own index, when the input says it
    source: str


def _check_tlog_proof(path: Path, verifiers: list[NoteVerifier], given: _Leaf | None) -> ProofCheck:
    where = show_path(path)
    if given is None:
        raise InputError(
            f"{where}: a tlog-proof does not carry the leaf; give --leaf FILE or --entry-json FILE"
        )
    try:
        text = read_input(path).decode("utf-8")
        parsed = parse_tlog_proof(text)
    except UnicodeDecodeError:
        raise InputError(f"{where}: malformed tlog-proof: not UTF-8 text") from None
    except InputError as exc:
        raise InputError(f"{where}: {exc.message}") from None
    opened = open_checkpoint(parsed.checkpoint_note, verifiers, source=where)
    return _bind(opened.origin, opened.size, opened.root, parsed.index, list(parsed.proof), given)


def _check_inclusion(
    path: Path, checkpoint: Path, verifiers: list[NoteVerifier], given: _Leaf | None
) -> ProofCheck:
    where = show_path(path)
    proof = _load_json(path)
    if not isinstance(proof, dict):
        raise InputError(f"{where}: not an inclusion proof (want a JSON object)")
    index = _uint(proof.get("index"), "index", where)
    size = _uint(proof.get("tree_size"), "tree_size", where)
    hashes = proof.get("hashes")
    if not isinstance(hashes, list):
        raise InputError(f"{where}: hashes is not a list")
    path_hashes = [_hash(h, f"hashes[{i}]", where) for i, h in enumerate(hashes)]
    from_proof = proof.get("leaf_hash")
    if given is None:
        if from_proof is None:
            raise InputError(f"{where}: no leaf_hash; give --leaf FILE or --entry-json FILE")
        given = _Leaf(_hash(from_proof, "leaf_hash", where), None, where)
        checked = False
    else:
        checked = True
        if from_proof is not None and _hash(from_proof, "leaf_hash", where) != given.hash:
            raise VerificationError(
                f"{given.source}: the leaf hashes to {given.hash.hex()}, "
                f"{where} proves leaf hash {from_proof}"
            )
    note_where = show_path(checkpoint)
    try:
        note = read_input(checkpoint).decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{note_where}: not a checkpoint (not UTF-8 text)") from None
    opened = open_checkpoint(note, verifiers, source=note_where)
    if size != opened.size:
        raise VerificationError(
            f"{where} is a proof in the tree of size {size}, "
            f"{note_where} is a checkpoint of size {opened.size}"
        )
    result = _bind(opened.origin, opened.size, opened.root, index, path_hashes, given)
    return result if checked else ProofCheck(**{**result.__dict__, "leaf_checked": False})


def _bind(
    origin: str, size: int, root: bytes, index: int, proof: list[bytes], given: _Leaf
) -> ProofCheck:
    if given.index is not None and given.index != index:
        raise VerificationError(
            f"{given.source} is entry {given.index}, the proof is for entry {index}"
        )
    verify_inclusion(index=index, size=size, leaf_hash=given.hash, proof=proof, root=root)
    return ProofCheck(origin, size, root, index, given.hash, leaf_checked=True)


def _given_leaf(leaf: Path | None, entry_json: Path | None) -> _Leaf | None:
    if leaf is not None:
        data = read_input(leaf)
        # A leaf is canonical JSON, which never ends in a newline; an editor may add one.
        data = data[:-1] if data.endswith(b"\n") else data
        return _Leaf(leaf_hash(data), None, show_path(leaf))
    if entry_json is not None:
        where = show_path(entry_json)
        row = _load_json(entry_json)
        if isinstance(row, list) and len(row) == 1:  # `log entries --json` of one entry
            row = row[0]
        if not isinstance(row, dict):
            raise InputError(f"{where}: want one entry (a JSON object)")
        index = None
        if "leaf" in row:  # a row {index, leaf_hash, leaf}
            index = _uint(row["index"], "index", where) if "index" in row else None
            row = row["leaf"]
        if not isinstance(row, dict) or set(row) != {"prev", "envelope"}:
            raise InputError(f"{where}: not a log entry (want {{index, leaf}} or a leaf)")
        try:
            data = canonical_json(row)
        except (TypeError, ValueError, InputError) as exc:
            reason = exc.message if isinstance(exc, InputError) else str(exc)
            raise InputError(f"{where}: leaf cannot be canonicalised ({reason})") from None
        return _Leaf(leaf_hash(data), index, where)
    return None


def _load_json(path: Path) -> Any:
    where = show_path(path)
    try:
        return json.loads(read_input(path))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InputError(f"{where}: malformed JSON") from None
    except RecursionError:
        raise InputError(f"{where}: JSON nested too deeply") from None


def _uint(value: object, name: str, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_UINT64:
        raise InputError(f"{where}: {name} is not an integer between 0 and 2**64-1")
    return value


def _hash(value: object, name: str, where: str) -> bytes:
    try:
        raw = bytes.fromhex(value) if isinstance(value, str) else b""
    except ValueError:
        raw = b""
    if len(raw) != HASH_SIZE:
        raise InputError(f"{where}: {name} is not {HASH_SIZE} bytes of hex")
    return raw
