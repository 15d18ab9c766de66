from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.errors import InputError, VerificationError
from ledger.log import proofs
from ledger.log.hashing import EMPTY_ROOT
from ledger.log.proofs import (
    consistency_nodes,
    consistency_proof,
    consistency_proof_size,
    inclusion_nodes,
    inclusion_proof,
    inclusion_proof_size,
    root_from_inclusion,
    verify_consistency,
    verify_inclusion,
)

from . import reference
from .trees import LEAF_HASHES, MAX_LEAVES, REF, store_for

EXHAUSTIVE = 70  # every index and every old size for trees up to this size


def _inclusion(index: int, size: int) -> list[bytes]:
    needed = inclusion_nodes(index=index, size=size)
    stored = store_for(size)
    assert needed <= stored.keys()  # never asks for a node the log cannot have yet
    return inclusion_proof(index=index, size=size, nodes={k: stored[k] for k in needed})


def _consistency(old: int, new: int) -> list[bytes]:
    needed = consistency_nodes(old_size=old, new_size=new)
    stored = store_for(new)
    assert needed <= stored.keys()
    return consistency_proof(old_size=old, new_size=new, nodes={k: stored[k] for k in needed})


def _check_inclusion(index: int, size: int) -> None:
    proof = _inclusion(index, size)
    assert proof == REF.inclusion(index, size)
    assert len(proof) == inclusion_proof_size(index=index, size=size)
    assert len(inclusion_nodes(index=index, size=size)) <= 2 * size.bit_length()
    verify_inclusion(
        index=index, size=size, leaf_hash=LEAF_HASHES[index], proof=proof, root=REF.root(size)
    )
    assert reference.verify_inclusion(index, size, LEAF_HASHES[index], proof, REF.root(size))


def _check_consistency(old: int, new: int) -> None:
    proof = _consistency(old, new)
    if 0 < old < new:
        assert proof == REF.consistency(old, new)
        assert reference.verify_consistency(old, new, REF.root(old), REF.root(new), proof)
    else:
        assert proof == []
    assert len(proof) == consistency_proof_size(old_size=old, new_size=new)
    assert len(consistency_nodes(old_size=old, new_size=new)) <= 2 * new.bit_length() + 1
    verify_consistency(
        old_size=old, new_size=new, old_root=REF.root(old), new_root=REF.root(new), proof=proof
    )


@pytest.mark.parametrize("size", range(1, EXHAUSTIVE + 1))
def test_every_inclusion_proof_equals_reference_and_verifies(size: int) -> None:
    for index in range(size):
        _check_inclusion(index, size)


@pytest.mark.parametrize("new", range(EXHAUSTIVE + 1))
def test_every_consistency_proof_equals_reference_and_verifies(new: int) -> None:
    for old in range(new + 1):
        _check_consistency(old, new)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_inclusion_equals_reference_at_larger_sizes(data: st.DataObject) -> None:
    size = data.draw(st.integers(1, MAX_LEAVES))
    _check_inclusion(data.draw(st.integers(0, size - 1)), size)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_consistency_equals_reference_at_larger_sizes(data: st.DataObject) -> None:
    new = data.draw(st.integers(0, MAX_LEAVES))
    _check_consistency(data.draw(st.integers(0, new)), new)


# --- tampering ---------------------------------------------------------------------


