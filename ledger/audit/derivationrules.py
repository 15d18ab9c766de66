"""The rules of image.derived: what an edge of the derivation graph may name.

Checked when an entry is appended (``ledger.lineagelog.DerivationCheck``) and again when
``verify`` replays the log (``ledger.lineagelog.audit_derivations``), by these functions, so
the two can never disagree:

* parent and child are earlier image.registered entries, and the body's file and pixel
  digests are those of the entries it names;
* no edge closes a cycle (an image is never, through any chain, derived from itself).

An acyclic final graph means no prefix of the log closed a cycle, so the audit checks the
whole graph once (Kahn's algorithm) instead of every edge against the graph before it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from ledger.errors import PolicyError


class Registered(NamedTuple):
    """The digests of an image.registered entry."""

    file_sha256: str
    pixel_sha256: str


# index -> that entry's digests, or None if the entry is not an image.registered one.
Lookup = Callable[[int], Registered | None]
# node -> the images derived from it directly.
Children = Callable[[int], Iterable[int]]


def check_refs(*, index: int, body: dict[str, Any], registered: Lookup) -> None:
    """PolicyError unless parent and child name earlier image.registered entries with the
    digests the body states."""
    for role in ("parent", "child"):
        ref = body[role]
        at = ref["index"]
        if at >= index:
            raise PolicyError(f"image.derived {role} names entry {at}, which is not before it")
        facts = registered(at)
        if facts is None:
            raise PolicyError(f"image.derived {role} names entry {at}, which registers no image")
        if (ref["file_sha256"], ref["pixel_sha256"]) != tuple(facts):
            raise PolicyError(
                f"image.derived {role} digests are not those of entry {at} "
                f"(file {ref['file_sha256'][:16]}, the entry says {facts.file_sha256[:16]})"
            )


def check_no_cycle(*, parent: int, child: int, children: Children) -> None:
    """PolicyError if ``parent`` is reachable from ``child`` (the edge would close a cycle)."""
    if parent == child:
        raise PolicyError(f"image {parent} cannot be derived from itself")
    seen = {child}
    stack = [child]
    while stack:
        for nxt in children(stack.pop()):
            if nxt == parent:
                raise PolicyError(
                    f"a derivation from image {parent} to image {child} closes a cycle "
                    f"({parent} is already derived from {child})"
                )
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)


def acyclic_or_first_cycle(edges: Iterable[tuple[int, int, int]]) -> int | None:
    """None if the graph of (entry index, parent, child) edges has no cycle; else the index
    of the earliest entry whose edge lies on a cycle."""
    out: dict[int, list[tuple[int, int]]] = {}
    indegree: dict[int, int] = {}
    listed: list[tuple[int, int, int]] = []
    for idx, parent, child in edges:
        listed.append((idx, parent, child))
        out.setdefault(parent, []).append((idx, child))
        indegree[child] = indegree.get(child, 0) + 1
        indegree.setdefault(parent, 0)
    ready = [n for n, d in indegree.items() if d == 0]
    done = 0
    while ready:
        node = ready.pop()
        done += 1
        for _idx, child in out.get(node, ()):
            indegree[child] -= 1
            if indegree[child] == 0:
                ready.append(child)
    if done == len(indegree):
        return None
    stuck = {n for n, d in indegree.items() if d > 0}
    return min(idx for idx, parent, child in listed if parent in stuck and child in stuck)
