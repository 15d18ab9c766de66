"""Duplicate findings for submissions: exact pixel copies and verified near-duplicates.

Used twice with the same rules: by registration, before a batch is appended (to report
or refuse duplicates, then record them in the batch's own transaction), and by the
catch-up scan of images appended without a check. A finding names the earlier image's
entry and origin and why it matched; nothing about what the image shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ledger.similarity.catalog import LedgerIndex
from ledger.similarity.descriptor import Descriptor
from ledger.similarity.search import MemoryDescriptors, NearDuplicateIndex
from ledger.store import reading
from ledger.store.duplicates import Edge, ImageInfo, groups, images, images_with_pixels

EXACT = "exact"
NEAR = "near"
EXACT_DETAIL = "same pixel digest"


@dataclass(frozen=True)
class Submission:
    label: str  # the path (registration) or the entry index (scan), for reports
    pixel_sha256: str
    descriptor: Descriptor | None


@dataclass(frozen=True)
class Finding:
    kind: str  # exact or near
    image: ImageInfo | None  # the registered image it duplicates, or
    position: int | None  # an earlier submission of the same batch
    label: str | None
    distance: int  # Hamming distance of the closest key pair; 0 for exact copies
    detail: str

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "distance": self.distance, "detail": self.detail}
        if self.image is not None:
            i = self.image
            out |= {
                "index": i.idx,
                "digest": i.file_sha256,
                "source": i.source,
                "dataset": i.dataset,
                "registered": i.registered,
                "consent": i.consent,
            }
        else:
            out["path"] = self.label
        return out

    def describe(self) -> str:
        if self.image is not None:
            where = f"entry {self.image.idx} (source {self.image.source})"
        else:
            where = f"{self.label} (earlier in this run)"
        return f"{self.kind} duplicate of {where}: {self.detail}"


def near_detail(explanation: str) -> str:
    """The verifier's explanation without its verdict word (the finding's kind says it)."""
    return explanation.removeprefix("near-duplicate: ")


def check(
    index: LedgerIndex,
    items: Sequence[Submission],
    *,
    before: Sequence[int] | None = None,
    enough: int | None = None,
) -> list[list[Finding]]:
    """Findings per item against the registered images and the earlier items.

    ``before``: per item, only registered images with a smaller index count (the scan of
    image N looks at images 0..N-1); ``None`` counts every registered image. ``enough``: stop
    verifying an item's candidates (closest first) after that many near-duplicates."""
    index.sync()
    with reading(index.store.engine) as conn:
        exact = images_with_pixels(conn, [s.pixel_sha256 for s in items])
    local = NearDuplicateIndex(descriptors=(local_grids := MemoryDescriptors()))
    local_pixels: dict[str, int] = {}
    copies_of: list[list[Finding]] = []
    near_of: list[list[tuple[int, int, str]]] = []
    local_of: list[list[Finding]] = []
    for position, item in enumerate(items):
        limit = None if before is None else before[position]
        copies = [i for i in exact.get(item.pixel_sha256, []) if limit is None or i.idx < limit]
        copies_of.append([Finding(EXACT, i, None, None, 0, EXACT_DETAIL) for i in copies])
        # Earlier items of a scan are registered already, so the index finds them.
        in_run = before is None
        earlier = local_pixels.get(item.pixel_sha256) if in_run else None
        found_here: list[Finding] = []
        if earlier is not None:
            found_here.append(Finding(EXACT, None, earlier, items[earlier].label, 0, EXACT_DETAIL))
        near: list[tuple[int, int, str]] = []
        if item.descriptor is not None and not item.descriptor.flat:
            for m in index.search(item.descriptor, exclude=[i.idx for i in copies], enough=enough):
                if limit is None or m.image < limit:
                    near.append((m.image, m.distance, near_detail(m.verdict.explain())))
            if in_run and earlier is None:
                for m in local.search(item.descriptor, enough=enough):
                    why = near_detail(m.verdict.explain())
                    found_here.append(
                        Finding(NEAR, None, m.image, items[m.image].label, m.distance, why)
                    )
            local.add(position, item.descriptor)
            local_grids.put(position, item.descriptor)
        local_pixels.setdefault(item.pixel_sha256, position)
        near_of.append(near)
        local_of.append(found_here)
    with reading(index.store.engine) as conn:
        info = images(conn, {i for near in near_of for i, _, _ in near})
    # Registered images first: they are what a report or a refusal should name.
    return [
        copies
        + [Finding(NEAR, info[i], None, None, d, why) for i, d, why in near if i in info]
        + here
        for copies, near, here in zip(copies_of, near_of, local_of, strict=True)
    ]


def edges_and_groups(
    index: LedgerIndex, assigned: Sequence[int | None], findings: Sequence[list[Finding]]
) -> tuple[list[tuple[int, int]], list[Edge]]:
    """Scan rows (idx, group) and edges for items appended at ``assigned`` indexes.

    An item's group is the smallest group among the images it duplicates, or its own
    index: the earliest registration of a picture names its group."""
    registered = {f.image.idx for fs in findings for f in fs if f.image is not None}
    with reading(index.store.engine) as conn:
        known = groups(conn, registered)
    scans: list[tuple[int, int]] = []
    edges: list[Edge] = []
    group_of: dict[int, int] = {}
    for position, (idx, found) in enumerate(zip(assigned, findings, strict=True)):
        if idx is None:
            continue
        group = idx
        seen: set[int] = set()
        for f in found:
            if f.image is not None:
                other = f.image.idx
                other_group = known.get(other, other)
            elif f.position is not None:
                other_idx = assigned[f.position]
                if other_idx is None:
                    continue  # the earlier item was refused or already known
                other, other_group = other_idx, group_of.get(f.position, other_idx)
            else:
                continue
            if other in seen or other == idx:
                continue
            seen.add(other)
            edges.append(Edge(idx, other, f.kind, f.distance, f.detail))
            group = min(group, other_group)
        group_of[position] = known[idx] = group  # later items of a scan batch may match it
        scans.append((idx, group))
    return scans, edges
