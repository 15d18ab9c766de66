"""dataset.versioned: who may version, the version chain, diffs, pins, and what verify finds."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ledger.errors import InputError, PolicyError, VerificationError
from ledger.service import Ledger
from ledger.service import datasets as service
from ledger.service.consent import consent_impact, set_consent
from ledger.service.registration import RegisterOptions, register

from ..builders import RunCli, attacker
from .conftest import Pinned


@pytest.fixture
def ledger(pinned: Pinned, tmp_path: Path) -> Iterator[Ledger]:
    """A copy of the pinned ledger, for a test that changes it."""
    directory = shutil.copytree(pinned.ledger, tmp_path / "ledger")
    opened = Ledger.open(directory)
    yield opened
    opened.store.engine.dispose()


def _entry_of(ledger: Ledger, label: str, path: str) -> int:
    found = [m["entry"] for m in service.members(ledger, service.version(ledger, label))
             if m.get("path") == path]
    assert len(found) == 1, found
    return found[0]


def test_only_the_owner_or_an_admin_may_version(ledger: Ledger, pinned: Pinned) -> None:
    first = _entry_of(ledger, "chest@1", "img0.png")
    with pytest.raises(PolicyError, match="belongs to key cur; key other may not version it"):
        service.create(ledger, "chest", key="other", from_version="chest@1",
                       remove=(str(first),))
    made = service.create(ledger, "chest", key="admin", from_version="chest@1",
                          remove=(str(first),))
    assert (made.version.version, made.removed, made.added) == (2, 1, 0)
    assert made.version.owner == ledger.key_info("cur").key_id  # admin acts for the owner
    # a name first used as a registration label belongs to that label's signer
    (tmp := Path(ledger.dir.path).parent / "lab").mkdir()
    Image.fromarray(np.full((6, 6), 99, dtype=np.uint8)).save(tmp / "lab.png")
    options = RegisterOptions(source="site-a", license="CC0-1.0", consent="consented",
                              key="other", dataset="lab@1", workers=1)
    assert register(ledger, [tmp], options).registered == 1
    with pytest.raises(PolicyError, match="dataset 'lab' belongs to key other"):
        service.create(ledger, "lab", key="cur", folder=tmp)
    assert service.create(ledger, "lab", key="other", folder=tmp).version.members == 1
    ledger.verify()  # the audit replays the same rules and accepts the log


def test_versions_chain_and_diff_gives_reasons(ledger: Ledger, pinned: Pinned) -> None:
    removed = _entry_of(ledger, "chest@1", "img2.png")
    made = service.create(ledger, "chest", key="cur", from_version="chest@1",
                          add=(str(pinned.spare),), remove=(str(pinned.data / "img2.png"),),
                          tier="registered")
    first, second = service.versions(ledger, "chest")
    assert (first.version, second.version) == (1, 2)
    assert (first.previous, second.previous) == (None, first.index)
    assert (second.members, second.tier, made.added, made.removed) == (5, "registered", 1, 1)
    changes = service.diff(ledger, "chest@1", "chest@2").changes
    added = [c for c in changes if c["change"] == "added"]
    assert [c["reason"] for c in added] == ["added by the owner"]
    assert changes == sorted(changes, key=lambda c: c["entry"])
    assert [c for c in changes if c["change"] == "removed"] == [
        {"change": "removed", "entry": removed, "reason": "removed by the owner",
         "path": "img2.png"}]
    with pytest.raises(InputError, match="has no version 3"):
        service.diff(ledger, "chest@1", "chest@3")


def test_a_pin_is_byte_identical_when_rerun(ledger: Ledger, pinned: Pinned) -> None:
    ledger.add_key("later", "submitter")  # the log grows after the pin
    again = service.pin(ledger, "chest@1")
    assert again == pinned.lock.read_bytes()


def test_verify_finds_a_tampered_member_list(ledger: Ledger) -> None:
    entry = _entry_of(ledger, "chest@1", "img1.png")
    with attacker(ledger.dir.path) as db:
        db.execute("UPDATE dataset_members SET path = 'other.png' WHERE entry = ?", (entry,))
    with pytest.raises(VerificationError, match="chest@1: stored member list"):
        ledger.verify()
    with pytest.raises(VerificationError, match="does not match its signed root"):
        service.pin(ledger, "chest@1")


def test_verify_finds_a_tampered_version_row(ledger: Ledger) -> None:
    with attacker(ledger.dir.path) as db:
        db.execute("UPDATE dataset_versions SET tier = 'controlled'")
    with pytest.raises(VerificationError, match="column tier: stored 'controlled'") as caught:
        ledger.verify()
    assert "dataset_versions" in caught.value.diagnostics()


def test_a_purged_member_list_is_reported_not_tamper(ledger: Ledger) -> None:
    with attacker(ledger.dir.path) as db:
        db.execute("DELETE FROM dataset_members")
    report = ledger.verify()
    assert report.warnings == ["dataset chest@1: member list purged (its signed root remains)"]
    with pytest.raises(InputError, match="purged"):
        service.pin(ledger, "chest@1")


def test_create_names_unregistered_files_and_writes_nothing(pinned: Pinned, tmp_path: Path,
                                                            run_cli: RunCli) -> None:
    directory = shutil.copytree(pinned.ledger, tmp_path / "ledger")
    folder = shutil.copytree(pinned.data, tmp_path / "folder")
    Image.fromarray(np.zeros((5, 5), dtype=np.uint8)).save(folder / "new.png")
    before = (directory / "ledger.db").read_bytes()
    result = run_cli("dataset", "create", "chest", "--from", folder, "--key", "cur",
                     ledger=directory)
    assert result.rc == 2
    assert "1 file(s) not registered: new.png" in result.error_line()
    assert (directory / "ledger.db").read_bytes() == before


def test_profile_counts_from_the_leaves_with_small_cells_hidden(ledger: Ledger) -> None:
    found = service.profile(ledger, "chest@1").to_json()
    by_name = {a["name"]: a for a in found["attributes"]}
    assert found["members"] == 5
    assert by_name["source"] == {"name": "source", "missing_share": 0.0,
                                 "values": [{"value": "site-a", "count": 5, "share": 1.0}]}
    assert by_name["modality"] == {"name": "modality", "missing_share": 0.8,
                                   "values": [{"value": "MR", "count": "<5", "share": None}]}
    assert by_name["body_part"]["missing_share"] == 1.0
    page = service.profile_page(service.profile(ledger, "chest@1"))
    assert page.count("<svg") == 7  # source ... body part, sex, age band
    assert "http" not in page and "<script" not in page
    assert "&lt;5" in page


# mlcroissant's rdflib use, not ours
@pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated:DeprecationWarning")
def test_croissant_export_validates_and_yields_exactly_the_members(ledger: Ledger,
                                                                   tmp_path: Path) -> None:
    import mlcroissant

    doc, data = service.croissant(ledger, "chest@1", "chest.members.csv")
    (tmp_path / "chest.members.csv").write_bytes(data)
    (tmp_path / "chest.json").write_text(json.dumps(doc))
    dataset = mlcroissant.Dataset(jsonld=tmp_path / "chest.json")
    assert not dataset.metadata.issues.errors
    records = [{k.split("/")[1]: v.decode() if isinstance(v, bytes) else v for k, v in r.items()}
               for r in dataset.records("members")]
    expected = [{"path": m["path"], "file_sha256": m["file_sha256"],
                 "pixel_sha256": m["pixel_sha256"], "entry": m["entry"]}
                for m in service.members(ledger, service.version(ledger, "chest@1"))]
    assert records == expected
    assert doc["@context"]["cr"] == "http://mlcommons.org/croissant/"  # inline: no network


def test_a_withdrawn_member_leaves_the_next_version_with_its_reason(
    ledger: Ledger, pinned: Pinned
) -> None:
    withdrawn = _entry_of(ledger, "chest@1", "img1.png")
    set_consent(ledger, subject=None, images=[str(withdrawn)], status="withdrawn", key="admin")
    kept = service.create(ledger, "chest", key="cur", from_version="chest@1",
                          keep_withdrawn=True)
    assert withdrawn in {m["entry"] for m in service.members(ledger, kept.version)}
    made = service.create(ledger, "chest", key="cur", from_version="chest@2")
    assert made.version.withdrawn == [withdrawn]
    assert withdrawn not in {m["entry"] for m in service.members(ledger, made.version)}
    removed = [c for c in service.diff(ledger, "chest@2", "chest@3").changes
               if c["change"] == "removed"]
    assert [(c["entry"], c["reason"]) for c in removed] == [(withdrawn, "consent withdrawn")]
    ledger.verify()


def test_consent_impact_names_the_versions_that_hold_the_image(
    ledger: Ledger, pinned: Pinned
) -> None:
    member = _entry_of(ledger, "chest@1", "img1.png")
    assert "chest@1" in consent_impact(ledger, str(member)).datasets
    assert "chest@1" not in consent_impact(ledger, str(pinned.spare)).datasets


def test_a_version_left_without_members_is_refused_with_the_reason(
    ledger: Ledger, pinned: Pinned
) -> None:
    members = [m["entry"] for m in service.members(ledger, service.version(ledger, "chest@1"))]
    set_consent(ledger, subject=None, images=[str(e) for e in members], status="withdrawn",
                key="admin")
    with pytest.raises(InputError, match=r"at least one member .*withdrawn consent"):
        service.create(ledger, "chest", key="cur", from_version="chest@1")
    assert [v.version for v in service.versions(ledger, "chest")] == [1]
