"""Keyed pseudonyms for DICOM UIDs and subject identifiers (HMAC-SHA256).

Two forms. v1 (below, entries made before issue 19) is keyed by the repository secret;
v2 (``SubjectMaterial`` and ``keyed_pseudonyms``, further down) by a random key per subject
that erasure deletes. New entries carry v2; v1 is still computed to find old subjects.

``hmac-sha256:`` + hex of HMAC-SHA256(secret, message), with the message
``b"medledger-pseudonym/v1\\x00" + kind + b"\\x00" + value`` (UTF-8):

* kind ``uid`` for every UID, whichever attribute holds it, so that the
  Referenced SOP Instance UID of a derived image's Source Image Sequence has
  the same pseudonym as the source image's SOP Instance UID.
* kind ``patient-id`` for Patient ID, with value ``issuer + "\\x00" + id``
  (issuer: Issuer of Patient ID, "" when absent): identifiers are only unique
  within their issuer.

Without the repository's secret a pseudonym cannot be linked to its value; with
it, the same instance or subject registered twice is recognised.
"""

from __future__ import annotations

import hashlib
import hmac
import warnings
from dataclasses import dataclass
from typing import Any

from pydicom.dataset import Dataset

from ledger.errors import InputError
from ledger.imaging.attrs import items, texts, value

PREFIX = "hmac-sha256:"
_DOMAIN = b"medledger-pseudonym/v1\x00"
MIN_SECRET_BYTES = 16


@dataclass(frozen=True)
class Pseudonyms:
    study: str | None = None
    series: str | None = None
    instance: str | None = None
    frame_of_reference: str | None = None
    patient: str | None = None
    sources: tuple[str, ...] = ()  # Source Image Sequence's Referenced SOP Instance UIDs

    def to_json(self) -> dict[str, Any]:
        return {
            "StudyInstanceUID": self.study,
            "SeriesInstanceUID": self.series,
            "SOPInstanceUID": self.instance,
            "FrameOfReferenceUID": self.frame_of_reference,
            "PatientID": self.patient,
            "SourceImageSequence": list(self.sources),
        }


def pseudonym(secret: bytes, kind: str, text: str) -> str:
    if not isinstance(secret, bytes) or len(secret) < MIN_SECRET_BYTES:
        raise InputError(f"the pseudonym secret must be at least {MIN_SECRET_BYTES} bytes")
    message = _DOMAIN + kind.encode("ascii") + b"\x00" + text.encode("utf-8")
    return PREFIX + hmac.new(secret, message, hashlib.sha256).hexdigest()


def pseudonyms(ds: Dataset, *, secret: bytes) -> Pseudonyms:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        instance = _text(ds, "SOPInstanceUID") or _text(
            getattr(ds, "file_meta", Dataset()), "MediaStorageSOPInstanceUID"
        )
        patient_id = _text(ds, "PatientID")
        sources = [
            pseudonym(secret, "uid", referenced)
            for item in items(ds, "SourceImageSequence")
            if (referenced := _text(item, "ReferencedSOPInstanceUID"))
        ]

        def uid(keyword: str) -> str | None:
            text = (texts(ds, keyword) or [""])[0]
            return pseudonym(secret, "uid", text) if text else None

        return Pseudonyms(
            study=uid("StudyInstanceUID"),
            series=uid("SeriesInstanceUID"),
            instance=pseudonym(secret, "uid", instance) if instance else None,
            frame_of_reference=uid("FrameOfReferenceUID"),
            patient=(
                pseudonym(secret, "patient-id", f"{_text(ds, 'IssuerOfPatientID')}\x00{patient_id}")
                if patient_id
                else None
            ),
            sources=tuple(sources),
        )


def _text(ds: Dataset, keyword: str) -> str:
    found = value(ds, keyword)
    if found is None:
        return ""
    if not isinstance(found, str | bytes) and hasattr(found, "__len__"):
        found = found[0] if len(found) else ""
    if isinstance(found, bytes):
        found = found.decode("latin-1")
    return str(found).strip("\x00 ")


# --- per-subject keys (v2) -------------------------------------------------------------------
#
# v1 pseudonyms above are keyed by the repository secret alone: whoever holds it and a patient's
# identifiers finds that patient's entries forever. v2 pseudonyms are keyed by a random key per
# subject, kept in a deletable side table; erasing the key unlinks every entry (crypto-shredding).
#
# A registration worker never sees subject keys (it has no database). It returns, in memory only,
# ``SubjectMaterial``: the subject's lookup tag and, per UID, HMAC(secret, uid) ("material"); the
# parent finds or makes the subject's key by the tag and derives the pseudonyms from the material.
# No raw identifier leaves the worker, and nothing keyed by the secret alone enters the log.

