"""Keyed pseudonyms for DICOM UIDs and subject identifiers (HMAC-SHA256).

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
