"""Issue 20: consent since the pin (verify --bundle), lossy_copy_of, dataset status, and
check --bundle of unstamped files.

One ledger built once for the module: four synthetic PNGs (one carrying generator text, so
its screening is high), pydicom's MR_small.dcm, and a PNG export of it recorded with derive.
``chest@1`` holds all six and is pinned; then one PNG's consent is withdrawn, the MR
subject is erased, ``chest@2`` is made and a newer bundle exported. A bundle exported
before the version (rolled back relative to the lock), one of another log, and one of a fork
(a copy of the ledger taken before the version, grown otherwise) are kept too.
"""

from __future__ import annotations

import base64
import json
import shutil
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image, PngImagePlugin
from pydicom.uid import JPEG2000

from ledger.bundle import export_bundle
from ledger.service import Ledger
from ledger.service import datasets as service
from ledger.service.consent import erase_subject, set_consent
from ledger.service.lineage import derive

from ..builders import RunCli
from .conftest import MR_SMALL, register_all


@dataclass(frozen=True)
class World:
    ledger: Path
    data: Path
    lock: Path
    vkey: Path
    bundle: Path  # after the withdrawal, the erasure and chest@2
    with_grids: Path  # the same, exported with the descriptor grids
    rolled_back: Path  # exported before chest@1 was made
    foreign: Path  # a bundle of another log
    forked: Path  # the same log key, another history after the version's entry
    entry: dict[str, int]  # member path -> entry index


def _structured(seed: int, size: int = 128) -> np.ndarray:
    """Low-frequency random structure: survives JPEG q70, never mistaken for another seed."""
    rng = np.random.default_rng(seed)
    coarse = Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8))
    return np.asarray(coarse.resize((size, size), Image.Resampling.BICUBIC))


def _write_bundle(ledger: Ledger, path: Path, *, grids: bool = False) -> Path:
    path.write_text(json.dumps(export_bundle(ledger, grids=grids)))
    return path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    root = tmp_path_factory.mktemp("status")
    data = root / "data"
    (data / "scans").mkdir(parents=True)
    for n, name in enumerate(("a.png", "b.png", "c.png")):
        Image.fromarray(_structured(n)).save(data / name)
    made_by = PngImagePlugin.PngInfo()
    made_by.add_text("parameters", "a synthetic test image, steps: 20")
    Image.fromarray(_structured(7)).save(data / "gen.png", pnginfo=made_by)
    shutil.copyfile(MR_SMALL, data / "scans" / "mr.dcm")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mr_pixels = pydicom.dcmread(MR_SMALL).pixel_array
    child = data / "scans" / "mr-export.png"
    ledger = Ledger.init(root / "ledger")
    try:
        ledger.add_key("cur", "curator")
        register_all(ledger, [p for p in data.rglob("*") if p.is_file()], key="cur")
        Image.fromarray(np.asarray(mr_pixels, dtype=np.uint8)).save(child)
        derive(ledger, parent=str(data / "scans" / "mr.dcm"), child=child,
               steps=["convert:from=dicom,to=png"], key="cur")
        rolled_back = _write_bundle(ledger, root / "old.bundle")
        ledger.store.engine.dispose()
        shutil.copytree(root / "ledger", root / "fork")  # the same log key, from here on
        ledger = Ledger.open(root / "ledger")
        service.create(ledger, "chest", key="cur", folder=data)
        lock = root / "chest.lock"
        lock.write_bytes(service.pin(ledger, "chest@1"))
        vkey = root / "log.vkey"
        vkey.write_text(ledger.verifier.vkey + "\n")
        entry = {m["path"]: m["entry"]
                 for m in service.members(ledger, service.version(ledger, "chest@1"))}
        set_consent(ledger, subject=None, images=[str(entry["b.png"])], status="withdrawn",
                    key="admin")
        erase_subject(ledger, str(entry["scans/mr.dcm"]), key="admin")
        service.create(ledger, "chest", key="cur", from_version="chest@1")
        bundle = _write_bundle(ledger, root / "new.bundle")
        with_grids = _write_bundle(ledger, root / "grids.bundle", grids=True)
    finally:
        ledger.store.engine.dispose()
    other = Ledger.init(root / "other")
    try:
        foreign = _write_bundle(other, root / "foreign.bundle")
    finally:
        other.store.engine.dispose()
    fork = Ledger.open(root / "fork")
    try:  # another history under the same key, longer than the lock's tree
        extra = root / "fork-images"
        extra.mkdir()
        for n in range(3):
            Image.fromarray(_structured(50 + n)).save(extra / f"f{n}.png")
        register_all(fork, sorted(extra.iterdir()), key="cur")
        forked = _write_bundle(fork, root / "forked.bundle")
    finally:
        fork.store.engine.dispose()
    return World(root / "ledger", data, lock, vkey, bundle, with_grids, rolled_back, foreign,
                 forked, entry)


