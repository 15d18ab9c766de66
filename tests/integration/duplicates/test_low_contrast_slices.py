"""Low-contrast slices: copies are found, neighbouring slices are not duplicates.

A careless export maps a volume's whole stored range to 8 bits (pydicom-data's emri_small.dcm:
12 bits stored, so the anatomy spans a few grey levels). Each slice's JPEG copy must find that
slice, and no slice may be called a duplicate of another: a verifier that judged residuals
against a floor instead of the image's own contrast called 18 of these 90 pairs duplicates.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.data import get_testdata_file

from ..registration.support import RunCli, make_ledger, register_args
from .exports import full_range

W1 = ("--workers", "1")


def _slices() -> list[np.ndarray]:
    found = get_testdata_file("emri_small.dcm")
    assert found is not None
    dataset = pydicom.dcmread(str(found))
    bits, signed = int(dataset.BitsStored), int(dataset.PixelRepresentation) == 1
    return [full_range(frame, bits, signed=signed) for frame in dataset.pixel_array]


@pytest.fixture(scope="module")
def slices(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("full-range")
    paths = []
    for i, image in enumerate(_slices()):
        assert float(image.std()) < 8.0  # low contrast indeed
        path = folder / f"slice-{i:02d}.png"
        Image.fromarray(image).save(path)
        paths.append(path)
    return paths


def test_no_two_low_contrast_slices_are_duplicates(
    cli: RunCli, slices: list[Path], tmp_path: Path
) -> None:
    ledger = make_ledger(tmp_path / "ledger")
    result = cli("dups", slices[0].parent, *W1, "--json", ledger=ledger)
    assert result.rc == 0, result.stderr
    report = result.json()
    assert report["groups"] == [] and report["set"]["images"] == len(slices)


def test_a_low_contrast_slice_s_jpeg_copy_finds_that_slice_alone(
    cli: RunCli, slices: list[Path], tmp_path: Path
) -> None:
    ledger = make_ledger(tmp_path / "ledger")
    registered = cli(*register_args(*slices, source="archive-a"), ledger=ledger)
    assert registered.rc == 0, registered.stderr
    for i in (0, 4, 9):
        shown = cli("show", slices[i], "--json", ledger=ledger)
        assert shown.rc == 0, shown.stderr
        copy = tmp_path / f"copy-{i}.jpg"
        Image.open(slices[i]).save(copy, quality=75)
        near = cli("similar", copy, "--json", ledger=ledger)
        assert near.rc == 0, near.stderr
        rows = near.json()
        assert [(row["digest"], row["kind"]) for row in rows] == [(shown.json()["digest"], "near")]
