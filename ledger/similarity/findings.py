"""Duplicate findings for submissions: exact pixel copies and verified near-duplicates.

Used with the same rules by registration, before a batch is appended (to report or
refuse duplicates, then record them in the batch's own transaction, together with what
another run appended after the check: ``check_appended``), and by the catch-up scan of
images appended without a check. A finding names the earlier image's
entry and origin and why it matched; nothing about what the image shows.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Connection

from ledger.fingerprint.descriptor import Descriptor
from ledger.similarity.catalog import LedgerIndex, descriptor_of
from ledger.similarity.proven import images, images_between, images_with_pixels
from ledger.similarity.search import (
    DEFAULT_MAX_CANDIDATES,
    Match,
    MemoryDescriptors,
    NearDuplicateIndex,
    Verification,
    verified,
)
from ledger.store import reading
from ledger.store.duplicates import Edge, ImageInfo, descriptor_parts, groups
from ledger.store.framekeys import frame_keys_between, frame_parts

EXACT = "exact"
NEAR = "near"
EXACT_DETAIL = "same pixel digest"


@dataclass(frozen=True)
class Submission:
    label: str  # the path (registration) or the entry index (scan), for reports
    pixel_sha256: str
    descriptor: Descriptor | None
    # A multi-frame image's described frames (frame, descriptor), the middle one's included:
    # what later items of the same run are searched in (the query is ``descriptor``).
    frames: tuple[tuple[int, Descriptor], ...] = ()


@dataclass(frozen=True)
class Finding:
    kind: str  # exact or near
    image: ImageInfo | None  # the registered image it duplicates, or
    position: int | None  # an earlier submission of the same batch
    label: str | None
    distance: int  # Hamming distance of the closest key pair; 0 for exact copies
    detail: str
    frame: int | None = None  # the frame of a multi-frame image that matched

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "distance": self.distance, "detail": self.detail}
        if self.frame is not None:
            out["frame"] = self.frame
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
        frame = "" if self.frame is None else f", frame {self.frame}"
        if self.image is not None:
            where = f"entry {self.image.idx}{frame} (source {self.image.source})"
        else:
            where = f"{self.label}{frame} (earlier in this run)"
        return f"{self.kind} duplicate of {where}: {self.detail}"


def near_detail(explanation: str) -> str:
    """The verifier's explanation without its verdict word (the finding's kind says it)."""
    return explanation.removeprefix("near-duplicate: ")


def match_detail(match: Match) -> str:
    """A match's explanation for reports, after ``frame N: `` when a frame of a multi-frame
    image matched."""
    why = near_detail(match.verdict.explain())
    return why if match.frame is None else f"frame {match.frame}: {why}"


FRAME_DETAIL = re.compile(r"^frame (\d+): ")


def edge_detail(finding: Finding) -> str:
    """A recorded edge's detail: the finding's, after ``frame N: `` when a frame of the
    earlier image matched (the audit re-verifies that frame's grid)."""
    if finding.frame is None:
        return finding.detail
    return f"frame {finding.frame}: {finding.detail}"


def detail_frame(detail: str) -> int | None:
    """The matched frame a recorded edge's detail names, if any."""
    found = FRAME_DETAIL.match(detail)
    return None if found is None else int(found.group(1))


class _Registered(Protocol):
    """What findings are searched in: the ledger's index, or a small one over a few images."""

    def verification(
        self, query: Descriptor, *, exclude: list[int], enough: int | None
    ) -> Verification: ...


class TaskMap(Protocol):
    """Runs ``fn`` on each task and returns the results in the tasks' order: in this
    process (:func:`in_process`) or on worker processes (``WorkerPool.map``: registration
    and the catch-up scan)."""

    def __call__(
        self, fn: Callable[[Verification], list[Match]], tasks: Sequence[Verification]
    ) -> list[list[Match]]: ...


def in_process(
    fn: Callable[[Verification], list[Match]], tasks: Sequence[Verification]
) -> list[list[Match]]:
    return [fn(task) for task in tasks]


# Per item: the registered images with its pixels, and its verified near-duplicates among
# the registered images as (image index, distance, detail, frame).
_Matches = tuple[list[ImageInfo], list[tuple[int, int, str, int | None]]]


def check(
    index: LedgerIndex,
    items: Sequence[Submission],
    *,
    before: Sequence[int] | None = None,
    enough: int | None = None,
    map_tasks: TaskMap = in_process,
) -> list[list[Finding]]:
    """Findings per item against the registered images and the earlier items.

    ``before``: per item, only registered images with a smaller index count (the scan of
    image N looks at images 0..N-1); ``None`` counts every registered image. ``enough``: stop
    verifying an item's candidates (closest first) after that many near-duplicates.
    ``map_tasks``: runs the verifications (one task per item, for the registered images,
    then one per item for the earlier items), in this process unless a pool's ``map`` is
    given; the findings are the same either way.

    The index is synced first; ``index.size`` then says how much of the log the check
    covered. Images appended after that are :func:`check_appended`'s (registration runs it
    in its append transaction)."""
    index.sync()
    with reading(index.store.engine) as conn:
        exact = images_with_pixels(conn, [s.pixel_sha256 for s in items])
    matches = _matches(index, exact, items, before=before, enough=enough, map_tasks=map_tasks)
    with reading(index.store.engine) as conn:
        info = images(conn, {i for _, near in matches for i, _, _, _ in near})
    # Earlier items of a scan are registered already, so the index finds them.
    local = (
        _in_run(index, items, enough=enough, map_tasks=map_tasks)
        if before is None
        else [[] for _ in items]
    )
    return [_findings(m, info) + here for m, here in zip(matches, local, strict=True)]


def check_appended(
    conn: Connection,
    index: LedgerIndex,
    items: Sequence[Submission],
    *,
    start: int,
    end: int,
    enough: int | None = None,
) -> list[list[Finding]]:
    """Findings per item against the images appended at ``start <= idx < end`` only.

    Registration calls it inside its append transaction, where ``conn`` holds the
    sequencer's lock: ``start`` is the log size its :func:`check` covered, ``end`` the
    batch's first index, so the window holds what another run appended meanwhile (usually
    nothing: one indexed query). Same rules and budget as ``check``, over an in-memory index
    of the window's keys and grids read through ``conn``."""
    window = images_between(conn, start, end) if start < end else []
    if not window:
        return [[] for _ in items]
    exact: dict[str, list[ImageInfo]] = {}
    for i in window:
        exact.setdefault(i.pixel_sha256, []).append(i)
    engine, grids = _memory_index(index, max_candidates=index.max_candidates)
    ids, frames, _ = frame_keys_between(conn, start, end)
    framed = frame_parts(conn, zip(ids.tolist(), frames.tolist(), strict=True))
    for (idx, frame), (keys, _, grid) in sorted(framed.items()):
        if grid is not None:
            descriptor = descriptor_of(keys, grid)
            engine.add(idx, descriptor, frame=frame)
            grids.put(idx, descriptor, frame=frame)
    by_frame = set(ids.tolist())  # indexed by their frames, not twice
    for idx, (keys, grid) in sorted(descriptor_parts(conn, [i.idx for i in window]).items()):
        if grid is not None and idx not in by_frame:  # without a grid: unverifiable
            descriptor = descriptor_of(keys, grid)
            engine.add(idx, descriptor)
            grids.put(idx, descriptor)
    matches = _matches(engine, exact, items, before=None, enough=enough)
    return [_findings(m, {i.idx: i for i in window}) for m in matches]


def merged(found: list[Finding], more: list[Finding]) -> list[Finding]:
    """``found`` with the registered images of ``more`` it did not name yet, in-run last."""
    named = {f.image.idx for f in found if f.image is not None}
    extra = [f for f in more if f.image is not None and f.image.idx not in named]
    registered = [f for f in found if f.image is not None]
    return registered + extra + [f for f in found if f.image is None]


def _matches(
    registered: _Registered,
    exact: Mapping[str, list[ImageInfo]],
    items: Sequence[Submission],
    *,
    before: Sequence[int] | None,
    enough: int | None,
    map_tasks: TaskMap = in_process,
) -> list[_Matches]:
    """Candidates are found here, in order; their verifications are ``map_tasks``'s."""
    copies_of: list[list[ImageInfo]] = []
    tasks: dict[int, Verification] = {}  # position -> its verification, if it has candidates
    for position, item in enumerate(items):
        limit = None if before is None else before[position]
        copies = [i for i in exact.get(item.pixel_sha256, []) if limit is None or i.idx < limit]
        copies_of.append(copies)
        if item.descriptor is not None and not item.descriptor.flat:
            skip = [i.idx for i in copies]
            task = registered.verification(item.descriptor, exclude=skip, enough=enough)
            if task.candidates:
                tasks[position] = task
    found = dict(zip(tasks, map_tasks(verified, list(tasks.values())), strict=True))
    out: list[_Matches] = []
    for position, copies in enumerate(copies_of):
        limit = None if before is None else before[position]
        near = [
            (m.image, m.distance, near_detail(m.verdict.explain()), m.frame)
            for m in found.get(position, [])
            if limit is None or m.image < limit
        ]
        out.append((copies, near))
    return out


def _findings(matches: _Matches, info: Mapping[int, ImageInfo]) -> list[Finding]:
    """Registered images first: they are what a report or a refusal should name."""
    copies, near = matches
    return [Finding(EXACT, i, None, None, 0, EXACT_DETAIL) for i in copies] + [
        Finding(NEAR, info[i], None, None, d, why, f) for i, d, why, f in near if i in info
    ]


def _in_run(
    index: LedgerIndex,
    items: Sequence[Submission],
    *,
    enough: int | None,
    map_tasks: TaskMap = in_process,
) -> list[list[Finding]]:
    """Per item, its duplicates among the earlier items (not registered yet).

    Item N's candidates come from an index of items 0..N-1, built up in order; their
    verifications do not change what the index holds, so they run afterwards, together."""
    local, local_grids = _memory_index(index)
    local_pixels: dict[str, int] = {}
    exact_here: list[int | None] = []  # per item, the earlier item with its pixels
    tasks: dict[int, Verification] = {}
    for position, item in enumerate(items):
        earlier = local_pixels.get(item.pixel_sha256)
        exact_here.append(earlier)
        if item.descriptor is not None and not item.descriptor.flat:
            if earlier is None:
                task = local.verification(item.descriptor, enough=enough)
                if task.candidates:
                    tasks[position] = task
            for frame, d in item.frames or [(None, item.descriptor)]:
                local.add(position, d, frame=frame)
                local_grids.put(position, d, frame=frame)
        local_pixels.setdefault(item.pixel_sha256, position)
    found = dict(zip(tasks, map_tasks(verified, list(tasks.values())), strict=True))
    out: list[list[Finding]] = []
    for position, earlier in enumerate(exact_here):
        found_here: list[Finding] = []
        if earlier is not None:
            found_here.append(Finding(EXACT, None, earlier, items[earlier].label, 0, EXACT_DETAIL))
        for m in found.get(position, []):
            why = near_detail(m.verdict.explain())
            found_here.append(
                Finding(NEAR, None, m.image, items[m.image].label, m.distance, why, m.frame)
            )
        out.append(found_here)
    return out


def _memory_index(
    like: LedgerIndex, *, max_candidates: int = DEFAULT_MAX_CANDIDATES
) -> tuple[NearDuplicateIndex, MemoryDescriptors]:
    """An empty in-memory index deciding like ``like`` (the repository's thresholds)."""
    grids = MemoryDescriptors()
    engine = NearDuplicateIndex(
        descriptors=grids,
        radius=like.radius,
        thresholds=like.thresholds,
        max_candidates=max_candidates,
    )
    return engine, grids


def edges_and_groups(
    index: LedgerIndex,
    assigned: Sequence[int | None],
    findings: Sequence[list[Finding]],
    *,
    conn: Connection | None = None,
) -> tuple[list[tuple[int, int]], list[Edge]]:
    """Scan rows (idx, group) and edges for items appended at ``assigned`` indexes.

    An item's group is the smallest group among the images it duplicates, or its own
    index: the earliest registration of a picture names its group. ``conn``: read the
    groups there (the append transaction), else in a read transaction of their own."""
    registered = {f.image.idx for fs in findings for f in fs if f.image is not None}
    if conn is not None:
        known = groups(conn, registered)
    else:
        with reading(index.store.engine) as own:
            known = groups(own, registered)
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
            edges.append(Edge(idx, other, f.kind, f.distance, edge_detail(f)))
            group = min(group, other_group)
        group_of[position] = known[idx] = group  # later items of a scan batch may match it
        scans.append((idx, group))
    return scans, edges
