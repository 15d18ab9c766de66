"""Image sets (a registered dataset, or folders of files) and the duplicate links between them.

A set argument is a folder or file when such a path exists, otherwise a dataset name:
``NAME@V`` is exactly that version, ``NAME`` every version. Folders are analysed with the
registration pipeline (same decoding, limits and refusals) but nothing is registered.

Links are direct evidence only: a pair whose two images were compared and verified, or
that have the same pixels. Between two registered sets they come from the store (the
duplicate edges recorded when each image was checked against the images before it), never
from sharing a duplicate group, which can chain unrelated pictures through others.
Links that involve a folder are searched directly: the other set's descriptors go into an
in-memory index and each image of the first is searched in it, and then the other way
round (the candidate stage is not symmetric: a query probes many windows of itself, an
indexed image offers a few), so that swapping the two sets finds the same pairs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ledger.errors import InputError
from ledger.fingerprint.descriptor import Descriptor
from ledger.imaging.limits import DecodeLimits
from ledger.model.images import DUP_GRID
from ledger.registration.pipeline import analysed_stream, default_workers
from ledger.registration.workers import WorkerSettings
from ledger.similarity.catalog import (
    IndexedLedger,
    LedgerIndex,
    StoredDescriptors,
    described_frames,
    descriptor_of,
)
from ledger.similarity.findings import EXACT, EXACT_DETAIL, NEAR, detail_frame, near_detail
from ledger.similarity.proven import dataset_images
from ledger.similarity.scan import ScanProgress, scan
from ledger.similarity.search import Match, MemoryDescriptors, NearDuplicateIndex
from ledger.store import reading
from ledger.store.duplicates import Edge, ImageInfo, edges_touching
from ledger.store.framekeys import frames_of

FileProgress = Callable[[str], None]


@dataclass(frozen=True)
class Member:
    label: str  # the file's path, or the registered file's SHA-256
    pixel_sha256: str
    idx: int | None = None  # the registered entry
    info: ImageInfo | None = None
    descriptor: Descriptor | None = None
    # A multi-frame image's described frames (issue 21): (frame, descriptor), the middle one's
    # included; empty for a single-frame image (its ``descriptor`` is searched).
    frames: tuple[tuple[int, Descriptor], ...] = ()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"label": self.label, "pixel_sha256": self.pixel_sha256}
        if self.info is not None:
            i = self.info
            out |= {"index": i.idx, "source": i.source, "dataset": i.dataset}
        return out


@dataclass
class ImageSet:
    name: str
    kind: Literal["dataset", "folder"]
    members: list[Member]
    refused: list[dict[str, str]] = field(default_factory=list)

    @property
    def registered(self) -> bool:
        return self.kind == "dataset"


@dataclass(frozen=True)
class Link:
    """Member ``a`` of the first set duplicates member ``b`` of the second (or the same)."""

    a: int
    b: int
    kind: str  # exact or near
    distance: int
    detail: str

    def swapped(self) -> Link:
        return Link(self.b, self.a, self.kind, self.distance, self.detail)


def resolve(
    ledger: IndexedLedger,
    refs: Sequence[str],
    *,
    workers: int = 0,
    limits: DecodeLimits | None = None,
    progress: FileProgress | None = None,
) -> ImageSet:
    """The set named by ``refs``: existing paths (one folder set) or one dataset name."""
    if not refs:
        raise InputError("no dataset or folder given")
    paths = [Path(r) for r in refs]
    if all(p.exists() for p in paths):
        return folder_set(ledger, paths, workers=workers, limits=limits, progress=progress)
    missing = [r for r, p in zip(refs, paths, strict=True) if not p.exists()]
    if len(refs) > 1:
        raise InputError(f"{missing[0]}: no such file or folder")
    found = dataset_set(ledger, refs[0])
    if found is None:
        raise InputError(f"{refs[0]}: no such file, folder or registered dataset")
    return found


def dataset_set(ledger: IndexedLedger, name: str) -> ImageSet | None:
    """The images registered under ``name`` (``NAME@V``, or every version of NAME)."""
    with reading(ledger.store.engine) as conn:
        rows = dataset_images(conn, name)
    if not rows:
        return None
    descriptors = StoredDescriptors(ledger.store)
    descriptors.prefetch([r.idx for r in rows])
    with reading(ledger.store.engine) as conn:
        framed = frames_of(conn, [r.idx for r in rows])
    members = [
        Member(r.file_sha256, r.pixel_sha256, r.idx, r, descriptors.get(r.idx),
               _frames(framed.get(r.idx, [])))
        for r in rows
    ]  # fmt: skip
    return ImageSet(name, "dataset", members)


def folder_set(
    ledger: IndexedLedger,
    paths: Sequence[Path],
    *,
    workers: int = 0,
    limits: DecodeLimits | None = None,
    progress: FileProgress | None = None,
) -> ImageSet:
    settings = WorkerSettings(ledger.dir.secret(), limits or DecodeLimits(), False, False)
    members: list[Member] = []
    refused: list[dict[str, str]] = []
    for item in analysed_stream(paths, settings, workers=workers or default_workers()):
        if progress is not None:
            progress(item.path)
        if item.facts is None:
            refused.append({"path": item.path, "reason": item.refusal or "refused"})
            continue
        reference = item.facts["fingerprints"].get(DUP_GRID)
        descriptor = None
        if reference is not None and item.grid is not None:
            keys = b"".join(int(k, 16).to_bytes(8, "little") for k in reference["keys"])
            descriptor = descriptor_of(keys, item.grid)
        frames = described_frames(item.facts, item.frame_grids, descriptor)
        members.append(
            Member(item.path, item.facts["pixel_sha256"], descriptor=descriptor, frames=frames)
        )
    name = " ".join(str(p) for p in paths)
    return ImageSet(name, "folder", members, refused)


def _frames(rows: Sequence[tuple[int, bytes, bytes | None]]) -> tuple[tuple[int, Descriptor], ...]:
    return tuple((f, descriptor_of(k, g)) for f, k, g in rows if g is not None)


def indexed(engine: NearDuplicateIndex, grids: MemoryDescriptors, position: int, m: Member
            ) -> None:  # fmt: skip
    """Add ``m`` under ``position``: each described frame, or its one descriptor."""
    for frame, d in m.frames:
        if not d.flat:
            grids.put(position, d, frame=frame)
            engine.add(position, d, frame=frame)
    if not m.frames and m.descriptor is not None and not m.descriptor.flat:
        grids.put(position, m.descriptor)
        engine.add(position, m.descriptor)


def named(m: Member) -> str:
    """How a detail names a member: its entry when registered, else its path."""
    return m.label if m.idx is None else f"entry {m.idx}"


def where(label: str, match: Match) -> str:
    """A match's detail, naming the frame of ``label`` (the indexed image) that matched."""
    why = near_detail(match.verdict.explain())
    return why if match.frame is None else f"{label}, frame {match.frame}: {why}"


