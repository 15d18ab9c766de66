"""The two stages together: candidates from the index, verified and explained."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from PIL import Image

from ledger.errors import InputError
from ledger.similarity import MemoryDescriptors, NearDuplicateIndex, describe
from ledger.similarity.search import verified

from .phantoms import crop, phantom


@pytest.fixture
def engine() -> NearDuplicateIndex:
    source = MemoryDescriptors()
    index = NearDuplicateIndex(descriptors=source)
    for image_id in range(20):
        d = describe(phantom(100 + image_id))
        source.put(image_id, d)
        index.add(image_id, d)
    return index


def test_a_flipped_copy_finds_its_original_and_says_so(engine: NearDuplicateIndex):
    matches = engine.search(describe(np.ascontiguousarray(phantom(107)[::-1, :])))
    assert [m.image for m in matches] == [7]
    assert matches[0].verdict.alignment is not None
    assert matches[0].verdict.alignment.transform == "mirror-tb"
    assert matches[0].to_json()["explanation"].startswith("near-duplicate: mirror-tb")


def test_a_neighbouring_slice_is_a_candidate_but_not_a_match(engine: NearDuplicateIndex):
    query = describe(phantom(103, moved=1))
    assert not [m for m in engine.search(query) if m.image == 3]


def test_exclude_and_top(engine: NearDuplicateIndex):
    query = describe(phantom(104))
    assert [m.image for m in engine.search(query, top=1)] == [4]
    assert engine.search(query, exclude=[4]) == []


def test_serialised_engine_answers_the_same(engine: NearDuplicateIndex):
    again = NearDuplicateIndex.from_bytes(engine.to_bytes(), descriptors=engine.descriptors)
    query = describe(np.rot90(phantom(111)))
    assert [m.image for m in again.search(query)] == [m.image for m in engine.search(query)]
    assert len(again) == 20


def test_bad_parameters_are_refused():
    with pytest.raises(InputError, match="max_candidates"):
        NearDuplicateIndex(descriptors=MemoryDescriptors(), max_candidates=0)


def test_a_negative_copy_finds_its_original_and_says_it_is_inverted(engine: NearDuplicateIndex):
    matches = engine.search(describe(255.0 - phantom(109)))
    assert [m.image for m in matches] == [9]
    alignment = matches[0].verdict.alignment
    assert alignment is not None and alignment.inverted
    assert alignment.to_json()["inverted"] is True
    assert "inverted grey levels" in matches[0].verdict.explain()


def test_the_negative_of_a_neighbouring_slice_is_not_a_match(engine: NearDuplicateIndex):
    assert not [m for m in engine.search(describe(255.0 - phantom(103, moved=1))) if m.image == 3]


def test_an_upright_copy_is_not_called_inverted(engine: NearDuplicateIndex):
    alignment = engine.search(describe(phantom(112)))[0].verdict.alignment
    assert alignment is not None and not alignment.inverted


@pytest.mark.parametrize("enough", [None, 0, 1, 2])
def test_the_verification_step_alone_returns_what_search_returns(
    engine: NearDuplicateIndex, enough: int | None
):
    # search = candidates (index and stored descriptors) + the pure step, which a worker
    # process may run: the same matches, order and verdicts, after a pickle round trip too.
    engine.descriptors.put(20, describe(phantom(105)))  # type: ignore[attr-defined]
    engine.add(20, describe(phantom(105)))  # a second match for the copies of 105
    queries = [
        describe(np.ascontiguousarray(phantom(105)[::-1, :])),
        describe(255.0 - phantom(109)),
        describe(phantom(103, moved=1)),
        describe(np.rot90(phantom(111))),
    ]
    for query in queries:
        for exclude in ([], [5]):
            task = engine.verification(query, exclude=exclude, enough=enough)
            expected = engine.search(query, exclude=exclude, enough=enough)
            assert verified(task) == expected
            assert verified(pickle.loads(pickle.dumps(task))) == expected  # noqa: S301 (own data)
            if enough != 0:
                assert task.candidates, "every query here has candidates"


def test_a_candidate_without_a_stored_descriptor_is_left_out_of_the_task():
    source = MemoryDescriptors()
    engine = NearDuplicateIndex(descriptors=source)
    original = describe(phantom(104))
    engine.add(1, original)  # indexed, but its descriptor is not stored
    engine.add(2, original)
    source.put(2, original)
    task = engine.verification(original)
    assert [c.image for c, _ in task.candidates] == [2]
    assert [m.image for m in verified(task)] == [m.image for m in engine.search(original)] == [2]


def _textured(seed: int) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(0, 8, (256, 256))
    return np.clip(phantom(seed, 256) + noise, 0, 255)


@pytest.mark.parametrize("seed", [20, 22, 25])
def test_an_80_percent_crop_resized_back_is_found(seed: int):
    source = MemoryDescriptors()
    index = NearDuplicateIndex(descriptors=source)
    for image_id in (20, 21, 22, 23, 25):
        d = describe(_textured(image_id))
        source.put(image_id, d)
        index.add(image_id, d)
    cut = crop(_textured(seed), 0.8, top=0.3, left=0.6).astype(np.float32)
    copy = np.asarray(Image.fromarray(cut, mode="F").resize((256, 256)), dtype=np.float64)
    matches = index.search(describe(copy))
    assert [m.image for m in matches] == [seed], [m.to_json() for m in matches]
    assert "scale" in matches[0].verdict.explain()
