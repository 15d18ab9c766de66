"""Dataset sketches (ledger.similarity.sketches) and composition over a synthetic ledger.

Entries are signed image.registered entries with synthetic facts (no descriptor, so only
exact pixel copies are duplicates), appended with ``Ledger.submit`` and checked by the
catch-up scan: the real code path without decoding images. A slow reference
implementation of composition, written from the definition, cross-checks the fast one.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ledger.errors import InputError
from ledger.service import Ledger
from ledger.similarity.composition import composition, overlap
from ledger.similarity.sets import prepare, resolve
from ledger.similarity.sketches import (
    CACHE_NAME,
    DatasetSketches,
    Sketch,
    SketchKey,
    minhash_of,
    open_sketches,
)
from ledger.store import reading
from ledger.store.duplicates import groups, images

KEY = "cur"


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _facts(pixels: str, file: str) -> dict[str, Any]:
    return {
        "v": 1, "file_sha256": _sha(file), "file_size": 1, "format": "png",
        "pixel_sha256": _sha(pixels), "pixel_form": "grey8", "frame_sha256": [],
        "metadata": {}, "deid": {}, "pseudonyms": None, "fingerprints": {}, "preamble": None,
    }  # fmt: skip


def submit(ledger: Ledger, images: Sequence[tuple[str, str | None, str]]) -> None:
    """Append (source, dataset, picture) registrations; equal pictures are exact copies."""
    key = ledger.signing_key(KEY)
    start = ledger.size()
    envelopes = [
        ledger.sign(
            "image.registered",
            {
                "source": source,
                "license": "CC0-1.0",
                "consent": "waived",
                "dataset": dataset,
                "image": _facts(picture, f"{start + n}:{picture}"),
            },
            key=key,
        )
        for n, (source, dataset, picture) in enumerate(images)
    ]
    ledger.submit(envelopes)


@pytest.fixture
def ledger(ledger_dir: Path) -> Iterator[Ledger]:
    opened = Ledger.open(ledger_dir)
    opened.add_key(KEY, "curator")
    yield opened
    opened.store.engine.dispose()


def test_minhash_estimates_jaccard_and_ignores_order() -> None:
    a = minhash_of(range(1000))
    b = minhash_of(range(500, 1500))
    assert abs(a.jaccard(b) - 500 / 1500) < 0.1
    assert np.array_equal(a.hashvalues, minhash_of(reversed(range(1000))).hashvalues)
    assert minhash_of([7]).jaccard(minhash_of(["7"])) == 1.0  # tokens are decimal strings


def _sketches(sets: dict[str, range]) -> DatasetSketches:
    found = DatasetSketches.__new__(DatasetSketches)
    found.sketches = {}
    for name, tokens in sets.items():
        key = SketchKey("dataset", name)
        found.sketches[key] = Sketch(key, len(tokens), minhash_of(tokens))
    return found


def test_ensemble_finds_the_containers_not_the_strangers() -> None:
    registered = {f"d{n}": range(n * 1000, n * 1000 + 1000) for n in range(40)}
    sketches = _sketches(registered)
    query = [*range(300), *range(7000, 7200), *range(10**6, 10**6 + 500)]  # 30% d0, 20% d7
    found = sketches.candidates(query, threshold=0.05)
    assert {SketchKey("dataset", "d0"), SketchKey("dataset", "d7")} <= set(found)
    assert len(found) < 10
    assert (
        sketches.candidates(query, exclude=[SketchKey("dataset", "d0")]).count(
            SketchKey("dataset", "d0")
        )
        == 0
    )
    assert sketches.candidates([]) == []
    with pytest.raises(InputError, match="threshold"):
        sketches.candidates(query, threshold=0)


def _values(s: DatasetSketches) -> dict[SketchKey, tuple[int, list[int]]]:
    return {k: (v.images, v.minhash.hashvalues.tolist()) for k, v in s.sketches.items()}


def test_incremental_sync_equals_a_fresh_build_and_the_cache_round_trips(
    ledger: Ledger,
) -> None:
    submit(ledger, [("s1", "a@1", f"p{n}") for n in range(30)])
    submit(ledger, [("s2", None, f"p{n}") for n in range(20, 40)])
    prepare(ledger)
    first = open_sketches(ledger.store, ledger.dir.path)
    assert first.sync() == 50
    first.save()
    submit(ledger, [("s2", "b@1", f"p{n}") for n in range(35, 60)])
    prepare(ledger)
    reopened = open_sketches(ledger.store, ledger.dir.path)
    assert reopened.size == first.size  # loaded from the cache, then brought up to date
    assert reopened.sync() == 25
    fresh = DatasetSketches(ledger.store, None)
    fresh.sync()
    assert _values(reopened) == _values(fresh)
    assert set(fresh.sketches) == {
        SketchKey("source", "s1"), SketchKey("source", "s2"),
        SketchKey("dataset", "a@1"), SketchKey("dataset", "b@1"),
    }  # fmt: skip
    assert fresh.sketches[SketchKey("source", "s2")].images == 45


def test_sync_stops_before_unchecked_images(ledger: Ledger) -> None:
    submit(ledger, [("s1", "a@1", f"p{n}") for n in range(5)])
    prepare(ledger)
    submit(ledger, [("s1", "a@1", f"q{n}") for n in range(5)])  # not scanned yet
    sketches = DatasetSketches(ledger.store, None)
    assert sketches.sync() == 5
    assert sketches.size < ledger.size()
    prepare(ledger)
    assert sketches.sync() == 5
    assert sketches.size == ledger.size()


@pytest.mark.parametrize("damage", ["garbage", "truncated", "other-params", "other-log"])
def test_a_bad_cache_is_rebuilt(ledger: Ledger, tmp_path: Path, damage: str) -> None:
    submit(ledger, [("s1", "a@1", f"p{n}") for n in range(10)])
    prepare(ledger)
    built = open_sketches(ledger.store, ledger.dir.path)
    built.sync()
    built.save()
    cache = ledger.dir.path / "similarity" / CACHE_NAME
    data = cache.read_bytes()
    if damage == "garbage":
        cache.write_bytes(b"not a cache")
    elif damage == "truncated":
        cache.write_bytes(data[:-10])
    elif damage == "other-params":
        cache.write_bytes(data.replace(b'"num_perm": 128', b'"num_perm": 256'))
    else:
        other = Ledger.init(tmp_path / "other")
        try:
            other.add_key(KEY, "curator")
            submit(other, [("s1", "a@1", f"p{n}") for n in range(10)])
            loaded = open_sketches(other.store, ledger.dir.path)
        finally:
            other.store.engine.dispose()
        assert (loaded.size, loaded.sketches) == (0, {})
        return
    loaded = open_sketches(ledger.store, ledger.dir.path)
    assert (loaded.size, loaded.sketches) == (0, {})
    loaded.sync()
    assert _values(loaded) == _values(built)


# --- composition against a reference written from the definition ----------------------


def reference_composition(ledger: Ledger, name: str) -> tuple[dict[tuple[str, str], set[int]], int]:
    """All pairs: image d of D is from X when an image of X, earlier, not in D, shares
    d's duplicate group (synthetic entries have exact copies only, all in one group).
    Returns (kind, name) -> positions of D's images from it, and the unseen count."""
    rows = resolve(ledger, [name]).members
    with reading(ledger.store.engine) as conn:
        info = images(conn, range(ledger.size()))
        group_of = groups(conn, info)
    members = {m.idx for m in rows}
    found: dict[tuple[str, str], set[int]] = {}
    unseen = 0
    for position, m in enumerate(rows):
        assert m.idx is not None
        sources: set[tuple[str, str]] = set()
        for other in info.values():
            if other.idx in members or other.idx >= m.idx:
                continue
            if group_of[other.idx] == group_of[m.idx]:
                sources.add(("source", other.source))
                if other.dataset is not None:
                    sources.add(("dataset", other.dataset))
        for key in sources:
            found.setdefault(key, set()).add(position)
        unseen += not sources
    return found, unseen


