"""The metadata allowlist: JSON-safe, float-free, demographics only when allowed."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from ledger.errors import PolicyError
from ledger.imaging.analyse import Analysis, analyse
from ledger.imaging.annex_e import PROFILE
from ledger.imaging.limits import DecodeLimits

from .data import SECRET, sample

LIMITS = DecodeLimits()


def deidentified_copy(tmp_path: Path, name: str = "MR_small.dcm", **extra: object) -> Path:
    """A copy of ``name`` with every Annex E attribute removed and the identity flag set."""
    ds = pydicom.dcmread(sample(name))
    keep = {"StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "FrameOfReferenceUID"}
    for attribute in PROFILE:
        if attribute.repeating:
            continue
        tag = (attribute.group << 16) | attribute.element
        if tag in ds and attribute.keyword not in keep:
            del ds[tag]
    ds.remove_private_tags()
    ds.PatientIdentityRemoved = "YES"
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = "113100", "DCM", "Basic"
    ds.DeidentificationMethodCodeSequence = Sequence([code])
    for keyword, value in extra.items():
        setattr(ds, keyword, value)
    path = tmp_path / f"deid-{name}"
    ds.save_as(path)
    return path


def test_allowlisted_values() -> None:
    result = analyse(sample("CT_small.dcm"), secret=SECRET, limits=LIMITS)
    meta = result.metadata
    assert meta["Modality"] == "CT"
    assert meta["Rows"] == 128 and meta["Columns"] == 128 and meta["BitsStored"] == 16
    assert meta["PixelSpacing"] == ["0.661468", "0.661468"]
    assert meta["KVP"] == "120" and meta["SliceThickness"] == "5.000000"
    assert meta["ImageType"] == ["ORIGINAL", "PRIMARY", "AXIAL"]
    assert meta["TransferSyntaxUID"] == "1.2.840.10008.1.2.1"
    assert meta["SOPClassUID"] == "1.2.840.10008.5.1.4.1.1.2"
    assert meta["NumberOfFrames"] == 1
    assert "PatientSex" not in meta and "PatientAgeBand" not in meta
    assert all(not isinstance(v, float) for v in meta.values())


def test_lossy_compression_attributes() -> None:
    meta = analyse(sample("693_J2KI.dcm"), secret=SECRET, limits=LIMITS).metadata
    assert meta["LossyImageCompression"] == "01"
    assert "DerivationDescriptionPresent" in meta  # free text: presence only
    assert "DerivationDescription" not in meta


def test_demographics_need_the_flag_and_deidentified_input(tmp_path: Path) -> None:
    path = deidentified_copy(tmp_path, PatientSex="F", PatientAge="047Y")
    plain = analyse(path, secret=SECRET, limits=LIMITS)
    assert plain.deid.identifying_present == ("PatientAge",)  # age is X unless 113108
    assert "PatientSex" not in _demographics(analyse(path, secret=SECRET, limits=LIMITS,
                                                     keep_demographics=True))  # fmt: skip
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = "113108", "DCM", "Chars"
    kept = deidentified_copy(tmp_path, PatientSex="F", PatientAge="047Y",
                             DeidentificationMethodCodeSequence=Sequence([code]))  # fmt: skip
    without = analyse(kept, secret=SECRET, limits=LIMITS)
    assert without.deid.deidentified and "PatientSex" not in without.metadata
    result = analyse(kept, secret=SECRET, limits=LIMITS, keep_demographics=True)
    meta = _demographics(result)
    assert (meta["PatientSex"], meta["PatientAgeBand"]) == ("F", "40-49")
    # they leave the signed metadata for the subject's deletable side data
    assert "PatientSex" not in result.metadata and "PatientAgeBand" not in result.metadata


@pytest.mark.parametrize(
    ("age", "band"), [("000D", "0-9"), ("018M", "0-9"), ("010Y", "10-19"), ("089Y", "80-89"),
                      ("090Y", "90+"), ("104Y", "90+")],
)  # fmt: skip
def test_age_bands(tmp_path: Path, age: str, band: str) -> None:
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = "113108", "DCM", "Chars"
    path = deidentified_copy(tmp_path, PatientAge=age,
                             DeidentificationMethodCodeSequence=Sequence([code]))  # fmt: skip
    meta = _demographics(analyse(path, secret=SECRET, limits=LIMITS, keep_demographics=True))
    assert meta["PatientAgeBand"] == band


def test_identifiable_input_never_gives_demographics() -> None:
    meta = _demographics(analyse(sample("SC_rgb.dcm"), secret=SECRET, limits=LIMITS,
                                 keep_demographics=True))  # fmt: skip
    assert "PatientSex" not in meta and "PatientAgeBand" not in meta


def test_deidentified_input_passes_the_requirement(tmp_path: Path) -> None:
    result = analyse(deidentified_copy(tmp_path), secret=SECRET, limits=LIMITS,
                     require_deidentified=True)  # fmt: skip
    assert result.deid.deidentified
    assert result.deid.method_codes == ("113100",)


def test_requirement_refuses_missing_identity_flag(tmp_path: Path) -> None:
    path = deidentified_copy(tmp_path)
    ds = pydicom.dcmread(path)
    del ds.PatientIdentityRemoved
    ds.save_as(path)
    with pytest.raises(PolicyError, match="Patient Identity Removed is not YES"):
        analyse(path, secret=SECRET, limits=LIMITS, require_deidentified=True)


def test_photos_under_the_requirement(tmp_path: Path) -> None:
    from PIL import Image

    path = tmp_path / "plain.png"
    Image.new("L", (8, 8)).save(path)
    assert analyse(path, secret=SECRET, limits=LIMITS, require_deidentified=True).format == "png"


def test_analysis_is_picklable_and_json_safe() -> None:
    result = analyse(sample("emri_small.dcm"), secret=SECRET, limits=LIMITS)
    copy = pickle.loads(pickle.dumps(result))  # noqa: S301 - our own bytes, as between workers
    assert isinstance(copy, Analysis)
    assert copy.to_json() == result.to_json()
    # what crosses from a worker: the analysis itself, plus one 32 x 32 grid and its keys per
    # described frame of a multi-frame image (at most 32 frames)
    assert len(result.frame_descriptors) == 9  # ten frames, the middle one described already
    assert len(pickle.dumps(result)) < 8000 + 1200 * len(result.frame_descriptors)
    document = json.loads(json.dumps(result.to_json(), allow_nan=False))
    assert document["pixel_form"] == "<u2 10x64x64x1"
    assert document["pseudonyms"]["SOPInstanceUID"].startswith("skey-hmac-sha256:")
    assert document["fingerprints"]["phash"]["alg"] == "phash"


def test_same_instance_twice_is_recognised() -> None:
    a = analyse(sample("MR_small.dcm"), secret=SECRET, limits=LIMITS)
    b = analyse(sample("MR_small_RLE.dcm"), secret=SECRET, limits=LIMITS)
    assert a.subject is not None and b.subject is not None
    assert a.subject.tag == b.subject.tag
    assert dict(a.subject.uids)["SOPInstanceUID"] == dict(b.subject.uids)["SOPInstanceUID"]
    assert a.pixel_sha256 == b.pixel_sha256 and a.file_sha256 != b.file_sha256


def _demographics(result: Analysis) -> dict[str, str]:
    """Sex and age band as the worker hands them to the parent (never in the metadata)."""
    return dict(result.subject.demographics) if result.subject is not None else {}
