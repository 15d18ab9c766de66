"""Duplicate groups within one image set and leakage pairs between two, as JSON and text.

Built on :mod:`ledger.similarity.sets`: ``links`` finds the pairs, this module turns them
into what ``medledger dups`` and ``medledger leakage`` print.

* A **group** is a connected component of the links within a set (two or more images),
  largest first; its members in set order, each after the first explained by the link
  that first reached it from the group's first member (breadth first).
* A **leak** is a link between a training and a test image, in training-set order.

A link between two registered images that were never compared directly (they share a
duplicate group through other registered copies) carries distance -1; it is compared
here when both grids are stored, which gives it a real distance and explanation. Exact
copies always have distance 0.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from ledger.errors import InputError
from ledger.similarity.catalog import IndexedLedger
from ledger.similarity.findings import EXACT, EXACT_DETAIL, near_detail
from ledger.similarity.search import MemoryDescriptors, NearDuplicateIndex
from ledger.similarity.sets import ImageSet, Link, Member, components, dataset_set, links

DIGEST_CHARS = 16  # a registered image's digest as shown in captions


@dataclass(frozen=True)
class Group:
    """Positions of a set's members that duplicate each other, and the links among them."""

    members: list[int]
    links: list[Link]

    def reached_by(self) -> dict[int, Link]:
        """For each member but the first, the link that reaches it (breadth first)."""
        touching: dict[int, list[Link]] = {m: [] for m in self.members}
        for link in self.links:
            touching[link.a].append(link)
            touching[link.b].append(link)
        first = self.members[0]
        found: dict[int, Link] = {}
        queue = deque([first])
        while queue:
            here = queue.popleft()
            for link in touching[here]:
                there = link.b if link.a == here else link.a
                if there != first and there not in found:
                    found[there] = link
                    queue.append(there)
        return found


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


def duplicate_groups(ledger: IndexedLedger, image_set: ImageSet) -> list[Group]:
    """Groups of duplicates within ``image_set``, largest first."""
    found = [settle(x, image_set, image_set) for x in links(ledger, image_set)]
    out = []
    for members in components(len(image_set.members), found):
        inside = set(members)
        out.append(Group(members, [x for x in found if x.a in inside]))
    return out


def leaks(ledger: IndexedLedger, train: ImageSet, test: ImageSet) -> list[Link]:
    """Every duplicate pair of a training image (``a``) and a test image (``b``)."""
    found = [settle(x, train, test) for x in links(ledger, train, test)]
    return sorted(found, key=lambda x: (x.a, x.b))


def settle(link: Link, a: ImageSet, b: ImageSet) -> Link:
    """``link`` with a real distance: exact copies 0, group-only near links compared now."""
    if link.distance >= 0:
        return link
    if link.kind == EXACT:
        return replace(link, distance=0, detail=EXACT_DETAIL)
    query, stored = a.members[link.a].descriptor, b.members[link.b].descriptor
    if query is None or stored is None or query.flat or stored.flat:
        return link
    grids = MemoryDescriptors()
    grids.put(0, stored)
    engine = NearDuplicateIndex(descriptors=grids)
    engine.add(0, stored)
    matches = engine.search(query)
    if not matches:
        return link  # linked only through other copies: distance -1, "same duplicate group"
    best = matches[0]
    return replace(link, distance=best.distance, detail=near_detail(best.verdict.explain()))


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


def dups_json(image_set: ImageSet, groups: Sequence[Group]) -> dict[str, Any]:
    """``{"groups": [[label, ...]], "details": [{"images", "links"}], "set": {...}}``."""
    m = image_set.members
    return {
        "groups": [[m[i].label for i in g.members] for g in groups],
        "details": [
            {
                "images": [m[i].to_json() for i in g.members],
                "links": [link_json(x, image_set, image_set, ("a", "b")) for x in g.links],
            }
            for g in groups
        ],
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
