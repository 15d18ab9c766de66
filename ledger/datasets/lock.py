"""Writing a lock file and opening one: every proof checked before any member is trusted.

The layout is canonical: keys sorted, one top-level key per line, one member per line,
UTF-8, a final newline. ``render`` writes it; ``open_lock`` re-renders what it parsed and
refuses a file whose bytes differ, so an edit anywhere (a digit, a space) is found, not
only one that breaks a proof. It parses and re-renders the member lines with orjson first
(``ledger.datasets.lockmembers``) and takes the strict path (pydantic, ``json.dumps``),
which names what is wrong, for any lock the fast one does not accept.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import orjson
from pydantic import ValidationError

from ledger.checkpoints import open_checkpoint
from ledger.crypto.note import NoteVerifier
from ledger.datasets.lockmembers import member_lines, plain_records
from ledger.errors import LedgerError, VerificationError
from ledger.log.checkpoint import Checkpoint
from ledger.log.hashing import leaf_hash
from ledger.log.proofs import verify_inclusion
from ledger.log.tlog_proof import parse_tlog_proof
from ledger.log.tree import root_of_leaf_hashes
from ledger.model.canonical import canonical_json
from ledger.model.datasets import DatasetVersioned
from ledger.model.lock import LOCK_FORMAT, LockFile

VERSIONED = "dataset.versioned"


def _line(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def render(lock: dict[str, Any]) -> bytes:
    """The canonical bytes of a lock (a dict shaped as ``LockFile``)."""
    return _render(lock)[0]


def _render(lock: dict[str, Any]) -> tuple[bytes, list[str]]:
    """The lock's bytes, and each member's line: its record's RFC 8785 text (see
    ``ledger.model.datasets.member_leaf``)."""
    rows: list[str] = []
    lines = ["{"]
    keys = sorted(lock)
    for n, key in enumerate(keys):
        comma = "," if n < len(keys) - 1 else ""
        value = lock[key]
        if key == "members":
            lines.append(f"{_line(key)}:[")
            rows = [_line(m) for m in value]
            lines.extend(row + ("," if i < len(rows) - 1 else "") for i, row in enumerate(rows))
            lines.append("]" + comma)
        else:
            lines.append(f"{_line(key)}:{_line(value)}{comma}")
    lines.append("}")
    return ("\n".join(lines) + "\n").encode("utf-8"), rows


def build(*, origin: str, verifier_key: str, name: str, version: int, index: int,
          leaf: bytes, tlog_proof: str, members: list[dict[str, Any]],
          paths_omitted: bool = False) -> bytes:  # fmt: skip
    """A lock's bytes (``open_lock`` accepts them); ``paths_omitted`` for a controlled
    version, whose member records name no files."""
    lock: dict[str, Any] = {
        "lock": LOCK_FORMAT,
        "log": {"origin": origin, "verifier_key": verifier_key},
        "dataset": {"name": name, "version": version},
        "entry": {"index": index, "leaf": json.loads(leaf)},
        "proof": tlog_proof,
        "members": members,
    }
    if paths_omitted:
        lock["paths"] = "omitted"
    return render(lock)


@dataclass(frozen=True)
class OpenedLock:
    """A lock whose proofs all checked out."""

    lock: LockFile  # its ``members`` left empty: the records are ``members`` below
    body: DatasetVersioned
    checkpoint: Checkpoint
    key_given: bool  # checked against a key the user gave, not only the lock's own
    members: list[dict[str, Any]]  # the records as the lock holds them (their root checked)


def open_lock(data: bytes, *, where: str, pubkeys: list[NoteVerifier] | None = None
              ) -> OpenedLock:  # fmt: skip
    """Check a lock's bytes; VerificationError names what failed: layout, key, checkpoint
    signature, inclusion of the version entry, or the member list against its root."""
    def fail(reason: str) -> VerificationError:
        return VerificationError(f"lock {reason}", subject=where)

    lock, records, lines = _parse_fast(data) or _parse_strict(data, fail)
    try:
        verifier = NoteVerifier.from_vkey(lock.log.verifier_key)
    except LedgerError as exc:
        raise fail(f"names a malformed log key: {exc.message}") from None
    if pubkeys is not None and all(k.vkey != verifier.vkey for k in pubkeys):
        raise fail(f"names log key {verifier.vkey}, not the key given")
    try:
        proof = parse_tlog_proof(lock.proof)
    except LedgerError as exc:
        raise fail(f"proof: {exc.message}") from None
    try:
        checkpoint = open_checkpoint(proof.checkpoint_note, [verifier])
    except LedgerError as exc:
        raise fail(f"checkpoint is not signed by the log key: {exc.message}") from None
    if checkpoint.origin != lock.log.origin:
        raise fail(f"checkpoint is of log {checkpoint.origin!r}, not {lock.log.origin!r}")
    if proof.index != lock.entry.index:
        raise fail(f"proof is for index {proof.index}, the entry is at {lock.entry.index}")
    try:
        verify_inclusion(index=proof.index, size=checkpoint.size,
                         leaf_hash=leaf_hash(canonical_json(lock.entry.leaf)),
                         proof=list(proof.proof), root=checkpoint.root)
    except LedgerError as exc:
        raise fail(f"entry is not in the log: {exc.message}") from None
    body = _versioned_body(lock, verifier, fail)
    _check_paths(lock, body, records, fail)
    entries = [r["entry"] for r in records]
    if any(a >= b for a, b in pairwise(entries)):
        raise fail("members are not sorted by entry index without repeats")
    root = root_of_leaf_hashes([leaf_hash(line) for line in lines]).hex()
    if len(records) != body.members or root != body.members_root:
        raise fail(f"members do not match the signed version: {len(records)} members, root "
                   f"{root}; the entry signs {body.members}, {body.members_root}")
    return OpenedLock(lock, body, checkpoint, key_given=pubkeys is not None, members=records)


_Parsed = tuple[LockFile, list[dict[str, Any]], list[bytes]]


def _parse_strict(data: bytes, fail: Callable[[str], VerificationError]) -> _Parsed:
    """The lock, its member records as parsed (as hashed: a "path": null is refused) and
    their lines; VerificationError names the first thing wrong."""
    try:
        raw = json.loads(data.decode("utf-8"))
        lock = LockFile.model_validate(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        first = exc.errors()[0] if isinstance(exc, ValidationError) else None
        what = ".".join(str(p) for p in first["loc"]) + ": " + first["msg"] if first else exc
        raise fail(f"is damaged: {str(what)[:200]}") from None
    try:
        rendered, member_lines_ = _render(raw)
    except UnicodeEncodeError:  # an escaped lone surrogate: never in a canonical (UTF-8) lock
        rendered, member_lines_ = b"", []
    if rendered != data:
        raise fail("is not in its canonical layout: edited or damaged")
    lines = [line.encode("utf-8") for line in member_lines_]
    return lock.model_copy(update={"members": []}), raw["members"], lines


def _parse_fast(data: bytes) -> _Parsed | None:
    """What ``_parse_strict`` returns, for a lock whose member records are plain; None for
    anything else (the strict path then decides)."""
    try:
        raw = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    if type(raw) is not dict:
        return None
    records = plain_records(raw.get("members"))
    if records is None:
        return None
    try:
        lock = LockFile.model_validate({**raw, "members": []})
    except ValidationError:
        return None
    lines = member_lines(records)
    if _layout(raw, lines) != data:
        return None
    return lock, records, lines


def _layout(lock: dict[str, Any], rows: list[bytes]) -> bytes:
    """``render``'s bytes, with the member lines already rendered."""
    out: list[bytes] = [b"{"]
    keys = sorted(lock)
    for n, key in enumerate(keys):
        comma = b"," if n < len(keys) - 1 else b""
        if key == "members":
            out.append(_line(key).encode("utf-8") + b":[")
            out.extend([row + b"," for row in rows[:-1]])
            out.extend(rows[-1:])
            out.append(b"]" + comma)
        else:
            out.append(f"{_line(key)}:{_line(lock[key])}".encode() + comma)
    out.append(b"}")
    return b"\n".join(out) + b"\n"


