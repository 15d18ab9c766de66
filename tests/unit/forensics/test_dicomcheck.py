"""DICOM inconsistencies written with pydicom into copies of pydicom's own test files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from ledger.forensics.screen import advisory
from ledger.forensics.signal import Level

from .samples import named, screened

SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"


def rewritten(tmp_path: Path, source: str, change: Callable[[Dataset], None]) -> Path:
    ds = pydicom.dcmread(get_testdata_file(source))
    change(ds)
    path = tmp_path / f"changed-{source}"
    ds.save_as(path, enforce_file_format=True)
    return path


def _sc_original_primary(ds: Dataset) -> None:
    ds.SOPClassUID = SECONDARY_CAPTURE
    ds.file_meta.MediaStorageSOPClassUID = SECONDARY_CAPTURE
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]


def _syn_with_acquisition(ds: Dataset) -> None:
    ds.ConversionType = "SYN"
    ds.ImageType = ["DERIVED", "SECONDARY"]


def test_secondary_capture_presented_as_original_primary(tmp_path: Path) -> None:
    # CT_small keeps its KVP and ORIGINAL\PRIMARY; only the SOP class now says capture.
    [signal] = named(screened(rewritten(tmp_path, "CT_small.dcm", _sc_original_primary)),
                     "dicom.capture_presented_as_acquisition")
    assert signal.level == Level.MEDIUM
    assert "ORIGINAL\\PRIMARY" in signal.evidence and "KVP" in signal.evidence


def test_conversion_type_syn_with_acquisition_attributes(tmp_path: Path) -> None:
    [signal] = named(screened(rewritten(tmp_path, "CT_small.dcm", _syn_with_acquisition)),
                     "dicom.capture_presented_as_acquisition")
    assert signal.level == Level.MEDIUM
    assert "Conversion Type SYN" in signal.evidence and "KVP" in signal.evidence


def test_synthetic_data_yes_is_high(tmp_path: Path) -> None:
    def synthetic(ds: Dataset) -> None:
        ds.add_new(0x0008001C, "CS", "YES")

    screening = screened(rewritten(tmp_path, "MR_small.dcm", synthetic))
    [signal] = named(screening, "dicom.synthetic_data")
    assert signal.level == Level.HIGH and screening.level == Level.HIGH


@pytest.mark.parametrize("declared", [None, "00"])
def test_lossy_syntax_without_lossy_declaration(tmp_path: Path, declared: str | None) -> None:
    def undeclare(ds: Dataset) -> None:
        if declared is None:
            del ds.LossyImageCompression
        else:
            ds.LossyImageCompression = declared

    [signal] = named(screened(rewritten(tmp_path, "SC_rgb_jpeg_dcmtk.dcm", undeclare)),
                     "dicom.lossy_compression")
    assert signal.level == Level.MEDIUM and "JPEG Baseline" in signal.evidence


def test_lossy_declared_under_a_lossless_syntax_without_ratio(tmp_path: Path) -> None:
    def declare(ds: Dataset) -> None:
        ds.LossyImageCompression = "01"

    [signal] = named(screened(rewritten(tmp_path, "CT_small.dcm", declare)),
                     "dicom.lossy_compression")
    assert signal.level == Level.LOW

    def with_ratio(ds: Dataset) -> None:
        ds.LossyImageCompression = "01"
        ds.LossyImageCompressionRatio = "8.5"

    assert not named(screened(rewritten(tmp_path, "CT_small.dcm", with_ratio)),
                     "dicom.lossy_compression")


@pytest.mark.parametrize("signed", [True, False])
def test_pixel_values_beyond_bits_stored(tmp_path: Path, signed: bool) -> None:
    def overflow(ds: Dataset) -> None:
        pixels = ds.pixel_array.astype("<i4").clip(0, 2000)  # CT_small: 16-bit signed
        pixels[0, :3] = 3000 if signed else 5000
        ds.PixelData = pixels.astype("<i2" if signed else "<u2").tobytes()
        ds.PixelRepresentation = int(signed)
        ds.BitsStored, ds.HighBit = 12, 11  # 12 bits: -2048..2047 or 0..4095

    [signal] = named(screened(rewritten(tmp_path, "CT_small.dcm", overflow)), "dicom.pixel_range")
    assert signal.level == Level.MEDIUM and "Bits Stored 12" in signal.evidence
    assert signal.evidence.startswith("3 stored words")


def test_pixels_outside_the_declared_smallest_and_largest(tmp_path: Path) -> None:
    def repainted(ds: Dataset) -> None:  # MR_small declares 0..4000
        pixels = ds.pixel_array.copy()
        pixels[10:20, 10:20] = 4500
        ds.PixelData = pixels.astype(pixels.dtype.newbyteorder("<")).tobytes()

    [signal] = named(screened(rewritten(tmp_path, "MR_small.dcm", repainted)),
                     "dicom.pixel_range")
    assert "Smallest/Largest" in signal.evidence and signal.level == Level.MEDIUM


@pytest.mark.parametrize(("source", "keyword"), [("CT_small.dcm", "KVP"),
                                                 ("MR_small.dcm", "EchoTime")])
def test_missing_type_2_acquisition_attribute(tmp_path: Path, source: str, keyword: str) -> None:
    def drop(ds: Dataset) -> None:
        delattr(ds, keyword)

    [signal] = named(screened(rewritten(tmp_path, source, drop)), "dicom.acquisition_missing")
    assert keyword in signal.evidence and signal.level == Level.LOW


def test_digital_signatures_are_recorded_not_flagged(tmp_path: Path) -> None:
    def signed(ds: Dataset) -> None:
        item = Dataset()
        item.MACIDNumber = 1
        ds.DigitalSignaturesSequence = Sequence([item])

    screening = screened(rewritten(tmp_path, "CT_small.dcm", signed))
    [signal] = named(screening, "dicom.digital_signature")
    assert signal.level == Level.NONE and "not verified" in signal.evidence
    assert screening.level == Level.NONE


@pytest.mark.parametrize("source", ["CT_small.dcm", "MR_small.dcm", "JPEG2000.dcm",
                                    "US1_J2KR.dcm", "RG1_UNCR.dcm", "MR2_J2KR.dcm"])
def test_lossless_re_exports_of_real_files_give_level_none(tmp_path: Path, source: str) -> None:
    """Clean controls: decompressed, or transcoded to implicit VR, as a converter would."""
    ds = pydicom.dcmread(get_testdata_file(source))
    if ds.file_meta.TransferSyntaxUID.is_compressed:
        ds.decompress()
        assert ds.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
    else:
        ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    path = tmp_path / f"export-{source}"
    ds.save_as(path, enforce_file_format=True)
    for original in (Path(str(get_testdata_file(source))), path):
        screening = screened(original)
        # The deterministic checks; advisory pixel statistics may explain a real device's
        # processing (an ultrasound's edge enhancement) at "low".
        flagged = [s for s in screening.signals if s.level > Level.NONE and not advisory(s)]
        assert flagged == [], (original.name, screening.signals)
        assert all(s.level <= Level.LOW for s in screening.signals), screening.signals