def _copy(world: World, tmp_path: Path) -> Path:
    return Path(shutil.copytree(world.data, tmp_path / "copy"))


def test_consent_withdrawn_after_the_pin_is_listed_with_a_newer_bundle(
    world: World, tmp_path: Path, cli: RunCli
) -> None:
    copy = _copy(world, tmp_path)
    plain = cli("dataset", "verify", world.lock, copy, "--pubkey", world.vkey, "--json")
    assert plain.rc == 0, plain.stderr
    shown = plain.json()
    assert "as of the pin's checkpoint" in shown["consent"]
    assert shown["consent_checked_at"] == shown["checkpoint"]["size"]
    found = cli("dataset", "verify", world.lock, copy, "--pubkey", world.vkey, "--bundle",
                world.bundle, "--json")
    assert found.rc == 1
    rows = {r["entry"]: r for r in found.json()["files"] if r["status"] == "consent_withdrawn"}
    assert {e: r["consent"] for e, r in rows.items()} == {
        world.entry["b.png"]: "withdrawn", world.entry["scans/mr.dcm"]: "erased"}
    assert all(r["after_pin"] for r in rows.values())
    assert found.json()["counts"]["consent_withdrawn"] == 2
    assert found.json()["consent_checked_at"] > shown["checkpoint"]["size"]
    text = cli("dataset", "verify", world.lock, copy, "--pubkey", world.vkey, "--bundle",
               world.bundle)
    assert text.rc == 1
    assert "consent_withdrawn" in text.stdout and "b.png: withdrawn at entry" in text.stdout
    withdrawn = sorted((world.entry["b.png"], world.entry["scans/mr.dcm"]))
    assert text.stderr.strip().endswith("consent withdrawn or subject erased: member(s) at "
                                        f"entry {withdrawn[0]}, {withdrawn[1]}")


@pytest.mark.parametrize(("which", "reason"), [
    ("rolled_back", "older (a rollback?)"),
    ("foreign", "no verifiable signatures"),
    ("forked", "is not consistent with the lock's checkpoint"),
])
def test_an_inconsistent_bundle_is_refused(world: World, tmp_path: Path, cli: RunCli,
                                           which: str, reason: str) -> None:
    result = cli("dataset", "verify", world.lock, world.data, "--pubkey", world.vkey,
                 "--bundle", getattr(world, which))
    assert result.rc == 1
    assert reason in result.stderr
    assert ("older" in result.stderr) == (which == "rolled_back")
    assert "Traceback" not in result.stderr


def _png_as_jpeg_q70(copy: Path) -> tuple[str, str]:
    Image.open(copy / "a.png").convert("L").save(copy / "a.jpg", quality=70)
    (copy / "a.png").unlink()
    return "a.png", "a.jpg"


def _dicom_as_lossy_jpeg_2000(copy: Path) -> tuple[str, str]:
    ds = pydicom.dcmread(copy / "scans" / "mr.dcm")
    ds.compress(JPEG2000, j2k_cr=[20])  # lossy: compression ratio 20
    ds.save_as(copy / "scans" / "mr-j2k.dcm")
    (copy / "scans" / "mr.dcm").unlink()
    return "scans/mr.dcm", "scans/mr-j2k.dcm"


