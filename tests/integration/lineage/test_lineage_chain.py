"""A preprocessing chain recorded with ``medledger derive``, walked with ``lineage``.

Built once per module from pydicom's CT_small.dcm (no PHI written by this test): the CT
windowed at 40/400 into an 8-bit PNG, that PNG resized to 256 x 256, that resized PNG
saved as JPEG quality 90. Each derivation is recorded through the real command, in
process. Tests that change the ledger work on a copy.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from PIL import Image
from prov.model import ProvActivity, ProvDocument

from ..builders import attacker
from ..registration.data import pydicom_file
from ..registration.support import ORIGIN, SUBMITTER, make_ledger

DCM = "http://dicom.nema.org/resources/ontology/DCM/"
ML = "https://medledger.local/ns/lineage#"


def medledger(*args: str | Path, ledger: Path) -> tuple[int, str, str]:
    """The real command in this process: (exit code, stdout, stderr)."""
    import contextlib
    import io

    from cli.main import run

    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr), \
            pytest.raises(SystemExit) as done:
        run([*map(str, args), "--ledger", str(ledger)])
    code = done.value.code
    return (0 if code is None else int(code)), stdout.getvalue(), stderr.getvalue()


def windowed(path: Path, center: float, width: float) -> np.ndarray:
    """The CT's pixels in Hounsfield units through a linear VOI window, as 8 bits."""
    ds = pydicom.dcmread(path)
    hu = ds.pixel_array.astype(np.float64) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    low, high = center - width / 2, center + width / 2
    return (np.clip((hu - low) / (high - low), 0, 1) * 255).round().astype(np.uint8)


def log_size(ledger: Path) -> int:
    with sqlite3.connect(f"file:{ledger / 'ledger.db'}?mode=ro", uri=True) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM log_leaves").fetchone()[0])


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("lineage")
    files = root / "files"
    files.mkdir()
    ct = files / "ct.dcm"
    shutil.copyfile(pydicom_file("CT_small.dcm"), ct)
    Image.fromarray(windowed(ct, 40, 400)).save(files / "ct_w.png")
    with Image.open(files / "ct_w.png") as img:
        img.resize((256, 256), Image.Resampling.BICUBIC).save(files / "ct_256.png")
    with Image.open(files / "ct_256.png") as img:
        img.save(files / "ct_256.jpg", quality=90)
    ledger = make_ledger(root / "ledger")
    code, _, err = medledger("register", ct, "--source", "site-a", *ORIGIN, "--key", SUBMITTER,
                             "--workers", "1", "--json", ledger=ledger)
    assert code == 0, err
    made = {}
    for parent, child, steps in (
        ("ct.dcm", "ct_w.png", ["window:center=40,width=400", "convert:from=dicom,to=png"]),
        ("ct_w.png", "ct_256.png", ["resize:size=256x256,method=bicubic"]),
        ("ct_256.png", "ct_256.jpg", ["compress:codec=jpeg,quality=90"]),
    ):
        args = [a for s in steps for a in ("--step", s)]
        code, out, err = medledger("derive", files / parent, files / child, *args, "--key",
                                   SUBMITTER, "--software", "pillow", "--json", ledger=ledger)
        assert code == 0, err
        made[child] = json.loads(out)
    return {"root": root, "files": files, "ledger": ledger, "made": made}


@pytest.fixture
def copy(chain: dict[str, Any], tmp_path: Path) -> Path:
    """A private copy of the chain's ledger (its config names its own database)."""
    target = tmp_path / "ledger"
    with sqlite3.connect(chain["ledger"] / "ledger.db") as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    shutil.copytree(chain["ledger"], target)
    config = target / "config.json"
    settings = json.loads(config.read_text())
    settings["database_url"] = f"sqlite:///{target / 'ledger.db'}"
    config.write_text(json.dumps(settings))
    return target


def test_each_derive_registers_the_child_with_the_parents_origin(chain: dict[str, Any]) -> None:
    made = chain["made"]
    assert [m["child_registered"] for m in made.values()] == [True, True, True]
    assert made["ct_256.png"]["parent"] == made["ct_w.png"]["child"]
    assert made["ct_256.jpg"]["parent"] == made["ct_256.png"]["child"]
    code, out, _ = medledger("show", chain["files"] / "ct_256.jpg", "--json",
                             ledger=chain["ledger"])
    assert code == 0
    [registration] = json.loads(out)["registrations"]
    assert (registration["source"], registration["license"], registration["consent"]) == (
        "site-a", "CC-BY-4.0", "consented")


