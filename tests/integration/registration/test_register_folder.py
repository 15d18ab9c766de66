"""A folder of real DICOM test files and synthesised photos, registered end to end.

The first run goes through the installed console script with two decoding
processes; the rest run ``cli.main.run`` in this process (same code, no new
interpreter). Everything lands in a real SQLite file and is read back through
``log entries``, ``show`` and ``verify``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from .data import copy_into, make_photos, pydicom_file
from .support import SUBMITTER, RunCli, image_entries, log_size, register_args

# One of each kind of DICOM the issue names: explicit/implicit little and big endian, JPEG
# baseline/extended, JPEG-LS, JPEG 2000, RLE multi-frame, deflated, palette colour, YBR.
DICOM_SET = (
    "CT_small.dcm", "MR_small_bigendian.dcm", "JPEG2000.dcm", "JPEGLSNearLossless_08.dcm",
    "JPGExtended.dcm", "SC_rgb_rle_2frame.dcm", "image_dfl.dcm", "examples_palette.dcm",
    "examples_ybr_color.dcm", "SC_rgb_jpeg_dcmtk.dcm",
)  # fmt: skip
FORMATS = {".dcm": "dicom", ".png": "png", ".jpg": "jpeg", ".tiff": "tiff", ".bmp": "bmp",
           ".webp": "webp"}  # fmt: skip
FIRST_INDEX = 3  # genesis, then the submitter and verifier keys
# SC_rgb_jpeg_dcmtk.dcm's Source Image Sequence names SC_rgb_rle_2frame.dcm: registering the
# set appends one inferred image.derived entry after the images (docs/lineage.md).
INFERRED_EDGES = 1


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def folder(tmp_path: Path) -> tuple[Path, dict[str, Path]]:
    root = tmp_path / "images"
    dicoms = copy_into(root / "dicom", [pydicom_file(name) for name in DICOM_SET])
    photos = make_photos(root / "photos" / "nested")
    return root, {p.name: p for p in [*dicoms, *photos]}


def show(cli: RunCli, ledger: Path, target: str | Path) -> dict[str, Any]:
    result = cli("show", str(target), "--json", ledger=ledger)
    assert result.rc == 0, result.stderr
    shown: dict[str, Any] = result.json()
    return shown


def test_folder_registers_verifies_and_reruns_as_known(
    folder: tuple[Path, dict[str, Path]], reg_ledger: Path, run_cli: RunCli, cli: RunCli
) -> None:
    root, files = folder
    first = run_cli(*register_args(root, workers=2), ledger=reg_ledger)
    assert first.rc == 0, first.stderr
    assert "Traceback" not in first.stderr
    summary = first.json()
    assert isinstance(summary.pop("duplicates"), list)  # tests/integration/duplicates/
    assert summary == {
        "registered": len(files),
        "already_known": 0,
        "refused": [],
        "quarantined": 0,
        "interrupted": False,
        "entries": {"first": FIRST_INDEX, "last": FIRST_INDEX + len(files) - 1},
    }

    keys = {k["name"]: k for k in cli("keys", "list", "--json", ledger=reg_ledger).json()}
    by_digest = {e["image"]["file_sha256"]: e for e in image_entries(cli, reg_ledger)}
    assert set(by_digest) == {sha256(p) for p in files.values()}
    for name, path in files.items():
        entry = by_digest[sha256(path)]
        assert entry["source"] == "site-a"
        assert entry["license"] == "CC-BY-4.0"
        assert entry["consent"] == "consented"
        assert entry["actor"] == keys[SUBMITTER]["key_id"]
        assert entry["image"]["format"] == FORMATS[path.suffix], name
        assert entry["image"]["file_size"] == path.stat().st_size
        assert len(entry["image"]["pixel_sha256"]) == 64
    two_frames = by_digest[sha256(files["SC_rgb_rle_2frame.dcm"])]["image"]
    assert len(two_frames["frame_sha256"]) == 2
    assert two_frames["frame_sha256"][0] != two_frames["frame_sha256"][1]

    verified = cli("verify", "--json", ledger=reg_ledger)
    assert verified.rc == 0, verified.stderr
    size = log_size(reg_ledger)
    assert size == FIRST_INDEX + len(files) + INFERRED_EDGES

    for name, path in files.items():
        shown = show(cli, reg_ledger, path)
        assert shown["digest"] == sha256(path)
        assert shown["checkpoint"]["size"] == size
        [registration] = shown["registrations"]
        assert registration["match"] == "file", name
        assert registration["signature"] == "valid", name
        assert registration["inclusion"] == "valid", name
        assert registration["signer"]["name"] == SUBMITTER
        assert registration["signer"]["role"] == "submitter"
        assert registration["proof"]["tree_size"] == size
        assert registration["source"] == "site-a"

    again = cli(*register_args(root), ledger=reg_ledger)
    assert again.rc == 0, again.stderr
    assert again.json() == {"registered": 0, "already_known": len(files), "refused": [],
                            "quarantined": 0, "interrupted": False, "duplicates": [],
                            "entries": None}  # fmt: skip
    assert log_size(reg_ledger) == size

    text = cli(*register_args(root, json=False), ledger=reg_ledger)
    assert text.rc == 0, text.stderr
    assert text.stdout.strip() == f"registered 0, already known {len(files)}, refused 0"


def test_a_second_source_is_a_new_origin(
    folder: tuple[Path, dict[str, Path]], reg_ledger: Path, cli: RunCli
) -> None:
    root, files = folder
    assert cli(*register_args(root), ledger=reg_ledger).rc == 0
    size = log_size(reg_ledger)
    second = cli(*register_args(root, source="site-b", extra=("--dataset", "cohort-1")),
                 ledger=reg_ledger)  # fmt: skip
    assert second.rc == 0, second.stderr
    summary = second.json()
    assert (summary["registered"], summary["already_known"]) == (len(files), 0)
    assert summary["entries"] == {"first": size, "last": size + len(files) - 1}
    assert cli("verify", ledger=reg_ledger).rc == 0

    for name, path in files.items():
        shown = show(cli, reg_ledger, path)
        origins = {(r["source"], r["dataset"]) for r in shown["registrations"]}
        assert origins == {("site-a", None), ("site-b", "cohort-1")}, name
        assert {r["signature"] for r in shown["registrations"]} == {"valid"}
        assert {r["inclusion"] for r in shown["registrations"]} == {"valid"}
        assert len({r["image"]["pixel_sha256"] for r in shown["registrations"]}) == 1

    rerun = cli(*register_args(root, source="site-b"), ledger=reg_ledger)
    assert rerun.json()["already_known"] == len(files)
    assert log_size(reg_ledger) == size + len(files) + INFERRED_EDGES


def test_the_same_bytes_under_other_names_are_known(
    folder: tuple[Path, dict[str, Path]], reg_ledger: Path, cli: RunCli, tmp_path: Path
) -> None:
    root, files = folder
    assert cli(*register_args(root), ledger=reg_ledger).rc == 0
    size = log_size(reg_ledger)
    renamed = tmp_path / "elsewhere"
    renamed.mkdir()
    for n, path in enumerate(files.values()):
        (renamed / f"copy-{n}{path.suffix}").write_bytes(path.read_bytes())
    result = cli(*register_args(renamed, workers=2), ledger=reg_ledger)
    assert result.rc == 0, result.stderr
    assert (result.json()["registered"], result.json()["already_known"]) == (0, len(files))
    assert log_size(reg_ledger) == size


def test_show_in_text(folder: tuple[Path, dict[str, Path]], reg_ledger: Path, cli: RunCli) -> None:
    _, files = folder
    assert cli(*register_args(files["CT_small.dcm"]), ledger=reg_ledger).rc == 0
    result = cli("show", files["CT_small.dcm"], ledger=reg_ledger)
    assert result.rc == 0, result.stderr
    assert "site-a" in result.stdout
    assert f"signed by {SUBMITTER} (submitter): signature valid" in result.stdout
    assert ": valid" in result.stdout.split("inclusion", 1)[1]


def test_show_an_unregistered_image_exits_1(
    folder: tuple[Path, dict[str, Path]], reg_ledger: Path, cli: RunCli
) -> None:
    _, files = folder
    result = cli("show", files["grey.png"], ledger=reg_ledger)
    assert result.rc == 1
    line = result.error_line()
    assert "grey.png" in line and "not registered" in line
    digest = cli("show", "ab" * 32, ledger=reg_ledger)
    assert digest.rc == 1
    assert "ab" * 32 in digest.error_line()
    nonsense = cli("show", "not-a-file-or-digest", ledger=reg_ledger)
    assert nonsense.rc == 2
    assert "not-a-file-or-digest" in nonsense.error_line()
