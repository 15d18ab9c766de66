"""The full audit over hand-made logs: every problem named at its first bad index."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.audit.keystate import KeyState
from ledger.audit.leaves import check_leaf, prev_of
from ledger.audit.replay import AuditReport, audit_log
from ledger.errors import VerificationError

from .logmaker import (
    ADMIN,
    ADMIN2,
    CURATOR,
    GENESIS_PREV,
    LOG_ID,
    OUTSIDER,
    Log,
    envelope,
    key,
    leaf_hash,
    mth,
    standard,
)

Row = tuple[int, bytes, bytes, str, str]


def audit(log: Log, rows: list[Row] | None = None, **options: Any) -> AuditReport:
    options.setdefault("checkpoints", [])
    options.setdefault("stored_nodes", None)
    options.setdefault("log_id", LOG_ID)
    return audit_log(log.rows() if rows is None else rows, public_keys=log.public_keys,
                     **options)


def bad_index(log: Log, rows: list[Row] | None = None, **options: Any) -> int | None:
    with pytest.raises(VerificationError) as caught:
        audit(log, rows, **options)
    return caught.value.index


def test_a_good_log() -> None:
    log = standard()
    nodes = log.perfect_nodes()
    report = audit(log, checkpoints=[(5, mth(log.hashes)), (2, mth(log.hashes[:2]))],
                   stored_nodes=lambda a, b: {k: v for k, v in nodes.items()
                                              if a <= ((k[1] + 1) << k[0]) - 1 < b})
    assert (report.size, report.root, report.signatures) == (5, mth(log.hashes), 5)
    assert report.checkpoints == 2
    assert report.keys == 4
    assert report.kinds == {"key.added": 4, "key.revoked": 1}
    assert report.tree_nodes == len(nodes)


def test_checkpoint_of_the_empty_tree_among_others() -> None:
    """A client may have seen the log when it was empty: that checkpoint is consistent
    with every later one and must not stop the others from being checked."""
    log = standard()
    report = audit(log, checkpoints=[(0, mth([])), (2, mth(log.hashes[:2])),
                                     (5, mth(log.hashes))])
    assert report.checkpoints == 3


def test_empty_log() -> None:
    report = audit(Log(), checkpoints=[(0, mth([]))])
    assert (report.size, report.root, report.checkpoints) == (0, mth([]), 1)


def with_leaf(log: Log, idx: int, leaf: bytes, *, rehash: bool = True) -> list[Row]:
    rows = log.rows()
    i, _, stored, kind, actor = rows[idx]
    rows[idx] = (i, leaf, leaf_hash(leaf) if rehash else stored, kind, actor)
    return rows


def edited(log: Log, idx: int, change: Any) -> bytes:
    value = json.loads(log.leaves[idx])
    change(value)
    return rfc8785.dumps(value)


def test_missing_index() -> None:
    log = standard()
    rows = log.rows()
    del rows[2]
    assert bad_index(log, rows) == 2


def test_chain_break() -> None:
    log = standard()
    leaf = edited(log, 3, lambda v: v.update(prev="ab" * 32))
    assert bad_index(log, with_leaf(log, 3, leaf)) == 3
    assert bad_index(log, with_leaf(log, 3, leaf), signatures=False) == 3


def test_stored_leaf_hash_differs() -> None:
    log = standard()
    rows = log.rows()
    rows[4] = (*rows[4][:2], b"\x00" * 32, *rows[4][3:])
    assert bad_index(log, rows) == 4


def test_stored_kind_or_actor_differs() -> None:
    log = standard()
    rows = log.rows()
    rows[1] = (*rows[1][:3], "key.revoked", rows[1][4])
    assert bad_index(log, rows) == 1
    rows = log.rows()
    rows[2] = (*rows[2][:4], OUTSIDER.key_id)
    assert bad_index(log, rows) == 2


@pytest.mark.parametrize(
    "make",
    [
        lambda log: log.leaves[2].replace(b'{"envelope"', b'{ "envelope"'),
        lambda log: edited(log, 2, lambda v: v.update(extra=1)),
        lambda log: edited(log, 2, lambda v: v["envelope"]["entry"].update(kind="no.such")),
        lambda log: edited(log, 2, lambda v: v["envelope"].update(sig="x")),
        lambda log: b"not json at all",
    ],
    ids=["not-canonical", "extra-field", "unknown-kind", "malformed-sig", "not-json"],
)
def test_malformed_leaf(make: Any) -> None:
    log = standard()
    leaf = make(log)
    with pytest.raises(VerificationError, match="malformed leaf") as caught:
        audit(log, with_leaf(log, 2, leaf))
    assert caught.value.index == 2


def test_signature_of_another_entry() -> None:
    log = standard()
    other = json.loads(log.leaves[1])["envelope"]["sig"]
    leaf = edited(log, 2, lambda v: v["envelope"].update(sig=other))
    with pytest.raises(VerificationError, match="signature does not verify") as caught:
        audit(log, with_leaf(log, 2, leaf))
    assert caught.value.index == 2
    # The tree-only audit does not look at signatures, but the chain still breaks at 3.
    assert bad_index(log, with_leaf(log, 2, leaf), signatures=False) == 3


def test_non_canonical_signature_encoding_is_refused() -> None:
    """One signature, one encoding: base64 with non-zero padding bits is another leaf
    with the same signed entry, and must not verify."""
    log = standard()
    sig = json.loads(log.leaves[2])["envelope"]["sig"]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    twin = sig[:85] + alphabet[alphabet.index(sig[85]) ^ 1] + "=="
    assert base64.b64decode(twin) == base64.b64decode(sig)
    leaf = edited(log, 2, lambda v: v["envelope"].update(sig=twin))
    assert bad_index(log, with_leaf(log, 2, leaf)) == 2


@pytest.mark.parametrize(
    ("first", "message"),
    [
        (envelope("key.added", CURATOR.added("curator"), by=CURATOR), "must add an admin key"),
        (envelope("key.added", ADMIN.added("admin"), by=ADMIN2), "signed by the admin key it"),
    ],
    ids=["genesis-not-admin", "genesis-signed-by-another"],
)
def test_genesis_rules_in_the_audit(first: dict[str, Any], message: str) -> None:
    log = Log()
    log.public_keys[ADMIN2.key_id] = ADMIN2.raw
    log.add(first)
    with pytest.raises(VerificationError, match=message) as caught:
        audit(log)
    assert caught.value.index == 0


def test_role_and_revocation_in_the_audit() -> None:
    log = standard()
    # 5: the curator (revoked at 3) adds a key; not allowed twice over.
    log.add(envelope("key.added", key("late", 9).added("verifier"), by=CURATOR))
    with pytest.raises(VerificationError, match="revoked at index 3") as caught:
        audit(log)
    assert caught.value.index == 5
    log = standard()
    log.add(envelope("key.revoked", {"key_id": ADMIN2.key_id, "reason": ""}, by=OUTSIDER))
    with pytest.raises(VerificationError, match="role verifier") as caught:
        audit(log)
    assert caught.value.index == 5


def test_unknown_signer() -> None:
    log = standard()
    stranger = key("stranger", 10)
    log.add(envelope("key.added", key("x", 11).added("verifier"), by=stranger))
    with pytest.raises(VerificationError, match="unknown key") as caught:
        audit(log)
    assert caught.value.index == 5


def test_checkpoints() -> None:
    log = standard()
    assert bad_index(log, checkpoints=[(3, mth(log.hashes[:2]))]) == 2
    with pytest.raises(VerificationError, match="entries from index 5 are gone") as caught:
        audit(log, checkpoints=[(7, b"\x00" * 32)])
    assert caught.value.index == 5
    # The first problem wins: a wrong checkpoint at 2 before a broken leaf at 4.
    rows = log.rows()
    rows[4] = (*rows[4][:2], b"\x00" * 32, *rows[4][3:])
    assert bad_index(log, rows, checkpoints=[(2, b"\x01" * 32)]) == 1


def test_stored_tree_node() -> None:
    log = standard()
    nodes = log.perfect_nodes()
    nodes[(1, 1)] = b"\x00" * 32

    def stored(a: int, b: int) -> dict[tuple[int, int], bytes]:
        return nodes

    with pytest.raises(VerificationError, match="level 1 index 1") as caught:
        audit(log, stored_nodes=stored)
    assert caught.value.index == 2


def test_first_bad_index_wins_across_node_and_leaf_problems() -> None:
    """A wrong stored node for leaf 1 comes before a broken leaf 4."""
    log = standard()
    nodes = log.perfect_nodes()
    nodes[(0, 1)] = b"\x00" * 32
    rows = log.rows()
    rows[4] = (*rows[4][:2], b"\x00" * 32, *rows[4][3:])
    with pytest.raises(VerificationError) as caught:
        audit(log, rows, stored_nodes=lambda a, b: nodes)
    assert caught.value.index == 1, caught.value.diagnostics()


def test_range_audit_continues_from_the_given_state() -> None:
    log = standard()
    keys = KeyState()
    audit_log(log.rows()[:2], log_id=LOG_ID, public_keys=log.public_keys, checkpoints=[],
              stored_nodes=None, keys=keys)
    report = audit_log(log.rows()[2:], log_id=LOG_ID, public_keys=log.public_keys, checkpoints=[],
                       stored_nodes=None, start=2, prev=log.hashes[1].hex(), keys=keys)
    assert report.size == 5 and report.signatures == 3
    with pytest.raises(VerificationError) as caught:
        audit_log(log.rows()[2:], log_id=LOG_ID, public_keys=log.public_keys, checkpoints=[],
                  stored_nodes=None, start=2, prev=GENESIS_PREV, keys=KeyState())
    assert caught.value.index == 2


@pytest.mark.slow
def test_worker_processes_give_the_same_answers() -> None:
    log = standard()
    assert audit(log, workers=2) == audit(log, workers=1)
    other = json.loads(log.leaves[1])["envelope"]["sig"]
    rows = with_leaf(log, 3, edited(log, 3, lambda v: v["envelope"].update(sig=other)))
    assert bad_index(log, rows, workers=2) == 3


def test_prev_of_reads_the_tail_of_a_canonical_leaf() -> None:
    log = standard()
    assert prev_of(log.leaves[0]) == GENESIS_PREV
    assert prev_of(log.leaves[3]) == log.hashes[2].hex()
    assert prev_of(b'{"prev":"' + b"0" * 64 + b'"}') is None  # too short to hold an envelope
    assert prev_of(log.leaves[3][:-1]) is None


def test_check_leaf_facts() -> None:
    log = standard()
    facts = check_leaf(3, log.leaves[3], log.public_keys, {}, log_id=LOG_ID)
    assert facts.error is None
    assert (facts.kind, facts.actor, facts.prev) == ("key.revoked", ADMIN2.key_id,
                                                     log.hashes[2].hex())
    assert facts.key_body == {"key_id": CURATOR.key_id, "reason": ""}
    unknown = check_leaf(3, log.leaves[3], {}, {}, log_id=LOG_ID)
    assert unknown.error is not None and "unknown key" in unknown.error


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_any_flipped_bit_is_found_at_its_index(data: st.DataObject) -> None:
    log = standard()
    idx = data.draw(st.integers(0, len(log.leaves) - 1), label="index")
    leaf = bytearray(log.leaves[idx])
    bit = data.draw(st.integers(0, len(leaf) * 8 - 1), label="bit")
    leaf[bit // 8] ^= 1 << (bit % 8)
    stored_hash = data.draw(st.booleans(), label="attacker fixes the stored hash")
    rows = with_leaf(log, idx, bytes(leaf), rehash=stored_hash)
    assert bad_index(log, rows) == idx
    # Without signatures a consistent re-hash shows at the next link or at the root.
    root = [(len(log.leaves), mth(log.hashes))]
    assert bad_index(log, rows, signatures=False, checkpoints=root) in {idx, idx + 1}