def prepare(
    ledger: IndexedLedger, *, workers: int = 1, progress: ScanProgress | None = None
) -> LedgerIndex:
    """The ledger's index, with every registered image checked against earlier ones
    (``workers`` processes verify what is still unchecked, as in ``scan``)."""
    index = ledger.duplicate_index()
    index.sync()
    scan(index, workers=workers, progress=progress)
    index.save()
    return index


def links(ledger: IndexedLedger, a: ImageSet, b: ImageSet | None = None) -> list[Link]:
    """Every duplicate pair between ``a`` and ``b``; within ``a`` (each pair once) if no ``b``."""
    other = a if b is None else b
    if a.registered and other.registered:
        found = _stored_links(ledger, a, other)
    elif b is None:  # within one set each image is searched, so each pair both ways
        found = _searched_links(a, a)
    else:
        found = _searched_links(a, other) + [x.swapped() for x in _searched_links(other, a)]
    if b is None:  # each pair once, whichever of its two images found it
        found = [x if x.a < x.b else x.swapped() for x in found if x.a != x.b]
    unique: dict[tuple[int, int], Link] = {}
    for x in sorted(found, key=lambda x: (x.a, x.b, x.kind != EXACT)):
        unique.setdefault((x.a, x.b), x)
    return list(unique.values())


