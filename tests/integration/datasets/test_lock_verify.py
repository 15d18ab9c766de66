"""dataset verify: a copy against a lock, offline; every kind of damage to the copy or lock."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.uid import RLELossless

from ledger.crypto.keys import SigningKey
from ledger.crypto.note import NoteSigner
from ledger.datasets.lock import render
from ledger.errors import VerificationError
from ledger.service.datasetcopy import verify_copy

from ..builders import RunCli
from .conftest import Pinned


def _copy(pinned: Pinned, tmp_path: Path) -> Path:
    target = tmp_path / "copy"
    shutil.copytree(pinned.data, target)
    return target


def _change_a_pixel(copy: Path) -> None:
    pixels = np.array(Image.open(copy / "img1.png"))
    pixels[3, 4] ^= 0x10
    Image.fromarray(pixels).save(copy / "img1.png")


def _transcode_dicom(copy: Path) -> None:
    ds = pydicom.dcmread(copy / "scans" / "mr.dcm")
    ds.compress(RLELossless)
    ds.save_as(copy / "scans" / "mr.dcm")


def _resave_png(copy: Path) -> None:
    Image.open(copy / "img0.png").save(copy / "img0.png", compress_level=1)


def _edit_dicom_header(copy: Path) -> None:
    ds = pydicom.dcmread(copy / "scans" / "mr.dcm")
    ds.StudyDescription = "edited after the pin"
    ds.save_as(copy / "scans" / "mr.dcm")


# (damage, the status of every file that is not ok, does the copy pass)
DAMAGE: dict[str, tuple[Callable[[Path], None], dict[str, str], bool]] = {
    "one pixel changed": (_change_a_pixel, {"img1.png": "modified"}, False),
    "a file removed": (lambda c: (c / "img2.png").unlink(), {"img2.png": "missing"}, False),
    "a file added": (lambda c: (c / "notes.txt").write_text("x"), {"notes.txt": "extra"}, False),
    "a member copied": (lambda c: shutil.copyfile(c / "img0.png", c / "again.png"),
                        {"again.png": "duplicate"}, True),
    "a file renamed": (lambda c: os.rename(c / "img2.png", c / "scans" / "renamed.png"),
                       {"scans/renamed.png": "moved"}, True),
    "DICOM transcoded to RLE": (_transcode_dicom, {"scans/mr.dcm": "reencoded"}, True),
    "PNG re-saved": (_resave_png, {"img0.png": "reencoded"}, True),
    "DICOM header edited": (_edit_dicom_header, {"scans/mr.dcm": "metadata_changed"}, True),
}


def _not_ok(report_json: dict[str, object]) -> dict[str, str]:
    files = report_json["files"]
    assert isinstance(files, list)
    return {f.get("path") or f["pinned_path"]: f["status"] for f in files if f["status"] != "ok"}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_each_kind_of_damage_is_classified(pinned: Pinned, tmp_path: Path, damage: str) -> None:
    change, expected, passes = DAMAGE[damage]
    copy = _copy(pinned, tmp_path)
    change(copy)
    result = verify_copy(pinned.lock, copy, pubkeys=[str(pinned.vkey)], workers=2)
    assert _not_ok(result.to_json()) == expected
    assert result.to_json()["passed"] is passes
    if passes:
        result.require_match()
    else:
        with pytest.raises(VerificationError, match="not the pinned version"):
            result.require_match()
    strict = verify_copy(pinned.lock, copy, pubkeys=[str(pinned.vkey)], strict_bytes=True)
    with pytest.raises(VerificationError):
        strict.require_match()  # nothing above is byte-identical


def test_only_changed_members_are_decoded(pinned: Pinned, tmp_path: Path) -> None:
    copy = _copy(pinned, tmp_path)
    _resave_png(copy)
    result = verify_copy(pinned.lock, copy)
    assert result.report.decoded == 1
    assert result.to_json()["counts"]["ok"] == 4


def test_exact_copy_verifies_with_no_ledger_at_all(pinned: Pinned, tmp_path: Path,
                                                   run_cli: RunCli) -> None:
    empty = tmp_path / "elsewhere"
    empty.mkdir()
    lock = shutil.copy(pinned.lock, empty / "medledger.lock")
    copy = shutil.copytree(pinned.data, empty / "data")
    result = run_cli("dataset", "verify", lock, copy, "--pubkey", pinned.vkey, "--json",
                     cwd=empty)
    assert result.rc == 0, result.stderr
    shown = result.json()
    assert shown["counts"] == {"ok": 5, "moved": 0, "reencoded": 0, "metadata_changed": 0,
                               "duplicate": 0, "modified": 0, "missing": 0, "extra": 0,
                               "lossy_copy_of": 0, "consent_withdrawn": 0}
    assert shown["dataset"] == "chest@1"
    assert shown["consent"].startswith("as of the pin's checkpoint (size ")
    assert sorted(os.listdir(empty)) == ["data", "medledger.lock"]  # no ledger made or read


def test_a_damaged_copy_exits_1_naming_what(pinned: Pinned, tmp_path: Path,
                                            run_cli: RunCli) -> None:
    copy = _copy(pinned, tmp_path)
    _change_a_pixel(copy)
    (copy / "img2.png").unlink()
    result = run_cli("dataset", "verify", pinned.lock, copy, "--pubkey", pinned.vkey)
    assert result.rc == 1
    assert "modified" in result.stdout and "img1.png: pixels differ" in result.stdout
    assert "missing          img2.png" in result.stdout
    assert result.error_line().endswith("not the pinned version: 1 missing, 1 modified")
    assert "proofs valid with given key" in result.stdout
    assert "consent: as of the pin's checkpoint" in result.stdout
    assert "changes after the pin are not checked" in result.stdout


def test_the_wrong_public_key_is_refused(pinned: Pinned) -> None:
    other = NoteSigner("medledger.local/another", SigningKey.generate()).verifier_key
    with pytest.raises(VerificationError, match="not the key given") as caught:
        verify_copy(pinned.lock, pinned.data, pubkeys=[other])
    assert caught.value.exit_code == 1


def _tamper_positions(data: bytes) -> list[int]:
    """Byte positions to change: spread over the whole file, and inside each part."""
    text = data.decode()
    marks = ['"members_root":"', '"file_sha256":"', '"path":"', '"sig":"', '"prev":"',
             "\\nindex ", "\\n\\n", '"pixel_form":"', '"verifier_key":"', '"version":']
    positions = {text.index(mark) + len(mark) + 2 for mark in marks}
    positions |= set(range(0, len(data), max(1, len(data) // 40)))
    return sorted(p for p in positions if p < len(data))


def test_a_lock_changed_at_any_byte_is_refused(pinned: Pinned, tmp_path: Path) -> None:
    data = pinned.lock.read_bytes()
    assert len(_tamper_positions(data)) > 40
    for position in _tamper_positions(data):
        for flip in (0x01, 0x20):
            damaged = bytearray(data)
            damaged[position] ^= flip
            lock = tmp_path / "lock"
            lock.write_bytes(bytes(damaged))
            with pytest.raises(VerificationError, match="lock") as caught:
                verify_copy(lock, pinned.data)
            assert caught.value.exit_code == 1, position


def test_a_consistently_edited_lock_is_refused(pinned: Pinned, tmp_path: Path) -> None:
    lock = json.loads(pinned.lock.read_text())
    # a consistent edit of the member list (re-rendered, so the layout is canonical)
    lock["members"][0]["file_size"] += 1
    edited = tmp_path / "edited.lock"
    edited.write_bytes(render(lock))
    with pytest.raises(VerificationError, match="members do not match the signed version"):
        verify_copy(edited, pinned.data, pubkeys=[str(pinned.vkey)])
