"""Free text in allowlisted attributes: names, identifiers, dates, phones, e-mail never written.

The device strings of the public corpora must still pass; the fake patients of deid-data
(names, identifiers, dates) planted into those attributes must all be withheld, and under
``require_deidentified`` refused naming the attribute, never the value.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pydicom
import pytest
from PIL import Image

from ledger.errors import PolicyError
from ledger.imaging.analyse import analyse
from ledger.imaging.freetext import DATE_TIME, EMAIL, IDENTIFIER, PERSON_NAME, PHONE, phi_reason
from ledger.imaging.limits import DecodeLimits
from ledger.imaging.terms import defined_term

from .data import CORPORA, SECRET, corpus_files, deid_files, sample
from .test_metadata import deidentified_copy

LIMITS = DecodeLimits()

CRAFTED = {
    "St Elsewhere - Dr Jane Doe": PERSON_NAME,
    "Pt SMITH^JOHN MRN998877": PERSON_NAME,
    "DOE^JANE": PERSON_NAME,
    "Dr. bold moon": PERSON_NAME,
    "DR. HIBBARD": PERSON_NAME,
    "Mrs Rayburn": PERSON_NAME,
    "Prof Busack scanner": PERSON_NAME,
    "Patient A": PERSON_NAME,
    "Jane Doe": PERSON_NAME,
    "JOHN SMITH": PERSON_NAME,
    "scanner of Sarah Connor": PERSON_NAME,
    "MRN 4471": IDENTIFIER,
    "mrn": IDENTIFIER,
    "ID: 77": IDENTIFIER,
    "case #4471": IDENTIFIER,
    "998877": IDENTIFIER,
    "AB1234C": IDENTIFIER,
    "Acme 20240131": IDENTIFIER,
    "2024-01-31": DATE_TIME,
    "12/31/1999": DATE_TIME,
    "31.01.2024": DATE_TIME,
    "2024.01.31": DATE_TIME,
    "31 Jan 2024": DATE_TIME,
    "January 31, 2024": DATE_TIME,
    "scanned at 10:42": DATE_TIME,
    "+44 20 7946 0958": PHONE,
    "(555) 123-4567": PHONE,
    "555-123-4567": PHONE,
    "jane.doe@example.org": EMAIL,
}

DEVICE_STRINGS = [
    "GE MEDICAL SYSTEMS", "SIEMENS", "Signa HDxt", "TOSHIBA", "TOSHIBA_MEC", "Philips",
    "Philips Medical Systems, Inc.", "Agfa-Gevaert AG", "FUJI PHOTO FILM CO. LTD.",
    "SOMATOM Definition AS+", "Discovery MR750w", "Optima CT660", "Aquilion ONE",
    "LightSpeed VCT", "Allura Xper FD20", "Brilliance 64", "Ingenia 3.0T", "MAGNETOM Skyra",
    "Revolution EVO", "DRX-1", "AXIOM Aristos MX", "Mark V ProVis", "Eclipse 1.5T",
    "syngo CT 2011A", "VIA5.2", "Version 3.3.1", "Canon", "Canon EOS 5D Mark IV", "iPhone 12",
    "NIKON CORPORATION", "Adobe Photoshop 24.1", "GIMP 2.10.34",
    "JPEG 2000 irreversible (lossy) 10:1",  # a ratio, not a time: "10:1" has one digit after
]  # fmt: skip


@pytest.mark.parametrize("text", sorted(CRAFTED))
def test_crafted_values_are_recognised(text: str) -> None:
    assert phi_reason(text) == CRAFTED[text]


@pytest.mark.parametrize("text", DEVICE_STRINGS)
def test_device_strings_pass(text: str) -> None:
    assert phi_reason(text) is None


def _corpus_values(keywords: tuple[str, ...]) -> dict[str, set[str]]:
    """value -> files, for every value of ``keywords`` in pydicom's and pydicom-data's files."""
    found: dict[str, set[str]] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for key, path in corpus_files().items():
            if key.startswith("deid-data/"):
                continue
            try:
                ds = pydicom.dcmread(path, stop_before_pixels=True, force=True)
            except Exception:  # noqa: S112 - not a DICOM file (readme, json, ...)
                continue
            for keyword in keywords:
                try:
                    value = ds.get(keyword)
                except Exception:  # noqa: S112 - an undecodable value is no device string
                    continue
                if isinstance(value, str) and value.strip():
                    found.setdefault(value.strip(), set()).add(key)
    return found


# The one device string of the corpora that is withheld: a part number whose last group
# ("70201") cannot be told from a five-digit identifier. Withholding is the safe mistake.
KNOWN_FALSE_WITHHOLDS = {"Cassette Holder Type 9840 500 70201"}


def test_every_corpus_manufacturer_and_model_passes() -> None:
    values = _corpus_values(("Manufacturer", "ManufacturerModelName"))
    assert len(values) >= 40  # both corpora were read
    assert {"GE MEDICAL SYSTEMS", "SIEMENS", "TOSHIBA_MEC", "Philips Medical Systems"} <= set(
        values
    )
    withheld = {v for v in values if phi_reason(v) is not None}
    assert withheld == KNOWN_FALSE_WITHHOLDS


def test_every_corpus_body_part_and_modality_is_a_defined_term() -> None:
    for keyword in ("BodyPartExamined", "Modality"):
        values = _corpus_values((keyword,))
        assert values, keyword
        assert [v for v in values if defined_term(keyword, v) is None] == []
    assert defined_term("BodyPartExamined", "WHOLE BODY") == "WHOLEBODY"
    assert defined_term("BodyPartExamined", "left knee of J. Doe") is None
    assert defined_term("Modality", "mr") == "MR"


_NAME_KEYWORDS = ("PatientName", "ReferringPhysicianName", "PerformingPhysicianName",
                  "OperatorsName", "PatientMotherBirthName")  # fmt: skip
_ID_KEYWORDS = ("PatientID", "OtherPatientIDs", "AccessionNumber")
_DATE_KEYWORDS = ("PatientBirthDate", "StudyDate", "SeriesDate", "AcquisitionDate",
                  "ContentDate", "StudyTime", "AcquisitionDateTime")  # fmt: skip


def deid_data_phi() -> dict[str, str]:
    """value -> keyword: deid-data's fake patients' names (as DICOM stores a person name,
    Family^Given), identifiers (4+ digits) and dates and times.

    Left out: the replacement values a de-identifier already wrote there ("frosty paper",
    "cookie-47", "1"), which name no one and read like any device word."""
    found: dict[str, str] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for path in deid_files():
            ds = pydicom.dcmread(path, stop_before_pixels=True, force=True)
            for keyword in _NAME_KEYWORDS + _ID_KEYWORDS + _DATE_KEYWORDS:
                value = ds.get(keyword)
                if value is None:
                    continue
                text = str(value).strip()
                if keyword in _NAME_KEYWORDS and "^" not in text:
                    continue
                if keyword in _ID_KEYWORDS and sum(c.isdigit() for c in text) < 4:
                    continue
                if text:
                    found[text] = keyword
    return found


def test_deid_data_fake_patients_are_recognised() -> None:
    planted = deid_data_phi()
    kinds = set(planted.values())
    assert {"PatientName", "PatientID", "PatientBirthDate", "StudyDate"} <= kinds
    assert len(planted) >= 30
    assert [v for v in planted if phi_reason(v) is None] == []


@pytest.mark.parametrize("attribute", ["Manufacturer", "ManufacturerModelName"])
def test_planted_values_are_withheld_from_the_entry(tmp_path: Path, attribute: str) -> None:
    planted = sorted(deid_data_phi()) + sorted(CRAFTED)
    source = pydicom.dcmread(sample("MR_small.dcm"))
    for number, text in enumerate(planted):
        setattr(source, attribute, text[:64])
        path = tmp_path / f"{number}.dcm"
        source.save_as(path)
        facts = analyse(path, secret=SECRET, limits=LIMITS).to_json()
        assert attribute in facts["metadata"]["withheld"], text
        assert attribute not in facts["metadata"]
        assert text[:64] not in json.dumps(facts, ensure_ascii=False), text


def test_withheld_lists_names_and_keeps_the_rest(tmp_path: Path) -> None:
    source = pydicom.dcmread(sample("CT_small.dcm"))
    source.Manufacturer = "St Elsewhere - Dr Jane Doe"
    source.ManufacturerModelName = "Pt SMITH^JOHN MRN998877"
    source.BodyPartExamined = "SMITH JOHN"  # not a defined term
    path = tmp_path / "ct.dcm"
    source.save_as(path)
    meta = analyse(path, secret=SECRET, limits=LIMITS).metadata
    assert meta["withheld"] == ["BodyPartExamined", "Manufacturer", "ManufacturerModelName"]
    assert meta["Modality"] == "CT" and meta["Rows"] == 128


def test_corpus_device_values_are_written_unchanged() -> None:
    meta = analyse(sample("CT_small.dcm"), secret=SECRET, limits=LIMITS).metadata
    assert meta["Manufacturer"] == "GE MEDICAL SYSTEMS"
    assert "withheld" not in meta


@pytest.mark.parametrize("text", ["St Elsewhere - Dr Jane Doe", "Pt SMITH^JOHN MRN998877"])
def test_require_deidentified_refuses_naming_the_attribute(tmp_path: Path, text: str) -> None:
    path = deidentified_copy(tmp_path, ManufacturerModelName=text)
    with pytest.raises(PolicyError) as caught:
        analyse(path, secret=SECRET, limits=LIMITS, require_deidentified=True)
    line = caught.value.diagnostics()
    assert line.startswith(f"{path}: identifiable: ManufacturerModelName looks like a person name")
    for word in text.replace("^", " ").split():
        if len(word) > 2:
            assert word not in line


def test_deidentification_method_text_is_screened(tmp_path: Path) -> None:
    method = "anonymised by Dr Jane Doe 2024-01-31"
    path = deidentified_copy(tmp_path, DeidentificationMethod=method)
    result = analyse(path, secret=SECRET, limits=LIMITS)
    assert result.deid.method is None
    assert "DeidentificationMethod" in result.metadata["withheld"]
    with pytest.raises(PolicyError, match="DeidentificationMethod looks like a person name"):
        analyse(path, secret=SECRET, limits=LIMITS, require_deidentified=True)


def test_exif_make_and_model_are_screened(tmp_path: Path) -> None:
    image = Image.new("RGB", (16, 16))
    exif = image.getexif()
    exif[0x010F] = "Canon"  # Make
    exif[0x0110] = "phone of Jane Doe"  # Model
    exif[0x0131] = "app 555-123-4567"  # Software
    path = tmp_path / "photo.jpg"
    image.save(path, exif=exif)
    meta = analyse(path, secret=SECRET, limits=LIMITS).metadata
    assert meta["Make"] == "Canon"
    assert meta["withheld"] == ["Model", "Software"]
    assert "Jane" not in json.dumps(meta)


def test_corpora_are_present() -> None:
    assert all(root.is_dir() for root in CORPORA.values())