def test_lineage_walks_back_to_the_original(chain: dict[str, Any]) -> None:
    made = chain["made"]
    code, out, err = medledger("lineage", chain["files"] / "ct_256.jpg", "--json",
                               ledger=chain["ledger"])
    assert code == 0, err
    tree = json.loads(out)
    original = made["ct_w.png"]["parent"]
    assert tree["originals"] == [original]
    assert tree["forward"] == []
    back = tree["back"]
    assert [e["depth"] for e in back] == [1, 2, 3]
    assert [e["entry"] for e in back] == [made[c]["entry"] for c in
                                          ("ct_256.jpg", "ct_256.png", "ct_w.png")]
    assert [[s["term"] for s in e["steps"]] for e in back] == [
        ["compress"], ["resize"], ["window", "convert"]]
    assert back[2]["steps"][0] == {"term": "window", "center": "40", "width": "400"}
    for edge in back:
        assert (edge["signature"], edge["inclusion"]) == ("valid", "valid")
        assert edge["signer"]["name"] == SUBMITTER
        assert edge["time"].endswith("Z")
        assert edge["software"] == {"name": "pillow"}
    assert tree["images"][str(original)]["format"] == "dicom"


def test_lineage_walks_forward_from_the_original(chain: dict[str, Any]) -> None:
    made = chain["made"]
    original = made["ct_w.png"]["parent"]
    code, out, _ = medledger("lineage", str(original), "--json", ledger=chain["ledger"])
    assert code == 0
    tree = json.loads(out)
    assert tree["back"] == [] and tree["originals"] == [original]
    assert [(e["parent"], e["child"]) for e in tree["forward"]] == [
        (original, made["ct_w.png"]["child"]),
        (made["ct_w.png"]["child"], made["ct_256.png"]["child"]),
        (made["ct_256.png"]["child"], made["ct_256.jpg"]["child"]),
    ]
    code, text, _ = medledger("lineage", chain["files"] / "ct.dcm", ledger=chain["ledger"])
    assert code == 0 and "forward: 3 derivation(s)" in text and "window:center=40" in text


def test_prov_export_parses_back_with_four_activities_in_order(
        chain: dict[str, Any], tmp_path: Path) -> None:
    target = tmp_path / "chain.prov.json"
    code, _, err = medledger("lineage", chain["files"] / "ct_256.jpg", "--prov", target,
                             "--format", "json", ledger=chain["ledger"])
    assert code == 0, err
    document = ProvDocument.deserialize(str(target), format="json")
    activities = list(document.get_records(ProvActivity))
    assert len(activities) == 4

    def attr(record: ProvActivity, name: str) -> list[Any]:
        return [v for k, v in record.attributes if str(k) in (f"ml:{name}", f"{ML}{name}")
                or k.uri == name]

    def order(record: ProvActivity) -> tuple[int, int]:
        return int(attr(record, "entry")[0]), int(attr(record, "step")[0])

    ordered = sorted(activities, key=order)
    assert [attr(a, "term")[0] for a in ordered] == ["window", "convert", "resize", "compress"]
    types = [{t.uri for t in a.get_asserted_types()} for a in ordered]
    assert DCM + "113085" in types[2]  # resize: spatial resampling (CID 7203)
    assert DCM + "113040" in types[3]  # lossy compression (CID 7203)
    assert f"{ML}window" in types[0]
    entities = {str(e.identifier) for e in document.get_records()
                if e.get_type().uri.endswith("Entity")}
    assert len(entities) == 4


def test_prov_n_and_jsonld(chain: dict[str, Any], tmp_path: Path) -> None:
    provn, jsonld = tmp_path / "chain.provn", tmp_path / "chain.jsonld"
    assert medledger("lineage", chain["files"] / "ct_256.jpg", "--prov", provn, "--format",
                     "provn", ledger=chain["ledger"])[0] == 0
    text = provn.read_text()
    assert text.startswith("document\n") and text.endswith("endDocument\n")
    assert text.count("\n  activity(") == 4 and "prov:type='dcm:113040'" in text
    assert medledger("lineage", chain["files"] / "ct_256.jpg", "--prov", jsonld, "--format",
                     "jsonld", ledger=chain["ledger"])[0] == 0
    graph = json.loads(jsonld.read_text())["@graph"]
    assert [r["ml:term"] for r in graph if r["@type"] == "prov:Activity"] == [
        "window", "convert", "resize", "compress"]


def test_verify_passes(chain: dict[str, Any]) -> None:
    code, _, err = medledger("verify", "--json", ledger=chain["ledger"])
    assert code == 0, err


# --- refusals: exit 2, one line naming the file, nothing written -------------------------


def _refused(chain: dict[str, Any], *args: str | Path) -> str:
    before = log_size(chain["ledger"])
    code, _, err = medledger("derive", *args, "--key", SUBMITTER, ledger=chain["ledger"])
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1, err
    assert log_size(chain["ledger"]) == before
    return err.strip()


def test_wrong_size_is_refused(chain: dict[str, Any], tmp_path: Path) -> None:
    child = tmp_path / "small.png"
    Image.fromarray(np.full((200, 200), 7, np.uint8)).save(child)
    line = _refused(chain, chain["files"] / "ct_w.png", child, "--step", "resize:size=256x256")
    assert "small.png" in line and "256x256" in line and "200x200" in line


