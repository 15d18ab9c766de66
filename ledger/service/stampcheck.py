"""``check FILE --bundle B`` (or inside a ledger) for a file without a stamp: what it matches.

An unstamped file is not self-proving, so it still fails (exit 1), but the reason says what
the log knows of it: "unstamped; matches entry N" when a registration in the bundle (or the
ledger) has its canonical pixel digest, "unstamped; near-duplicate of entry N" when the
near-duplicate search verifies a match (over the grids of a bundle exported with ``--grids``,
or the ledger's index) whose grid is the one its signed leaf names.
"""

from __future__ import annotations

import json
from pathlib import Path

from ledger.datasets import stamp as stamps
from ledger.datasets.lossycopy import file_descriptor
from ledger.datasets.newerbundle import NewerBundle, bundle_grids, open_bundle
from ledger.errors import InputError, show_path
from ledger.fingerprint.descriptor import Descriptor
from ledger.imaging.limits import DecodeLimits
from ledger.log.hashing import leaf_hash
from ledger.pubkeys import read_verifiers
from ledger.service.datasetgrids import checked_grids
from ledger.service.ledger import Ledger
from ledger.service.stamps import CheckResult, check
from ledger.similarity.catalog import LedgerIndex
from ledger.similarity.search import Match, MemoryDescriptors, NearDuplicateIndex
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
    """Near-duplicate search over the bundle's grids (``--grids``) or the ledger's index,
    built once per run; a ledger match counts only if its grid is the one its leaf signs."""

    def __init__(self, bundle: NewerBundle | None, ledger: Ledger | None) -> None:
        self.bundle, self.ledger = bundle, ledger
        self._bundle_index: NearDuplicateIndex | None = None
        self._ledger_index: LedgerIndex | None = None

    def _in_bundle(self, query: Descriptor) -> list[Match]:
        if self.bundle is None or not self.bundle.grids:
            return []
        if self._bundle_index is None:
            memory = MemoryDescriptors()
            self._bundle_index = NearDuplicateIndex(descriptors=memory)
            for entry, descriptor in bundle_grids(self.bundle).items():
                memory.put(entry, descriptor)
                self._bundle_index.add(entry, descriptor)
        return self._bundle_index.search(query)

    def _in_ledger(self, query: Descriptor) -> list[Match]:
        if self.ledger is None:
            return []
        if self._ledger_index is None:
            self._ledger_index = self.ledger.duplicate_index()
            self._ledger_index.sync()
        ledger = self.ledger
        return [m for m in self._ledger_index.search(query)
                if m.image in checked_grids(ledger, {m.image: None})]

    def search(self, path: Path) -> tuple[int, str, str] | None:
        """(entry, where, explanation) of the first verified near-duplicate."""
        query = file_descriptor(path, DecodeLimits())
        if query is None:
            return None
        for where, found in ((self.bundle.where if self.bundle else "", self._in_bundle),
                             (self.ledger.origin if self.ledger else "", self._in_ledger)):
            matches = found(query)
            if matches:
                return matches[0].image, where, matches[0].verdict.explain()
        return None


def unstamped(path: Path, *, bundle: NewerBundle | None, ledger: Ledger | None,
              near: _Near | None = None) -> str:  # fmt: skip
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
    found = (near or _Near(bundle, ledger)).search(path)
    if found is not None:
        return f"unstamped; near-duplicate of entry {found[0]} in {found[1]}: {found[2]}"
    searched = " and ".join(w for w in (bundle.where if bundle else "",
                                        "the ledger" if ledger else "") if w)
    grids = "" if ledger or (bundle and bundle.grids) else (
        " (near-duplicates need descriptor grids: the ledger, or a bundle exported with --grids)")
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
    near = _Near(opened, ledger)
    failed = []
    for path, (file, reason) in zip(_failed_paths(paths, result), result.failed, strict=True):
        if not has_stamp(path):
            reason = unstamped(path, bundle=opened, ledger=ledger, near=near) + own_key
        failed.append((file, reason))
    result.failed[:] = failed
    return result


def _failed_paths(paths: list[Path], result: CheckResult) -> list[Path]:
    checked = {c.path for c in result.checked}
    return [p for p in paths if show_path(p) not in checked]