@pytest.mark.parametrize("seed", [1, 2])
def test_composition_agrees_with_the_reference(ledger: Ledger, seed: int) -> None:
    rng = random.Random(seed)
    pool = [f"p{n}" for n in range(120)]
    batch: list[tuple[str, str | None, str]] = []
    for n in range(8):
        source, dataset = f"site{n % 3}", (None if n == 5 else f"set{n}@1")
        batch += [(source, dataset, p) for p in rng.sample(pool, rng.randint(5, 30))]
    submit(ledger, batch)
    target = [("site9", "mix@1", p) for p in rng.sample(pool, 40)]
    target += [("site9", "mix@1", f"new{n}") for n in range(10)]
    target += [("site9", "mix@1", target[0][2])]  # a copy inside the dataset
    submit(ledger, target)
    submit(ledger, [("site0", "later@1", p) for p in pool[:60]])  # after: never counts
    prepare(ledger)
    mix = resolve(ledger, ["mix@1"])
    found = composition(ledger, mix)
    want, unseen = reference_composition(ledger, "mix@1")
    listed = {(s.kind, s.name): s.images for s in found.shares}
    assert found.unseen == unseen
    # Every source and dataset with a copy is listed, with its exact share.
    assert listed == {key: len(positions) for key, positions in want.items()}
    assert all(s.share == s.images / len(mix.members) for s in found.shares)
    # Each share names the images behind it: D's image -> an earlier entry of that source.
    labels = [m.label for m in mix.members]
    for s in found.shares:
        assert {labels.index(m.image) for m in s.matched} == want[(s.kind, s.name)]


