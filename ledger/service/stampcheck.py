"""``check FILE --bundle B`` (or inside a ledger) for a file without a stamp: what it matches.

An unstamped file is not self-proving, so it still fails (exit 1), but the reason says what
the log knows of it: "unstamped; matches entry N" when a registration in the bundle (or the
ledger) has its canonical pixel digest, "unstamped; near-duplicate of entry N" when the
ledger's near-duplicate search verifies a match whose grid is the one its signed leaf names.
A bundle carries leaves, not descriptor grids: near-duplicates need the ledger.
"""

from __future__ import annotations

import json
from pathlib import Path

from ledger.datasets import stamp as stamps
from ledger.datasets.lossycopy import file_descriptor
from ledger.datasets.newerbundle import NewerBundle, open_bundle
from ledger.errors import InputError, show_path
from ledger.imaging.limits import DecodeLimits
from ledger.log.hashing import leaf_hash
from ledger.pubkeys import read_verifiers
from ledger.service.datasetgrids import checked_grids
from ledger.service.ledger import Ledger
from ledger.service.stamps import CheckResult, check
from ledger.similarity.catalog import LedgerIndex
from ledger.store import reading


def has_stamp(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            data = handle.read(stamps.MAX_STAMP_FILE_BYTES)
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", subject=show_path(path)) from None
    return stamps.read(data, show_path(path)) is not None


def read_bundle(path: Path, pubkeys: list[str] | None) -> tuple[NewerBundle, bool]:
    """The audited bundle, under the keys given or else its own log key (then it proves only
    that the bundle is self-consistent; the bool says whether a key was given)."""
    where = show_path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", subject=where) from None
    if pubkeys:
        return open_bundle(data, where=where, verifiers=read_verifiers(pubkeys)), True
    try:
        own = str(json.loads(data)["log_key"])
    except (ValueError, KeyError, TypeError):
        raise InputError("not a medledger bundle", subject=where) from None
    return open_bundle(data, where=where, verifiers=read_verifiers([own])), False


def _in_bundle(bundle: NewerBundle, pixels: str) -> int | None:
    for index in sorted(bundle.entries):
        entry = bundle.entries[index]
        if entry.get("kind") == "image.registered" and \
                entry["body"]["image"].get("pixel_sha256") == pixels:
            return index
    return None


def _in_ledger(ledger: Ledger, pixels: str) -> int | None:
    """The earliest registration of ``pixels`` whose leaf has its stored hash."""
    with reading(ledger.store.engine) as conn:
        for idx in sorted(r.idx for r in ledger.store.images_by_digest(conn, pixels)):
            leaf, stored = ledger.store.leaf(conn, idx)
            if leaf_hash(leaf) != stored:
                continue  # verify names it; never matched on an unchecked leaf
            entry = json.loads(leaf)["envelope"]["entry"]
            if entry.get("kind") == "image.registered" and \
                    entry["body"]["image"].get("pixel_sha256") == pixels:
                return int(idx)
    return None


class _Near:
    """The ledger's near-duplicate index, built (or loaded and brought up to date) once."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self._index: LedgerIndex | None = None

    def index(self) -> LedgerIndex:
        if self._index is None:
            self._index = self.ledger.duplicate_index()
            self._index.sync()
        return self._index


def _near(near: _Near, path: Path) -> tuple[int, str] | None:
    query = file_descriptor(path, DecodeLimits())
    if query is None:
        return None
    ledger = near.ledger
    for match in near.index().search(query):
        if match.image in checked_grids(ledger, {match.image: None}):
            return match.image, match.verdict.explain()
    return None


def unstamped(path: Path, *, bundle: NewerBundle | None, ledger: Ledger | None,
              near_index: _Near | None = None) -> str:  # fmt: skip
    """The reason shown for an unstamped file."""
    try:
        pixels = stamps.pixel_digest(path)
    except InputError as exc:
        return f"no medledger stamp, and not a readable image: {exc.message}"
    exact = _in_bundle(bundle, pixels) if bundle is not None else None
    where = bundle.where if bundle is not None else ""
    if exact is None and ledger is not None:
        exact, where = _in_ledger(ledger, pixels), f"the ledger ({ledger.origin})"
    if exact is not None:
        return f"unstamped; matches entry {exact} in {where} (same pixels)"
    if ledger is not None and near_index is None:
        near_index = _Near(ledger)
    near = _near(near_index, path) if near_index is not None else None
    if near is not None and near_index is not None:
        return (f"unstamped; near-duplicate of entry {near[0]} in {near_index.ledger.origin}: "
                f"{near[1]}")
    searched = " and ".join(w for w in (bundle.where if bundle else "",
                                        "the ledger" if ledger else "") if w)
    grids = "" if ledger else " (near-duplicates need the ledger's descriptor grids)"
    return f"no medledger stamp; no registration of its pixels in {searched}{grids}"


def check_files(paths: list[Path], *, pubkeys: list[str] | None, bundle: Path | None,
                ledger: Ledger | None) -> CheckResult:  # fmt: skip
    """``stamps.check``, with each unstamped file's reason saying what the bundle or the
    ledger holds of its pixels (still a failure)."""
    opened, key_given = read_bundle(bundle, pubkeys) if bundle is not None else (None, True)
    result = check(paths, pubkeys=pubkeys)
    if opened is None and ledger is None:
        return result
    own_key = "" if key_given else " (the bundle checked with its own log key, none given)"
    near = _Near(ledger) if ledger is not None else None
    failed = []
    for path, (file, reason) in zip(_failed_paths(paths, result), result.failed, strict=True):
        if not has_stamp(path):
            reason = unstamped(path, bundle=opened, ledger=ledger, near_index=near) + own_key
        failed.append((file, reason))
    result.failed[:] = failed
    return result


def _failed_paths(paths: list[Path], result: CheckResult) -> list[Path]:
    checked = {c.path for c in result.checked}
    return [p for p in paths if show_path(p) not in checked]
