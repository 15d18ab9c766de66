"""Classify every file of a local copy against an opened lock's member records.

Fast path: every file's size and SHA-256 (all cores); a member whose bytes are found is
``ok`` (at its path) or ``moved`` (elsewhere). Only members whose bytes are not found are
decoded, with the registration's bounded decoder and canonical pixel digest:

* at its path, same pixels: ``metadata_changed`` (DICOM, same transfer syntax: the header
  changed) or ``reencoded`` (another transfer syntax, a PNG recompressed);
* at its path, other pixels or not an image: ``modified``;
* not at its path, but an unclaimed file has its pixels: ``reencoded`` (and moved);
* otherwise ``missing``. A file no member claims is a ``duplicate`` when it holds a member's
  bytes (a folder versioned with two copies of one file has one member for both), else
  ``extra``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ledger.datasets.filehash import FileDigest, digest_files, walk
from ledger.errors import LedgerError, VerificationError
from ledger.imaging.limits import DecodeLimits

STATUSES = ("ok", "moved", "reencoded", "metadata_changed", "duplicate", "modified", "missing",
            "extra", "lossy_copy_of")
PASSING = frozenset(("ok", "moved", "reencoded", "metadata_changed", "duplicate"))


@dataclass(frozen=True)
class FileStatus:
    status: str
    path: str | None  # the file in the copy (None for a missing member)
    entry: int | None  # the member's entry index (None for an extra file)
    pinned_path: str | None = None  # the member's path at pin time, when it differs
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in (None, "")}


@dataclass
class CopyReport:
    files: list[FileStatus] = field(default_factory=list)
    decoded: int = 0  # files whose pixels had to be decoded

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(STATUSES, 0)
        for f in self.files:
            out[f.status] += 1
        return out

    def problems(self, *, strict_bytes: bool) -> list[FileStatus]:
        passing = {"ok"} if strict_bytes else PASSING
        return [f for f in self.files if f.status not in passing]

    def require_match(self, *, strict_bytes: bool, where: str) -> None:
        """VerificationError unless the copy is the pinned version (``strict_bytes``: byte for
        byte, every file ``ok``)."""
        bad = self.problems(strict_bytes=strict_bytes)
        if bad:
            counts: dict[str, int] = {}
            for f in bad:
                counts[f.status] = counts.get(f.status, 0) + 1
            shown = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
            raise VerificationError(f"not the pinned version: {shown}", subject=where)


@dataclass(frozen=True)
class _Pixels:
    sha256: str | None  # None: not a decodable image
    encoding: str
    problem: str = ""


def _pixels(path: Path, limits: DecodeLimits) -> _Pixels:
    from ledger.imaging.decode import decode  # numpy and pydicom: only when bytes differ
    from ledger.imaging.digest import pixel_digests

    try:
        decoded = decode(path, limits=limits)
    except LedgerError as exc:
        return _Pixels(None, "", exc.message)
    digests = pixel_digests(decoded.pixels, bits_stored=decoded.bits_stored,
                            signed=decoded.signed)
    return _Pixels(digests.pixel_sha256, decoded.transfer_syntax or decoded.format)


def check_copy(folder: Path, members: Sequence[dict[str, Any]], *,
               skip: frozenset[Path] = frozenset(), workers: int = 0,
               limits: DecodeLimits | None = None) -> CopyReport:  # fmt: skip
    """Every member and every file of ``folder`` classified (``skip``: resolved paths that
    are not part of the copy, such as the lock itself)."""
    limits = limits or DecodeLimits()
    digests = {d.path: d for d in digest_files(folder, walk(folder, skip=skip), workers=workers)}
    by_sha: dict[str, list[str]] = {}
    for d in digests.values():
        by_sha.setdefault(d.sha256, []).append(d.path)
    report = CopyReport()
    claimed: set[str] = set()
    results: dict[int, FileStatus] = {}
    for m in members:  # the bytes at the pinned path
        path = m.get("path")
        if path is not None and _same_bytes(digests.get(path), m):
            results[m["entry"]] = FileStatus("ok", path, m["entry"])
            claimed.add(path)
    changed: list[dict[str, Any]] = []
    for m in members:  # the bytes elsewhere
        if m["entry"] in results:
            continue
        other = next((p for p in by_sha.get(m["file_sha256"], ()) if p not in claimed), None)
        if other is not None:
            pinned = m.get("path")
            status = "ok" if pinned is None else "moved"
            results[m["entry"]] = FileStatus(status, other, m["entry"], pinned)
            claimed.add(other)
        else:
            changed.append(m)
    missing = []
    for m in changed:  # other bytes at the pinned path: decode
        path = m.get("path")
        if path is None or path not in digests or path in claimed:
            missing.append(m)
            continue
        claimed.add(path)
        report.decoded += 1
        results[m["entry"]] = _at_path(folder, path, m, limits)
    unclaimed = sorted(set(digests) - claimed)
    if missing and unclaimed:  # a member re-encoded under another name
        by_pixels: dict[str, list[str]] = {}
        for path in unclaimed:
            report.decoded += 1
            found = _pixels(folder / path, limits)
            if found.sha256 is not None:
                by_pixels.setdefault(found.sha256, []).append(path)
        for m in missing:
            other = next((p for p in by_pixels.get(m["pixel_sha256"], ()) if p not in claimed),
                         None)
            if other is not None:
                results[m["entry"]] = FileStatus("reencoded", other, m["entry"], m.get("path"),
                                                 "same pixels, other bytes, other path")
                claimed.add(other)
    for m in members:
        found_status = results.get(m["entry"])
        report.files.append(found_status or FileStatus("missing", None, m["entry"], m.get("path")))
    member_of = {m["file_sha256"]: m["entry"] for m in members}
    for path in sorted(set(digests) - claimed):  # a folder versioned with two copies of a file
        entry = member_of.get(digests[path].sha256)
        report.files.append(FileStatus("extra", path, None) if entry is None else
                            FileStatus("duplicate", path, entry, detail="another copy of a "
                                       "member's bytes"))
    return report


def _same_bytes(found: FileDigest | None, member: dict[str, Any]) -> bool:
    return (found is not None and found.size == member["file_size"]
            and found.sha256 == member["file_sha256"])


def _at_path(folder: Path, path: str, member: dict[str, Any], limits: DecodeLimits
             ) -> FileStatus:  # fmt: skip
    found = _pixels(folder / path, limits)
    entry = member["entry"]
    if found.sha256 is None:
        return FileStatus("modified", path, entry, detail=f"not a readable image: {found.problem}")
    if found.sha256 != member["pixel_sha256"]:
        return FileStatus("modified", path, entry, detail="pixels differ")
    if found.encoding == member["encoding"] and member["encoding"].startswith("1."):
        return FileStatus("metadata_changed", path, entry,
                          detail="same pixels and transfer syntax; the DICOM header differs")
    return FileStatus("reencoded", path, entry,
                      detail=f"same pixels, other bytes ({member['encoding']} -> "
                      f"{found.encoding})")
