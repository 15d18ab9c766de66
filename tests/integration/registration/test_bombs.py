"""Bombs in a harmless-looking DICOM: refused before any decoder or inflater runs.

Each bomb is registered by ``medledger register`` in a fresh Python process whose
only child is the command, so that ``RUSAGE_CHILDREN``'s ``ru_maxrss`` is the
command's own peak resident memory (``--workers 1``: the file is analysed in that
process). Peaks are compared with the bomb's size and with the peak of
registering the same file unpatched, never with a time.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from ..builders import snapshot
from .bombs import (
    BOMB,
    SIZE,
    deflated_dicom,
    j2k_image,
    jpeg_image,
    jpeg_ls_image,
    patch_codestream,
)
from .data import make_photos, make_pngs
from .support import RunCli, log_size, make_ledger, medledger, register_args

MIB = 1024 * 1024
SLACK = 64 * MIB  # a bomb's run may use this much more than the unpatched file's run

_MEASURE = (
    "import json, resource, subprocess, sys\n"
    "run = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
    "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024\n"
    "print(json.dumps({'rc': run.returncode, 'peak': peak, 'stderr': run.stderr}))\n"
)


def measured_register(path: Path, ledger: Path) -> tuple[int, int, str]:
    """(exit code, peak RSS in bytes, stderr) of ``medledger register path``."""
    argv = [medledger(), *register_args(path, json=False), "--ledger", str(ledger)]
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, *argv], capture_output=True, text=True, check=True
    )
    result = json.loads(done.stdout)
    return int(result["rc"]), int(result["peak"]), str(result["stderr"])


CODECS: dict[str, tuple[Callable[[Path], Path], str]] = {
    "j2k-siz": (j2k_image, "JPEG 2000"),
    "jpeg-sof0": (jpeg_image, "JPEG"),
    "jpeg-ls-sof55": (jpeg_ls_image, "JPEG-LS"),
}


@pytest.mark.slow
@pytest.mark.parametrize("codec", list(CODECS))
def test_codestream_bomb_is_refused_before_decoding(tmp_path: Path, codec: str) -> None:
    build, name = CODECS[codec]
    good = build(tmp_path / "good" / "image.dcm")
    rc, good_peak, err = measured_register(good, make_ledger(tmp_path / "good-ledger"))
    assert rc == 0, err  # the unpatched file registers: the builder makes a real image

    bomb = patch_codestream(build(tmp_path / "bomb" / "image.dcm"))
    ledger = make_ledger(tmp_path / "ledger")
    before, size = snapshot(ledger), log_size(ledger)
    rc, peak, err = measured_register(bomb, ledger)
    assert rc == 2
    assert err.splitlines() == [
        f"medledger: {bomb}: {name} codestream declares {BOMB}x{BOMB}, "
        f"the header says {SIZE}x{SIZE}"
    ]
    assert (log_size(ledger), snapshot(ledger)) == (size, before)
    decoded = BOMB * BOMB * (2 if codec != "jpeg-sof0" else 1)
    assert peak < good_peak + SLACK, (peak, good_peak)
    assert peak < decoded // 8, peak


@pytest.fixture(scope="module")
def deflate_bombs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("deflate")
    return {
        "private-ob-1gib": deflated_dicom(
            folder / "ob.dcm", rows=SIZE, columns=SIZE, private_ob=1024 * MIB
        ),
        "declares-20000x20000": deflated_dicom(folder / "big.dcm", rows=20_000, columns=20_000),
    }


DEFLATE_CASES = {
    # (bytes the data set inflates to, words of the refusal)
    "private-ob-1gib": (1024 * MIB, "declares a 1073741824-byte element (0009,1010)"),
    "declares-20000x20000": (20_000 * 20_000, "20000x20000 pixels x 1 frame(s) exceeds"),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(DEFLATE_CASES))
def test_deflate_bomb_is_refused_before_it_is_inflated(
    tmp_path: Path, deflate_bombs: dict[str, Path], case: str
) -> None:
    inflated, words = DEFLATE_CASES[case]
    bomb = deflate_bombs[case]
    assert bomb.stat().st_size < 8 * MIB  # small on disk: the bomb is the inflation
    ledger = make_ledger(tmp_path / "ledger")
    before, size = snapshot(ledger), log_size(ledger)
    rc, peak, err = measured_register(bomb, ledger)
    assert rc == 2
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"medledger: {bomb}: decompression bomb: ")
    assert words in lines[0]
    assert (log_size(ledger), snapshot(ledger)) == (size, before)
    assert peak < inflated // 2, peak
    assert peak < 320 * MIB, peak


def test_small_deflated_image_registers(tmp_path: Path) -> None:
    image = deflated_dicom(tmp_path / "small.dcm", rows=SIZE, columns=SIZE)
    rc, _peak, err = measured_register(image, make_ledger(tmp_path / "ledger"))
    assert rc == 0, err


def test_symlink_maze_registers_its_one_image(
    tmp_path: Path, reg_ledger: Path, cli: RunCli
) -> None:
    levels = 22  # 2**21 paths to the image, 22 folders
    store = tmp_path / "maze"
    for level in range(levels):
        (store / f"level-{level}").mkdir(parents=True)
    for level in range(levels - 1):
        for link in ("a", "b"):
            os.symlink(store / f"level-{level + 1}", store / f"level-{level}" / link)
    make_pngs(store / f"level-{levels - 1}", 1)
    result = cli(*register_args(store / "level-0"), ledger=reg_ledger)
    assert result.rc == 0, result.stderr
    summary = result.json()
    assert (summary["registered"], summary["refused"]) == (1, [])


def test_jpeg_photo_declaring_a_huge_frame_is_refused(
    tmp_path: Path, reg_ledger: Path, cli: RunCli
) -> None:
    photo = make_photos(tmp_path / "photos")[3]
    assert photo.suffix == ".jpg"
    data = bytearray(photo.read_bytes())
    sof = data.index(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, 9000, 9000)  # 81 Mpx: under Pillow's own bomb limit
    photo.write_bytes(bytes(data))
    before = snapshot(reg_ledger)
    result = cli(*register_args(photo, extra=("--max-pixels", "1000000")), ledger=reg_ledger)
    assert result.rc == 2
    line = result.error_line()
    assert line == (
        f"medledger: {photo}: decompression bomb: 9000x9000 pixels x 1 frame(s) exceeds "
        "the limit of 1000000 pixels"
    )
    assert snapshot(reg_ledger) == before
