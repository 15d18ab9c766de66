"""``stamp`` and ``check``: provenance carried inside an image file (docs/datasets.md)."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ledger.checkpoints import open_checkpoint
from ledger.datasets import c2pasigner, c2pastamp
from ledger.datasets import stamp as stamps
from ledger.errors import InputError, VerificationError, show_path
from ledger.log.hashing import leaf_hash
from ledger.log.proofs import verify_inclusion
from ledger.log.tlog_proof import format_tlog_proof
from ledger.pubkeys import read_verifiers
from ledger.service.ledger import Ledger
from ledger.store import reading


@dataclass(frozen=True)
class Stamped:
    file: str
    index: int
    origin: str
    pixel_sha256: str
    c2pa_signer: str | None = None  # the certificate subject of a C2PA manifest written

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "index": self.index, "origin": self.origin,
                "pixel_sha256": self.pixel_sha256, "c2pa_signer": self.c2pa_signer}


def stamp(ledger: Ledger, paths: list[Path], *, key: str | None = None,
          c2pa_cert: Path | None = None, c2pa_key: Path | None = None) -> list[Stamped]:
    """Write a stamp into each file (its registration by pixel digest; with ``key``, the one
    that key signed), and with ``c2pa_cert``/``c2pa_key`` a C2PA manifest over it (PNG, JPEG).
    Every file is prepared and re-checked before any is written."""
    credentials = c2pasigner.load(c2pa_cert, c2pa_key)
    note = ledger.checkpoint()
    checkpoint = open_checkpoint(note, [ledger.verifier])
    signer = ledger.key_info(key, include_revoked=True).key_id if key else None
    prepared: list[tuple[Path, bytes, Stamped]] = []
    for path in paths:
        where = show_path(path)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InputError(f"cannot read: {exc.strerror or exc}", subject=where) from None
        pixels = stamps.pixel_digest(path)
        index, leaf = _registration(ledger, pixels, signer, where)
        proof = ledger.inclusion_proof(index, size=checkpoint.size)
        verify_inclusion(index=index, size=checkpoint.size, leaf_hash=leaf_hash(leaf),
                         proof=proof.hashes, root=checkpoint.root)
        text = stamps.build(origin=ledger.origin, verifier_key=ledger.verifier.vkey, leaf=leaf,
                            tlog_proof=format_tlog_proof(index=index, proof=proof.hashes,
                                                         checkpoint_note=note))
        summary = f"medledger provenance stamp: registered in {ledger.origin} at index {index}"
        stamped = stamps.embed(data, text, summary=summary, where=where)
        stamped = c2pastamp.seal(data, stamped, text, credentials=credentials, where=where)
        _same_pixels(stamped, pixels, path)
        prepared.append((path, stamped, Stamped(where, index, ledger.origin, pixels,
                                                credentials.subject if credentials else None)))
    for path, stamped, _ in prepared:
        _replace(path, stamped)
    return [done for _, _, done in prepared]


def _registration(ledger: Ledger, pixels: str, signer: str | None, where: str
                  ) -> tuple[int, bytes]:  # fmt: skip
    with reading(ledger.store.engine) as conn:
        rows = [r for r in ledger.store.images_by_digest(conn, pixels)
                if r.pixel_sha256 == pixels]
        for row in rows:
            leaf, stored = ledger.store.leaf(conn, row.idx)
            if leaf_hash(leaf) != stored:
                raise VerificationError("stored leaf does not hash to its leaf hash",
                                        index=row.idx)
            entry = json.loads(leaf)["envelope"]["entry"]
            body = entry.get("body", {})
            if entry.get("kind") == "image.registered" and body["image"]["pixel_sha256"] == pixels \
                    and (signer is None or entry["actor"] == signer):
                return row.idx, leaf
    by = " by that key" if signer else ""
    raise InputError(f"no registration{by} of these pixels in this ledger", subject=where)


def _same_pixels(data: bytes, pixels: str, path: Path) -> None:
    """Decode the stamped bytes (a scratch file beside the original): the pixels must not move."""
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=".stamp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        if stamps.pixel_digest(Path(name)) != pixels:
            raise VerificationError("stamping would change the pixels: not written",
                                    subject=show_path(path))
    finally:
        Path(name).unlink(missing_ok=True)


def _replace(path: Path, data: bytes) -> None:
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=".stamp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(name, path.stat().st_mode & 0o7777)
        os.replace(name, path)
    except OSError as exc:
        Path(name).unlink(missing_ok=True)
        raise InputError(f"cannot write: {exc.strerror or exc}", subject=show_path(path)) from exc


@dataclass
class CheckResult:
    checked: list[stamps.Checked] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)

    def to_json(self) -> dict[str, Any]:
        return {"checked": [c.to_json() for c in self.checked],
                "failed": [{"file": f, "reason": r} for f, r in self.failed]}

    def require_all(self) -> None:
        if self.failed:
            file, reason = self.failed[0]
            more = f" (and {len(self.failed) - 1} more)" if len(self.failed) > 1 else ""
            raise VerificationError(f"{reason}{more}", subject=file)


def check(paths: list[Path], *, pubkeys: list[str] | None = None) -> CheckResult:
    """Each file's stamp verified with nothing else (``pubkeys``: the logs trusted)."""
    verifiers = read_verifiers(pubkeys) if pubkeys else None
    result = CheckResult()
    for path in paths:
        try:
            result.checked.append(stamps.check(path, pubkeys=verifiers))
        except VerificationError as exc:
            result.failed.append((show_path(path), exc.message))
    return result