@pytest.mark.parametrize("damage", [_png_as_jpeg_q70, _dicom_as_lossy_jpeg_2000])
def test_a_lossy_copy_of_a_missing_member_is_named_with_the_ledger_or_a_grids_bundle(
    world: World, tmp_path: Path, cli: RunCli, damage: Callable[[Path], tuple[str, str]]
) -> None:
    copy = _copy(world, tmp_path)
    member, file = damage(copy)
    outside = cli("dataset", "verify", world.lock, copy, "--pubkey", world.vkey, "--json")
    assert outside.rc == 1
    assert outside.json()["counts"]["missing"] == 1 and outside.json()["counts"]["extra"] == 1
    assert outside.json()["lossy_checked"] is False
    inside = cli("dataset", "verify", world.lock, copy, "--pubkey", world.vkey, "--json",
                 ledger=world.ledger)
    by_bundle = cli("dataset", "verify", world.lock, copy, "--pubkey", world.vkey, "--json",
                    "--bundle", world.with_grids)  # no ledger: the bundle's grids
    for result in (inside, by_bundle):
        assert result.rc == 1
        shown = result.json()
        assert shown["counts"]["missing"] == 0 and shown["counts"]["extra"] == 0
        lossy = [f for f in shown["files"] if f["status"] == "lossy_copy_of"]
        assert [(f["entry"], f["path"]) for f in lossy] == [(world.entry[member], file)]


def test_a_changed_image_in_place_of_a_missing_member_is_not_a_lossy_copy(
    world: World, tmp_path: Path, cli: RunCli
) -> None:
    copy = _copy(world, tmp_path)
    Image.fromarray(_structured(99)).save(copy / "other.jpg", quality=70)
    (copy / "a.png").unlink()
    shown = cli("dataset", "verify", world.lock, copy, "--pubkey", world.vkey, "--json",
                ledger=world.ledger).json()
    assert shown["counts"]["lossy_copy_of"] == 0
    assert shown["counts"]["missing"] == 1 and shown["counts"]["extra"] == 1


def test_status_numbers_match_an_independent_count(world: World, cli: RunCli) -> None:
    result = cli("dataset", "status", "chest@1", "--json", ledger=world.ledger)
    assert result.rc == 0, result.stderr
    shown = result.json()
    members = set(world.entry.values())
    ledger = Ledger.open(world.ledger)
    try:
        entries = {r["index"]: r["leaf"]["envelope"]["entry"] for r in ledger.entries()}
        second = service.version(ledger, "chest@2")
        next_members = {m["entry"] for m in service.members(ledger, second)}
    finally:
        ledger.store.engine.dispose()
    # the next version leaves out the withdrawn image and the erased subject's, and says why
    assert world.entry["b.png"] not in next_members
    assert world.entry["scans/mr.dcm"] not in next_members
    assert {world.entry["b.png"], world.entry["scans/mr.dcm"]} <= set(second.withdrawn)
    levels = [entries[m]["body"]["image"].get("screening", {}).get("level") for m in members]
    suspect = sum(level in ("medium", "high") for level in levels)
    assert suspect >= 1  # gen.png's generator text
    assert shown["members"] == len(members) == 6
    assert shown["screening"]["medium_or_high"] == suspect
    assert shown["screening"]["share_medium_or_high"] == round(suspect / 6, 4)
    consent = shown["consent"]
    assert (consent["withdrawn_since"], consent["erased_since"]) == (1, 1)
    assert {(e["entry"], e["status"]) for e in consent["since"]} == {
        (world.entry["b.png"], "withdrawn"), (world.entry["scans/mr.dcm"], "erased")}
    since = {e["since"] for e in consent["since"]}
    assert all(entries[i]["kind"] in ("consent.changed", "subject.erased") for i in since)
    assert shown["derivatives_of_withdrawn"] == [world.entry["scans/mr-export.png"]]
    assert [(v["dataset"], v["members"]) for v in shown["newer_versions"]] == [
        ("chest@2", len(next_members))]
    text = cli("dataset", "status", "chest@1", ledger=world.ledger)
    assert "1 withdrawn, 1 erased" in text.stdout and "chest@2" in text.stdout


