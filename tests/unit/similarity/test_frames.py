"""The frame dimension of the search: several descriptors per image, one match per image."""

from __future__ import annotations

import numpy as np
import pytest
from pydicom.data import get_testdata_file

from ledger.errors import InputError
from ledger.imaging.analyse import analyse
from ledger.imaging.limits import DecodeLimits
from ledger.similarity import MemoryDescriptors, NearDuplicateIndex, describe
from ledger.similarity.search import key_id

from .phantoms import phantom


@pytest.fixture(scope="module")
def frames() -> list[np.ndarray]:
    """Eight unrelated phantoms standing for the frames of one image (id 3)."""
    return [phantom(300 + f) for f in range(8)]


def _engine(frames: list[np.ndarray]) -> NearDuplicateIndex:
    source = MemoryDescriptors()
    engine = NearDuplicateIndex(descriptors=source)
    ids, keys, numbers = [], [], []
    for f, picture in enumerate(frames):
        d = describe(picture)
        source.put(3, d, frame=f)
        ids.append(3)
        keys.append(d.keys)
        numbers.append(f)
    engine.add_keys(ids, keys, frames=numbers)
    other = describe(phantom(900))
    source.put(4, other)
    engine.add(4, other)
    return engine


def test_a_frame_is_found_and_named(frames: list[np.ndarray]) -> None:
    engine = _engine(frames)
    matches = engine.search(describe(np.ascontiguousarray(frames[6][:, ::-1])))
    assert [(m.image, m.frame) for m in matches] == [(3, 6)]
    assert matches[0].to_json()["frame"] == 6


def test_an_image_is_counted_once_however_many_frames_match(frames: list[np.ndarray]) -> None:
    source = MemoryDescriptors()
    engine = NearDuplicateIndex(descriptors=source)
    d = describe(frames[1])
    for f in (0, 1, 2):  # three frames with the same picture
        source.put(7, d, frame=f)
        engine.add(7, d, frame=f)
    matches = engine.search(d)
    assert [m.image for m in matches] == [7]


def test_an_excluded_image_is_excluded_at_every_frame(frames: list[np.ndarray]) -> None:
    engine = _engine(frames)
    assert engine.search(describe(frames[2]), exclude=[3]) == []


def test_a_single_descriptor_image_has_no_frame(frames: list[np.ndarray]) -> None:
    engine = _engine(frames)
    matches = engine.search(describe(phantom(900)))
    assert [(m.image, m.frame) for m in matches] == [(4, None)]
    assert "frame" not in matches[0].to_json()


def test_ids_outside_the_range_are_refused() -> None:
    with pytest.raises(InputError):
        key_id(1 << 31, 0)
    with pytest.raises(InputError):
        key_id(3, -1)
    engine = NearDuplicateIndex(descriptors=MemoryDescriptors())
    with pytest.raises(InputError):
        engine.add_keys([3], [[0] * 6], frames=[-1])


def test_neighbouring_frames_of_another_registration_stay_hard_negatives() -> None:
    """emri_small's frames as two registrations: frame 2 alone, and every other frame. The
    search must not take frame 1 or 3 (the next slices) for frame 2."""
    path = get_testdata_file("emri_small.dcm")
    assert isinstance(path, str)
    analysis = analyse(path, secret=b"k" * 32, limits=DecodeLimits())
    assert analysis.descriptor is not None
    described = dict(analysis.frame_descriptors) | {5: analysis.descriptor}
    source = MemoryDescriptors()
    engine = NearDuplicateIndex(descriptors=source)
    for frame, d in described.items():
        if frame != 2:
            source.put(1, d, frame=frame)
            engine.add(1, d, frame=frame)
    assert engine.search(described[2]) == []
    source.put(1, described[2], frame=2)
    engine.add(1, described[2], frame=2)
    assert [(m.image, m.frame) for m in engine.search(described[2])] == [(1, 2)]
