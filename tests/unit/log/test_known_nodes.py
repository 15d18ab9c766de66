"""Consistency proofs rebuilt from a bundle's hashes, cross-checked with the RFC reference."""

from __future__ import annotations

import pytest

from ledger.errors import InputError
from ledger.log.known_nodes import NotDerivableError, consistency_from_range
from ledger.log.ranges import range_outside_nodes

from .trees import LEAF_HASHES, REF

SIZES = range(1, 18)


def _outside(start: int, end: int, size: int) -> dict[tuple[int, int], bytes]:
    return {r: REF.mth(*r) for r in range_outside_nodes(start=start, end=end, size=size)}


@pytest.mark.parametrize("size", SIZES)
def test_every_range_and_old_size(size: int) -> None:
    derived = 0
    for start in range(size):
        for end in range(start + 1, size + 1):
            outside = _outside(start, end, size)
            for old in range(1, size + 1):
                try:
                    old_root, proof = consistency_from_range(
                        old_size=old, new_size=size, start=start,
                        leaf_hashes=LEAF_HASHES[start:end], outside=outside,
                    )  # fmt: skip
                except NotDerivableError:
                    assert start > 0 or old > end  # a bundle from 0 covers every old size in it
                    continue
                derived += 1
                assert old_root == REF.root(old)
                assert proof == REF.consistency(old, size)  # the RFC's PROOF(m, D[n])
    assert derived > 0


def test_a_range_bundle_cannot_prove_a_size_inside_an_outside_node() -> None:
    outside = _outside(2, 5, 6)  # [0, 2) is one node: nothing about size 1
    with pytest.raises(NotDerivableError):
        consistency_from_range(old_size=1, new_size=6, start=2,
                               leaf_hashes=LEAF_HASHES[2:5], outside=outside)  # fmt: skip
    old_root, _ = consistency_from_range(old_size=2, new_size=6, start=2,
                                         leaf_hashes=LEAF_HASHES[2:5], outside=outside)  # fmt: skip
    assert old_root == REF.root(2)


def test_sizes_out_of_order_are_bad_input() -> None:
    with pytest.raises(InputError):
        consistency_from_range(old_size=0, new_size=3, start=0,
                               leaf_hashes=LEAF_HASHES[:3], outside={})  # fmt: skip
    with pytest.raises(InputError):
        consistency_from_range(old_size=4, new_size=3, start=0,
                               leaf_hashes=LEAF_HASHES[:3], outside={})  # fmt: skip
