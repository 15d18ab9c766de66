"""The image.derived rules (cycle, references) and the checks of a declared derivation."""

from __future__ import annotations

import itertools
import random

import pytest

from ledger.audit.derivationrules import (
    Registered,
    acyclic_or_first_cycle,
    check_no_cycle,
    check_refs,
)
from ledger.errors import InputError, PolicyError
from ledger.lineage.checks import ImageFacts, check_steps
from ledger.lineage.vocabulary import parse_step


def _cyclic_slow(edges: list[tuple[int, int, int]]) -> int | None:
    """Reference: add the edges in order, each checked by a full search of the graph so far."""
    children: dict[int, set[int]] = {}
    for idx, parent, child in edges:
        stack, seen = [child], {child}
        while stack:
            node = stack.pop()
            if node == parent:
                return idx
            for nxt in children.get(node, ()):
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        children.setdefault(parent, set()).add(child)
    return None


def test_acyclic_check_agrees_with_a_slow_reference() -> None:
    rng = random.Random(7)
    for _ in range(300):
        nodes = rng.randint(2, 8)
        edges = [(i, rng.randrange(nodes), rng.randrange(nodes)) for i in range(rng.randint(1, 9))]
        edges = [e for e in edges if e[1] != e[2]]
        slow = _cyclic_slow(edges)
        fast = acyclic_or_first_cycle(edges)
        assert (slow is None) == (fast is None), edges
        if slow is not None:  # the first edge on a cycle is at or before the closing one
            assert fast is not None and fast <= slow


def test_cycle_closing_edge_is_refused() -> None:
    graph = {1: [2], 2: [3]}
    with pytest.raises(PolicyError, match="closes a cycle"):
        check_no_cycle(parent=3, child=1, children=lambda n: graph.get(n, []))
    with pytest.raises(PolicyError, match="from itself"):
        check_no_cycle(parent=4, child=4, children=lambda n: [])
    check_no_cycle(parent=1, child=3, children=lambda n: graph.get(n, []))  # a second path


def test_refs_must_name_earlier_registrations_with_their_digests() -> None:
    facts = {3: Registered("a" * 64, "b" * 64), 5: Registered("c" * 64, "d" * 64)}
    body = {"parent": {"index": 3, "file_sha256": "a" * 64, "pixel_sha256": "b" * 64},
            "child": {"index": 5, "file_sha256": "c" * 64, "pixel_sha256": "d" * 64}}
    check_refs(index=6, body=body, registered=facts.get)
    with pytest.raises(PolicyError, match="not before it"):
        check_refs(index=5, body=body, registered=facts.get)
    bad = {**body, "parent": {**body["parent"], "pixel_sha256": "e" * 64}}
    with pytest.raises(PolicyError, match="parent digests are not those of entry 3"):
        check_refs(index=6, body=bad, registered=facts.get)
    with pytest.raises(PolicyError, match="registers no image"):
        check_refs(index=6, body=body, registered=lambda i: None)


PARENT = ImageFacts(512, 400, "dicom", "1" * 64)


@pytest.mark.parametrize(("steps", "child", "reason"), [
    (["resize:size=256x256"], ImageFacts(256, 255, "dicom", "2" * 64), "256x256 image"),
    (["crop:x=500,y=0,width=20,height=10"], ImageFacts(20, 10, "dicom", "2" * 64),
     "does not fit the 512x400"),
    (["orient:dihedral=1"], ImageFacts(512, 400, "dicom", "2" * 64), "400x512 image"),
    (["pad:left=4,right=4"], ImageFacts(512, 400, "dicom", "2" * 64), "520x400 image"),
    (["convert:from=png,to=jpeg"], ImageFacts(512, 400, "jpeg", "2" * 64), "converts from png"),
    (["convert:from=dicom,to=png"], ImageFacts(512, 400, "jpeg", "2" * 64), "end in png"),
    (["convert:from=dicom,to=png,lossless=true"], ImageFacts(512, 400, "png", "2" * 64),
     "pixels differ"),
])
def test_contradictions(steps: list[str], child: ImageFacts, reason: str) -> None:
    with pytest.raises(InputError, match=reason):
        check_steps([parse_step(s) for s in steps], parent=PARENT, child=child, where="c.png")


@pytest.mark.parametrize(("steps", "child"), [
    (["crop:x=12,y=0,width=500,height=400", "resize:size=64x32"], ImageFacts(64, 32, "dicom", "")),
    (["resample:spacing=1x1", "crop:x=0,y=0,width=64,height=32"],  # size unknown: unchecked
     ImageFacts(7, 7, "dicom", "")),
    (["orient:dihedral=2", "orient:dihedral=5", "orient:dihedral=7"],
     ImageFacts(512, 400, "dicom", "")),
    (["orient:angle=12.5"], ImageFacts(999, 999, "dicom", "")),
    (["window:center=40,width=400", "convert:from=dicom,to=png"], ImageFacts(512, 400, "png", "")),
])
def test_consistent_steps_pass(steps: list[str], child: ImageFacts) -> None:
    check_steps([parse_step(s) for s in steps], parent=PARENT, child=child, where="c.png")


def test_lossless_conversion_keeping_pixels_passes() -> None:
    for a, b in itertools.permutations(["dicom", "png"], 2):
        check_steps([parse_step(f"convert:from={a},to={b},lossless=true")],
                    parent=ImageFacts(8, 8, a, "3" * 64), child=ImageFacts(8, 8, b, "3" * 64),
                    where="c")
