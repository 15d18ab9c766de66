"""Member records of a new version, from the image.registered leaves they point at.

Three ways to name the members: a folder (files matched to registrations by file digest),
a list file (one entry index or file digest per line, optionally followed by a path), or a
previous version with additions and removals. Every record is built from the member's own
leaf (its digests, size, pixel form and encoding), never from a projection row.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import orjson
from sqlalchemy import Connection

from ledger.datasets.filehash import digest_files, walk
from ledger.errors import InputError, VerificationError, show_path
from ledger.log.hashing import leaf_hash
from ledger.model.datasets import PATH_PATTERN
from ledger.store import consent as consent_store
from ledger.store.datasets import images_by_file_digests, leaves_at

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_PATH = re.compile(PATH_PATTERN)
_SHOWN = 5  # unregistered files named in an error


class Wanted(NamedTuple):
    """A member named by the curator: an entry index, with the path it has (if known).
    A tuple: 100,000 of them are made per version, a frozen dataclass costs a second."""

    entry: int
    path: str | None


def from_folder(conn: Connection, folder: Path, *, workers: int = 0) -> list[Wanted]:
    """Every file under ``folder``, matched to its registration by file digest (the earliest
    if several sources registered the same bytes); InputError names unregistered files."""
    paths = walk(folder)
    if not paths:
        raise InputError(f"{show_path(folder)}: no files")
    digests = {d.path: d.sha256 for d in digest_files(folder, paths, workers=workers)}
    found = images_by_file_digests(conn, digests.values())
    missing = [p for p in paths if digests[p] not in found]
    if missing:
        shown = ", ".join(show_path(p) for p in missing[:_SHOWN])
        more = f" and {len(missing) - _SHOWN} more" if len(missing) > _SHOWN else ""
        raise InputError(
            f"{show_path(folder)}: {len(missing)} file(s) not registered: {shown}{more} "
            "(register them first)"
        )
    return _one_each([Wanted(found[digests[p]][0], p) for p in paths])


def from_list(conn: Connection, path: Path) -> list[Wanted]:
    """The members a list file names: per line an entry index or a file SHA-256, then
    optionally whitespace and the member's relative path. Blank lines and ``#`` comments skip."""
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise InputError(f"{show_path(path)}: cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise InputError(f"{show_path(path)}: cannot read: not UTF-8 text") from exc
    named: list[tuple[str, str | None, int]] = []
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        token, _, rest = stripped.partition(" ")
        named.append((token.lower(), rest.strip() or None, number))
    return _one_each(resolve_tokens(conn, named, where=show_path(path)))


def resolve_tokens(conn: Connection, named: Sequence[tuple[str, str | None, int]], *,
                   where: str) -> list[Wanted]:  # fmt: skip
    """(entry index or file digest, path, line or position) -> members; InputError names the
    first token that is neither, or a digest nothing registered."""
    digests = [t for t, _, _ in named if _HEX64.fullmatch(t)]
    found = images_by_file_digests(conn, digests)
    out = []
    for token, rel, number in named:
        if token.isdigit():
            out.append(Wanted(int(token), rel))
        elif _HEX64.fullmatch(token):
            if token not in found:
                raise InputError(f"{where}:{number}: no image is registered with file digest "
                                 f"{token[:16]}")
            out.append(Wanted(found[token][0], rel))
        else:
            raise InputError(f"{where}:{number}: {token[:40]!r} is neither an entry index nor "
                             "a file SHA-256")
    return out


def _one_each(wanted: Iterable[Wanted]) -> list[Wanted]:
    """One per entry index (the first path named for it), sorted by index."""
    seen: dict[int, Wanted] = {}
    for w in wanted:
        seen.setdefault(w.entry, w)
    return [seen[k] for k in sorted(seen)]


def records(conn: Connection, wanted: Sequence[Wanted]) -> list[dict[str, Any]]:
    """The member record of each wanted entry, from its leaf; InputError for an index that is
    not an image.registered entry, VerificationError for a leaf whose stored hash is not its
    hash."""
    paths: Mapping[int, str | None] = {w.entry: w.path for w in wanted}
    out = []
    for index, leaf, stored_hash in leaves_at(conn, paths):
        if leaf_hash(leaf) != stored_hash:
            raise VerificationError("stored leaf does not hash to its leaf hash", index=index)
        out.append(record_of(index, orjson.loads(leaf)["envelope"]["entry"], paths[index]))
    if len(out) != len(paths):
        absent = sorted(set(paths) - {r["entry"] for r in out})
        raise InputError(f"no entry at index {absent[0]}")
    return out


def record_of(index: int, entry: dict[str, Any], path: str | None) -> dict[str, Any]:
    """The member record of the image.registered ``entry`` at ``index``."""
    if entry.get("kind") != "image.registered":
        raise InputError(f"entry {index} is a {entry.get('kind')} entry, not an image")
    image = entry["body"]["image"]
    encoding = image["format"]
    if encoding == "dicom":
        encoding = str(image["metadata"].get("TransferSyntaxUID") or "dicom")
    record = {"encoding": encoding, "entry": index, "file_sha256": image["file_sha256"],
              "file_size": image["file_size"], "pixel_form": image["pixel_form"],
              "pixel_sha256": image["pixel_sha256"]}  # fmt: skip
    if path is not None:
        if not _PATH.fullmatch(path):
            raise InputError(f"{show_path(path)}: a member's path must be relative, without "
                             "control characters, at most 1024 characters")
        record["path"] = path
    return record


def consent_withdrawn(conn: Connection, entries: Sequence[int]) -> set[int]:
    """The entries among ``entries`` whose consent is withdrawn (the audited consent
    projections: the image's own latest consent.changed or its subject's, whichever is
    later): a new version leaves them out and lists them in its ``withdrawn`` field."""
    return consent_store.withdrawn_among(conn, entries)
