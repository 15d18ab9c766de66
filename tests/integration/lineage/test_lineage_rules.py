"""Edges the DICOM header states, and the rules of image.derived for entries signed by hand.

One module ledger: pydicom's CT_small.dcm registered, then a derived DICOM written here
with pydicom (new SOP Instance UID, ImageType DERIVED, Source Image Sequence naming the
CT, Derivation Code 113040): registering it appends an inferred image.derived entry right
after it with no extra input. Entries signed by hand that break the rules are refused by
the sequencer (nothing written); verify passes on what was accepted.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import generate_uid

from ledger.errors import PolicyError
from ledger.service import Ledger
from ledger.service.lineage import Registration, entry_at
from ledger.service.lineageview import lineage

from ..builders import attacker
from ..registration.data import pydicom_file
from ..registration.support import ORIGIN, SUBMITTER, make_ledger
from .test_lineage_chain import medledger


def derived_dicom(source: Path, target: Path) -> None:
    """A lossy derivative of ``source`` as a scanner would describe it (same pixels)."""
    ds = pydicom.dcmread(source)
    item = Dataset()
    item.ReferencedSOPClassUID = ds.SOPClassUID
    item.ReferencedSOPInstanceUID = ds.SOPInstanceUID
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator = "113040", "DCM"
    code.CodeMeaning = "Lossy Compression"
    ds.SourceImageSequence = Sequence([item])
    ds.DerivationCodeSequence = Sequence([code])
    ds.ImageType = ["DERIVED", "SECONDARY"]
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    pixels = ds.pixel_array.copy()
    pixels[0, 0] += 1  # other pixels: not an exact copy
    ds.PixelData = pixels.tobytes()
    ds.save_as(target, enforce_file_format=True)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("inferred")
    ct, derived = root / "ct.dcm", root / "ct_lossy.dcm"
    ct.write_bytes(pydicom_file("CT_small.dcm").read_bytes())
    derived_dicom(ct, derived)
    ledger = make_ledger(root / "ledger")
    results = {}
    for path in (ct, derived):
        code, out, err = medledger("register", path, "--source", "site-a", *ORIGIN, "--key",
                                   SUBMITTER, "--workers", "1", "--json", ledger=ledger)
        assert code == 0, err
        results[path.name] = json.loads(out)["entries"]["first"]
    return {"ledger": ledger, "ct": results["ct.dcm"], "derived": results["ct_lossy.dcm"]}


@pytest.fixture
def opened(built: dict[str, Any]) -> Any:
    ledger = Ledger.open(built["ledger"])
    yield ledger
    ledger.store.engine.dispose()


def test_registration_appends_the_inferred_edge_right_after(built: dict[str, Any],
                                                             opened: Ledger) -> None:
    edge = entry_at(opened, built["derived"] + 1)
    assert edge["kind"] == "image.derived"
    body = edge["body"]
    assert body["inferred"] is True and body["steps"] == []
    assert body["codes"] == ["DCM:113040"]
    assert (body["parent"]["index"], body["child"]["index"]) == (built["ct"], built["derived"])
    ct = entry_at(opened, built["ct"])["body"]["image"]
    assert body["parent"]["file_sha256"] == ct["file_sha256"]
    tree = lineage(opened, str(built["ct"]))
    tree.require_verified()
    assert [(e["child"], e["inferred"]) for e in tree.forward] == [(built["derived"], True)]


def _body(opened: Ledger, parent: int, child: int) -> dict[str, Any]:
    refs = [Registration(i, entry_at(opened, i)).ref() for i in (parent, child)]
    return {"parent": refs[0], "child": refs[1], "steps": [{"term": "smooth",
                                                           "method": "median"}],
            "inferred": False}


def test_sequencer_refuses_wrong_digests_and_a_cycle(built: dict[str, Any],
                                                     opened: Ledger) -> None:
    key = opened.signing_key(SUBMITTER)
    size = opened.size()
    wrong = _body(opened, built["ct"], built["derived"])
    wrong["child"]["pixel_sha256"] = "0" * 64
    with pytest.raises(PolicyError, match="child digests are not those of entry"):
        opened.submit([opened.sign("image.derived", wrong, key=key)])
    back = _body(opened, built["derived"], built["ct"])
    with pytest.raises(PolicyError, match="closes a cycle"):
        opened.submit([opened.sign("image.derived", back, key=key)])
    not_image = _body(opened, built["ct"], built["derived"])
    not_image["parent"]["index"] = 0  # the admin key's entry
    with pytest.raises(PolicyError, match="registers no image"):
        opened.submit([opened.sign("image.derived", not_image, key=key)])
    assert opened.size() == size
    opened.verify()


def test_an_older_ledger_gets_its_image_uids_on_open(built: dict[str, Any],
                                                     tmp_path: Path) -> None:
    """A ledger made before the image_uids table: it is filled once when opened."""
    ledger = tmp_path / "ledger"
    with sqlite3.connect(built["ledger"] / "ledger.db") as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    shutil.copytree(built["ledger"], ledger)
    config = ledger / "config.json"
    config.write_text(json.dumps(json.loads(config.read_text())
                                 | {"database_url": f"sqlite:///{ledger / 'ledger.db'}"}))
    with sqlite3.connect(ledger / "ledger.db") as conn:
        want = conn.execute("SELECT idx, sop_uid FROM image_uids ORDER BY idx").fetchall()
    assert [idx for idx, _ in want] == [built["ct"], built["derived"]]
    with attacker(ledger) as conn:  # as a ledger made before the table existed
        conn.execute("DROP TABLE image_uids")
        conn.execute("DELETE FROM meta WHERE key = 'image_uids_filled'")
    opened = Ledger.open(ledger)
    try:
        opened.verify()
    finally:
        opened.store.engine.dispose()
    with sqlite3.connect(ledger / "ledger.db") as conn:
        assert conn.execute("SELECT idx, sop_uid FROM image_uids ORDER BY idx").fetchall() == want
