"""Dataset overlap and composition ("Frankenstein" reports), over image sets (sets.py).

Both count **direct evidence only**: a pair of images that was compared and verified (a
recorded duplicate edge, or a search of a folder's image), or that has the same pixels.
Sharing a duplicate group is not evidence: groups recorded at registration are connected
components, and one false link chains unrelated pictures together.

Overlap of A and B (each a registered dataset or a folder):

* ``exact``: images of A with an identical pixel digest in B;
* ``near``: images of A with a verified duplicate (exact or near) in B, so ``near >= exact``;
* ``containment_a_in_b`` = near / |A|; ``containment_b_in_a`` = images of B with a
  duplicate in A / |B|;
* ``jaccard``: over duplicate clusters of A and B together, formed by complete linkage
  (every pair in a cluster verified, linkage.py); clusters with members in both / clusters.

Composition of a set D: an image d of D is *from* a registered source or dataset X when an
image x of X, registered before d (every registered image counts for a folder) and not a
member of D, duplicates d directly: a recorded edge from d to x (for a folder: x is found by
the ledger's index search of d, or has d's pixels). share(X) = images of D from X / |D|;
the unseen share = images of D from nowhere / |D|. An image found in several sources counts
for each, so shares can add up to more than 1. Each share lists the pairs behind it
(D's image -> the registered entry), so a curator can act on it.

Every source or dataset with a direct match is listed, however many other images it holds:
the attribution reads each of D's images' own matches, so its cost grows with D and its
matches, not with the ledger.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from ledger.errors import InputError
from ledger.similarity.catalog import IndexedLedger, LedgerIndex
from ledger.similarity.findings import EXACT, EXACT_DETAIL, NEAR, match_detail
from ledger.similarity.groups import pair_check
from ledger.similarity.linkage import complete_linkage
from ledger.similarity.proven import images, images_with_pixels
from ledger.similarity.sets import ImageSet, Link, links, prepare
from ledger.store import reading
from ledger.store.duplicates import ImageInfo, edges_touching

Kind = Literal["source", "dataset"]
GROUP_KINDS: tuple[Kind, ...] = ("source", "dataset")  # not entry kinds
Progress = Callable[[int, int], None]  # (done, total)


# --- overlap ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Overlap:
    a: ImageSet
    b: ImageSet
    exact: int
    near: int
    b_in_a: int  # images of B with a duplicate in A
    clusters: int
    shared_clusters: int

    @property
    def jaccard(self) -> float:
        return self.shared_clusters / self.clusters if self.clusters else 0.0

    @property
    def containment_a_in_b(self) -> float:
        return self.near / len(self.a.members)

    @property
    def containment_b_in_a(self) -> float:
        return self.b_in_a / len(self.b.members)

    def to_json(self) -> dict[str, Any]:
        return {
            "exact": self.exact,
            "near": self.near,
            "jaccard": self.jaccard,
            "containment_a_in_b": self.containment_a_in_b,
            "containment_b_in_a": self.containment_b_in_a,
            "a": _set_json(self.a),
            "b": _set_json(self.b),
            "b_near": self.b_in_a,
            "clusters": self.clusters,
            "shared_clusters": self.shared_clusters,
        }


def _set_json(s: ImageSet) -> dict[str, Any]:
    return {"name": s.name, "kind": s.kind, "images": len(s.members), "refused": len(s.refused)}


def _nonempty(s: ImageSet) -> None:
    if not s.members:
        raise InputError(f"{s.name}: no images to compare")


def overlap(ledger: IndexedLedger, a: ImageSet, b: ImageSet) -> Overlap:
    """Exact and near overlap of two sets; registered sets need ``sets.prepare`` first."""
    _nonempty(a)
    _nonempty(b)
    across = links(ledger, a, b)
    b_pixels = {m.pixel_sha256 for m in b.members}
    a_pixels = {m.pixel_sha256 for m in a.members}
    exact = {i for i, m in enumerate(a.members) if m.pixel_sha256 in b_pixels}
    near = exact | {x.a for x in across}
    b_near = {j for j, m in enumerate(b.members) if m.pixel_sha256 in a_pixels}
    b_near |= {x.b for x in across}
    n = len(a.members)
    both = a.members + b.members
    pairs = list(links(ledger, a))
    pairs += [Link(n + x.a, n + x.b, x.kind, x.distance, x.detail) for x in links(ledger, b)]
    pairs += [Link(x.a, n + x.b, x.kind, x.distance, x.detail) for x in across]
    clusters, _ = complete_linkage(len(both), pairs, pair_check(both))
    grouped = {i for c in clusters for i in c.members}
    shared = sum(1 for c in clusters if min(c.members) < n <= max(c.members))
    total = len(clusters) + len(both) - len(grouped)
    return Overlap(a, b, len(exact), len(near), len(b_near), total, shared)


# --- composition -----------------------------------------------------------------------


@dataclass(frozen=True)
class Matched:
    """One image of D and the registered entry it directly duplicates."""

    image: str  # D's member: its path (folder) or file digest (registered)
    entry: int
    digest: str  # the registered file's SHA-256
    kind: str  # exact or near
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {
            "image": self.image,
            "entry": self.entry,
            "digest": self.digest,
            "kind": self.kind,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class Share:
    name: str
    kind: Kind
    images: int
    share: float
    matched: tuple[Matched, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "share": self.share,
            "images": self.images,
            "matched": [m.to_json() for m in self.matched],
        }


@dataclass
class Composition:
    target: ImageSet
    shares: list[Share]
    unseen: int
    unseen_labels: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.target.members)

    @property
    def unseen_share(self) -> float:
        return self.unseen / self.total

    def to_json(self) -> dict[str, Any]:
        return {
            "sources": [s.to_json() for s in self.shares],
            "unseen_share": self.unseen_share,
            "unseen_images": self.unseen,
            "unseen": self.unseen_labels,
            "dataset": _set_json(self.target),
        }


# Per image of D: its direct matches among the registered images, (entry, kind, detail).
_Direct = list[tuple[int, str, str]]


def composition(
    ledger: IndexedLedger,
    target: ImageSet,
    *,
    index: LedgerIndex | None = None,
    progress: Progress | None = None,
) -> Composition:
    """Which registered sources and datasets ``target`` is made of, and what is new."""
    _nonempty(target)
    if index is None:
        index = prepare(ledger)
    if target.registered:
        direct = _recorded(ledger, target, index)
    else:
        direct = _searched(ledger, target, index, progress)
    with reading(ledger.store.engine) as conn:
        info = images(conn, {e for found in direct for e, _, _ in found})
    by_key: dict[tuple[Kind, str], dict[int, list[Matched]]] = defaultdict(dict)
    unseen: list[str] = []
    for position, (member, found) in enumerate(zip(target.members, direct, strict=True)):
        hits = [(info[e], kind, detail) for e, kind, detail in found if e in info]
        if not hits:
            unseen.append(member.label)
            continue
        for registered, kind, detail in hits:
            matched = Matched(member.label, registered.idx, registered.file_sha256, kind, detail)
            for group_kind, name in _names(registered):
                by_key[(group_kind, name)].setdefault(position, []).append(matched)
    total = len(target.members)
    shares = [
        Share(name, kind, len(per_image), len(per_image) / total,
              tuple(m for ms in per_image.values() for m in ms))
        for (kind, name), per_image in by_key.items()
    ]  # fmt: skip
    shares.sort(key=lambda s: (-s.images, s.kind != "source", s.name))
    return Composition(target, shares, len(unseen), unseen)


def _names(info: ImageInfo) -> list[tuple[Kind, str]]:
    out: list[tuple[Kind, str]] = [("source", info.source)]
    if info.dataset is not None:
        out.append(("dataset", info.dataset))
    return out


def _recorded(ledger: IndexedLedger, target: ImageSet, index: LedgerIndex) -> list[_Direct]:
    """A registered D: each image's recorded edges to earlier images outside D (every edge
    points from the later image to the earlier one). Registration stops verifying an
    image's candidates after a few near-duplicates, so an image with a near edge is searched
    again here, for the earlier copies that check did not reach."""
    idxs = [m.idx for m in target.members if m.idx is not None]
    inside = set(idxs)
    with reading(ledger.store.engine) as conn:
        edges = edges_touching(conn, idxs)
    out: dict[int, _Direct] = defaultdict(list)
    for e in sorted(edges, key=lambda e: (e.idx, e.kind != EXACT, e.match_idx)):
        if e.match_idx not in inside and e.match_idx < e.idx:
            out[e.idx].append((e.match_idx, e.kind, e.detail))
    for m in target.members:
        found = out.get(m.idx, []) if m.idx is not None else []
        if m.idx is None or m.descriptor is None or m.descriptor.flat:
            continue
        if not any(kind == NEAR for _, kind, _ in found):
            continue
        known = [e for e, _, _ in found]
        for x in index.search(m.descriptor, exclude=known + idxs):  # D's own copies too
            if x.image < m.idx:
                found.append((x.image, NEAR, match_detail(x)))
    return [out.get(m.idx, []) if m.idx is not None else [] for m in target.members]


def _searched(
    ledger: IndexedLedger, target: ImageSet, index: LedgerIndex, progress: Progress | None
) -> list[_Direct]:
    """A folder: each image's registered copies by pixel digest, then its verified
    near-duplicates from the ledger's index (what registering it would record)."""
    with reading(ledger.store.engine) as conn:
        exact = images_with_pixels(conn, [m.pixel_sha256 for m in target.members])
    out: list[_Direct] = []
    for n, m in enumerate(target.members):
        copies = sorted(i.idx for i in exact.get(m.pixel_sha256, []))
        found: _Direct = [(i, EXACT, EXACT_DETAIL) for i in copies]
        if m.descriptor is not None and not m.descriptor.flat:
            found += [
                (x.image, NEAR, match_detail(x))
                for x in index.search(m.descriptor, exclude=copies)
            ]
        out.append(found)
        if progress is not None:
            progress(n + 1, len(target.members))
    return out


__all__ = ["Composition", "Matched", "Overlap", "Share", "composition", "overlap"]
