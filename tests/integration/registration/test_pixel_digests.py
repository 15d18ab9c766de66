"""The canonical pixel digest, through the ledger: one image in any lossless encoding, one digest.

``show <pixel digest>`` must then find every file holding those pixels, while a
lossy JPEG 2000 copy of an image is a different image.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from cli.main import run

from .data import copy_into, pydicom_file
from .support import RunCli, image_entries, make_ledger, register_args

SAME_PIXELS = {
    # pydicom's MR_small in five encodings the issue names
    "MR_small": ("MR_small.dcm", "MR_small_bigendian.dcm", "MR_small_RLE.dcm",
                 "MR_small_jp2klossless.dcm", "MR_small_jpeg_ls_lossless.dcm"),
    # pydicom-data: a multi-frame MR in five encodings
    "emri_small": ("emri_small.dcm", "emri_small_big_endian.dcm", "emri_small_RLE.dcm",
                   "emri_small_jpeg_2k_lossless.dcm", "emri_small_jpeg_ls_lossless.dcm"),
    # pydicom-data: lossless JPEG 2000 and its uncompressed twin
    "693_lossless": ("693_J2KR.dcm", "693_UNCR.dcm"),
    "MR2_lossless": ("MR2_J2KR.dcm", "MR2_UNCR.dcm"),
    # the decoded lossy JPEG 2000, stored uncompressed, equals the lossy file's pixels
    "693_lossy": ("693_J2KI.dcm", "693_UNCI.dcm"),
}  # fmt: skip
DIFFERENT = (("693_J2KI.dcm", "693_J2KR.dcm"), ("MR2_J2KI.dcm", "MR2_J2KR.dcm"))


@pytest.fixture(scope="module")
def registered(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, dict[str, Path]]:
    """Every file above registered once; returns the ledger and name -> path."""
    root = tmp_path_factory.mktemp("digests")
    ledger = make_ledger(root / "ledger")
    names = sorted({n for group in SAME_PIXELS.values() for n in group}
                   | {n for pair in DIFFERENT for n in pair})  # fmt: skip
    files = {p.name: p for p in copy_into(root / "images", [pydicom_file(n) for n in names])}
    with pytest.raises(SystemExit) as done:
        run([*register_args(root / "images", workers=2), "--ledger", str(ledger)])
    assert done.value.code == 0
    return ledger, files


def _facts(cli: RunCli, ledger: Path, files: dict[str, Path]) -> dict[str, dict[str, Any]]:
    by_digest = {e["image"]["file_sha256"]: e["image"] for e in image_entries(cli, ledger)}
    return {
        name: by_digest[hashlib.sha256(path.read_bytes()).hexdigest()]
        for name, path in files.items()
    }


@pytest.mark.parametrize("group", sorted(SAME_PIXELS))
def test_lossless_encodings_share_the_pixel_digest(
    registered: tuple[Path, dict[str, Path]],
    cli: RunCli,
    group: str,
) -> None:
    ledger, files = registered
    facts = _facts(cli, ledger, files)
    names = SAME_PIXELS[group]
    digests = {name: facts[name]["pixel_sha256"] for name in names}
    assert len(set(digests.values())) == 1, digests
    forms = {name: facts[name]["pixel_form"] for name in names}
    assert len(set(forms.values())) == 1, forms
    frames = {name: tuple(facts[name]["frame_sha256"]) for name in names}
    assert len(set(frames.values())) == 1, frames

    result = cli("show", str(next(iter(digests.values()))), "--json", ledger=ledger)
    assert result.rc == 0, result.stderr
    shown = result.json()
    found = {r["image"]["file_sha256"] for r in shown["registrations"]}
    assert found == {facts[name]["file_sha256"] for name in names}
    assert {r["match"] for r in shown["registrations"]} == {"pixels"}
    assert {r["signature"] for r in shown["registrations"]} == {"valid"}
    assert {r["inclusion"] for r in shown["registrations"]} == {"valid"}


def test_multi_frame_digests_per_frame(
    registered: tuple[Path, dict[str, Path]], cli: RunCli
) -> None:
    ledger, files = registered
    emri = _facts(cli, ledger, files)["emri_small.dcm"]
    assert emri["metadata"]["NumberOfFrames"] == len(emri["frame_sha256"]) > 1
    mr = _facts(cli, ledger, files)["MR_small.dcm"]
    assert mr["frame_sha256"] == []


@pytest.mark.parametrize(("lossy", "lossless"), DIFFERENT)
def test_lossy_and_lossless_jpeg_2000_differ(
    registered: tuple[Path, dict[str, Path]],
    cli: RunCli,
    lossy: str,
    lossless: str,
) -> None:
    ledger, files = registered
    facts = _facts(cli, ledger, files)
    assert facts[lossy]["pixel_form"] == facts[lossless]["pixel_form"]
    assert facts[lossy]["pixel_sha256"] != facts[lossless]["pixel_sha256"]
    shown = cli("show", str(facts[lossless]["pixel_sha256"]), "--json", ledger=ledger).json()
    assert facts[lossy]["file_sha256"] not in {
        r["image"]["file_sha256"] for r in shown["registrations"]
    }
