"""The frame policy (ledger/imaging/framegrids.py): which frames of a multi-frame image get
near-duplicate keys, and that registration's analysis respects the cap on a real file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

from ledger.imaging.analyse import analyse
from ledger.imaging.framegrids import MAX_DESCRIBED_FRAMES, described_frames
from ledger.imaging.limits import DecodeLimits
from ledger.model.images import ImageFacts

SECRET = b"k" * 32
SIZE = 32


def _many_frames(path: Path, frames: int) -> Path:
    """A synthetic MONOCHROME2 secondary capture: each frame a different smooth texture
    (no PHI: every identifying attribute is absent)."""
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    stack = np.empty((frames, SIZE, SIZE), dtype=np.uint8)
    for f in range(frames):
        a, b = rng.uniform(0.1, 0.6, size=2)
        stack[f] = np.clip(128 + 60 * np.sin(a * xx + f) + 60 * np.cos(b * yy - f), 0, 255)
    ds = Dataset()
    ds.SOPClassUID, ds.SOPInstanceUID = SecondaryCaptureImageStorage, generate_uid()
    ds.Modality, ds.Rows, ds.Columns, ds.NumberOfFrames = "OT", SIZE, SIZE, frames
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.PatientIdentityRemoved = "YES"
    ds.PixelData = stack.tobytes()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.save_as(path, enforce_file_format=True)
    return path


@pytest.mark.parametrize("count", [2, 10, 32])
def test_every_frame_is_described_up_to_the_cap(count: int) -> None:
    assert described_frames(count) == tuple(range(count))


@pytest.mark.parametrize("count", [33, 96, 300, 5000])
def test_above_the_cap_an_even_sample_with_the_ends_and_the_middle(count: int) -> None:
    frames = described_frames(count)
    assert len(frames) == MAX_DESCRIBED_FRAMES - 1 == len(set(frames))  # odd: a middle pick
    assert frames == tuple(sorted(frames))
    assert frames[0] == 0 and frames[-1] == count - 1 and count // 2 in frames
    gaps = np.diff(frames)
    assert gaps.max() - gaps.min() <= 2  # evenly spread (the middle pick may move by one)
    assert gaps.max() <= -(-(count - 1) // (MAX_DESCRIBED_FRAMES - 2)) + 1


def test_a_single_frame_image_has_no_frame_list() -> None:
    assert described_frames(1) == ()


def test_a_many_frame_file_lists_at_most_the_cap(tmp_path: Path) -> None:
    path = _many_frames(tmp_path / "many.dcm", 100)
    analysis = analyse(path, secret=SECRET, limits=DecodeLimits())
    frames = [f for f, _ in analysis.frame_descriptors]
    assert 0 < len(frames) <= MAX_DESCRIBED_FRAMES - 1  # the middle one is the image's own
    assert set(frames) < set(described_frames(100)) and 50 not in frames
    facts = analysis.to_json()
    ImageFacts.model_validate(facts)  # what the signed entry will hold is valid
    assert [g["frame"] for g in facts["frame_grids"]] == frames
    grids = {d.grid_sha256 for _, d in analysis.frame_descriptors}
    assert len(grids) == len(frames)  # a repeated grid is described once


def test_repeated_and_blank_frames_add_no_descriptor(tmp_path: Path) -> None:
    path = _many_frames(tmp_path / "few.dcm", 4)
    from pydicom import dcmread

    ds = dcmread(path)
    stack = ds.pixel_array.copy()
    stack[0] = stack[2]  # frame 0 repeats the middle frame
    stack[3] = 90  # frame 3 is flat
    ds.PixelData = stack.tobytes()
    ds.save_as(path, enforce_file_format=True)
    analysis = analyse(path, secret=SECRET, limits=DecodeLimits())
    assert [f for f, _ in analysis.frame_descriptors] == [1]


def test_the_sample_is_distinct_and_holds_the_middle_for_every_count() -> None:
    for count in range(MAX_DESCRIBED_FRAMES + 1, 1200):
        frames = described_frames(count)
        assert len(set(frames)) == len(frames) == MAX_DESCRIBED_FRAMES - 1, count
        assert count // 2 in frames and frames == tuple(sorted(frames)), count