def test_overlap_of_synthetic_sets(ledger: Ledger) -> None:
    submit(ledger, [("s1", "a@1", p) for p in ("x", "y", "z", "w")])
    submit(ledger, [("s2", "b@1", p) for p in ("y", "z", "z", "v", "u", "t")])
    prepare(ledger)
    found = overlap(ledger, resolve(ledger, ["a@1"]), resolve(ledger, ["b@1"]))
    assert (found.exact, found.near, found.b_in_a) == (2, 2, 3)
    assert found.containment_a_in_b == 2 / 4 and found.containment_b_in_a == 3 / 6
    # clusters: x, w, {y,y}, {z,z,z}, v, u, t
    assert (found.shared_clusters, found.clusters) == (2, 7)
    with pytest.raises(InputError):
        overlap(ledger, resolve(ledger, ["a@1"]), resolve(ledger, ["nosuch@1"]))


def test_a_source_with_many_unrelated_images_is_still_listed(ledger: Ledger) -> None:
    """The user's report: a source vanished after registering 4,500 unrelated images. Its
    sketch then held the shared pictures as a tiny fraction, so the sketches did not propose
    it, and another listed source held the same pictures, so nothing looked further. (The
    same happens with 600; listing is now from each image's own matches, without sketches.)"""
    submit(ledger, [("aggregator", "agg@1", f"s{n}") for n in range(5)])
    submit(ledger, [("small-site", "small@1", f"t{n}") for n in range(20)])
    big = [("big-site", "big@1", f"u{n}") for n in range(600)]
    submit(ledger, big + [("big-site", "big@1", f"s{n}") for n in range(5)])
    mix = [(f"t{n}") for n in range(20)] + [f"s{n}" for n in range(5)]
    submit(ledger, [("me", "mix@1", p) for p in mix + [f"new{n}" for n in range(15)]])
    prepare(ledger)
    found = composition(ledger, resolve(ledger, ["mix@1"]))
    listed = {(s.kind, s.name): s.images for s in found.shares}
    assert listed[("source", "big-site")] == listed[("dataset", "big@1")] == 5
    assert listed[("source", "aggregator")] == 5 and listed[("source", "small-site")] == 20
    assert found.unseen == 15
