"""De-identification status: which Annex E attributes count as identifying, and pseudonyms."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from ledger.errors import InputError
from ledger.imaging.annex_e import BY_TAG, OPTION_CODES, PROFILE
from ledger.imaging.deid import deid_status
from ledger.imaging.pseudonym import pseudonym, pseudonyms

SECRET = b"0123456789abcdef0123456789abcdef"


def dataset(**attributes: object) -> Dataset:
    ds = Dataset()
    for keyword, value in attributes.items():
        setattr(ds, keyword, value)
    return ds


def code_sequence(*codes: str) -> Sequence:
    items = []
    for code in codes:
        item = Dataset()
        item.CodeValue, item.CodingSchemeDesignator = code, "DCM"
        item.CodeMeaning = "option"
        items.append(item)
    return Sequence(items)


def test_the_table_is_annex_e() -> None:
    assert len(PROFILE) == 620
    keywords = {a.keyword: a for a in PROFILE}
    assert keywords["PatientName"].action == "Z"
    assert keywords["PatientID"].action == "Z/D"
    assert keywords["InstitutionName"].action == "X/Z/D"
    assert keywords["SOPInstanceUID"].action == "U"
    assert keywords["PatientAge"].options == {OPTION_CODES["P"]}
    assert BY_TAG[0x00100010].keyword == "PatientName"


def test_identified_input_names_attributes_never_values() -> None:
    ds = dataset(
        PatientName="Doe^Jane", PatientID="MRN-0042", PatientBirthDate="19700101",
        InstitutionName="General Hospital", StudyInstanceUID="1.2.3.4", Modality="CT",
    )  # fmt: skip
    status = deid_status(ds)
    assert status.identifying_present == (
        "InstitutionName", "PatientBirthDate", "PatientID", "PatientName",
    )  # fmt: skip
    assert status.patient_identity_removed is None
    assert not status.deidentified
    assert "Doe" not in str(status.to_json()) and "MRN" not in str(status.to_json())


def test_empty_values_do_not_count() -> None:
    ds = dataset(PatientName="", PatientID="  ", AccessionNumber=None)
    assert deid_status(ds).identifying_present == ()


def test_dummies_are_accepted_when_identity_removed() -> None:
    ds = dataset(
        PatientIdentityRemoved="YES", PatientName="ANONYMOUS", PatientID="SUBJ-001",
        StudyDate="20000101", InstitutionName="SITE-A",
    )  # fmt: skip
    status = deid_status(ds)
    assert status.identifying_present == ()
    assert status.deidentified


def test_pure_x_attributes_count_even_when_identity_removed() -> None:
    ds = dataset(PatientIdentityRemoved="YES", PatientAge="045Y", OtherPatientIDs="X-99")
    assert deid_status(ds).identifying_present == ("OtherPatientIDs", "PatientAge")


def test_declared_options_allow_what_they_keep() -> None:
    ds = dataset(
        PatientIdentityRemoved="YES", PatientAge="045Y", AcquisitionDate="20000101",
        DeidentificationMethod="Example de-identifier 1.0",
        DeidentificationMethodCodeSequence=code_sequence("113100", "113108"),
    )  # fmt: skip
    status = deid_status(ds)
    assert status.identifying_present == ()  # AcquisitionDate is X/Z, so a dummy is allowed
    assert status.method_codes == ("113100", "113108")
    assert status.method == "Example de-identifier 1.0"


def test_uids_never_count() -> None:
    ds = dataset(StudyInstanceUID="1.2.3", SeriesInstanceUID="1.2.3.4", SOPInstanceUID="1.2.3.5")
    assert deid_status(ds).identifying_present == ()


def test_nested_attributes_count() -> None:
    item = dataset(AccessionNumber="ACC-1", RequestedProcedureID="RP-7")
    ds = dataset(PatientIdentityRemoved="NO", RequestAttributesSequence=Sequence([item]))
    status = deid_status(ds)
    assert status.patient_identity_removed is False
    assert set(status.identifying_present) == {
        "AccessionNumber", "RequestAttributesSequence", "RequestedProcedureID",
    }  # fmt: skip


def test_private_attributes_are_flagged() -> None:
    ds = dataset(PatientIdentityRemoved="YES")
    block = ds.private_block(0x0029, "ACME 1.0", create=True)
    block.add_new(0x01, "LO", "whatever")
    status = deid_status(ds)
    assert status.private_tags_present
    assert status.deidentified


def test_overlay_data_counts() -> None:
    ds = dataset(PatientIdentityRemoved="YES")
    ds.add_new(0x60023000, "OW", b"\x01\x00" * 8)
    assert deid_status(ds).identifying_present == ("OverlayData",)


def test_pseudonyms_are_keyed_hmacs() -> None:
    ds = dataset(
        StudyInstanceUID="1.2.840.1", SeriesInstanceUID="1.2.840.2", SOPInstanceUID="1.2.840.3",
        FrameOfReferenceUID="1.2.840.4", PatientID="MRN-0042", IssuerOfPatientID="HOSP",
        SourceImageSequence=Sequence([dataset(ReferencedSOPInstanceUID="1.2.840.9")]),
    )  # fmt: skip
    names = pseudonyms(ds, secret=SECRET)

    def reference(kind: bytes, value: bytes) -> str:
        message = b"medledger-pseudonym/v1\x00" + kind + b"\x00" + value
        return "hmac-sha256:" + hmac.new(SECRET, message, hashlib.sha256).hexdigest()

    assert names.instance == reference(b"uid", b"1.2.840.3")
    assert names.patient == reference(b"patient-id", b"HOSP\x00MRN-0042")
    assert names.sources == (reference(b"uid", b"1.2.840.9"),)
    # a derived image's source reference pseudonymises like the source's own UID
    assert (
        pseudonyms(dataset(SOPInstanceUID="1.2.840.9"), secret=SECRET).instance
        == (names.sources[0])
    )
    other = pseudonyms(ds, secret=b"another secret, 32 bytes long!!!")
    assert other.instance != names.instance


def test_pseudonym_secret_must_be_long_enough() -> None:
    with pytest.raises(InputError, match="at least 16 bytes"):
        pseudonym(b"short", "uid", "1.2.3")
