"""Profile with sex and age band, comparisons, and the Croissant 1.1 export with DUO/RAI/prov.

One ledger is built per module: 13 synthetic de-identified DICOMs registered with
``keep_demographics`` (sex and age band in ``subject_demographics``, committed by the entries),
three PNGs of another source and one PNG derived by a resize. ``study@1`` holds them all
(DUO GRU and NPU), ``study@2`` drops one woman's image (DUO HMB), ``study@3`` follows the
withdrawal of one man's consent. Expected numbers are counted here from ``PEOPLE``.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from ledger.datasets.profilechild import ProfileChild
from ledger.datasets.profileworker import tally_share
from ledger.errors import InputError, VerificationError
from ledger.service import Ledger
from ledger.service import datasetfacts as facts
from ledger.service import datasets as service
from ledger.service.consent import set_consent
from ledger.service.lineage import derive
from ledger.service.registration import RegisterOptions, register

from ..builders import RunCli, attacker

# (sex, age) per DICOM; None: not in the header. Bands: 40-49 x6, 50-59 x5, 70-79 x1.
PEOPLE: list[tuple[str | None, str | None]] = (
    [("F", "047Y")] * 6 + [("M", "052Y")] * 5 + [("M", "071Y"), (None, None)])
BAND = {"047Y": "40-49", "052Y": "50-59", "071Y": "70-79"}
# mlcroissant's rdflib use, not ours
MLCROISSANT_RDFLIB = pytest.mark.filterwarnings(
    "ignore:ConjunctiveGraph is deprecated:DeprecationWarning")


@dataclass(frozen=True)
class Built:
    ledger: Path
    dicoms: dict[str, int]  # file name -> entry index
    derived_child: int
    other_png_count: int


def _dicom(path: Path, seed: int, sex: str | None, age: str | None) -> None:
    ds = Dataset()
    ds.SOPClassUID = pydicom.uid.MRImageStorage
    ds.SOPInstanceUID, ds.StudyInstanceUID, ds.SeriesInstanceUID = (generate_uid()
                                                                    for _ in "abc")
    ds.Modality, ds.Manufacturer, ds.BodyPartExamined = "MR", "Acme", "CHEST"
    ds.Rows = ds.Columns = 16
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit, ds.PixelRepresentation = 7, 0
    ds.PixelData = np.random.default_rng(seed).integers(0, 256, (16, 16), np.uint8).tobytes()
    ds.PatientIdentityRemoved = "YES"
    codes = []
    for value in ("113100", "113108"):
        item = Dataset()
        item.CodeValue, item.CodingSchemeDesignator = value, "DCM"
        item.CodeMeaning = "de-identification"
        codes.append(item)
    ds.DeidentificationMethodCodeSequence = codes
    if sex is not None:
        ds.PatientSex = sex
    if age is not None:
        ds.PatientAge = age
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.save_as(path, enforce_file_format=True)


def _entries_by_name(ledger: Ledger, label: str) -> dict[str, int]:
    return {Path(m["path"]).name: m["entry"]
            for m in service.members(ledger, service.version(ledger, label))}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    root = tmp_path_factory.mktemp("profiled")
    data = root / "data"
    (data / "mr").mkdir(parents=True)
    (data / "photos").mkdir()
    for n, (sex, age) in enumerate(PEOPLE):
        _dicom(data / "mr" / f"p{n:02d}.dcm", n, sex, age)
    rng = np.random.default_rng(99)
    for n in range(3):
        Image.fromarray(rng.integers(0, 256, (24, 32), np.uint8)).save(data / "photos" / f"{n}.png")
    child = data / "photos" / "small.png"
    Image.open(data / "photos" / "0.png").resize((16, 12)).save(child)
    ledger = Ledger.init(root / "ledger")
    try:
        ledger.add_key("cur", "curator")
        summary = register(ledger, [data / "mr"], RegisterOptions(
            source="site-a", license="CC-BY-4.0", consent="consented", key="cur", workers=1,
            keep_demographics=True))  # fmt: skip
        assert not summary.refused, summary.refused
        summary = register(ledger, [data / "photos" / f"{n}.png" for n in range(3)],
                           RegisterOptions(source="site-b", license="CC0-1.0",
                                           consent="consented", key="cur", workers=1))
        assert not summary.refused, summary.refused
        made = derive(ledger, parent=str(data / "photos" / "0.png"), child=child,
                      steps=["resize:width=16,height=12"], key="cur")
        service.create(ledger, "study", key="cur", folder=data, duo=("GRU", "npu"))
        dicoms = {k: v for k, v in _entries_by_name(ledger, "study@1").items()
                  if k.endswith(".dcm")}
        service.create(ledger, "study", key="cur", from_version="study@1",
                       remove=(str(dicoms["p00.dcm"]),), duo=("HMB",))
        set_consent(ledger, subject=None, images=[str(dicoms["p06.dcm"])], status="withdrawn",
                    key="admin")
        service.create(ledger, "study", key="cur", from_version="study@2")
    finally:
        ledger.store.engine.dispose()
    return Built(root / "ledger", dicoms, made.child, 3)


@pytest.fixture(scope="module")
def ledger(built: Built) -> Iterator[Ledger]:
    opened = Ledger.open(built.ledger)
    yield opened
    opened.store.engine.dispose()


def _expected(people: list[tuple[str | None, str | None]], total: int
              ) -> dict[str, tuple[Counter[str], float]]:  # fmt: skip
    """attribute -> (counts, missing share) for members ``people`` among ``total``."""
    sex = Counter(s for s, _ in people if s)
    band = Counter(BAND[a] for _, a in people if a)
    return {"sex": (sex, (total - sum(sex.values())) / total),
            "age_band": (band, (total - sum(band.values())) / total)}


def _shown(counts: Counter[str], total: int) -> list[dict[str, Any]]:
    return [{"value": v, "count": n, "share": round(n / total, 4)} if n >= 5
            else {"value": v, "count": "<5", "share": None}
            for v, n in sorted(counts.items(), key=lambda i: (-i[1], i[0]))]


def test_sex_and_age_band_are_counted_from_rows_that_open_their_commitments(
    ledger: Ledger,
) -> None:
    found = service.profile(ledger, "study@1").to_json()
    total = len(PEOPLE) + 4  # three photos and the derived one
    assert found["members"] == total
    by_name = {a["name"]: a for a in found["attributes"]}
    for name, (counts, missing) in _expected(PEOPLE, total).items():
        assert by_name[name]["values"] == _shown(counts, total), name
        assert by_name[name]["missing_share"] == round(missing, 4), name
    assert {"value": "70-79", "count": "<5", "share": None} in by_name["age_band"]["values"]
    assert by_name["manufacturer"]["values"] == [
        {"value": "Acme", "count": len(PEOPLE), "share": round(len(PEOPLE) / total, 4)}]


def test_a_demographics_row_that_does_not_open_is_refused_not_counted(
    built: Built, tmp_path: Path
) -> None:
    directory = shutil.copytree(built.ledger, tmp_path / "ledger")
    with sqlite3.connect(directory / "ledger.db") as db:
        db.execute("UPDATE subject_demographics SET sex = 'F' WHERE sex = 'M'")
    opened = Ledger.open(directory)
    try:
        with pytest.raises(VerificationError, match="does not open its commitment"):
            service.profile(opened, "study@1")
    finally:
        opened.store.engine.dispose()


def _forged(built: Built, tmp_path: Path, *statements: str) -> Path:
    """A copy of the built ledger with ``statements`` run by an attacker (triggers dropped)."""
    directory = shutil.copytree(built.ledger, tmp_path / "ledger")
    with attacker(directory) as db:
        for statement in statements:
            db.execute(statement)
    return directory


def _study1(built: Built) -> int:
    with sqlite3.connect(built.ledger / "ledger.db") as db:
        return int(db.execute("SELECT idx FROM dataset_versions WHERE name = 'study' "
                              "AND version = 1").fetchone()[0])


# what an attacker with write access edits -> what profile says (it exits 1)
FORGERIES = {
    "leaf bytes": ("UPDATE log_leaves SET leaf = CAST(replace(CAST(leaf AS TEXT), '\"Acme\"', "
                   "'\"Acmf\"') AS BLOB) WHERE idx = {p01}", "does not hash to its leaf hash"),
    "leaf as text": ("UPDATE log_leaves SET leaf = CAST(leaf AS TEXT) WHERE idx = {p01}",
                     "does not hash to its leaf hash"),
    "leaf deleted": ("DELETE FROM log_leaves WHERE idx = {p01}", "1 member leaves are not in"),
    "member digest": ("UPDATE dataset_members SET pixel_sha256 = '{zeros}' "
                      "WHERE version_idx = {v1} AND entry = {p01}", "does not match its signed"),
    "member entry as text": ("UPDATE dataset_members SET entry = 'x' "
                             "WHERE version_idx = {v1} AND entry = {p01}",
                             "does not match its signed"),
    "member moved to a non-image": ("UPDATE dataset_members SET entry = 0 "
                                    "WHERE version_idx = {v1} AND entry = {p01}",
                                    "does not match its signed"),
    "member row deleted": ("DELETE FROM dataset_members WHERE version_idx = {v1} "
                           "AND entry = {p01}", "does not match its signed"),
    "demographics value": ("UPDATE subject_demographics SET age_band = '80-89' "
                           "WHERE age_band = '40-49'", "does not open its commitment"),
    "demographics salt": ("UPDATE subject_demographics SET salt = 'zz'",
                          "does not open its commitment"),
}


@pytest.mark.parametrize("forgery", FORGERIES)
def test_every_forged_fact_that_profile_shows_is_refused(
    built: Built, tmp_path: Path, forgery: str, cli: RunCli
) -> None:
    statement, message = FORGERIES[forgery]
    directory = _forged(built, tmp_path, statement.format(
        p01=built.dicoms["p01.dcm"], v1=_study1(built), zeros="0" * 64))
    result = cli("dataset", "profile", "study@1", ledger=directory)
    assert result.rc == 1, result.stderr
    assert message in result.error_line()


@pytest.mark.parametrize("forgery", FORGERIES)
def test_every_forged_fact_is_refused_when_a_child_counts_part(
    built: Built, tmp_path: Path, forgery: str
) -> None:
    statement, message = FORGERIES[forgery]
    v1 = _study1(built)
    directory = _forged(built, tmp_path, statement.format(
        p01=built.dicoms["p01.dcm"], v1=v1, zeros="0" * 64))
    opened = Ledger.open(directory)
    try:
        v = service.version(opened, "study@1")
        with pytest.raises(VerificationError, match=message):
            facts.profile_version(opened, "study@1", index=v.index, members=v.members,
                                  members_root=v.members_root, split_from=1)
    finally:
        opened.store.engine.dispose()


def test_an_edited_images_row_is_not_what_profile_counts(built: Built, tmp_path: Path,
                                                        ledger: Ledger) -> None:
    edit = "UPDATE images SET source = 'forged' WHERE idx = {p01}"
    directory = _forged(built, tmp_path, edit.format(p01=built.dicoms["p01.dcm"]))
    opened = Ledger.open(directory)
    try:
        found = service.profile(opened, "study@1")
        assert found.to_json() == service.profile(ledger, "study@1").to_json()
        assert "forged" not in found.attribute("source").counts()
        with pytest.raises(VerificationError, match="column source: stored 'forged'") as caught:
            opened.verify()
        assert "images" in caught.value.diagnostics()
    finally:
        opened.store.engine.dispose()


def test_an_erased_demographics_row_counts_as_not_recorded(built: Built, tmp_path: Path,
                                                          ledger: Ledger) -> None:
    directory = _forged(built, tmp_path, "DELETE FROM subject_demographics WHERE rowid = "
                        "(SELECT min(rowid) FROM subject_demographics WHERE sex = 'F')")
    opened = Ledger.open(directory)
    try:
        found = service.profile(opened, "study@1")
    finally:
        opened.store.engine.dispose()
    before = service.profile(ledger, "study@1")
    assert found.attribute("sex").counts() == {"F": 5, "M": 6}
    assert found.attribute("sex").missing == before.attribute("sex").missing + 1
    assert found.attribute("age_band").missing == before.attribute("age_band").missing + 1


def test_a_profile_counted_in_two_processes_equals_one_counted_in_one(ledger: Ledger,
                                                                     built: Built) -> None:
    v = service.version(ledger, "study@1")
    checked = {"index": v.index, "members": v.members, "members_root": v.members_root}
    alone, entries = facts.profile_version(ledger, "study@1", split_from=10**9, **checked)
    split, split_entries = facts.profile_version(ledger, "study@1", split_from=1, **checked)
    assert split.to_json() == alone.to_json()
    assert split_entries == entries and len(entries) == len(PEOPLE) + 4
    child = ProfileChild(str(ledger.dir.path / "ledger.db"))  # the child itself answers
    child.send(entries[:5])
    share = child.result()
    assert share is not None and share.total == 5
    # sparse entries are read by index, none is a share of nothing
    sparse = [built.dicoms["p00.dcm"], built.derived_child]
    assert sparse[1] - sparse[0] >= 4 * len(sparse)
    tally, error, _ = tally_share(str(built.ledger / "ledger.db"), sparse)
    assert error is None and tally is not None and tally.total == 2
    assert tally.result("x").attribute("source").counts() == {"site-a": 1, "site-b": 1}
    empty, error, _ = tally_share(str(built.ledger / "ledger.db"), [])
    assert error is None and empty is not None and empty.total == 0


def test_the_child_process_finds_a_forged_leaf_in_its_share(built: Built, tmp_path: Path
                                                            ) -> None:  # fmt: skip
    p01 = built.dicoms["p01.dcm"]
    directory = _forged(built, tmp_path, FORGERIES["leaf bytes"][0].format(p01=p01))
    opened = Ledger.open(directory)
    try:
        v = service.version(opened, "study@1")
        assert p01 < v.index  # in the child's half: the first members
        with pytest.raises(VerificationError, match="does not hash") as caught:
            facts.profile_version(opened, "study@1", index=v.index, members=v.members,
                                  members_root=v.members_root, split_from=1)
        assert caught.value.index == p01
        child = ProfileChild(str(directory / "ledger.db"))
        child.send([p01])
        with pytest.raises(VerificationError, match="does not hash"):
            child.result()
    finally:
        opened.store.engine.dispose()


def test_a_child_that_cannot_read_the_database_leaves_its_share_to_the_caller(
    tmp_path: Path,
) -> None:
    child = ProfileChild(str(tmp_path / "absent.db"))
    child.send([1, 2, 3])
    assert child.result() is None
    idle = ProfileChild(str(tmp_path / "absent.db"))
    assert idle.result() is None  # never sent a share: stopped


def test_version_comparison_gives_share_points_with_small_cells_withheld(
    ledger: Ledger,
) -> None:
    found = service.compare(ledger, "study@1", "study@2").to_json()
    assert found["shared_members"] == len(PEOPLE) + 4 - 1
    by_name = {a["name"]: {v["value"]: v for v in a["values"]} for a in found["attributes"]}
    # study@1: F 6, M 6 of 12 recording sex; study@2: F 5, M 6 of 11
    assert by_name["sex"]["F"]["difference_points"] == round(100 * (6 / 12 - 5 / 11), 2)
    assert by_name["sex"]["M"]["difference_points"] == round(100 * (6 / 12 - 6 / 11), 2)
    assert by_name["age_band"]["40-49"]["difference_points"] == round(100 * (6 / 12 - 5 / 11), 2)
    assert by_name["age_band"]["70-79"] == {"value": "70-79", "share": None,
                                            "other_share": None, "difference_points": None}
    assert by_name["source"]["site-a"]["difference_points"] == round(100 * (13 / 17 - 12 / 16), 2)


def test_reference_comparison_and_a_bad_reference_file(ledger: Ledger, tmp_path: Path) -> None:
    reference = tmp_path / "ref.json"
    reference.write_text(json.dumps({"name": "census", "attributes": {
        "sex": {"F": 0.5, "M": 0.5}, "age_band": {"40-49": 0.2, "50-59": 0.3, "60-69": 0.5}}}))
    found = service.against(ledger, "study@1", reference).to_json()
    assert found["against"] == "census"
    rows = {a["name"]: {v["value"]: v["difference_points"] for v in a["values"]}
            for a in found["attributes"]}
    assert rows == {"sex": {"F": 0.0, "M": 0.0},
                    "age_band": {"40-49": round(100 * (6 / 12 - 0.2), 2),
                                 "50-59": round(100 * (5 / 12 - 0.3), 2),
                                 "60-69": -50.0, "70-79": None}}
    reference.write_text(json.dumps({"attributes": {"sex": {"F": 0.7, "M": 0.5}}}))
    with pytest.raises(InputError, match=r"ref\.json: sex: the shares add up to more than 1"):
        service.against(ledger, "study@1", reference)
    reference.write_text(json.dumps({"attributes": {"height": {"tall": 1}}}))
    with pytest.raises(InputError, match=r"ref\.json: unknown attribute 'height'"):
        service.against(ledger, "study@1", reference)


def test_profile_cli_prints_comparisons_in_text_json_and_html(
    built: Built, tmp_path: Path, cli: RunCli
) -> None:
    reference = tmp_path / "ref.json"
    reference.write_text(json.dumps({"attributes": {"sex": {"F": 0.4, "M": 0.6}}}))
    page = tmp_path / "p.html"
    result = cli("dataset", "profile", "study@2", "--reference", reference, "--compare",
                 "study@1", "--html", page, "--json", ledger=built.ledger)
    assert result.rc == 0, result.stderr
    shown = result.json()
    assert [c["kind"] for c in shown["comparisons"]] == ["reference", "dataset"]
    sex = {v["value"]: v["difference_points"] for v in shown["comparisons"][0]["attributes"][0]
           ["values"]}
    assert sex == {"F": round(100 * (5 / 11 - 0.4), 2), "M": round(100 * (6 / 11 - 0.6), 2)}
    html = page.read_text()
    assert "Against study@1" in html and "Against ref" in html and "http" not in html
    text = cli("dataset", "profile", "study@2", "--compare", "study@1", ledger=built.ledger)
    assert f"F {100 * (5 / 11 - 6 / 12):+.1f}" in text.stdout
    bad = cli("dataset", "profile", "study@2", "--reference", tmp_path / "nope.json",
              ledger=built.ledger)
    assert bad.rc == 2 and "nope.json: cannot read" in bad.error_line()


def _export(ledger: Ledger, label: str, folder: Path) -> tuple[dict[str, Any], Any]:
    import mlcroissant

    folder.mkdir()
    doc, data = service.croissant(ledger, label, "m.csv")
    (folder / "m.csv").write_bytes(data)
    (folder / "c.json").write_text(json.dumps(doc))
    dataset = mlcroissant.Dataset(jsonld=folder / "c.json")
    assert not dataset.metadata.issues.errors
    return doc, dataset


@MLCROISSANT_RDFLIB
def test_croissant_1_1_validates_and_yields_exactly_the_members(
    ledger: Ledger, built: Built, tmp_path: Path
) -> None:
    from mlcroissant._src.core.context import CroissantVersion

    doc, dataset = _export(ledger, "study@1", tmp_path / "v1")
    assert dataset.metadata.ctx.conforms_to == CroissantVersion.V_1_1
    records = [{k.split("/")[1]: v.decode() if isinstance(v, bytes) else v for k, v in r.items()}
               for r in dataset.records("members")]
    assert records == [{"path": m["path"], "file_sha256": m["file_sha256"],
                        "pixel_sha256": m["pixel_sha256"], "entry": m["entry"]}
                       for m in service.members(ledger, service.version(ledger, "study@1"))]
    assert [t["termCode"] for t in doc["usageInfo"]] == ["DUO:0000042", "DUO:0000045"]
    sources = {d["@id"] for d in doc["prov:wasDerivedFrom"]}
    assert {s.rsplit("/", 1)[1] for s in sources} == {"site-a", "site-b"}
    assert "isBasedOn" not in doc
    assert sorted(doc["license"]) == ["CC-BY-4.0", "CC0-1.0"]
    protocol = dataset.metadata.data_preprocessing_protocol
    n = len(PEOPLE)
    assert (f"De-identification method code 113108 (Retain Patient Characteristics Option, "
            f"DICOM CID 7050): {n} of {n + 4} members") in protocol
    assert any(p.startswith("Preprocessing step 'resize'") for p in protocol)
    sensitive = " ".join(dataset.metadata.personal_sensitive_information)
    assert f"Sex and age band kept for {n - 1} members" in sensitive
    assert "PatientSex" not in sensitive.split("pseudonyms")[0]  # never a plain attribute
    biases = dataset.metadata.data_biases
    assert (f"sex: 2 distinct value(s), largest value 'F' {6 / (n + 4):.1%} of members, "
            f"not recorded for {5 / (n + 4):.1%} of members") in biases


@MLCROISSANT_RDFLIB
def test_croissant_fields_follow_the_facts_when_they_change(
    ledger: Ledger, tmp_path: Path
) -> None:
    n = len(PEOPLE)
    first, _ = _export(ledger, "study@1", tmp_path / "v1")
    second, dataset = _export(ledger, "study@2", tmp_path / "v2")  # one woman's image removed
    assert [t["termCode"] for t in second["usageInfo"]] == ["DUO:0000006"]  # --duo HMB
    assert second["prov:wasDerivedFrom"][0]["@id"].endswith("/datasets/study/1")
    protocol = dataset.metadata.data_preprocessing_protocol
    assert (f"De-identification method code 113100 (Basic Application Confidentiality Profile"
            f", DICOM CID 7050): {n - 1} of {n + 3} members") in protocol
    assert first["rai:dataBiases"] != second["rai:dataBiases"]
    assert "rai:dataLimitations" not in second
    third, _ = _export(ledger, "study@3", tmp_path / "v3")  # one man's consent withdrawn
    assert third["rai:dataLimitations"] == [
        "1 members of the previous version were left out because their consent was withdrawn"]
    assert [t["termCode"] for t in third["usageInfo"]] == ["DUO:0000006"]  # kept from @2


def test_duo_codes_are_signed_in_the_version_entry_and_checked(
    ledger: Ledger, built: Built
) -> None:
    v = service.version(ledger, "study@1")
    assert json.loads(v.leaf)["envelope"]["entry"]["body"]["duo"] == ["DUO:0000042",
                                                                      "DUO:0000045"]
    with pytest.raises(InputError, match="--duo 'XYZ' is not a DUO code"):
        service.create(ledger, "study", key="cur", from_version="study@3", duo=("XYZ",))
    ledger.verify()  # entries with and without duo, and the demographics rows, replay clean


def test_the_child_never_imports_from_the_working_directory(
    ledger: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``profile`` run from a folder holding a ``ledger`` package of its own (-P)."""
    planted = tmp_path / "cwd" / "ledger"
    (planted / "datasets").mkdir(parents=True)
    marker = tmp_path / "planted code ran"
    (planted / "__init__.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    (planted / "datasets" / "__init__.py").write_text("")
    monkeypatch.chdir(tmp_path / "cwd")
    entries = facts.profile_version(ledger, "study@1", split_from=10**9,
                                    **_checked(ledger))[1]
    child = ProfileChild(str(ledger.dir.path / "ledger.db"))
    child.send(entries[:3])
    share = child.result()
    assert share is not None and share.total == 3
    assert not marker.exists()


def _checked(ledger: Ledger) -> dict[str, Any]:
    v = service.version(ledger, "study@1")
    return {"index": v.index, "members": v.members, "members_root": v.members_root}
