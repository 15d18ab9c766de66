"""The log binding in the audit, leaf by leaf and on the fast path: a v2 entry must name
the audited log, and v1 entries are read only before the log's first v2 entry."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from ledger.audit.fastpath import advance, summarize_signed
from ledger.audit.keystate import KeyState
from ledger.audit.replay import audit_log
from ledger.errors import VerificationError

from .logmaker import ADMIN, LOG_ID, Log, envelope, key, standard

CURATOR2 = key("cura2", 7)
OTHER_LOG = "ee" * 32


def _image(n: int) -> dict[str, Any]:
    sha = hashlib.sha256(b"audit-binding-%d" % n).hexdigest()
    return {
        "source": "site-a", "license": "CC0-1.0", "consent": "waived", "dataset": None,
        "image": {
            "v": 1, "file_sha256": sha, "file_size": 1, "format": "png", "pixel_sha256": sha,
            "pixel_form": "grey8", "frame_sha256": [], "metadata": {}, "deid": {},
            "pseudonyms": None, "fingerprints": {}, "preamble": None,
        },
    }  # fmt: skip


def with_images(versions: list[int], *, logs: dict[int, str] | None = None, base: int = 2) -> Log:
    """The standard log (entries of format ``base``), a curator added at 5, then one image
    entry per item of ``versions`` from index 6 (``logs``: index -> another log id)."""
    log = standard(v=base)
    log.add(envelope("key.added", CURATOR2.added("curator"), by=ADMIN, v=base))
    for offset, v in enumerate(versions):
        index = 6 + offset
        named = (logs or {}).get(index, LOG_ID)
        log.add(envelope("image.registered", _image(index), by=CURATOR2, v=v, log=named))
    return log


def audit(log: Log) -> int | None:
    """Audit the key prefix, then the images alone (so that they form one key-free chunk,
    the fast path's case); returns the index the audit names, None if it passes."""
    keys = KeyState()
    rows = log.rows()
    try:
        audit_log(rows[:6], log_id=LOG_ID, public_keys=log.public_keys, checkpoints=[],
                  stored_nodes=None, keys=keys)
        first_v2 = 0 if b'"v":2' in log.leaves[0] else None  # a v2 genesis
        audit_log(rows[6:], log_id=LOG_ID, public_keys=log.public_keys, checkpoints=[],
                  stored_nodes=None, start=6, prev=log.hashes[5].hex(), keys=keys,
                  first_v2=first_v2)
    except VerificationError as exc:
        return exc.index
    return None


def test_v2_log_passes() -> None:
    assert audit(with_images([2, 2, 2, 2])) is None


def test_v1_log_passes_and_v2_may_follow() -> None:
    assert audit(with_images([1, 1], base=1)) is None
    assert audit(with_images([1, 1, 2, 2], base=1)) is None


@pytest.mark.parametrize(("versions", "bad"), [([2, 1], 7), ([2, 2, 2, 1], 9), ([1, 2, 1], 8)])
def test_v1_after_v2_is_named(versions: list[int], bad: int) -> None:
    assert audit(with_images(versions, base=1)) == bad


def test_v1_after_a_v2_key_prefix_is_named() -> None:
    assert audit(with_images([1, 2], base=2)) == 6


def test_entry_for_another_log_is_named() -> None:
    assert audit(with_images([2, 2, 2], logs={7: OTHER_LOG})) == 7
    with pytest.raises(VerificationError, match="entry is signed for another log"):
        audit_log(with_images([2], logs={6: OTHER_LOG}).rows(), log_id=LOG_ID,
                  public_keys=with_images([]).public_keys, checkpoints=[], stored_nodes=None)


def test_fast_path_settles_only_bound_and_ordered_chunks() -> None:
    log = with_images([1, 1, 2, 2], base=1)
    summary = summarize_signed(log.rows()[6:], log.public_keys, {}, log_id=LOG_ID)
    assert summary is not None
    assert (summary.has_v1, summary.first_v2) == (True, 8)
    assert summarize_signed(log.rows()[6:], log.public_keys, {}, log_id=OTHER_LOG) is None
    reordered = with_images([2, 1], base=1)
    assert summarize_signed(reordered.rows()[6:], log.public_keys, {}, log_id=LOG_ID) is None
    foreign = with_images([2, 2], logs={7: OTHER_LOG})
    assert summarize_signed(foreign.rows()[6:], log.public_keys, {}, log_id=LOG_ID) is None


def test_fast_path_hands_a_v1_chunk_after_v2_to_the_replay() -> None:
    log = with_images([1, 1], base=1)
    rows = log.rows()[6:]
    summary = summarize_signed(rows, log.public_keys, {}, log_id=LOG_ID)
    assert summary is not None
    keys = KeyState()
    audit_log(log.rows()[:6], log_id=LOG_ID, public_keys=log.public_keys, checkpoints=[],
              stored_nodes=None, keys=keys)
    common: dict[str, Any] = {"expected": 6, "prev": log.hashes[5].hex(), "keys": keys,
                              "signatures": True, "stack": [], "size": 0, "tree": False,
                              "pending": [], "stored_nodes": None}
    assert advance(rows, summary, first_v2=None, **common) is not None
    assert advance(rows, summary, first_v2=3, **common) is None