def test_lossless_conversion_that_changes_pixels_is_refused(
        chain: dict[str, Any], tmp_path: Path) -> None:
    pixels = np.asarray(Image.open(chain["files"] / "ct_w.png")).copy()
    pixels[0, 0] ^= 1
    child = tmp_path / "almost.bmp"
    Image.fromarray(pixels).save(child)
    line = _refused(chain, chain["files"] / "ct_w.png", child, "--step",
                    "convert:from=png,to=bmp,lossless=true")
    assert "almost.bmp" in line and "lossless" in line and "pixels differ" in line


def test_lossless_conversion_that_keeps_pixels_is_accepted(
        chain: dict[str, Any], copy: Path, tmp_path: Path) -> None:
    child = tmp_path / "same.bmp"
    Image.open(chain["files"] / "ct_w.png").save(child)
    code, out, err = medledger("derive", chain["files"] / "ct_w.png", child, "--step",
                               "convert:from=png,to=bmp,lossless=true", "--key", SUBMITTER,
                               "--json", ledger=copy)
    assert code == 0, err
    assert json.loads(out)["child_registered"] is True


def test_a_cycle_is_refused(chain: dict[str, Any]) -> None:
    line = _refused(chain, chain["files"] / "ct_256.jpg", chain["files"] / "ct.dcm",
                    "--step", "resample:spacing=1x1")
    assert "ct.dcm" in line and "cycle" in line


def test_unknown_term_and_parameter_are_refused(chain: dict[str, Any], tmp_path: Path) -> None:
    child = tmp_path / "x.png"
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(child)
    line = _refused(chain, chain["files"] / "ct_w.png", child, "--step", "blur:sigma=1")
    assert "unknown term 'blur'" in line
    line = _refused(chain, chain["files"] / "ct_w.png", child, "--step",
                    "resize:size=8x8,colour=red")
    assert "unknown parameter 'colour'" in line
    line = _refused(chain, chain["files"] / "ct_w.png", child, "--step", "window:center=4O")
    assert "center" in line


def test_a_crop_outside_the_parent_is_refused(chain: dict[str, Any], tmp_path: Path) -> None:
    child = tmp_path / "crop.png"
    Image.fromarray(np.zeros((64, 64), np.uint8)).save(child)
    line = _refused(chain, chain["files"] / "ct_w.png", child, "--step",
                    "crop:x=100,y=0,width=64,height=64")
    assert "crop.png" in line and "does not fit the 128x128 image" in line


def test_an_unregistered_parent_is_refused(chain: dict[str, Any], tmp_path: Path) -> None:
    parent, child = tmp_path / "p.png", tmp_path / "c.png"
    Image.fromarray(np.full((8, 8), 3, np.uint8)).save(parent)
    Image.fromarray(np.full((8, 8), 4, np.uint8)).save(child)
    line = _refused(chain, parent, child, "--step", "normalise:method=minmax")
    assert "p.png" in line and "not registered" in line


# --- the rules hold for entries signed by hand, and verify checks the table --------------


def test_tampered_derivations_row_is_reported_by_verify(chain: dict[str, Any],
                                                        copy: Path) -> None:
    entry = chain["made"]["ct_256.png"]["entry"]
    with attacker(copy) as conn:
        conn.execute("UPDATE derivations SET parent = 3 WHERE idx = ?", (entry,))
    code, _, err = medledger("verify", ledger=copy)
    assert code == 1
    parent = chain["made"]["ct_256.png"]["parent"]
    assert f"derivations: entry {entry}, column parent: stored 3, the log says {parent}" in err
    code, _, err = medledger("lineage", chain["files"] / "ct_256.jpg", "--json", ledger=copy)
    assert code == 1 and "differs from the signed entry" in err


def test_a_deleted_derivations_row_is_reported_by_verify(chain: dict[str, Any],
                                                         copy: Path) -> None:
    entry = chain["made"]["ct_256.jpg"]["entry"]
    with attacker(copy) as conn:
        conn.execute("DELETE FROM derivations WHERE idx = ?", (entry,))
    code, _, err = medledger("verify", ledger=copy)
    assert code == 1 and f"derivations: entry {entry}" in err and "missing" in err


@pytest.mark.parametrize("leaf", [b"{}", b"not json"])
def test_a_damaged_leaf_is_exit_1_not_a_traceback(chain: dict[str, Any], copy: Path,
                                                  leaf: bytes) -> None:
    entry = chain["made"]["ct_256.png"]["entry"]
    with attacker(copy) as conn:
        conn.execute("UPDATE log_leaves SET leaf = ? WHERE idx = ?", (leaf, entry))
    code, _, err = medledger("lineage", chain["files"] / "ct_256.jpg", ledger=copy)
    assert code == 1 and len(err.strip().splitlines()) == 1, err
    assert f"entry {entry}" in err and "Traceback" not in err
