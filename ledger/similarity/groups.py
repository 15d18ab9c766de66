"""Duplicate groups within one image set and leakage pairs between two, as JSON and text.

Built on :mod:`ledger.similarity.sets`: ``links`` finds the verified pairs (and equal
pixels), this module turns them into what ``medledger dups`` and ``medledger leakage`` print.

* A **group** is a set of images in which every pair is a verified pair (complete linkage,
  :mod:`ledger.similarity.linkage`): never a chain, so one false link between two
  unrelated pictures cannot merge their copies. A pair inside a candidate group that no
  search compared is compared here, with the same search and verification. Each group
  lists its representative (first) and the verified pairs behind it; links between
  groups are listed apart (``other_pairs``).
* A **leak** is a verified link between a training and a test image, in training-set order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from ledger.errors import InputError
from ledger.similarity.catalog import IndexedLedger
from ledger.similarity.findings import EXACT, EXACT_DETAIL, NEAR
from ledger.similarity.linkage import complete_linkage, grouped_pairs
from ledger.similarity.search import MemoryDescriptors, NearDuplicateIndex
from ledger.similarity.sets import ImageSet, Link, Member, dataset_set, indexed, links, named, where

DIGEST_CHARS = 16  # a registered image's digest as shown in captions


@dataclass(frozen=True)
class Group:
    """Positions of a set's members that all duplicate each other (the representative
    first), and the verified pairs among them."""

    members: list[int]
    links: list[Link]

    @property
    def representative(self) -> int:
        return self.members[0]

    def reached_by(self) -> dict[int, Link]:
        """For each member but the representative, its verified pair with the representative."""
        rep = self.representative
        found: dict[int, Link] = {}
        for link in self.links:
            if rep in (link.a, link.b):
                other = link.b if link.a == rep else link.a
                found.setdefault(other, link)
        return found


@dataclass(frozen=True)
class Groups:
    """The groups of a set, largest first, and the verified pairs that lie between them."""

    groups: list[Group]
    other: list[Link]

    def __iter__(self) -> Iterator[Group]:
        return iter(self.groups)

    def __len__(self) -> int:
        return len(self.groups)


def registered_set(ledger: IndexedLedger, name: str) -> ImageSet:
    """The images registered under dataset ``name`` (``NAME@V``, or every version of NAME)."""
    found = dataset_set(ledger, name)
    if found is None:
        raise InputError("no such registered dataset", subject=name)
    return found


def require_images(image_set: ImageSet) -> None:
    """An InputError when a set has no image to compare (empty, or every file refused)."""
    if image_set.members:
        return
    refused = image_set.refused
    if len(refused) == 1:
        raise InputError(refused[0]["reason"], subject=refused[0]["path"])
    if refused:
        raise InputError(
            f"no images: all {len(refused)} files were refused", subject=image_set.name
        )
    raise InputError("no image files found", subject=image_set.name)


def duplicate_groups(ledger: IndexedLedger, image_set: ImageSet) -> Groups:
    """Groups of duplicates within ``image_set`` (complete linkage), largest first."""
    found = links(ledger, image_set)
    clusters, used = complete_linkage(len(image_set.members), found, pair_check(image_set.members))
    inside = grouped_pairs(clusters)
    groups = [Group(c.members, [used[n] for n in c.pairs]) for c in clusters]
    other = [x for n, x in enumerate(used) if n not in inside]
    return Groups(groups, sorted(other, key=lambda x: (x.a, x.b)))


def leaks(ledger: IndexedLedger, train: ImageSet, test: ImageSet) -> list[Link]:
    """Every verified duplicate pair of a training image (``a``) and a test image (``b``)."""
    return sorted(links(ledger, train, test), key=lambda x: (x.a, x.b))


def pair_check(members: Sequence[Member]) -> Callable[[int, int], Link | None]:
    """Compares two members no search compared: equal pixels, or the near-duplicate search
    (candidates, then verification) of each against the other."""

    def check(i: int, j: int) -> Link | None:
        if members[i].pixel_sha256 == members[j].pixel_sha256:
            return Link(i, j, EXACT, 0, EXACT_DETAIL)
        for query, stored in ((i, j), (j, i)):
            match = compare(members[query], members[stored])
            if match is not None:
                return Link(i, j, NEAR, *match)
        return None

    return check


def compare(query: Member, stored: Member) -> tuple[int, str] | None:
    """(distance, detail) when ``query`` is verified as a near-duplicate of ``stored``."""
    q, d = query.descriptor, stored.descriptor
    if q is None or d is None or q.flat or d.flat:
        return None
    grids = MemoryDescriptors()
    engine = NearDuplicateIndex(descriptors=grids)
    indexed(engine, grids, 0, stored)
    matches = engine.search(q)
    if not matches:
        return None
    return matches[0].distance, where(named(stored), matches[0])


# --- JSON ------------------------------------------------------------------------------------


def link_json(link: Link, a: ImageSet, b: ImageSet, names: tuple[str, str]) -> dict[str, Any]:
    return {
        names[0]: a.members[link.a].label,
        names[1]: b.members[link.b].label,
        "distance": link.distance,
        "kind": link.kind,
        "detail": link.detail,
    }


def set_json(image_set: ImageSet) -> dict[str, Any]:
    return {
        "name": image_set.name,
        "kind": image_set.kind,
        "images": len(image_set.members),
        "refused": image_set.refused,
    }


def dups_json(image_set: ImageSet, groups: Groups) -> dict[str, Any]:
    """``{"groups": [[label, ...]], "details": [{"representative", "images", "links"}],
    "other_pairs": [...], "set": {...}}``; ``links`` are the verified pairs of a group."""
    m = image_set.members
    return {
        "groups": [[m[i].label for i in g.members] for g in groups],
        "details": [
            {
                "representative": m[g.representative].label,
                "images": [m[i].to_json() for i in g.members],
                "links": [link_json(x, image_set, image_set, ("a", "b")) for x in g.links],
            }
            for g in groups
        ],
        "other_pairs": [link_json(x, image_set, image_set, ("a", "b")) for x in groups.other],
        "set": set_json(image_set),
    }


def leakage_json(train: ImageSet, test: ImageSet, pairs: Sequence[Link]) -> dict[str, Any]:
    """``{"pairs": [{"train", "test", "distance", "kind", "detail"}], "train", "test"}``."""
    return {
        "pairs": [link_json(x, train, test, ("train", "test")) for x in pairs],
        "train": set_json(train) | {"leaked": len({x.a for x in pairs})},
        "test": set_json(test) | {"leaked": len({x.b for x in pairs})},
    }


# --- text ------------------------------------------------------------------------------------


def describe(member: Member) -> str:
    """The label, and for a registered image where it came from."""
    if member.info is None:
        return member.label
    i = member.info
    where = f"entry {i.idx}, source {i.source}" + (f", dataset {i.dataset}" if i.dataset else "")
    return f"{member.label} ({where})"


def explain(link: Link) -> str:
    """``exact: same pixel digest`` or ``near, distance 3: mirror-lr; correlation ...``."""
    if link.kind == EXACT:
        return f"{link.kind}: {link.detail}"
    distance = "" if link.distance < 0 else f", distance {link.distance}"
    return f"{link.kind}{distance}: {link.detail}"


def short(member: Member) -> str:
    if member.info is None:
        return member.label
    return "sha256:" + member.label[:DIGEST_CHARS] + "…"
