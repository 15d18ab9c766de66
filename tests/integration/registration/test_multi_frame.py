"""Multi-frame images of any frame count register, with a Merkle root over their frames.

Up to 512 frames the entry lists every frame digest (as before) and the frame tree; above,
it lists none and records only the tree: the frame count and the RFC 9162 root. The digests
and roots expected here are computed from the test's own pixel arrays with hashlib, following
docs/imaging.md, not with the code under test.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cli.main import run
from ledger.log.proofs import verify_inclusion

from .data import make_pngs, multi_frame_dicom
from .support import RunCli, image_entries, make_ledger, register_args

SIZES = {"cine-600.dcm": 600, "volume-512.dcm": 512}
ROWS, COLUMNS = 6, 5


def frame_digest(frame: np.ndarray) -> bytes:
    """The canonical digest of one 8-bit frame (docs/imaging.md, F = 1)."""
    header = f"medledger-pixels/v1 |u1 1x{ROWS}x{COLUMNS}x1\n".encode()
    return hashlib.sha256(header + frame.astype(np.uint8).tobytes()).digest()


def mth(digests: list[bytes]) -> bytes:
    """RFC 9162 §2.1.1: leaf SHA-256(0x00 || d), node SHA-256(0x01 || left || right)."""
    if len(digests) == 1:
        return hashlib.sha256(b"\x00" + digests[0]).digest()
    k = 1 << ((len(digests) - 1).bit_length() - 1)
    return hashlib.sha256(b"\x01" + mth(digests[:k]) + mth(digests[k:])).digest()


def audit_path(index: int, digests: list[bytes]) -> list[bytes]:
    """RFC 9162 §2.1.3.1 PATH(m, D[n]), what a verifier holding the file can build."""
    if len(digests) == 1:
        return []
    k = 1 << ((len(digests) - 1).bit_length() - 1)
    if index < k:
        return [*audit_path(index, digests[:k]), mth(digests[k:])]
    return [*audit_path(index - k, digests[k:]), mth(digests[:k])]


@pytest.fixture(scope="module")
def registered(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, dict[str, Path], dict[str, list[bytes]]]:
    """Both multi-frame files and a PNG registered in one run (one batch)."""
    root = tmp_path_factory.mktemp("frames")
    ledger = make_ledger(root / "ledger")
    folder = root / "images"
    rng = np.random.default_rng(20)
    files, digests = {}, {}
    for name, count in SIZES.items():
        frames = rng.integers(0, 256, size=(count, ROWS, COLUMNS), dtype=np.uint8)
        files[name] = multi_frame_dicom(folder / name, frames)
        digests[name] = [frame_digest(frame) for frame in frames]
    make_pngs(folder, 1)
    with pytest.raises(SystemExit) as done:
        run([*register_args(folder), "--ledger", str(ledger)])
    assert done.value.code == 0
    return ledger, files, digests


def _facts(cli: RunCli, ledger: Path, path: Path) -> dict[str, Any]:
    file_sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
    images = [e["image"] for e in image_entries(cli, ledger)]
    found = [image for image in images if image["file_sha256"] == file_sha256]
    assert len(found) == 1, f"{path.name} registered {len(found)} times"
    return found[0]


def test_every_file_of_the_batch_registers(
    registered: tuple[Path, dict[str, Path], dict[str, list[bytes]]], cli: RunCli
) -> None:
    ledger, _, _ = registered
    images = [e["image"] for e in image_entries(cli, ledger)]
    assert len(images) == 3
    single = [i for i in images if i["format"] == "png"]
    assert len(single) == 1
    assert single[0]["frame_sha256"] == []
    assert "frame_tree" not in single[0]  # single-frame entries look exactly as before


def test_600_frames_record_count_and_root_and_list_no_digest(
    registered: tuple[Path, dict[str, Path], dict[str, list[bytes]]], cli: RunCli
) -> None:
    ledger, files, digests = registered
    image = _facts(cli, ledger, files["cine-600.dcm"])
    assert image["pixel_form"] == f"|u1 600x{ROWS}x{COLUMNS}x1"
    assert image["frame_sha256"] == []
    root = mth(digests["cine-600.dcm"]).hex()
    assert image["frame_tree"] == {"alg": "rfc9162-sha256", "count": 600, "root": root}


def test_512_frames_still_list_every_frame(
    registered: tuple[Path, dict[str, Path], dict[str, list[bytes]]], cli: RunCli
) -> None:
    ledger, files, digests = registered
    image = _facts(cli, ledger, files["volume-512.dcm"])
    assert image["frame_sha256"] == [d.hex() for d in digests["volume-512.dcm"]]
    root = mth(digests["volume-512.dcm"]).hex()
    assert image["frame_tree"] == {"alg": "rfc9162-sha256", "count": 512, "root": root}


@pytest.mark.parametrize("index", [0, 1, 299, 511, 512, 599])
def test_a_verifier_holding_the_file_can_check_any_frame(
    registered: tuple[Path, dict[str, Path], dict[str, list[bytes]]], cli: RunCli, index: int
) -> None:
    ledger, files, digests = registered
    image = _facts(cli, ledger, files["cine-600.dcm"])
    frames = digests["cine-600.dcm"]
    # An ordinary RFC 9162 inclusion proof of the frame's digest against the signed root.
    verify_inclusion(
        index=index, size=image["frame_tree"]["count"],
        leaf_hash=hashlib.sha256(b"\x00" + frames[index]).digest(),
        proof=audit_path(index, frames), root=bytes.fromhex(image["frame_tree"]["root"]),
    )  # fmt: skip


def test_verify_passes(
    registered: tuple[Path, dict[str, Path], dict[str, list[bytes]]], cli: RunCli
) -> None:
    ledger, _, _ = registered
    result = cli("verify", ledger=ledger)
    assert result.rc == 0, result.stderr


def test_show_prints_the_frame_count_and_root(
    registered: tuple[Path, dict[str, Path], dict[str, list[bytes]]], cli: RunCli
) -> None:
    ledger, files, digests = registered
    big = cli("show", str(files["cine-600.dcm"]), ledger=ledger)
    assert big.rc == 0, big.stderr
    root = mth(digests["cine-600.dcm"]).hex()
    assert f"600 frames, frame root {root}" in big.stdout
    assert "frame digests not listed" in big.stdout
    listed = cli("show", str(files["volume-512.dcm"]), ledger=ledger)
    assert f"512 frames, frame root {mth(digests['volume-512.dcm']).hex()}" in listed.stdout
    assert "512 frame digests listed" in listed.stdout
    shown = cli("show", str(files["cine-600.dcm"]), "--json", ledger=ledger).json()
    assert shown["registrations"][0]["image"]["frame_tree"]["root"] == root
