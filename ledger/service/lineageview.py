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
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Connection

from ledger.checkpoints import open_checkpoint
from ledger.errors import InputError, VerificationError, show_path
from ledger.lineage.graph import Direction, TreeEdge, walk
from ledger.lineage.prov import FORMATS, Derivation, Format, ImageNode, StepRecord, write_prov
from ledger.lineage.vocabulary import validate_step
from ledger.log.hashing import leaf_hash
from ledger.registration.lookup import _inclusion_status, _signature_status, _signers
from ledger.service.ledger import Ledger
from ledger.service.lineage import resolve_image
from ledger.store import reading

_FAILING = ("invalid", "signed for another log", "unknown key")


@dataclass
class _Checker:
    """Reads and checks leaves against one verified checkpoint, each leaf once."""

    ledger: Ledger
    conn: Connection
    checkpoint: Any
    signers: dict[str, dict[str, Any]]
    checked: dict[int, dict[str, Any]] = field(default_factory=dict)

    def leaf(self, index: int) -> dict[str, Any]:
        """{entry, leaf_hash, signer, signature, inclusion} of entry ``index``."""
        if index in self.checked:
            return self.checked[index]
        leaf, _ = self.ledger.store.leaf(self.conn, index)
        digest = leaf_hash(leaf)  # from the bytes, not the stored column
        envelope = json.loads(leaf)["envelope"]
        entry = envelope["entry"]
        signer = self.signers.get(entry["actor"])
        proof = self.ledger.inclusion_proof(index, size=self.checkpoint.size)
        facts = {
            "entry": entry,
            "leaf_hash": digest.hex(),
            "signer": None if signer is None else {"name": signer["name"], "role": signer["role"],
                                                   "key_id": signer["key_id"]},
            "signature": _signature_status(signer, entry, envelope["sig"],
                                           log_id=self.ledger.log_id),
            "inclusion": _inclusion_status(index, digest, proof.hashes, self.checkpoint),
        }
        if len(self.checked) < 4096:  # a cache for shared images, not a copy of the tree
            self.checked[index] = facts
        return facts

    def image(self, index: int) -> dict[str, Any]:
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

    def edge(self, row: TreeEdge) -> dict[str, Any]:
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


def lineage(ledger: Ledger, target: str) -> Lineage:
    """The derivation tree of ``target`` (a file, a digest or an entry index): back to the
    registered originals and forward to every known derivative, each edge checked."""
    start = resolve_image(ledger, target).index
    note = ledger.checkpoint()
    checkpoint = open_checkpoint(note, [ledger.verifier])
    with reading(ledger.store.engine) as conn:
        checker = _Checker(ledger, conn, checkpoint, _signers(ledger, conn))
        back = [checker.edge(row) for row in walk(conn, start, "back")]
        forward = [checker.edge(row) for row in walk(conn, start, "forward")]
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
    """Back edges from the originals down to the image, then forward edges, each checked."""
    back: list[TreeEdge] = list(walk(checker.conn, start, "back"))
    for row in reversed(back):  # the originals' edges first: the order steps were applied
        yield _record(checker, row)
    for row in walk(checker.conn, start, "forward"):
        yield _record(checker, row)


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
    checkpoint = open_checkpoint(ledger.checkpoint(), [ledger.verifier])
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
