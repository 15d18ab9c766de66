"""Dataset overlap and composition ("Frankenstein" reports), over image sets (sets.py).

Overlap of A and B (each a registered dataset or a folder):

* ``exact``: images of A with an identical pixel digest in B;
* ``near``: images of A with any duplicate (exact or near) in B, so ``near >= exact``;
* ``containment_a_in_b`` = near / |A|; ``containment_b_in_a`` = images of B with a
  duplicate in A / |B|;
* ``jaccard``: over duplicate clusters. Union-find over A and B with every link (within
  A, within B and across); |clusters with members in both| / |clusters|.

Composition of a set D: an image of D is *from* a registered source or dataset X when an
image of X, registered before it (every registered image counts for a folder) and not a
member of D, duplicates it: the same duplicate group or a recorded edge (for a folder,
the images the ledger's index and the pixel digest find, and their groups' members).
share(X) = images of D from X / |D|; the unseen share = images of D from nowhere / |D|.
An image found in several sources counts for each, so shares can add up to more than 1.

Candidates come from the dataset sketches (sketches.py): the sources and datasets
estimated to hold at least ``threshold`` of D's duplicate groups. Each candidate is then
confirmed image by image with the store, so every listed share is exact. Seen images
that no candidate explains are looked up on their own; the sources and datasets found
that way are confirmed over all of D too. So the list holds every source or dataset that
explains an image no sketch candidate explains, and (up to the sketches' false
negatives) every one holding at least ``threshold`` of D.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Connection, func, not_, or_, select

from ledger.errors import InputError
from ledger.similarity import unionfind
from ledger.similarity.catalog import IndexedLedger, LedgerIndex
from ledger.similarity.proven import images, images_with_pixels
from ledger.similarity.sets import ImageSet, links, prepare
from ledger.similarity.sketches import (
    DEFAULT_THRESHOLD,
    DatasetSketches,
    Kind,
    SketchKey,
    open_sketches,
)
from ledger.store import reading
from ledger.store.duplicates import edges_touching, groups
from ledger.store.tables import DupScanRow, ImageRow

_IMAGES = ImageRow.__table__  # type: ignore[attr-defined]
_SCANS = DupScanRow.__table__  # type: ignore[attr-defined]
CHUNK = 500
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
    pairs: list[tuple[int, int]] = [(x.a, x.b) for x in links(ledger, a)]
    pairs += [(n + x.a, n + x.b) for x in links(ledger, b)]
    pairs += [(x.a, n + x.b) for x in across]
    # Same pixels are one picture even where no link was recorded between the two.
    first_a: dict[str, int] = {}
    for i, m in enumerate(a.members):
        first_a.setdefault(m.pixel_sha256, i)
    pairs += [
        (first_a[m.pixel_sha256], n + j)
        for j, m in enumerate(b.members)
        if m.pixel_sha256 in first_a
    ]
    roots = unionfind.roots(n + len(b.members), pairs)
    sides: dict[int, set[bool]] = defaultdict(set)
    for node, r in enumerate(roots):
        sides[r].add(node >= n)
    shared = sum(1 for s in sides.values() if len(s) == 2)
    return Overlap(a, b, len(exact), len(near), len(b_near), len(sides), shared)


# --- composition -----------------------------------------------------------------------


@dataclass(frozen=True)
class Share:
    name: str
    kind: Kind
    images: int
    share: float

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "share": self.share, "images": self.images}


@dataclass
class Composition:
    target: ImageSet
    shares: list[Share]
    unseen: int
    candidates: list[SketchKey] = field(default_factory=list)

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
            "dataset": _set_json(self.target),
            "sketch_candidates": [{"name": k.name, "kind": k.kind} for k in self.candidates],
        }


@dataclass(frozen=True)
class _Item:
    """One image of D: what counts as its earlier duplicates."""

    limit: int | None  # only registered images with a smaller index count; None: all
    group: int | None  # its duplicate group (for a folder image: its matches' smallest)
    direct: tuple[int, ...]  # registered images it duplicates directly (edges, matches)


def composition(
    ledger: IndexedLedger,
    target: ImageSet,
    *,
    index: LedgerIndex | None = None,
    sketches: DatasetSketches | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    progress: Progress | None = None,
) -> Composition:
    """Which registered sources and datasets ``target`` is made of, and what is new."""
    _nonempty(target)
    if index is None:
        index = prepare(ledger)
    if sketches is None:
        sketches = open_sketches(ledger.store, ledger.dir.path)
    sketches.sync()
    sketches.save()
    items = _items(ledger, target, index, progress)
    tokens: list[int | str] = [
        it.group if it.group is not None else f"new:{n}" for n, it in enumerate(items)
    ]
    candidates = sketches.candidates(tokens, threshold=threshold)
    outside = _outside_condition(target)
    exclude = {m.idx for m in target.members if m.idx is not None}
    with reading(ledger.store.engine) as conn:
        direct_info = images(conn, {d for it in items for d in it.direct} - exclude)
        seen = _seen(conn, items, outside, direct_info)
        found: dict[SketchKey, set[int]] = {}
        for kind in GROUP_KINDS:
            names = {k.name for k in candidates if k.kind == kind}
            by_name = _attribute(conn, kind, items, range(len(items)), names, outside, direct_info)
            explained = set().union(*by_name.values()) if by_name else set()
            residual = [n for n in sorted(seen) if n not in explained]
            if residual:
                more = _attribute(conn, kind, items, residual, None, outside, direct_info)
                extra = set(more) - names
                if extra:
                    by_name |= _attribute(
                        conn, kind, items, range(len(items)), extra, outside, direct_info
                    )
            found |= {SketchKey(kind, name): hits for name, hits in by_name.items() if hits}
    total = len(items)
    shares = [Share(k.name, k.kind, len(v), len(v) / total) for k, v in found.items()]
    shares.sort(key=lambda s: (-s.images, s.kind != "source", s.name))
    return Composition(target, shares, total - len(seen), candidates)


def _items(
    ledger: IndexedLedger, target: ImageSet, index: LedgerIndex, progress: Progress | None
) -> list[_Item]:
    if target.registered:
        idxs = [m.idx for m in target.members if m.idx is not None]
        with reading(ledger.store.engine) as conn:
            group_of = groups(conn, idxs)
            edges = edges_touching(conn, idxs)
        earlier: dict[int, list[int]] = defaultdict(list)
        for e in edges:
            earlier[e.idx].append(e.match_idx)
        return [
            _Item(m.idx, group_of.get(m.idx, m.idx), tuple(earlier.get(m.idx, ())))
            for m in target.members
            if m.idx is not None
        ]
    with reading(ledger.store.engine) as conn:
        exact = images_with_pixels(conn, [m.pixel_sha256 for m in target.members])
    matched: list[set[int]] = []
    for n, m in enumerate(target.members):
        found = {i.idx for i in exact.get(m.pixel_sha256, [])}
        if m.descriptor is not None and not m.descriptor.flat:
            found |= {x.image for x in index.search(m.descriptor, exclude=sorted(found))}
        matched.append(found)
        if progress is not None:
            progress(n + 1, len(target.members))
    with reading(ledger.store.engine) as conn:
        group_of = groups(conn, set().union(*matched))
    return [
        _Item(None, min((group_of.get(i, i) for i in found), default=None), tuple(sorted(found)))
        for found in matched
    ]


def _outside_condition(target: ImageSet) -> ColumnElement[bool] | None:
    """SQL condition: a registered image is not a member of ``target`` (None: all are)."""
    if not target.registered:
        return None
    column = _IMAGES.c.dataset
    name = target.name
    if "@" in name:
        member = column == name
    else:
        escaped = name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        member = or_(column == name, column.like(escaped + "@%", escape="\\"))
    return or_(column.is_(None), not_(member))


def _earliest(
    conn: Connection,
    group_ids: Iterable[int],
    column: str | None,
    names: set[str] | None,
    outside: ColumnElement[bool] | None,
) -> dict[tuple[int, str], int]:
    """(group, source or dataset name) -> the earliest member outside D; column None: any."""
    label = None if column is None else _IMAGES.c[column]
    out: dict[tuple[int, str], int] = {}
    wanted = sorted(set(group_ids))
    for start in range(0, len(wanted), CHUNK):
        part = wanted[start : start + CHUNK]
        cols = [_SCANS.c.group_idx, func.min(_IMAGES.c.idx)]
        keys = [_SCANS.c.group_idx]
        if label is not None:
            cols.insert(1, label)
            keys.append(label)
        query = (
            select(*cols)
            .select_from(_SCANS.join(_IMAGES, _IMAGES.c.idx == _SCANS.c.idx))
            .where(_SCANS.c.group_idx.in_(part))
        )
        if outside is not None:
            query = query.where(outside)
        if label is not None:
            query = query.where(label.is_not(None))
            if names is not None:
                query = query.where(label.in_(sorted(names)))
        for row in conn.execute(query.group_by(*keys)):
            if label is None:
                out[(int(row[0]), "")] = int(row[1])
            else:
                out[(int(row[0]), str(row[1]))] = int(row[2])
    return out


def _before(limit: int | None, idx: int) -> bool:
    return limit is None or idx < limit


def _seen(
    conn: Connection,
    items: Sequence[_Item],
    outside: ColumnElement[bool] | None,
    direct_info: dict[int, Any],
) -> set[int]:
    """Positions of the images of D with an earlier duplicate outside D."""
    earliest = _earliest(conn, {it.group for it in items if it.group is not None}, None, None,
                         outside)  # fmt: skip
    seen: set[int] = set()
    for n, it in enumerate(items):
        first = earliest.get((it.group, "")) if it.group is not None else None
        if first is not None and _before(it.limit, first):
            seen.add(n)
        elif any(d in direct_info and _before(it.limit, d) for d in it.direct):
            seen.add(n)
    return seen


def _attribute(
    conn: Connection,
    kind: Kind,
    items: Sequence[_Item],
    positions: Iterable[int],
    names: set[str] | None,
    outside: ColumnElement[bool] | None,
    direct_info: dict[int, Any],
) -> dict[str, set[int]]:
    """name -> positions (among ``positions``) of images of D from that source or dataset.

    ``names`` None: any name."""
    chosen = [(n, items[n]) for n in positions]
    if names is not None and not names:
        return {}
    groups_wanted = {it.group for _, it in chosen if it.group is not None}
    earliest = _earliest(conn, groups_wanted, kind, names, outside)
    by_group: dict[int, list[tuple[str, int]]] = defaultdict(list)
    for (group, name), first in earliest.items():
        by_group[group].append((name, first))
    out: dict[str, set[int]] = defaultdict(set)
    for n, it in chosen:
        for name, first in by_group.get(it.group, []) if it.group is not None else []:
            if _before(it.limit, first):
                out[name].add(n)
        for d in it.direct:
            info = direct_info.get(d)
            if info is None or not _before(it.limit, d):
                continue
            name = info.source if kind == "source" else info.dataset
            if name is not None and (names is None or name in names):
                out[name].add(n)
    return dict(out)


__all__ = ["Composition", "Overlap", "Share", "composition", "overlap"]