def test_check_names_the_entry_of_an_unstamped_copy(world: World, tmp_path: Path,
                                                    cli: RunCli) -> None:
    exact = tmp_path / "resaved.png"
    Image.open(world.data / "c.png").save(exact, compress_level=1)  # same pixels, other bytes
    lossy = tmp_path / "c-lossy.jpg"
    Image.open(world.data / "c.png").convert("L").save(lossy, quality=70)
    by_bundle = cli("check", exact, lossy, "--pubkey", world.vkey, "--bundle", world.bundle,
                    "--json")
    assert by_bundle.rc == 1
    reasons = {Path(f["file"]).name: f["reason"] for f in by_bundle.json()["failed"]}
    assert reasons["resaved.png"].startswith(f"unstamped; matches entry {world.entry['c.png']} ")
    assert reasons["c-lossy.jpg"].startswith("no medledger stamp; no registration of its pixels")
    inside = cli("check", exact, lossy, "--pubkey", world.vkey, "--json", ledger=world.ledger)
    assert inside.rc == 1
    reasons = {Path(f["file"]).name: f["reason"] for f in inside.json()["failed"]}
    assert reasons["resaved.png"].startswith(
        f"unstamped; matches entry {world.entry['c.png']} in the ledger")
    assert reasons["c-lossy.jpg"].startswith(
        f"unstamped; near-duplicate of entry {world.entry['c.png']} in ")
    grids = cli("check", lossy, "--pubkey", world.vkey, "--bundle", world.with_grids)
    assert grids.rc == 1
    assert (f"unstamped; near-duplicate of entry {world.entry['c.png']} in "
            f"{world.with_grids}") in grids.stdout


def test_a_bundle_that_does_not_hold_the_members_is_bad_input(world: World, tmp_path: Path,
                                                              cli: RunCli) -> None:
    first, last = min(world.entry.values()), max(world.entry.values())
    ledger = Ledger.open(world.ledger)
    try:
        partial = tmp_path / "partial.bundle"
        partial.write_text(json.dumps(export_bundle(ledger, start=last)))
    finally:
        ledger.store.engine.dispose()
    result = cli("dataset", "verify", world.lock, world.data, "--pubkey", world.vkey,
                 "--bundle", partial)
    assert result.rc == 2
    assert f"not entry {first}: export one from index {first} or earlier" in result.stderr
    missing = cli("dataset", "verify", world.lock, world.data, "--ledger", tmp_path / "none")
    assert missing.rc == 2  # a --ledger given that is no ledger is refused, not ignored


def test_a_modified_file_says_when_it_is_a_near_duplicate_of_its_member(
    world: World, tmp_path: Path, cli: RunCli
) -> None:
    copy = _copy(world, tmp_path)
    Image.open(copy / "a.png").convert("L").save(copy / "a.png", format="JPEG", quality=70)
    Image.fromarray(_structured(99)).save(copy / "b.png")  # another image at b's path
    shown = cli("dataset", "verify", world.lock, copy, "--pubkey", world.vkey, "--json",
                ledger=world.ledger)
    assert shown.rc == 1
    rows = {f["path"]: f for f in shown.json()["files"] if f["status"] == "modified"}
    assert set(rows) == {"a.png", "b.png"}
    assert rows["a.png"]["detail"].startswith("pixels differ; a near-duplicate of the member")
    assert rows["b.png"]["detail"] == "pixels differ"


def test_a_bundle_grid_that_its_leaf_does_not_sign_is_refused(world: World, tmp_path: Path,
                                                              cli: RunCli) -> None:
    copy = _copy(world, tmp_path)
    _png_as_jpeg_q70(copy)
    bundle = json.loads(world.with_grids.read_text())
    assert len(bundle["grids"]) >= len(world.entry) - 1  # every image with structure
    other = base64.b64encode(bytes(32 * 32)).decode()
    bundle["grids"] = dict.fromkeys(bundle["grids"], other)  # every grid replaced
    damaged = tmp_path / "damaged.bundle"
    damaged.write_text(json.dumps(bundle))
    result = cli("dataset", "verify", world.lock, copy, "--pubkey", world.vkey, "--bundle",
                 damaged)
    assert result.rc == 1
    assert f"grid for entry {world.entry['a.png']} is not the one its leaf signs" in result.stderr
