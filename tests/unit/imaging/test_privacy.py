"""No PHI leaves analyse(): deid-data's fake names, ids, dates and institutions stay in the files.

The header values are collected here, in the test, straight from the files with
pydicom; none of them may appear in ``to_json()``, in the pickled result that
crosses the worker-process boundary, in any error message or in the logs.
"""

from __future__ import annotations

import json
import logging
import pickle
import warnings
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import Dataset

from ledger.errors import LedgerError, PolicyError
from ledger.imaging.analyse import analyse
from ledger.imaging.annex_e import BY_TAG
from ledger.imaging.limits import DecodeLimits
from ledger.imaging.pseudonym import PLACEHOLDER

from .data import SECRET, deid_files

NAMED = (
    "PatientName", "PatientID", "PatientBirthDate", "InstitutionName", "InstitutionAddress",
    "ReferringPhysicianName", "AccessionNumber", "StudyInstanceUID", "SeriesInstanceUID",
    "SOPInstanceUID", "FrameOfReferenceUID", "StudyID", "OperatorsName", "PerformingPhysicianName",
    "OtherPatientIDs", "PatientAddress", "PatientTelephoneNumbers", "StationName",
    "DeviceSerialNumber", "StudyDate", "SeriesDate", "AcquisitionDateTime",
)  # fmt: skip
FILES = deid_files()


def phi_values(path: Path) -> set[str]:
    """Values of every Annex E attribute and every private attribute, 6+ characters.

    Private creator elements are left out: they name the vendor's dictionary
    ("SIEMENS CSA HEADER"), not anyone in the image, and share words with the
    allowlisted Manufacturer.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the files break VR length rules on purpose
        ds = pydicom.dcmread(path, stop_before_pixels=True, force=True)
        values: set[str] = set()
        _collect(ds, values)
    return values


def _collect(ds: Dataset, values: set[str]) -> None:

    for element in ds:
        if element.VR == "SQ":
            for item in element.value:
                _collect(item, values)
            continue
        private = (
            element.tag.is_private and not element.tag.is_private_creator
        )  # creators: vendor ids
        if int(element.tag) in BY_TAG or private or element.keyword in NAMED:
            for value in element.value if element.VM > 1 else [element.value]:
                text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
                for part in {text.strip(), *text.replace("^", " ").split()}:
                    if len(part.strip("\x00 ")) >= 6:
                        values.add(part.strip("\x00 "))


def test_the_files_really_carry_fake_phi() -> None:
    assert len(FILES) == 13
    values = set().union(*(phi_values(p) for p in FILES))
    assert len(values) > 100
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(FILES[0], stop_before_pixels=True)
        assert str(ds.PatientName) and str(ds.PatientID)


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_header_value_in_the_analysis(path: Path, caplog: pytest.LogCaptureFixture) -> None:
    values = phi_values(path)
    assert values
    with caplog.at_level(logging.DEBUG):
        result = analyse(path, secret=SECRET, limits=DecodeLimits())
    document = json.dumps(result.to_json(), ensure_ascii=False)
    pickled = pickle.dumps(result)
    leaked = {v for v in values if v in document or v.encode("utf-8") in pickled}
    assert leaked == set()
    assert {v for v in values if v in caplog.text} == set()
    assert result.deid.identifying_present
    assert result.deid.patient_identity_removed is not True


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_refused_when_deidentified_input_is_required(path: Path) -> None:
    values = phi_values(path)
    with pytest.raises(PolicyError) as caught:
        analyse(path, secret=SECRET, limits=DecodeLimits(), require_deidentified=True)
    text = caught.value.diagnostics()
    assert text.startswith(f"{path}: identifiable: ")
    named = analyse(path, secret=SECRET, limits=DecodeLimits()).deid.identifying_present
    assert named[0] in text
    reason = text.removeprefix(f"{path}: ")  # the folder is called "dicom-cookies"
    assert {v for v in values if v in reason} == set()


def test_status_names_the_attributes_present() -> None:
    path = next(p for p in FILES if p.name == "ctbrain1.dcm")
    present = set(analyse(path, secret=SECRET, limits=DecodeLimits()).deid.identifying_present)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(path, stop_before_pixels=True)
    expected = {
        kw for kw in ("PatientName", "PatientID", "PatientBirthDate", "InstitutionName",
                      "ReferringPhysicianName", "AccessionNumber")
        if str(ds.get(kw, "") or "").strip()
    }  # fmt: skip
    assert expected
    assert expected <= present
    assert not present & {"StudyInstanceUID", "SOPInstanceUID", "SeriesInstanceUID"}


def test_uids_and_patient_id_only_as_pseudonyms() -> None:
    path = next(p for p in FILES if p.name == "ctbrain1.dcm")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(path, stop_before_pixels=True)
    result = analyse(path, secret=SECRET, limits=DecodeLimits())
    material = result.subject
    assert material is not None and len(material.tag) == 64
    uids = dict(material.uids)
    for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"):
        value = uids[keyword]
        assert value is not None and len(value) == 64 and int(value, 16) >= 0
    # the worker's JSON holds placeholders only; the parent writes per-subject pseudonyms
    names = result.to_json()["pseudonyms"]
    assert names["SOPInstanceUID"] == names["PatientID"] == PLACEHOLDER
    assert str(ds.SOPInstanceUID).encode() not in pickle.dumps(material)
    assert str(ds.PatientID).encode() not in pickle.dumps(material)


@pytest.mark.parametrize("cut", [0.3, 0.6, 0.95])
def test_errors_on_broken_copies_carry_no_values(tmp_path: Path, cut: float) -> None:
    for path in FILES[:6]:
        values = phi_values(path)
        data = path.read_bytes()
        broken = tmp_path / path.name
        broken.write_bytes(data[: int(len(data) * cut)])
        try:
            analyse(broken, secret=SECRET, limits=DecodeLimits())
        except LedgerError as error:
            text = error.diagnostics().removeprefix(f"{broken}: ")
            assert {v for v in values if v in text} == set()
            assert error.__cause__ is None
