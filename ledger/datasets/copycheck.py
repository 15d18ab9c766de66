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

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledger.datasets.filehash import digest_files, walk
from ledger.datasets.hashahead import Digests
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
        shown = (("status", self.status), ("path", self.path), ("entry", self.entry),
                 ("pinned_path", self.pinned_path), ("detail", self.detail))
        return {k: v for k, v in shown if v is not None and v != ""}


_OkAtPath = tuple[str, int]  # a member whose bytes are at its pinned path: (path, entry)


class CopyReport:
    """Every member's status in member order, then the files no member claims, by path.

    A member found ``ok`` at its pinned path is kept as a (path, entry) pair until ``files``
    is read, so counting an unchanged copy of 100,000 files makes no 100,000 objects."""

    def __init__(self, files: Iterable[FileStatus | _OkAtPath] = (), decoded: int = 0) -> None:
        self._rows: list[FileStatus | _OkAtPath] = list(files)
        self._pairs = sum(1 for r in self._rows if isinstance(r, tuple))
        self._files: list[FileStatus] | None = None
        self.decoded = decoded  # files whose pixels had to be decoded

    @property
    def files(self) -> list[FileStatus]:
        """Every row as a ``FileStatus`` (a list that may be rewritten in place)."""
        if self._files is None:
            self._files = [FileStatus("ok", r[0], r[1]) if isinstance(r, tuple) else r
                           for r in self._rows]  # fmt: skip
            self._rows, self._pairs = [], 0
        return self._files

    def _statuses(self) -> list[FileStatus]:
        """The rows that are not (path, entry) pairs."""
        if self._files is not None:
            return self._files
        return [r for r in self._rows if not isinstance(r, tuple)]

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(STATUSES, 0)
        out["ok"] += self._pairs
        for f in self._statuses():
            out[f.status] += 1
        return out

    def problems(self, *, strict_bytes: bool) -> list[FileStatus]:
        passing = {"ok"} if strict_bytes else PASSING
        return [f for f in self._statuses() if f.status not in passing]

    def changed(self) -> list[FileStatus]:
        """Every row that is not ``ok``, in order."""
        return [f for f in self._statuses() if f.status != "ok"]

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
               limits: DecodeLimits | None = None,
               digests: Digests | None = None) -> CopyReport:  # fmt: skip
    """Every member and every file of ``folder`` classified (``skip``: resolved paths that
    are not part of the copy, such as the lock itself; ``digests``: every file's size and
    SHA-256 when already hashed, in path order)."""
    if digests is None:
        found = digest_files(folder, walk(folder, skip=skip), workers=workers)
        digests = {d.path: (d.size, d.sha256) for d in found}
    return _classify(folder, members, digests, limits or DecodeLimits())


def _classify(folder: Path, members: Sequence[dict[str, Any]], digests: Digests,
              limits: DecodeLimits) -> CopyReport:  # fmt: skip
    rows: list[FileStatus | _OkAtPath | None] = []
    claimed: set[str] = set()
    others: list[int] = []  # positions of members whose bytes are not at their path
    get = digests.get
    for m in members:  # the common case: the bytes at the pinned path
        path = m.get("path")
        if path is not None and get(path) == (m["file_size"], m["file_sha256"]):
            rows.append((path, m["entry"]))
            claimed.add(path)
        else:
            others.append(len(rows))
            rows.append(None)
    decoded = 0
    if others:
        decoded = _elsewhere(folder, members, digests, limits, rows, others, claimed)
    unclaimed = [] if len(claimed) == len(digests) else sorted(set(digests) - claimed)
    member_of = {m["file_sha256"]: m["entry"] for m in members} if unclaimed else {}
    tail: list[FileStatus] = []
    for path in unclaimed:  # a folder versioned with two copies of a file
        entry = member_of.get(digests[path][1])
        tail.append(FileStatus("extra", path, None) if entry is None else
                    FileStatus("duplicate", path, entry, detail="another copy of a "
                               "member's bytes"))
    out: list[FileStatus | _OkAtPath] = [r for r in rows if r is not None]
    out.extend(tail)
    return CopyReport(out, decoded)


def _elsewhere(folder: Path, members: Sequence[dict[str, Any]], digests: Digests,
               limits: DecodeLimits, rows: list[FileStatus | _OkAtPath | None],
               others: list[int], claimed: set[str]) -> int:  # fmt: skip
    """Fill ``rows`` at ``others``: the members whose bytes are not at their pinned path
    (found elsewhere, re-encoded, modified or missing); returns how many files were decoded."""
    by_sha: dict[str, list[str]] = {}
    for name, (_, sha) in digests.items():
        by_sha.setdefault(sha, []).append(name)
    changed: list[int] = []
    for n in others:  # the bytes elsewhere
        m = members[n]
        other = next((p for p in by_sha.get(m["file_sha256"], ()) if p not in claimed), None)
        if other is not None:
            pinned = m.get("path")
            status = "ok" if pinned is None else "moved"
            rows[n] = FileStatus(status, other, m["entry"], pinned)
            claimed.add(other)
        else:
            changed.append(n)
    decoded = 0
    missing: list[int] = []
    for n in changed:  # other bytes at the pinned path: decode
        m = members[n]
        path = m.get("path")
        if path is None or path not in digests or path in claimed:
            missing.append(n)
            continue
        claimed.add(path)
        decoded += 1
        rows[n] = _at_path(folder, path, m, limits)
    unclaimed = sorted(set(digests) - claimed)
    if missing and unclaimed:  # a member re-encoded under another name
        by_pixels: dict[str, list[str]] = {}
        for path in unclaimed:
            decoded += 1
            found = _pixels(folder / path, limits)
            if found.sha256 is not None:
                by_pixels.setdefault(found.sha256, []).append(path)
        for n in missing:
            m = members[n]
            other = next((p for p in by_pixels.get(m["pixel_sha256"], ()) if p not in claimed),
                         None)
            if other is not None:
                rows[n] = FileStatus("reencoded", other, m["entry"], m.get("path"),
                                     "same pixels, other bytes, other path")
                claimed.add(other)
    for n in missing:
        if rows[n] is None:
            rows[n] = FileStatus("missing", None, members[n]["entry"], members[n].get("path"))
    return decoded


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
