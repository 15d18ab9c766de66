"""The log's hash chain: every leaf names the hash of the leaf before it.

The sequencer, not the submitter, sets ``prev``, so submitters sign without
knowing the tail and never conflict. ``prev`` is the lowercase hex of the
previous leaf hash (``leaf_hash(canonical(leaf)).hex()``); the first leaf
points at 64 zeros.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ledger.errors import InputError, VerificationError

__all__ = ["GENESIS_PREV", "check_link", "make_leaf"]

GENESIS_PREV = "0" * 64
_HEX = frozenset("0123456789abcdef")


def make_leaf(*, prev: str, envelope: dict[str, Any]) -> dict[str, Any]:
    """The leaf ``{"prev": prev, "envelope": envelope}`` the log appends."""
    if len(prev) != 64 or not _HEX.issuperset(prev):
        raise InputError(f"prev must be 64 lowercase hex digits, got {prev!r}")
    return {"prev": prev, "envelope": envelope}


def check_link(*, index: int, expected_prev: str, leaf: Mapping[str, Any]) -> None:
    """Raise :class:`VerificationError` naming ``index`` if the leaf does not chain on."""
    got = leaf.get("prev")
    if got != expected_prev:
        raise VerificationError(
            f"leaf {index}: prev is {got!r}, expected {expected_prev!r}", index=index
        )
