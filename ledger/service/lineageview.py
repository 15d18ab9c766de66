"""The ``lineage`` use case: an image's derivation tree, every fact read from checked leaves.

The ``derivations`` projection only says where to look. For every edge and every image
shown, the leaf is read, its hash recomputed from its bytes, its signature checked with
the signer's key from its key.added leaf, and its inclusion proven against a checkpoint
signed and verified now (as ``show`` does). An edge whose projection row names other
images than its leaf, or whose stated digests are not the images', is marked, and
``require_verified`` fails (exit 1). The PROV export walks the same checks as a stream.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Connection

from ledger.checkpoints import open_checkpoint
from ledger.crypto.keys import PublicKey
from ledger.crypto.signing import decode_sig, verify_entry
from ledger.errors import InputError, LedgerError, VerificationError, show_path
from ledger.lineage.graph import Direction, TreeEdge, walk
from ledger.lineage.prov import FORMATS, Derivation, Format, ImageNode, StepRecord, write_prov
from ledger.lineage.vocabulary import validate_step
from ledger.log.hashing import leaf_hash
from ledger.log.proofs import inclusion_nodes, inclusion_proof
from ledger.model.canonical import canonical_json
from ledger.registration.lookup import _inclusion_status, _signers
from ledger.service.ledger import Ledger
from ledger.service.lineage import resolve_image
from ledger.store import reading

_FAILING = ("invalid", "signed for another log", "unknown key")
_ENTRY_START = b'{"envelope":{"entry":'
_BATCH = 512  # edges checked per batch of the PROV export


@dataclass
class _Checker:
    """Reads and checks leaves against one verified checkpoint. ``load`` reads a batch of
    leaves and the tree nodes of all their inclusion proofs in two queries; ``forget``
    drops them (the PROV export loads a bounded batch at a time)."""

    ledger: Ledger
    conn: Connection
    checkpoint: Any
    signers: dict[str, dict[str, Any]]
    checked: dict[int, dict[str, Any]] = field(default_factory=dict)
    _keys: dict[str, PublicKey] = field(default_factory=dict)

    def load(self, indexes: Iterable[int]) -> None:
        size = self.checkpoint.size
        wanted = sorted({i for i in indexes if i not in self.checked})
        if not wanted:
            return
        beyond = [i for i in wanted if i >= size]
        if beyond:
            raise VerificationError(f"entry {beyond[0]} is not covered by the checkpoint "
                                    f"(size {size})", index=beyond[0])
        coords: set[tuple[int, int]] = set()
        for index in wanted:
            coords |= inclusion_nodes(index=index, size=size)
        nodes = self.ledger.store.perfect_nodes(self.conn, coords)
        for index in wanted:
            leaf, _ = self.ledger.store.leaf(self.conn, index)
            proof = inclusion_proof(index=index, size=size, nodes=nodes)
            self.checked[index] = self._check(index, leaf, proof)

    def forget(self) -> None:
        self.checked.clear()

    def leaf(self, index: int) -> dict[str, Any]:
        """{entry, leaf_hash, signer, signature, inclusion} of entry ``index``."""
        if index not in self.checked:
            self.load([index])
        return self.checked[index]

    def _check(self, index: int, leaf: bytes, proof: list[bytes]) -> dict[str, Any]:
        digest = leaf_hash(leaf)  # from the bytes, not the stored column
        inclusion = _inclusion_status(index, digest, proof, self.checkpoint)
        try:
            envelope = json.loads(leaf)["envelope"]
            entry, sig = envelope["entry"], envelope["sig"]
            signer = self.signers.get(entry["actor"])
        except (ValueError, KeyError, TypeError):  # a damaged leaf: shown, never trusted
            return {"entry": {}, "leaf_hash": digest.hex(), "signer": None,
                    "signature": "invalid", "inclusion": inclusion}
        return {
            "entry": entry,
            "leaf_hash": digest.hex(),
            "signer": None if signer is None else {"name": signer["name"], "role": signer["role"],
                                                   "key_id": signer["key_id"]},
            "signature": self._signature(signer, entry, sig, leaf),
            "inclusion": inclusion,
        }

    def _signature(self, signer: dict[str, Any] | None, entry: dict[str, Any], sig: str,
                   leaf: bytes) -> str:
        """``show``'s signature status, with each key decoded once and the entry's bytes
        cut from the leaf when it has the canonical shape (else encoded again)."""
        if signer is None:
            return "unknown key"
        if entry.get("v") == 2 and entry.get("log") != self.ledger.log_id:
            return "signed for another log"
        try:
            public = self._keys.get(signer["key_id"])
            if public is None:
                public = self._keys[signer["key_id"]] = PublicKey.from_b64(signer["public_key"])
            tail = b',"sig":"' + sig.encode("ascii") + b'"},"prev":"'
            cut = leaf.rfind(tail)
            body = leaf[len(_ENTRY_START):cut] if leaf.startswith(_ENTRY_START) and cut > 0 \
                else canonical_json(entry)
            verify_entry(public, body, decode_sig(sig), version=entry["v"])
        except (LedgerError, UnicodeEncodeError, KeyError, TypeError, AttributeError):
            return "invalid"
        return "valid"

    def image(self, index: int) -> dict[str, Any]:
        try:
            return self._image(index)
        except (KeyError, TypeError, AttributeError):  # a damaged leaf's body
            return {"index": index, "signature": "invalid", "inclusion": "invalid",
                    "signer": None, "problem": f"entry {index} is malformed"}

    def edge(self, row: TreeEdge) -> dict[str, Any]:
        try:
            return self._edge(row)
        except (KeyError, TypeError, AttributeError):  # a damaged leaf's body
            return {"entry": row.entry, "depth": row.depth, "signature": "invalid",
                    "inclusion": "invalid", "signer": None, "time": None,
                    "problem": f"entry {row.entry} is malformed"}

    def _image(self, index: int) -> dict[str, Any]:
        facts = self.leaf(index)
        entry = facts["entry"]
        shown: dict[str, Any] = {"index": index, "signature": facts["signature"],
                                 "inclusion": facts["inclusion"], "signer": facts["signer"]}
        if entry.get("kind") != "image.registered":
            return shown | {"problem": f"entry {index} is a {entry.get('kind')} entry"}
        body = entry["body"]
        return shown | {"file_sha256": body["image"]["file_sha256"],
                        "pixel_sha256": body["image"]["pixel_sha256"],
                        "format": body["image"]["format"], "source": body["source"],
                        "license": body["license"], "consent": body["consent"],
                        "registered": entry["time"]}

    def _edge(self, row: TreeEdge) -> dict[str, Any]:
        facts = self.leaf(row.entry)
        entry = facts["entry"]
        shown: dict[str, Any] = {"entry": row.entry, "depth": row.depth,
                                 "signature": facts["signature"],
                                 "inclusion": facts["inclusion"], "signer": facts["signer"],
                                 "time": entry.get("time")}
        if entry.get("kind") != "image.derived":
            return shown | {"problem": f"the derivations row points at a {entry.get('kind')} "
                                       "entry"}
        body = entry["body"]
        shown |= {"parent": body["parent"]["index"], "child": body["child"]["index"],
                  "inferred": body["inferred"], "steps": body["steps"],
                  "codes": body.get("codes", []), "software": body.get("software")}
        if (body["parent"]["index"], body["child"]["index"], body["inferred"]) != (
                row.parent, row.child, row.inferred):
            shown["problem"] = "the derivations row differs from the signed entry"
        for role in ("parent", "child"):
            image = self.leaf(body[role]["index"])["entry"]
            stated = (body[role]["file_sha256"], body[role]["pixel_sha256"])
            got = image.get("body", {}).get("image", {})
            if stated != (got.get("file_sha256"), got.get("pixel_sha256")):
                shown["problem"] = f"its {role} digests are not those of entry " \
                                   f"{body[role]['index']}"
        return shown


@dataclass(frozen=True)
class Lineage:
    target: str
    image: int
    checkpoint: dict[str, Any]
    back: list[dict[str, Any]]  # edges towards the originals, nearest first
    forward: list[dict[str, Any]]  # edges to the derivatives, nearest first
    images: dict[int, dict[str, Any]]
    originals: list[int]

    def to_json(self) -> dict[str, Any]:
        return {"image": self.image, "checkpoint": self.checkpoint,
                "originals": self.originals, "back": self.back, "forward": self.forward,
                "images": {str(k): v for k, v in sorted(self.images.items())}}

    def require_verified(self) -> None:
        """VerificationError (exit 1) at the first edge or image that does not check out."""
        for item in [*self.back, *self.forward, *self.images.values()]:
            where = f"entry {item.get('entry', item.get('index'))}"
            if item.get("signature") in _FAILING or item.get("inclusion") == "invalid":
                raise VerificationError(f"{self.target}: {where} does not verify")
            if "problem" in item:
                raise VerificationError(f"{self.target}: {where}: {item['problem']}")


def _checkpoint(ledger: Ledger) -> tuple[str, Any]:
    """A checkpoint of the whole log, its signature verified: the latest one signed if it
    covers every entry (every command that appends signs one), else a fresh one."""
    with reading(ledger.store.engine) as conn:
        latest = ledger.store.latest_checkpoint(conn)
        size, _ = ledger.store.tail(conn)
    if latest is not None and latest.size == size:
        return latest.note, open_checkpoint(latest.note, [ledger.verifier])
    note = ledger.checkpoint()
    return note, open_checkpoint(note, [ledger.verifier])


def lineage(ledger: Ledger, target: str) -> Lineage:
    """The derivation tree of ``target`` (a file, a digest or an entry index): back to the
    registered originals and forward to every known derivative, each edge checked."""
    start = resolve_image(ledger, target).index
    note, checkpoint = _checkpoint(ledger)
    with reading(ledger.store.engine) as conn:
        checker = _Checker(ledger, conn, checkpoint, _signers(ledger, conn))
        covered = checkpoint.size  # edges appended since are not shown: not yet proven
        rows_back = [r for r in walk(conn, start, "back") if r.entry < covered]
        rows_forward = [r for r in walk(conn, start, "forward") if r.entry < covered]
        rows = rows_back + rows_forward
        checker.load([start, *(n for r in rows for n in (r.entry, r.parent, r.child))])
        back = [checker.edge(row) for row in rows_back]
        forward = [checker.edge(row) for row in rows_forward]
        nodes = {start} | {e[k] for e in back + forward for k in ("parent", "child") if k in e}
        images = {n: checker.image(n) for n in sorted(nodes)}
    with_parent = {e["child"] for e in back if "child" in e}
    reached = {start} | {e["parent"] for e in back if "parent" in e}
    return Lineage(target, start, {"size": checkpoint.size, "root": checkpoint.root.hex(),
                                   "note": note},
                   back, forward, images, sorted(reached - with_parent))


def _record(checker: _Checker, row: TreeEdge) -> Derivation:
    shown = checker.edge(row)
    if "problem" in shown or shown["signature"] in _FAILING or shown["inclusion"] == "invalid":
        raise VerificationError(f"entry {row.entry}: {shown.get('problem', 'does not verify')}",
                                index=row.entry)
    body = checker.leaf(row.entry)["entry"]["body"]
    steps = []
    for n, step in enumerate(body["steps"], start=1):
        term = validate_step(step, where=f"entry {row.entry}: step {n}")
        steps.append(StepRecord(step["term"], {k: v for k, v in step.items() if k != "term"},
                                term.dicom_codes(), term.c2pa_action()))
    software = body.get("software")
    return Derivation(
        entry=row.entry, time=shown["time"], signer_id=shown["signer"]["key_id"],
        signer_name=shown["signer"]["name"],
        parent=ImageNode(body["parent"]["index"], body["parent"]["file_sha256"],
                         body["parent"]["pixel_sha256"]),
        child=ImageNode(body["child"]["index"], body["child"]["file_sha256"],
                        body["child"]["pixel_sha256"]),
        steps=steps, inferred=body["inferred"], codes=body.get("codes", []),
        software=None if software is None else " ".join(
            filter(None, (software.get("name"), software.get("version")))),
    )


def _records(checker: _Checker, start: int) -> Iterator[Derivation]:
    """Back edges from the originals down to the image, then forward edges, each checked,
    in batches of ``_BATCH`` edges (their leaves and proofs loaded, then forgotten)."""
    covered = checker.checkpoint.size  # edges appended since are not yet proven
    back = [r for r in walk(checker.conn, start, "back") if r.entry < covered]
    back.reverse()  # the originals' edges first: the order the steps were applied
    for rows in (back[i : i + _BATCH] for i in range(0, len(back), _BATCH)):
        yield from _checked_batch(checker, rows)
    forward = (r for r in walk(checker.conn, start, "forward") if r.entry < covered)
    while rows := list(islice(forward, _BATCH)):
        yield from _checked_batch(checker, rows)


def _checked_batch(checker: _Checker, rows: list[TreeEdge]) -> Iterator[Derivation]:
    checker.forget()
    checker.load(n for r in rows for n in (r.entry, r.parent, r.child))
    records = [_record(checker, row) for row in rows]
    checker.forget()
    yield from records


def export_prov(ledger: Ledger, target: str, file: Path, fmt: str) -> int:
    """Write the lineage of ``target`` as W3C PROV to a new ``file``; returns how many
    activities. A leaf that does not check out stops the export (exit 1) and removes it."""
    if fmt not in FORMATS:
        raise InputError(f"--format {fmt}: use one of {', '.join(FORMATS)}")
    where = show_path(file)
    if file.exists() or file.is_symlink():
        raise InputError(f"{where} already exists")
    if not file.parent.is_dir():
        raise InputError(f"{where}: directory {show_path(file.parent)} does not exist")
    start = resolve_image(ledger, target).index
    _note, checkpoint = _checkpoint(ledger)
    with reading(ledger.store.engine) as conn:
        checker = _Checker(ledger, conn, checkpoint, _signers(ledger, conn))
        try:
            with file.open("x", encoding="utf-8") as out:
                return _write(checker, start, out, fmt)
        except BaseException:
            file.unlink(missing_ok=True)
            raise


def _write(checker: _Checker, start: int, out: IO[str], fmt: str) -> int:
    chosen: Format = "json" if fmt == "json" else "jsonld" if fmt == "jsonld" else "provn"
    return write_prov(_records(checker, start), out, chosen)


__all__ = ["Direction", "Lineage", "export_prov", "lineage"]
