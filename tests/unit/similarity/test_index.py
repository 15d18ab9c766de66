"""HammingIndex: exactly brute force's answers, incremental adds, versioned serialisation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.errors import InputError
from ledger.similarity.index import MAGIC, HammingIndex


def brute_force(keys: np.ndarray, query: np.ndarray, radius: int) -> set[tuple[int, int]]:
    """The slow, obviously correct reference: every (query position, key position) pair."""
    flat = keys.reshape(-1)
    out = set()
    for qi, q in enumerate(query):
        for k, code in enumerate(flat):
            if bin(int(q) ^ int(code)).count("1") <= radius:
                out.add((qi, k))
    return out


def found(index: HammingIndex, query: np.ndarray, radius: int) -> set[tuple[int, int]]:
    hits = index.search(query, radius=radius)
    per = index.keys_per_image
    return set(zip(hits.query.tolist(), (hits.image * per + hits.key).tolist(), strict=True))


def population(seed: int, images: int, per: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    keys = rng.integers(0, 1 << 62, size=(images, per), dtype=np.int64).astype(np.uint64)
    return keys ^ (rng.integers(0, 4, size=(images, per)).astype(np.uint64) << np.uint64(62))


def near(keys: np.ndarray, seed: int, count: int, max_flips: int) -> np.ndarray:
    """Queries made by flipping up to ``max_flips`` bits of indexed keys."""
    rng = np.random.default_rng(seed)
    flat = keys.reshape(-1)
    out = flat[rng.integers(0, len(flat), count)].copy()
    for i in range(count):
        for bit in rng.choice(64, int(rng.integers(0, max_flips + 1)), replace=False):
            out[i] ^= np.uint64(1) << np.uint64(int(bit))
    return out


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    images=st.integers(1, 300),
    per=st.integers(1, 3),
    chunks=st.integers(3, 8),
    radius=st.integers(0, 12),
)
def test_search_equals_brute_force(seed: int, images: int, per: int, chunks: int, radius: int):
    keys = population(seed, images, per)
    index = HammingIndex(key_kind="test/1", keys_per_image=per, chunks=chunks)
    index.add(np.arange(images), keys)
    index._merge()  # everything in the chunk tables
    query = near(keys, seed + 1, 12, radius + 2)
    assert found(index, query, radius) == brute_force(keys, query, radius)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), radius=st.integers(0, 10))
def test_incremental_adds_search_the_tail_too(seed: int, radius: int):
    keys = population(seed, 5000, 2)
    index = HammingIndex(key_kind="test/1", keys_per_image=2)
    index.add(np.arange(4500), keys[:4500])  # merged into the tables (over 4096 keys)
    index.add(np.arange(4500, 5000), keys[4500:])  # stays in the unsorted tail
    assert index._tail_count > 0 and index._sorted > 0
    query = near(keys, seed + 7, 20, radius + 3)
    assert found(index, query, radius) == brute_force(keys, query, radius)


def test_hits_report_ids_keys_and_distances():
    index = HammingIndex(key_kind="test/1", keys_per_image=2)
    index.add([70, 80], [[0b1111, 0xFF00], [0, 1 << 63]])
    hits = index.search([0b0111], radius=3)
    rows = sorted(zip(hits.image.tolist(), hits.key.tolist(), hits.distance.tolist(), strict=True))
    assert rows == [(70, 0, 1), (80, 0, 3)]


def test_round_trip_keeps_every_answer():
    keys = population(3, 2000, 2)
    index = HammingIndex(key_kind="test/1", keys_per_image=2, chunks=4)
    index.add(np.arange(100, 2100), keys)
    data = index.to_bytes()
    again = HammingIndex.from_bytes(data, key_kind="test/1")
    assert (again.chunks, again.keys_per_image, len(again)) == (4, 2, 2000)
    query = near(keys, 4, 30, 6)
    assert found(again, query, 6) == found(index, query, 6)
    assert again.to_bytes() == data


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.replace(b'"alg":"mih"', b'"alg":"lsh"'), "is not mih v1"),
        (lambda d: d.replace(b'"v":1', b'"v":2'), "is not mih v1"),
        (lambda d: d[:-8], "body is"),
        (lambda d: d + b"\0" * 8, "body is"),
        (lambda d: b"X" + d[1:], "not a medledger Hamming index"),
        (lambda d: d[: len(MAGIC) + 4] + b"[" + d[len(MAGIC) + 5 :], "malformed"),
    ],
    ids=[
        "other-algorithm",
        "other-version",
        "truncated",
        "trailing-garbage",
        "bad-magic",
        "bad-header",
    ],
)
def test_incompatible_or_damaged_indexes_are_refused(mutate, message):
    index = HammingIndex(key_kind="test/1", keys_per_image=1)
    index.add([1, 2, 3], [[1], [2], [3]])
    with pytest.raises(InputError, match=message):
        HammingIndex.from_bytes(mutate(index.to_bytes()), key_kind="test/1")


def test_index_of_other_keys_is_refused():
    index = HammingIndex(key_kind="dup-grid/1", keys_per_image=1)
    index.add([1], [[5]])
    with pytest.raises(InputError, match="holds 'dup-grid/1' keys, not 'dup-grid/2'"):
        HammingIndex.from_bytes(index.to_bytes(), key_kind="dup-grid/2")


def test_bad_arguments_are_refused():
    for chunks in (2, 9):
        with pytest.raises(InputError, match="chunks"):
            HammingIndex(key_kind="k", keys_per_image=1, chunks=chunks)
    index = HammingIndex(key_kind="k", keys_per_image=2)
    with pytest.raises(InputError, match="shape"):
        index.add([1], [[1, 2, 3]])
    with pytest.raises(InputError, match="radius"):
        index.search([1], radius=40)


def test_empty_index_finds_nothing():
    index = HammingIndex(key_kind="k", keys_per_image=1)
    assert len(index.search([0, 1, 2], radius=5)) == 0