def _flip(value: bytes, bit: int) -> bytes:
    raw = bytearray(value)
    raw[bit // 8] ^= 1 << (bit % 8)
    return bytes(raw)


@st.composite
def inclusion_case(draw: st.DrawFn) -> tuple[int, int, list[bytes]]:
    size = draw(st.integers(2, 400))
    index = draw(st.integers(0, size - 1))
    return index, size, _inclusion(index, size)


@st.composite
def consistency_case(draw: st.DrawFn) -> tuple[int, int, list[bytes]]:
    new = draw(st.integers(2, 400))
    old = draw(st.integers(1, new - 1))
    return old, new, _consistency(old, new)


@settings(max_examples=300, deadline=None)
@given(inclusion_case(), st.data())
def test_any_flipped_bit_breaks_an_inclusion_proof(
    case: tuple[int, int, list[bytes]], data: st.DataObject
) -> None:
    index, size, proof = case
    leaf, root = LEAF_HASHES[index], REF.root(size)
    target = data.draw(st.sampled_from(["proof", "leaf", "root"]))
    bit = data.draw(st.integers(0, 255))
    if target == "proof":
        at = data.draw(st.integers(0, len(proof) - 1))
        proof = [*proof[:at], _flip(proof[at], bit), *proof[at + 1 :]]
    elif target == "leaf":
        leaf = _flip(leaf, bit)
    else:
        root = _flip(root, bit)
    with pytest.raises(
        VerificationError,
        match=r"root .*mismatch: calculated [0-9a-f]{64}, "
        r"expected [0-9a-f]{64}",
    ) as caught:
        verify_inclusion(index=index, size=size, leaf_hash=leaf, proof=proof, root=root)
    assert caught.value.index == index
    assert not reference.verify_inclusion(index, size, leaf, proof, root)


@settings(max_examples=300, deadline=None)
@given(consistency_case(), st.data())
def test_any_flipped_bit_breaks_a_consistency_proof(
    case: tuple[int, int, list[bytes]], data: st.DataObject
) -> None:
    old, new, proof = case
    old_root, new_root = REF.root(old), REF.root(new)
    target = data.draw(st.sampled_from(["proof", "old root", "new root"]))
    bit = data.draw(st.integers(0, 255))
    if target == "proof":
        at = data.draw(st.integers(0, len(proof) - 1))
        proof = [*proof[:at], _flip(proof[at], bit), *proof[at + 1 :]]
    elif target == "old root":
        old_root = _flip(old_root, bit)
    else:
        new_root = _flip(new_root, bit)
    with pytest.raises(VerificationError, match=r"root .*mismatch: calculated [0-9a-f]{64}"):
        verify_consistency(
            old_size=old, new_size=new, old_root=old_root, new_root=new_root, proof=proof
        )
    assert not reference.verify_consistency(old, new, old_root, new_root, proof)


@settings(max_examples=200, deadline=None)
@given(inclusion_case(), st.integers(1, 3), st.booleans())
def test_truncated_or_extended_inclusion_proofs_fail(
    case: tuple[int, int, list[bytes]], count: int, extend: bool
) -> None:
    index, size, proof = case
    if extend:
        changed, message = proof + [REF.root(size)] * count, "trailing garbage"
    else:
        changed, message = proof[:-count], "truncated proof"
    with pytest.raises(VerificationError, match=message):
        verify_inclusion(
            index=index, size=size, leaf_hash=LEAF_HASHES[index], proof=changed, root=REF.root(size)
        )


@settings(max_examples=200, deadline=None)
@given(consistency_case(), st.integers(1, 3), st.booleans())
def test_truncated_or_extended_consistency_proofs_fail(
    case: tuple[int, int, list[bytes]], count: int, extend: bool
) -> None:
    old, new, proof = case
    if extend:
        changed, message = proof + [REF.root(new)] * count, "trailing garbage"
    else:
        changed, message = proof[:-count], "truncated proof"
    with pytest.raises(VerificationError, match=message):
        verify_consistency(
            old_size=old,
            new_size=new,
            old_root=REF.root(old),
            new_root=REF.root(new),
            proof=changed,
        )


@settings(max_examples=300, deadline=None)
@given(
    st.integers(1, 40),
    st.data(),
    st.lists(st.binary(min_size=32, max_size=32), max_size=8),
)
def test_fast_and_reference_verifiers_agree_on_arbitrary_proofs(
    size: int, data: st.DataObject, proof: list[bytes]
) -> None:
    # Mix real and arbitrary hashes, so that both accepting and refusing paths are hit.
    index = data.draw(st.integers(0, size - 1))
    real = REF.inclusion(index, size)
    proof = data.draw(st.sampled_from([proof, real, real[:1] + proof[:1] + real[2:]]))
    try:
        verify_inclusion(
            index=index, size=size, leaf_hash=LEAF_HASHES[index], proof=proof, root=REF.root(size)
        )
        accepted = True
    except VerificationError:
        accepted = False
    assert accepted == reference.verify_inclusion(
        index, size, LEAF_HASHES[index], proof, REF.root(size)
    )


# --- preconditions, each with its own message ------------------------------------------


H = b"\x11" * 32


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"index": 5, "size": 5}, "leaf index 5 is beyond tree size 5"),
        ({"index": 0, "size": 0}, "leaf index 0 is beyond tree size 0"),
        ({"leaf_hash": b"x" * 31}, "leaf hash has 31 bytes, want 32"),
        ({"root": b""}, "root hash has 0 bytes, want 32"),
        ({"proof": [H] * 4}, r"proof too long \(trailing garbage\): 4 hashes, want 3"),
        ({"proof": [H] * 2}, "truncated proof: 2 hashes, want 3"),
        ({"proof": [H, H, b"x" * 33]}, r"proof hash \[2\] has 33 bytes, want 32"),
        ({}, "root .*mismatch: calculated [0-9a-f]{64}, expected 1111"),
    ],
)
def test_inclusion_preconditions(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"index": 2, "size": 8, "leaf_hash": H, "proof": [H] * 3, "root": H}
    args.update(kwargs)
    with pytest.raises(VerificationError, match=message):
        verify_inclusion(**args)  # type: ignore[arg-type]


