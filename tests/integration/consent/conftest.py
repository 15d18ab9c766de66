"""One ledger with deid-data's fake patients registered, built once; tests work on copies.

Three files: two of dicom-cookies (one fake patient, two images) and one of humans (another
fake patient), registered through the service with a submitter key; a consent-officer key
``officer`` is added. ``Registered`` records, per file, its entry index and its header's
Patient ID, issuer and UIDs (read here with pydicom: the identifiers an attacker would hold).
"""

from __future__ import annotations

import hashlib
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path

import pydicom
import pytest
from deid_data.data import get_dataset

from ledger.service import Ledger
from ledger.service.registration import RegisterOptions, register

from ..registration.data import copy_into

OFFICER, SUBMITTER = "officer", "uploader"
UID_KEYWORDS = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "FrameOfReferenceUID")


@dataclass(frozen=True)
class File:
    path: Path
    index: int
    patient_id: str
    issuer: str
    uids: tuple[str, ...]


@dataclass(frozen=True)
class Base:
    ledger: Path
    files: tuple[File, ...]

    def of_patient(self, patient_id: str) -> list[File]:
        return [f for f in self.files if f.patient_id == patient_id]

    def copy(self, target: Path) -> Path:
        shutil.copytree(self.ledger, target)
        return target


def _header(path: Path) -> tuple[str, str, tuple[str, ...]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(path, stop_before_pixels=True)
    uids = tuple(str(ds.get(k, "")) for k in UID_KEYWORDS if str(ds.get(k, "")))
    return str(ds.PatientID), str(ds.get("IssuerOfPatientID", "") or ""), uids


@pytest.fixture(scope="session")
def consent_base(tmp_path_factory: pytest.TempPathFactory) -> Base:
    root = tmp_path_factory.mktemp("consent-base")
    cookies, humans = Path(get_dataset("dicom-cookies")), Path(get_dataset("humans"))
    files = copy_into(root / "files", [cookies / "image1.dcm", cookies / "image2.dcm",
                                       humans / "ctbrain1.dcm"])
    ledger = Ledger.init(root / "ledger")
    try:
        ledger.add_key(OFFICER, "consent-officer")
        ledger.add_key(SUBMITTER, "submitter")
        options = RegisterOptions(source="site-a", license="CC-BY-4.0", consent="consented",
                                  key=SUBMITTER, dataset="cookies@1", workers=1)
        summary = register(ledger, [root / "files"], options)
        assert summary.registered == 3, summary.to_json()
        by_digest = {}
        for row in ledger.entries():
            entry = row["leaf"]["envelope"]["entry"]
            if entry["kind"] == "image.registered":
                by_digest[entry["body"]["image"]["file_sha256"]] = row["index"]
    finally:
        ledger.store.engine.dispose()
    made = []
    for path in files:
        patient_id, issuer, uids = _header(path)
        index = by_digest[hashlib.sha256(path.read_bytes()).hexdigest()]
        made.append(File(path, index, patient_id, issuer, uids))
    assert len({f.patient_id for f in made}) == 2  # two fake patients, one with two images
    return Base(root / "ledger", tuple(made))
