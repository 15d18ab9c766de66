"""consent.changed and subject.erased bodies, DUO scopes, and v2 per-subject pseudonyms."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from ledger.consent.commitment import demographics_commitment, row_commitment
from ledger.consent.scope import forbidden, scope_codes
from ledger.errors import InputError
from ledger.imaging.pseudonym import (
    keyed_pseudonyms,
    subject_material,
    subject_pseudonym,
    subject_tag,
)
from ledger.model.registry import validate_body

SECRET = b"a repository secret of 32 bytes!"
SUBJECT = "skey-hmac-sha256:" + "ab" * 32


def test_a_consent_body_names_exactly_one_target() -> None:
    validate_body("consent.changed", {"subject": SUBJECT, "status": "withdrawn"})
    validate_body("consent.changed", {"images": [3, 7], "status": "granted",
                                      "scope": ["DUO:0000006", "DUO:0000015"]})
    with pytest.raises(InputError, match="exactly one target"):
        validate_body("consent.changed", {"subject": SUBJECT, "images": [3], "status": "granted"})
    with pytest.raises(InputError, match="exactly one target"):
        validate_body("consent.changed", {"status": "granted"})


@pytest.mark.parametrize("body", [
    {"subject": SUBJECT, "status": "revoked"},  # not a status
    {"subject": SUBJECT, "status": "granted", "scope": ["DUO:9999999"]},  # not a DUO code
    {"subject": SUBJECT, "status": "granted", "scope": ["DUO:0000015", "DUO:0000006"]},  # order
    {"subject": SUBJECT, "status": "granted", "reason": "patient John said so"},  # free text
    {"subject": "Doe^John", "status": "granted"},  # a raw identifier
    {"images": [7, 3], "status": "granted"},  # unsorted
    {"images": [], "status": "granted"},
])  # fmt: skip
def test_malformed_consent_bodies_are_refused(body: dict[str, object]) -> None:
    with pytest.raises(InputError, match=r"malformed consent\.changed body"):
        validate_body("consent.changed", body)


def test_subject_erased_holds_the_pseudonym_only() -> None:
    validate_body("subject.erased", {"subject": SUBJECT, "reason": "subject-request"})
    with pytest.raises(InputError):
        validate_body("subject.erased", {"subject": SUBJECT, "patient_id": "MRN-1"})


def test_scope_codes_accept_shorthands_and_refuse_unknown_codes() -> None:
    assert scope_codes(["NMDS", "DUO:0000006,gru"]) == ["DUO:0000006", "DUO:0000015",
                                                        "DUO:0000042"]
    with pytest.raises(InputError, match="not a DUO code"):
        scope_codes(["DUO:0000001"])


def test_nmds_forbids_model_development_and_withdrawal_forbids_everything() -> None:
    assert "model-development" in forbidden("restricted", ["DUO:0000015"])
    assert "model-development" not in forbidden("granted", ["DUO:0000042"])
    assert forbidden("granted", ["DUO:0000046"]) == ["commercial-use"]
    assert forbidden("withdrawn", ["DUO:0000042"]) == ["any-use"]


def _dataset(**values: object) -> Dataset:
    ds = Dataset()
    for keyword, value in values.items():
        setattr(ds, keyword, value)
    return ds


def test_v2_pseudonyms_depend_on_the_subject_key_and_keep_source_references() -> None:
    source = _dataset(PatientID="MRN-0042", StudyInstanceUID="1.2.840.1",
                      SOPInstanceUID="1.2.840.9")
    derived = _dataset(PatientID="MRN-0042", StudyInstanceUID="1.2.840.1",
                       SOPInstanceUID="1.2.840.10",
                       SourceImageSequence=Sequence([_dataset(ReferencedSOPInstanceUID="1.2.840.9")]))
    a, b = subject_material(source, secret=SECRET), subject_material(derived, secret=SECRET)
    assert a.tag == b.tag == subject_tag(SECRET, "patient-id", "\x00MRN-0042")
    expected_tag = hmac.new(SECRET, b"medledger-subject-tag/v2\x00patient-id\x00\x00MRN-0042",
                            hashlib.sha256).hexdigest()
    assert a.tag == expected_tag
    key, other = b"k" * 32, b"o" * 32
    names_a, names_b = keyed_pseudonyms(a, key), keyed_pseudonyms(b, key)
    # the derived file's Source Image Sequence matches its source's SOP Instance UID
    assert names_b["SourceImageSequence"] == [names_a["SOPInstanceUID"]]
    assert names_a["PatientID"] == names_b["PatientID"] == subject_pseudonym(key)
    # under another key (the subject after erasure, or another subject) nothing matches
    names_other = keyed_pseudonyms(a, other)
    def strings(names: dict[str, object]) -> set[str]:
        return {v for v in names.values() if isinstance(v, str)}

    assert strings(names_a) and not strings(names_a) & strings(names_other)
    # nothing keyed by the repository secret alone reaches the entry
    v1 = "hmac-sha256:" + hmac.new(
        SECRET, b"medledger-pseudonym/v1\x00uid\x001.2.840.9", hashlib.sha256).hexdigest()
    assert v1.removeprefix("hmac-sha256:") not in str(names_a)


def test_a_file_without_patient_id_gets_a_subject_from_its_study() -> None:
    ds = _dataset(StudyInstanceUID="1.2.840.1", SOPInstanceUID="1.2.840.9")
    assert subject_material(ds, secret=SECRET).tag == subject_tag(SECRET, "study", "1.2.840.1")


@pytest.mark.parametrize(("sex", "age_band"), [("F", "40-49"), ("M", None), (None, "0-9"),
                                               (None, None), ("Ø", " 50-59 ")])
def test_a_rows_commitment_equals_the_commitment_of_its_values(sex: str | None,
                                                              age_band: str | None) -> None:
    salt = "00ff" * 8
    values = {k: v for k, v in (("PatientSex", sex), ("PatientAgeBand", age_band))
              if v is not None}
    assert row_commitment(salt, sex, age_band) == demographics_commitment(salt, values)
    assert row_commitment("11" + salt[2:], sex, age_band) != demographics_commitment(salt, values)


@pytest.mark.parametrize(("salt", "sex"), [("zz", "F"), ("00", b"F"), ("00", 1)])
def test_a_row_with_a_bad_salt_or_value_opens_nothing(salt: str, sex: object) -> None:
    with pytest.raises(ValueError):
        row_commitment(salt, sex, None)  # type: ignore[arg-type]