V2_PREFIX = "skey-hmac-sha256:"
_TAG_DOMAIN = b"medledger-subject-tag/v2\x00"
_MATERIAL_DOMAIN = b"medledger-uid-material/v2\x00"
_V2_DOMAIN = b"medledger-pseudonym/v2\x00"
SUBJECT_KEY_BYTES = 32
UID_FIELDS = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "FrameOfReferenceUID")
# Placeholder the worker writes where the parent puts a v2 pseudonym: same length, so the
# worker's entry-size check stays exact; the parent always replaces the whole dict.
PLACEHOLDER = V2_PREFIX + "?" * 64  # never a header value, never valid hex


@dataclass(frozen=True)
class SubjectMaterial:
    """A DICOM file's subject, as a worker hands it to the parent (in memory, never stored).

    ``tag``: hex HMAC(secret, subject identifier): Patient ID with its issuer, else (no
    Patient ID) the Study Instance UID, else the SOP Instance UID, so every file has a
    subject whose key erasure can delete. ``uids``: UID keyword -> hex HMAC(secret, uid)."""

    tag: str
    uids: tuple[tuple[str, str | None], ...]
    sources: tuple[str, ...] = ()
    demographics: tuple[tuple[str, str], ...] = ()  # (PatientSex/PatientAgeBand, value)

    def placeholder_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {name: None if m is None else PLACEHOLDER for name, m in self.uids}
        out["PatientID"] = PLACEHOLDER
        out["SourceImageSequence"] = [PLACEHOLDER for _ in self.sources]
        if self.demographics:
            out["Demographics"] = "sha256:" + "?" * 64
        return out


def _mac(key: bytes, domain: bytes, *parts: str) -> str:
    message = domain + b"\x00".join(p.encode("utf-8") for p in parts)
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def subject_tag(secret: bytes, kind: str, value: str) -> str:
    """The lookup tag of a subject: ``kind`` patient-id (value issuer + NUL + id), study or
    instance (value the UID)."""
    if not isinstance(secret, bytes) or len(secret) < MIN_SECRET_BYTES:
        raise InputError(f"the pseudonym secret must be at least {MIN_SECRET_BYTES} bytes")
    return _mac(secret, _TAG_DOMAIN, kind, value)


def subject_material(ds: Dataset, *, secret: bytes) -> SubjectMaterial:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        instance = _text(ds, "SOPInstanceUID") or _text(
            getattr(ds, "file_meta", Dataset()), "MediaStorageSOPInstanceUID"
        )
        found = {k: (texts(ds, k) or [""])[0] for k in UID_FIELDS if k != "SOPInstanceUID"}
        found["SOPInstanceUID"] = instance
        patient_id = _text(ds, "PatientID")
        if patient_id:
            issuer = _text(ds, "IssuerOfPatientID")
            tag = subject_tag(secret, "patient-id", f"{issuer}\x00{patient_id}")
        elif found["StudyInstanceUID"]:
            tag = subject_tag(secret, "study", found["StudyInstanceUID"])
        else:
            tag = subject_tag(secret, "instance", instance)
        sources = tuple(
            _mac(secret, _MATERIAL_DOMAIN, referenced)
            for item in items(ds, "SourceImageSequence")
            if (referenced := _text(item, "ReferencedSOPInstanceUID"))
        )
        uids = tuple(
            (k, _mac(secret, _MATERIAL_DOMAIN, found[k]) if found[k] else None) for k in UID_FIELDS
        )
        return SubjectMaterial(tag=tag, uids=uids, sources=sources)


def subject_pseudonym(key: bytes) -> str:
    """The subject's pseudonym: a function of its random key alone (its commitment)."""
    return V2_PREFIX + _mac(key, _V2_DOMAIN, "subject")


def keyed_pseudonyms(material: SubjectMaterial, key: bytes) -> dict[str, Any]:
    """The entry's ``pseudonyms`` from a worker's material and the subject's key."""
    if len(key) != SUBJECT_KEY_BYTES:
        raise ValueError("a subject key is 32 bytes")
    out: dict[str, Any] = {
        name: None if m is None else V2_PREFIX + _mac(key, _V2_DOMAIN, "uid", m)
        for name, m in material.uids
    }
    out["PatientID"] = subject_pseudonym(key)
    out["SourceImageSequence"] = [V2_PREFIX + _mac(key, _V2_DOMAIN, "uid", m)
                                  for m in material.sources]
    return out
