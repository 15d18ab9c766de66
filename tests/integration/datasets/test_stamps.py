"""stamp / check: provenance written into DICOM, PNG and JPEG files, verified with nothing else."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image

from ledger.crypto.keys import SigningKey
from ledger.crypto.note import NoteSigner
from ledger.datasets.stamp import pixel_digest, read
from ledger.errors import InputError, VerificationError
from ledger.service import Ledger, stamps

from ..builders import RunCli
from .conftest import MR_SMALL, Pinned

# name in the test -> the registered file it is a copy of (MR_small_RLE has MR_small's pixels)
FILES = {
    "img0.png": "img0.png",
    "photo.jpg": "scans/photo.jpg",
    "mr.dcm": "scans/mr.dcm",
    "mr_rle.dcm": MR_SMALL.parent / "MR_small_RLE.dcm",
}


@pytest.fixture
def ledger(pinned: Pinned, tmp_path: Path) -> Iterator[Ledger]:
    opened = Ledger.open(shutil.copytree(pinned.ledger, tmp_path / "ledger"))
    yield opened
    opened.store.engine.dispose()


def _copy(pinned: Pinned, tmp_path: Path, name: str) -> Path:
    source = FILES[name]
    target = tmp_path / name
    shutil.copyfile(pinned.data / source if isinstance(source, str) else source, target)
    return target


@pytest.mark.parametrize("name", sorted(FILES))
def test_stamp_then_check_round_trips_pixels_untouched(pinned: Pinned, ledger: Ledger,
                                                       tmp_path: Path, name: str) -> None:
    path = _copy(pinned, tmp_path, name)
    before, pixels = path.read_bytes(), pixel_digest(path)
    assert read(before, name) is None
    [done] = stamps.stamp(ledger, [path])
    assert path.read_bytes() != before
    assert pixel_digest(path) == pixels == done.pixel_sha256
    result = stamps.check([path], pubkeys=[str(pinned.vkey)])
    result.require_all()
    [checked] = result.checked
    assert (checked.origin, checked.index, checked.key_given) == (ledger.origin, done.index, True)
    stamps.stamp(ledger, [path])  # stamping again replaces the stamp
    assert read(path.read_bytes(), name) is not None
    stamps.check([path], pubkeys=[str(pinned.vkey)]).require_all()
    if name.endswith(".dcm"):
        stamped, original = pydicom.dcmread(path), pydicom.dcmread(FILES_DCM[name])
        assert stamped.file_meta.TransferSyntaxUID == original.file_meta.TransferSyntaxUID
        items = [i for i in stamped.ContributingEquipmentSequence if i.Manufacturer == "medledger"]
        assert len(items) == 1 and f"at index {done.index}" in items[0].ContributionDescription
        assert np.array_equal(stamped.pixel_array, original.pixel_array)


FILES_DCM = {"mr.dcm": MR_SMALL, "mr_rle.dcm": MR_SMALL.parent / "MR_small_RLE.dcm"}


def test_a_changed_pixel_is_refused(pinned: Pinned, ledger: Ledger, tmp_path: Path) -> None:
    path = _copy(pinned, tmp_path, "mr.dcm")
    stamps.stamp(ledger, [path])
    ds = pydicom.dcmread(path)
    pixels = ds.pixel_array.copy()
    pixels[10, 10] += 1
    ds.PixelData = pixels.tobytes()
    ds.save_as(path)
    result = stamps.check([path], pubkeys=[str(pinned.vkey)])
    assert not result.checked
    with pytest.raises(VerificationError, match="pixels changed: registered 9f8476a9"):
        result.require_all()


def test_a_foreign_log_key_and_an_unstamped_file_fail(pinned: Pinned, ledger: Ledger,
                                                      tmp_path: Path, run_cli: RunCli) -> None:
    stamped = _copy(pinned, tmp_path, "img0.png")
    stamps.stamp(ledger, [stamped])
    plain = tmp_path / "plain.png"
    Image.fromarray(np.zeros((4, 4), dtype=np.uint8)).save(plain)
    foreign = NoteSigner("medledger.local/foreign", SigningKey.generate()).verifier_key
    result = run_cli("check", stamped, plain, "--pubkey", foreign, cwd=tmp_path)
    assert result.rc == 1
    assert "img0.png: FAILED: stamp is from an unknown log" in result.stdout
    assert "plain.png: FAILED: no medledger stamp" in result.stdout
    assert "(and 1 more)" in result.error_line()


def test_a_file_never_registered_is_not_stamped(ledger: Ledger, tmp_path: Path) -> None:
    path = tmp_path / "new.png"
    Image.fromarray(np.full((5, 5), 3, dtype=np.uint8)).save(path)
    before = path.read_bytes()
    with pytest.raises(InputError, match="no registration of these pixels"):
        stamps.stamp(ledger, [path])
    assert path.read_bytes() == before
