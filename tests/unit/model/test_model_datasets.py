"""Member records and their root: RFC 8785 bytes, RFC 9162 tree, checked against references."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.errors import InputError
from ledger.model.canonical import canonical_json
from ledger.model.datasets import member_leaf, members_root
from ledger.model.registry import validate_body

HEX = st.text("0123456789abcdef", min_size=64, max_size=64)
PATHS = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40)


def _record(entry: int, path: str | None = None, **extra: Any) -> dict[str, Any]:
    out = {"encoding": "png", "entry": entry, "file_sha256": "a" * 64, "file_size": 10,
           "pixel_form": "|u1 1x8x8x1", "pixel_sha256": "b" * 64, **extra}  # fmt: skip
    if path is not None:
        out["path"] = path
    return out


def _reference_root(leaves: list[bytes]) -> bytes:
    """RFC 9162 section 2.1.1, recursively: the slow obvious definition."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + _reference_root(leaves[:k]) + _reference_root(leaves[k:])
                          ).digest()  # fmt: skip


@given(path=PATHS, size=st.integers(0, 2**53 - 1), digest=HEX)
def test_member_leaf_hashes_the_rfc8785_bytes(path: str, size: int, digest: str) -> None:
    record = _record(3, path, file_size=size, file_sha256=digest)
    assert member_leaf(record) == hashlib.sha256(b"\x00" + canonical_json(record)).digest()


@pytest.mark.parametrize("count", [0, 1, 2, 3, 5, 8, 13])
def test_members_root_is_the_rfc9162_root(count: int) -> None:
    records = [_record(n * 7, f"dir/{n}.png") for n in range(count)]
    expected = _reference_root([canonical_json(r) for r in records]).hex()
    assert members_root(records) == expected


def test_members_must_be_sorted_without_repeats() -> None:
    with pytest.raises(ValueError, match="sorted"):
        members_root([_record(2), _record(1)])
    with pytest.raises(ValueError, match="sorted"):
        members_root([_record(2), _record(2)])


def test_the_body_refuses_unsorted_withdrawals_and_unknown_tiers() -> None:
    body = {"name": "chest", "version": 2, "owner": "c" * 64, "tier": "open", "members": 1,
            "members_alg": "rfc9162-sha256-jcs", "members_root": "d" * 64, "previous": 4,
            "withdrawn": [3, 1]}  # fmt: skip
    with pytest.raises(InputError, match="withdrawn"):
        validate_body("dataset.versioned", body)
    with pytest.raises(InputError, match="tier"):
        validate_body("dataset.versioned", {**body, "withdrawn": [], "tier": "secret"})
    validate_body("dataset.versioned", {**body, "withdrawn": [1, 3]})