def test_preconditions_come_before_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*_: object) -> bytes:
        raise AssertionError("hashed before checking its input")

    monkeypatch.setattr(proofs, "sha256", forbidden)
    for kwargs in ({"index": 9}, {"leaf_hash": b""}, {"root": b""}, {"proof": [H]}):
        args: dict[str, object] = {
            "index": 2,
            "size": 8,
            "leaf_hash": H,
            "proof": [H] * 3,
            "root": H,
        }
        args.update(kwargs)
        with pytest.raises(VerificationError):
            verify_inclusion(**args)  # type: ignore[arg-type]


def test_root_from_inclusion_of_a_one_leaf_tree_is_the_leaf() -> None:
    assert root_from_inclusion(index=0, size=1, leaf_hash=H, proof=[]) == H


def test_negative_numbers_are_input_errors() -> None:
    with pytest.raises(InputError, match="leaf index must be between 0 and 2\\*\\*64-1, got -1"):
        verify_inclusion(index=-1, size=3, leaf_hash=H, proof=[], root=H)
    with pytest.raises(InputError, match="tree size"):
        inclusion_nodes(index=0, size=2**64)
    with pytest.raises(InputError, match="leaf index 3 is beyond tree size 3"):
        inclusion_nodes(index=3, size=3)
    with pytest.raises(InputError, match="old tree size 4 is beyond new tree size 3"):
        consistency_nodes(old_size=4, new_size=3)


def test_missing_node_is_named() -> None:
    with pytest.raises(InputError, match=r"missing tree node \(level 0, index 1\)"):
        inclusion_proof(index=0, size=2, nodes={})


# --- consistency semantics at the edges ------------------------------------------------


def test_consistency_from_empty_tree_takes_an_empty_proof() -> None:
    for new in (0, 1, 7, 8):
        verify_consistency(
            old_size=0, new_size=new, old_root=EMPTY_ROOT, new_root=REF.root(new), proof=[]
        )
    with pytest.raises(VerificationError, match="trailing garbage"):
        verify_consistency(
            old_size=0, new_size=8, old_root=EMPTY_ROOT, new_root=REF.root(8), proof=[REF.root(8)]
        )


def test_consistency_from_empty_tree_needs_the_empty_root() -> None:
    with pytest.raises(VerificationError, match="old tree of size 0 must have the empty-tree root"):
        verify_consistency(old_size=0, new_size=3, old_root=H, new_root=REF.root(3), proof=[])
    with pytest.raises(VerificationError, match="new tree of size 0 must have the empty-tree root"):
        verify_consistency(old_size=0, new_size=0, old_root=EMPTY_ROOT, new_root=H, proof=[])


def test_consistency_at_equal_sizes() -> None:
    verify_consistency(old_size=5, new_size=5, old_root=H, new_root=H, proof=[])
    with pytest.raises(VerificationError, match="trailing garbage"):
        verify_consistency(old_size=5, new_size=5, old_root=H, new_root=H, proof=[H])
    with pytest.raises(VerificationError, match="roots differ at equal tree size 5: old 1111"):
        verify_consistency(old_size=5, new_size=5, old_root=H, new_root=EMPTY_ROOT, proof=[])


def test_consistency_refuses_a_shrinking_log() -> None:
    with pytest.raises(VerificationError, match="old tree size 6 is beyond new tree size 5"):
        verify_consistency(old_size=6, new_size=5, old_root=H, new_root=H, proof=[])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"old_root": b"x"}, "old root hash has 1 bytes, want 32"),
        ({"new_root": b"x" * 40}, "new root hash has 40 bytes, want 32"),
        ({"proof": []}, "truncated proof: 0 hashes, want 3 from tree size 6 to 8"),
        ({"proof": [H] * 4}, "trailing garbage"),
        ({"proof": [H, H, b""]}, r"proof hash \[2\] has 0 bytes"),
        ({}, "old root \\(tree size 6\\) mismatch: calculated"),
    ],
)
def test_consistency_preconditions(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {
        "old_size": 6,
        "new_size": 8,
        "old_root": H,
        "new_root": H,
        "proof": [H] * 3,
    }
    args.update(kwargs)
    with pytest.raises(VerificationError, match=message):
        verify_consistency(**args)  # type: ignore[arg-type]


def test_proofs_at_a_billion_leaves_stay_logarithmic() -> None:
    size = 10**9
    depth = math.ceil(math.log2(size))
    for index in (0, 1, size // 2, size - 2, size - 1):
        assert inclusion_proof_size(index=index, size=size) <= depth
        assert len(inclusion_nodes(index=index, size=size)) <= 2 * depth
    for old in (1, 3, size // 3, size - 1):
        assert consistency_proof_size(old_size=old, new_size=size) <= depth + 1
        assert len(consistency_nodes(old_size=old, new_size=size)) <= 2 * depth + 1
