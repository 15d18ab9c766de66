"""No PHI enters the ledger: deid-data's fake patients, registered through the command line.

deid-data's files carry realistic fake names, ids, birth dates, institutions and
UIDs. Their header values are read here with pydicom (every non-empty text value
of four or more characters of a PS3.15 Annex E attribute or of a private
attribute, in sequences too) and searched for, byte for byte, in everything the
ledger writes or prints: every file in the ledger directory (the SQLite file and
its -wal, kept alive by a reader held open during the run), the ``--json`` and
text output, stderr, ``log entries --json``, ``show --json`` and a bundle export.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import logging
import re
import sqlite3
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from PIL import Image, PngImagePlugin
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from ledger.imaging.annex_e import PROFILE

from ..builders import snapshot
from .data import copy_into, deid_files, make_photos, pydicom_file
from .support import RunCli, image_entries, log_size, make_ledger, register_args

# Attributes that must count whatever the Annex E table in ledger/ says (a cross-check).
NAMED = (
    "PatientName", "PatientID", "PatientBirthDate", "InstitutionName", "InstitutionAddress",
    "ReferringPhysicianName", "AccessionNumber", "StudyInstanceUID", "SeriesInstanceUID",
    "SOPInstanceUID", "OtherPatientIDs", "OtherPatientNames", "OperatorsName",
    "PerformingPhysicianName", "NameOfPhysiciansReadingStudy", "PhysiciansOfRecord",
    "RequestingPhysician", "StudyID", "StationName", "DeviceSerialNumber", "StudyDate",
    "AcquisitionDateTime", "CurrentPatientLocation", "AdditionalPatientHistory",
)  # fmt: skip
ANNEX_E = {attribute.keyword for attribute in PROFILE} | set(NAMED)
# Attributes whose values the ledger may store (the allowlist): a header value of an
# Annex E attribute that is also, say, the Manufacturer is not a leak when it shows up.
ALLOWED = (
    "Modality", "Manufacturer", "ManufacturerModelName", "BodyPartExamined", "KVP",
    "SliceThickness", "PixelSpacing", "PhotometricInterpretation", "SOPClassUID", "ImageType",
    "LossyImageCompression", "LossyImageCompressionMethod", "LossyImageCompressionRatio",
    "BurnedInAnnotation", "PresentationIntentType", "DeidentificationMethod",
)  # fmt: skip
# The identifying attributes every deid-data file that has them must be reported for.
REPORTED = (
    "PatientName", "PatientID", "PatientBirthDate", "InstitutionName", "ReferringPhysicianName",
    "AccessionNumber", "OtherPatientIDs", "OperatorsName", "StudyDate", "StationName",
)  # fmt: skip
_HEX = re.compile(rb"[0-9A-Fa-f]+")


def read_header(path: Path) -> Dataset:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the files break VR length rules on purpose
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        for _ in ds.iterall():  # parse every element now, warnings included
            pass
    return ds


def _texts(value: Any) -> list[str]:
    values = value if isinstance(value, list | tuple | pydicom.multival.MultiValue) else [value]
    return [str(v) for v in values if isinstance(v, str | pydicom.valuerep.PersonName)]


def header_values(ds: Dataset) -> dict[str, set[str]]:
    """keyword (or tag, for private attributes) -> its text values, sequences included."""
    found: dict[str, set[str]] = {}
    for element in ds.iterall():
        if element.VR == "SQ":
            continue
        if element.keyword in ANNEX_E or element.tag.is_private:
            name = element.keyword or str(element.tag)
            found.setdefault(name, set()).update(_texts(element.value))
    return found


def allowed_values(ds: Dataset) -> set[str]:
    return {t for k in ALLOWED if k in ds for t in _texts(ds[k].value)}


def needles(value: str) -> set[str]:
    """The value and its parts (PN components, lines), each of 4+ characters."""
    parts = {value, *re.split(r"[\^=\\\r\n]+", value)}
    return {p.strip() for p in parts if len(p.strip()) >= 4}


def occurs(needle: bytes, haystack: bytes, *, token: bool = False) -> bool:
    """Whether ``needle`` is in ``haystack``; all-hex or ``token=True``: as a whole token.

    The ledger is full of hex digests: "20170302" or "abcd" inside one is chance,
    not a leak, while a leaked value always stands on its own ("20170302", or
    "MARY" in "DOE^MARY" rather than in the schema's "PRIMARY KEY").
    """
    if token or _HEX.fullmatch(needle):
        bounded = rb"(?<![0-9A-Za-z])" + re.escape(needle) + rb"(?![0-9A-Za-z])"
        return re.search(bounded, haystack) is not None
    return needle in haystack


def ledger_bytes(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes()
            for p in sorted(directory.rglob("*")) if p.is_file()}  # fmt: skip


_B64 = re.compile(r"(?:[A-Za-z0-9+/]{4}){4,}(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")
_HEX_FIELD = re.compile(r"(?:[0-9a-f]{2}){16,}")


def decoded_text(value: Any) -> bytes:
    """A bundle's JSON with every base64 and hex field decoded, for searching.

    Raw base64 holds any 4 letters by chance (a leaf's signature once held "EMER"):
    a leaked value is searched for in what the encoding carries, never in the encoding.
    A decoded leaf is JSON itself and is decoded the same way, down to its signature.
    """
    if isinstance(value, dict):
        return b"\n".join(decoded_text(k) + b": " + decoded_text(v) for k, v in value.items())
    if isinstance(value, list):
        return b"\n".join(decoded_text(v) for v in value)
    if not isinstance(value, str):
        return json.dumps(value).encode()
    return b" ".join(_decoded_token(t) for t in value.split())


def _decoded_token(token: str) -> bytes:
    if _HEX_FIELD.fullmatch(token):
        return bytes.fromhex(token)
    if not _B64.fullmatch(token):
        return token.encode()
    data = base64.b64decode(token)
    try:
        return decoded_text(json.loads(data))
    except ValueError:  # binary: a signature, a key, a hash
        return data


def test_decoded_text_reads_through_the_encodings() -> None:
    leaf = json.dumps({"prev": "ab" * 32, "envelope": {"sig": base64.b64encode(b"EMER" * 16)
                       .decode(), "entry": {"body": {"source": "site-a"}}}})  # fmt: skip
    bundle = {"leaves": [base64.b64encode(leaf.encode()).decode()],
              "checkpoint": "origin\n7\n" + base64.b64encode(bytes(32)).decode() + "\n",
              "note": "plain words stay"}  # fmt: skip
    text = decoded_text(bundle)
    assert b"site-a" in text and b"plain words stay" in text and b"\xab" * 32 in text
    assert base64.b64encode(leaf.encode()) not in text  # the encodings themselves are gone
    assert b"RU1FUkVN" not in text and b"EMER" * 16 in text


@contextlib.contextmanager
def reader_held_open(directory: Path) -> Iterator[None]:
    """A read-only connection open across a run, so that SQLite keeps its -wal file."""
    uri = f"file:{directory / 'ledger.db'}?mode=ro"
    with contextlib.closing(sqlite3.connect(uri, uri=True)) as conn:
        conn.execute("SELECT count(*) FROM log_leaves").fetchone()
        yield


@pytest.fixture(scope="module")
def phi() -> dict[str, dict[str, set[str]]]:
    """file name -> attribute -> values, for every deid-data DICOM file."""
    values = {path.name: header_values(read_header(path)) for path in deid_files()}
    assert all(values.values())
    return values


def test_the_files_carry_fake_phi(phi: dict[str, dict[str, set[str]]]) -> None:
    for name, attributes in phi.items():
        assert "PatientName" in attributes or "PatientID" in attributes, name
    assert {"cookie-47"} <= phi["image1.dcm"]["PatientID"]
    assert any("SIMPSON" in v for v in phi["ctbrain1.dcm"]["PatientName"])


@pytest.mark.slow
def test_no_header_value_anywhere(
    tmp_path: Path, reg_ledger: Path, run_cli: RunCli, cli: RunCli,
    phi: dict[str, dict[str, set[str]]], caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    caplog.set_level(logging.DEBUG)
    folder = tmp_path / "deid"
    copies = copy_into(folder, deid_files())
    baseline = b"\n".join(ledger_bytes(reg_ledger).values())  # a ledger that never saw them
    allowed = set().union(*(allowed_values(read_header(p)) for p in copies))

    outputs: dict[str, str] = {}
    with reader_held_open(reg_ledger):
        run = run_cli(*register_args(folder, workers=2), ledger=reg_ledger)
        assert run.rc == 0, run.stderr
        assert run.json()["registered"] == len(copies)
        assert "Traceback" not in run.stderr
        written = ledger_bytes(reg_ledger)
    assert any(name.endswith("-wal") for name in written), sorted(written)
    outputs["register --json"] = run.stdout + run.stderr
    text = cli(*register_args(folder, source="site-b", json=False), ledger=reg_ledger)
    assert text.rc == 0, text.stderr
    outputs["register (text)"] = text.stdout + text.stderr
    for args in (("log", "entries", "--json"), ("checkpoint",), ("verify", "--json")):
        result = cli(*args, ledger=reg_ledger)
        assert result.rc == 0, result.stderr
        outputs[" ".join(args)] = result.stdout + result.stderr
    for path in copies:
        shown = cli("show", path, "--json", ledger=reg_ledger)
        assert shown.rc == 0, shown.stderr
        outputs[f"show {path.name}"] = shown.stdout + shown.stderr
    bundle = tmp_path / "bundle.json"
    exported = cli("bundle", "export", bundle, "--json", ledger=reg_ledger)
    assert exported.rc == 0, exported.stderr
    written.update({f"after: {k}": v for k, v in ledger_bytes(reg_ledger).items()})

    outputs["logs"] = caplog.text
    haystacks = {**written, "bundle (decoded)": decoded_text(json.loads(bundle.read_bytes()))}
    # File names in the output are the user's own arguments: the temporary folder's name
    # ("test_no_header_value_anywhere0") is not a header value, whatever "test" matches.
    haystacks.update({name: text.replace(str(tmp_path), "<tmp>").encode()
                      for name, text in outputs.items()})  # fmt: skip
    searched, skipped, leaks = 0, set(), []
    for name, attributes in phi.items():
        for attribute, values in attributes.items():
            for needle in {n for v in values for n in needles(v)}:
                raw = needle.encode()
                # Words a ledger that never saw these files holds too are looked for as tokens.
                token = occurs(raw, baseline)
                if (token and occurs(raw, baseline, token=True)) or any(
                    needle in a for a in allowed
                ):
                    skipped.add(needle)
                    continue
                searched += 1
                leaks += [f"{name} {attribute} {needle!r} in {where}"
                          for where, data in haystacks.items()
                          if occurs(raw, data, token=token)]  # fmt: skip
    assert not leaks, "\n".join(leaks)
    # The search sees what the database stores: the allowlisted values are there in clear.
    stored = written["ledger.db"] + b"".join(v for k, v in written.items() if k.endswith("-wal"))
    assert any(occurs(v.encode(), stored) for v in allowed if len(v) >= 6), sorted(allowed)
    assert searched > 300
    core = {v for a in phi.values() for k in ("PatientName", "PatientID", "PatientBirthDate")
            for v in a.get(k, ())}  # fmt: skip
    assert not (core & skipped), core & skipped  # the values that matter most were searched
    assert len(skipped) <= 12, sorted(skipped)  # only generic words ("DEFAULT", "UNKNOWN")


def test_status_names_the_identifying_attributes(
    tmp_path: Path, reg_ledger: Path, cli: RunCli, phi: dict[str, dict[str, set[str]]]
) -> None:
    copies = copy_into(tmp_path / "deid", deid_files())
    assert cli(*register_args(tmp_path / "deid", extra=("--keep-demographics",)),
               ledger=reg_ledger).rc == 0  # fmt: skip
    images = {e["image"]["file_sha256"]: e["image"] for e in image_entries(cli, reg_ledger)}
    for path in copies:
        image = images[hashlib.sha256(path.read_bytes()).hexdigest()]
        deid = image["deid"]
        ds = read_header(path)
        expected = {k for k in REPORTED if k in ds and str(ds[k].value).strip()}
        assert expected, path.name
        assert expected <= set(deid["identifying_present"]), (path.name, deid)
        assert deid["patient_identity_removed"] is not True
        # Identified input: no demographics, whatever --keep-demographics asks.
        assert "PatientSex" not in image["metadata"], path.name
        assert "PatientAgeBand" not in image["metadata"], path.name
        pseudonyms = image["pseudonyms"]
        for uid in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"):
            assert re.fullmatch("skey-hmac-sha256:[0-9a-f]{64}", pseudonyms[uid]), (path.name, uid)
            assert str(ds[uid].value) not in pseudonyms[uid]


def _refusals_name_attributes(summary: dict[str, Any], copies: list[Path]) -> None:
    assert summary["registered"] == 0
    refused = {Path(r["path"]).name: r["reason"] for r in summary["refused"]}
    assert set(refused) == {p.name for p in copies}
    for name, reason in refused.items():
        assert "identifiable" in reason or "de-identified" in reason, reason
        present = [k for k in REPORTED if k in reason]
        assert present, f"{name}: the reason names no attribute: {reason}"


def test_require_deidentified_refuses_them(tmp_path: Path, reg_ledger: Path, cli: RunCli) -> None:
    copies = copy_into(tmp_path / "deid", deid_files())
    before, size = snapshot(reg_ledger), log_size(reg_ledger)
    result = cli(*register_args(tmp_path / "deid", extra=("--require-deidentified",)),
                 ledger=reg_ledger)  # fmt: skip
    assert result.rc == 2
    line = result.error_line()
    assert "nothing registered" in line and str(len(copies)) in line
    _refusals_name_attributes(result.json(), copies)
    assert log_size(reg_ledger) == size
    assert snapshot(reg_ledger) == before


def test_a_require_deidentified_ledger_refuses_them(
    tmp_path: Path, run_cli: RunCli, cli: RunCli
) -> None:
    ledger = tmp_path / "public"  # made by separate processes: its SQLite file is folded
    assert run_cli("init", "--require-deidentified", ledger=ledger).rc == 0
    assert run_cli("keys", "add", "uploader", "--role", "submitter", ledger=ledger).rc == 0
    copies = copy_into(tmp_path / "deid", deid_files())
    before, size = snapshot(ledger), log_size(ledger)

    refused = cli(*register_args(tmp_path / "deid"), ledger=ledger)
    assert refused.rc == 2
    refused.error_line()
    _refusals_name_attributes(refused.json(), copies)
    after = snapshot(ledger)
    assert log_size(ledger) == size
    assert after == before, {k for k in {*after, *before} if after.get(k) != before.get(k)}

    one = cli(*register_args(copies[0]), ledger=ledger)
    assert one.rc == 2
    line = one.error_line()
    assert copies[0].name in line and any(k in line for k in REPORTED), line

    photos = make_photos(tmp_path / "deid" / "photos")
    mixed = cli(*register_args(tmp_path / "deid"), ledger=ledger)
    assert mixed.rc == 0, mixed.stderr
    summary = mixed.json()
    assert summary["registered"] == len(photos)
    assert len(summary["refused"]) == len(copies)


def deidentified_copy(source: Path, target: Path) -> Path:
    """MR_small's pixels in a new data set that keeps nothing identifying.

    Patient Identity Removed YES, the Basic Profile with Retain Patient
    Characteristics (113108) declared, and only sex and age kept.
    """
    original = read_header(source)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pixels = pydicom.dcmread(source)
    ds = Dataset()
    for keyword in ("SOPClassUID", "Modality", "Rows", "Columns", "SamplesPerPixel",
                    "PhotometricInterpretation", "BitsAllocated", "BitsStored", "HighBit",
                    "PixelRepresentation"):  # fmt: skip
        setattr(ds, keyword, original[keyword].value)
    ds.PixelData = pixels.PixelData
    ds.SOPInstanceUID, ds.StudyInstanceUID, ds.SeriesInstanceUID = (generate_uid() for _ in "abc")
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = "test: rebuilt from scratch"
    codes = []
    for value in ("113100", "113108"):
        item = Dataset()
        item.CodeValue, item.CodingSchemeDesignator = value, "DCM"
        item.CodeMeaning = "Basic Application Confidentiality Profile"
        codes.append(item)
    ds.DeidentificationMethodCodeSequence = codes
    ds.PatientSex, ds.PatientAge = "F", "047Y"
    ds.file_meta = pydicom.dataset.FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.save_as(target, enforce_file_format=True)
    return target


def test_deidentified_input_registers_under_the_policy_with_demographics(
    tmp_path: Path, cli: RunCli
) -> None:
    ledger = make_ledger(tmp_path / "public", require_deidentified=True)
    clean = deidentified_copy(pydicom_file("MR_small.dcm"), tmp_path / "clean.dcm")
    result = cli(*register_args(clean, extra=("--keep-demographics",)), ledger=ledger)
    assert result.rc == 0, result.stderr
    assert result.json()["registered"] == 1
    [entry] = image_entries(cli, ledger)
    assert entry["image"]["deid"]["patient_identity_removed"] is True
    assert entry["image"]["deid"]["identifying_present"] == []
    # Sex and age band sit in the deletable side table; the entry holds a salted commitment.
    assert "PatientSex" not in entry["image"]["metadata"]
    assert "PatientAgeBand" not in entry["image"]["metadata"]
    commitment = entry["image"]["pseudonyms"]["Demographics"]
    with sqlite3.connect(f"file:{ledger / 'ledger.db'}?mode=ro", uri=True) as conn:
        row = conn.execute("SELECT subject, salt, sex, age_band FROM subject_demographics "
                           "WHERE commitment = ?", (commitment,)).fetchone()
    assert row is not None and row[0] == entry["image"]["pseudonyms"]["PatientID"]
    assert (row[2], row[3]) == ("F", "40-49")
    opened = hashlib.sha256(b"medledger-demographics/v1\x00" + bytes.fromhex(row[1])
                            + b'{"PatientAgeBand":"40-49","PatientSex":"F"}').hexdigest()
    assert commitment == "sha256:" + opened


PHOTO_SECRETS = ("Fictional Artistname", "Ward seven bed three", "Jane Fictional-Doe")


def identifiable_photos(folder: Path) -> list[Path]:
    """A JPEG with EXIF owner, description and GPS position; a PNG with an author text chunk."""
    folder.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(7).integers(0, 256, size=(32, 32, 3), dtype="uint8")
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0131] = "AcmeCam", "Model X1", "Editor 2.0"
    exif[0x013B], exif[0x010E] = PHOTO_SECRETS[0], PHOTO_SECRETS[1]  # Artist, ImageDescription
    exif[0x8825] = {1: "N", 2: (52.0, 22.0, 1.5), 3: "E", 4: (4.0, 53.0, 2.0)}  # GPSInfo
    Image.fromarray(pixels).save(folder / "phone.jpg", exif=exif)
    text = PngImagePlugin.PngInfo()
    text.add_text("Author", PHOTO_SECRETS[2])
    Image.fromarray(pixels[:, :, 0]).save(folder / "note.png", pnginfo=text)
    return [folder / "phone.jpg", folder / "note.png"]


def test_photo_metadata_keeps_make_model_software_only(
    tmp_path: Path, reg_ledger: Path, cli: RunCli
) -> None:
    jpeg, _ = identifiable_photos(tmp_path / "photos")
    result = cli(*register_args(tmp_path / "photos"), ledger=reg_ledger)
    assert result.rc == 0, result.stderr
    images = {e["image"]["format"]: e["image"] for e in image_entries(cli, reg_ledger)}
    metadata = images["jpeg"]["metadata"]
    assert (metadata["Make"], metadata["Model"], metadata["Software"]) == (
        "AcmeCam", "Model X1", "Editor 2.0",
    )  # fmt: skip
    assert not {k for k in metadata if "GPS" in k or k in ("Artist", "ImageDescription")}
    assert {"Artist", "GPSInfo", "ImageDescription"} <= set(
        images["jpeg"]["deid"]["identifying_present"]
    )
    assert images["png"]["deid"]["identifying_present"], images["png"]["deid"]
    everything = b"".join(ledger_bytes(reg_ledger).values()) + result.stdout.encode()
    everything += cli("log", "entries", "--json", ledger=reg_ledger).stdout.encode()
    for secret in PHOTO_SECRETS:
        assert secret.encode() not in everything, secret

    strict = cli(*register_args(jpeg, source="site-b", extra=("--require-deidentified",)),
                 ledger=reg_ledger)  # fmt: skip
    assert strict.rc == 2
    assert "GPSInfo" in strict.error_line()