def _stored_links(ledger: IndexedLedger, a: ImageSet, b: ImageSet) -> list[Link]:
    """Direct evidence only: the recorded edges, and equal pixel digests. Two images that
    merely share a duplicate group (through other copies) are not linked: groups chain."""
    pos_a = _positions(a)
    pos_b = _positions(b)
    with reading(ledger.store.engine) as conn:
        edges = edges_touching(conn, set(pos_a) | set(pos_b))
    out: list[Link] = []
    for e in edges:
        for x, y in ((e.idx, e.match_idx), (e.match_idx, e.idx)):
            for i in pos_a.get(x, ()):
                for j in pos_b.get(y, ()):
                    out.append(Link(i, j, e.kind, e.distance, _edge_detail(e)))
    out += _searched_again(ledger, a, b, edges, pos_a, pos_b)
    by_pixels: dict[str, list[int]] = defaultdict(list)
    for j, m in enumerate(b.members):
        by_pixels[m.pixel_sha256].append(j)
    for i, m in enumerate(a.members):
        out += [Link(i, j, EXACT, 0, EXACT_DETAIL) for j in by_pixels.get(m.pixel_sha256, ())]
    return [x for x in out if not (a is b and x.a == x.b)]


def _searched_again(
    ledger: IndexedLedger,
    a: ImageSet,
    b: ImageSet,
    edges: Sequence[Edge],
    pos_a: dict[int, list[int]],
    pos_b: dict[int, list[int]],
) -> list[Link]:
    """Registration verifies only an image's closest candidates and stops after a few
    near-duplicates, so an image with a recorded near edge (it has copies) may have more
    than were recorded: it is searched again in the ledger's index, and the verified
    matches that fall in the other set are links too."""
    copied = {i for e in edges if e.kind == NEAR for i in (e.idx, e.match_idx)}
    wanted = sorted(copied & (set(pos_a) | set(pos_b)))
    if not wanted:
        return []
    descriptor = {m.idx: m.descriptor for m in (*a.members, *b.members) if m.idx is not None}
    index = ledger.duplicate_index()
    index.sync()
    out: list[Link] = []
    for idx in wanted:
        query = descriptor.get(idx)
        if query is None or query.flat:
            continue
        for match in index.search(query, exclude=[idx]):
            why = where(f"entry {match.image}", match)
            for x, y in ((idx, match.image), (match.image, idx)):
                for i in pos_a.get(x, ()):
                    for j in pos_b.get(y, ()):
                        out.append(Link(i, j, NEAR, match.distance, why))
    return out


def _edge_detail(edge: Edge) -> str:
    """A recorded edge's detail, naming the entry whose frame matched (issue 21)."""
    frame = detail_frame(edge.detail)
    return edge.detail if frame is None else f"entry {edge.match_idx}, {edge.detail}"


def _positions(s: ImageSet) -> dict[int, list[int]]:
    out: dict[int, list[int]] = defaultdict(list)
    for i, m in enumerate(s.members):
        if m.idx is not None:
            out[m.idx].append(i)
    return out


def _searched_links(a: ImageSet, b: ImageSet) -> list[Link]:
    grids = MemoryDescriptors()
    engine = NearDuplicateIndex(descriptors=grids)
    pixels: dict[str, list[int]] = defaultdict(list)
    for j, m in enumerate(b.members):
        pixels[m.pixel_sha256].append(j)
        indexed(engine, grids, j, m)
    out: list[Link] = []
    for i, m in enumerate(a.members):
        copies = [j for j in pixels.get(m.pixel_sha256, ()) if not (a is b and i == j)]
        out += [Link(i, j, EXACT, 0, EXACT_DETAIL) for j in copies]
        if m.descriptor is None or m.descriptor.flat:
            continue
        skip = set(copies) | ({i} if a is b else set())
        for match in engine.search(m.descriptor, exclude=skip):
            label = named(b.members[match.image])
            out.append(Link(i, match.image, NEAR, match.distance, where(label, match)))
    return out