def _versioned_body(lock: LockFile, verifier: NoteVerifier, fail: Any) -> DatasetVersioned:
    try:
        entry = lock.entry.leaf["envelope"]["entry"]
        if entry["kind"] != VERSIONED:
            raise fail(f"entry is a {entry['kind']} entry, not {VERSIONED}")
        if entry.get("log") != verifier.public_key.key_id:
            raise fail("entry was signed for another log")
        body = DatasetVersioned.model_validate(entry["body"])
    except (KeyError, TypeError, ValidationError):
        raise fail("entry is not a dataset.versioned entry") from None
    if (body.name, body.version) != (lock.dataset.name, lock.dataset.version):
        raise fail(f"names {lock.dataset.name}@{lock.dataset.version}, the entry "
                   f"{body.name}@{body.version}")
    return body


def _check_paths(lock: LockFile, body: DatasetVersioned, records: list[dict[str, Any]],
                 fail: Any) -> None:  # fmt: skip
    """A controlled version's lock says its paths are omitted and names no file; no other
    lock says so."""
    controlled = body.tier == "controlled"
    if controlled and lock.paths is None:
        raise fail("is of a controlled version but does not say its paths are omitted")
    if not controlled and lock.paths is not None:
        raise fail(f"says paths are omitted, but the version is {body.tier}, not controlled")
    if controlled and any("path" in r for r in records):
        raise fail("is of a controlled version but names member files")
