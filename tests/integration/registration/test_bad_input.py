"""Bad input to ``medledger register``: one clear line naming the file, exit 2, nothing written.

Each case registers only bad input, so the whole command fails: exit 2, one
``medledger: ...`` line on stderr naming the file (or the bad option value)
and the reason, no traceback, and the ledger directory byte for byte as it was.
The cases run with ``--json`` (the summary goes to stdout, the error line to
stderr); the text mode has its own test. A folder mixing good and bad files
registers the good ones and lists the refusals, with exit 0.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pydicom
import pytest
from PIL import Image

from ..builders import snapshot
from .data import gradient, make_photos, noise, png_bomb, pydicom_file
from .support import VERIFIER, RunCli, log_size, register_args

Case = Callable[[Path], tuple[list[str], str, str]]  # folder -> (argv, named, reason word)


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def truncated_png(folder: Path) -> tuple[list[str], str, str]:
    png = io.BytesIO()
    Image.fromarray(noise(11, (40, 40, 3))).save(png, format="PNG")
    cut = _write(folder / "cut.png", png.getvalue()[: len(png.getvalue()) // 2])
    return register_args(cut), str(cut), "truncated"


def truncated_dicom(folder: Path) -> tuple[list[str], str, str]:
    data = pydicom_file("MR_small.dcm").read_bytes()
    cut = _write(folder / "cut.dcm", data[: len(data) - 1000])
    return register_args(cut), str(cut), "truncated"


def text_file(folder: Path) -> tuple[list[str], str, str]:
    path = _write(folder / "notes.png", b"Just some notes, not an image at all.\n")
    return register_args(path), str(path), "not a recognised image"


def empty_file(folder: Path) -> tuple[list[str], str, str]:
    path = _write(folder / "empty.dcm", b"")
    return register_args(path), str(path), "empty"


def png_bomb_over_pillow(folder: Path) -> tuple[list[str], str, str]:
    path = _write(folder / "bomb.png", png_bomb(30_000, 30_000))  # 900 Mpx in 83 bytes
    return register_args(path), str(path), "decompression bomb"


def png_bomb_under_pillow(folder: Path) -> tuple[list[str], str, str]:
    path = _write(folder / "bomb.png", png_bomb(10_000, 10_000))  # Pillow only warns at 100 Mpx
    return register_args(path), str(path), "decompression bomb"


def png_over_max_pixels(folder: Path) -> tuple[list[str], str, str]:
    path = folder / "small.png"
    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray(gradient(48)).save(path)
    return register_args(path, extra=("--max-pixels", "2303")), str(path), "bomb"


def dicom_over_max_pixels(folder: Path) -> tuple[list[str], str, str]:
    path = _write(folder / "mr.dcm", pydicom_file("MR_small.dcm").read_bytes())  # 64 x 64
    return register_args(path, extra=("--max-pixels", "4095")), str(path), "decompression bomb"


def dicom_declaring_huge_frames(folder: Path) -> tuple[list[str], str, str]:
    """MR_small's header rewritten to declare 60000 x 60000 x 50 frames."""
    ds = pydicom.dcmread(pydicom_file("MR_small.dcm"))
    ds.Rows, ds.Columns, ds.NumberOfFrames = 60_000, 60_000, 50
    folder.mkdir(parents=True, exist_ok=True)
    ds.save_as(folder / "huge.dcm")
    return register_args(folder / "huge.dcm"), str(folder / "huge.dcm"), "bomb"


def folder_symlink_loop(folder: Path) -> tuple[list[str], str, str]:
    loop = folder / "tree"
    (loop / "sub").mkdir(parents=True)
    os.symlink("..", loop / "sub" / "up")
    return register_args(loop), str(loop / "sub" / "up"), "symlink loop"


def file_symlink_loop(folder: Path) -> tuple[list[str], str, str]:
    folder.mkdir(parents=True, exist_ok=True)
    os.symlink("b.png", folder / "a.png")
    os.symlink("a.png", folder / "b.png")
    return register_args(folder / "a.png"), str(folder / "a.png"), "symlink loop"


def missing_path(folder: Path) -> tuple[list[str], str, str]:
    return register_args(folder / "nowhere"), str(folder / "nowhere"), "no such file"


def _good(folder: Path) -> Path:
    return make_photos(folder / "good")[0]


def bad_license(folder: Path) -> tuple[list[str], str, str]:
    args = register_args(_good(folder))
    args[args.index("--license") + 1] = "Free-For-All-9"
    return args, "Free-For-All-9", "SPDX"


def bad_consent(folder: Path) -> tuple[list[str], str, str]:
    args = register_args(_good(folder))
    args[args.index("--consent") + 1] = "probably"
    return args, "probably", "consent"


def bad_source(folder: Path) -> tuple[list[str], str, str]:
    args = register_args(_good(folder))
    args[args.index("--source") + 1] = "site-a!"
    return args, "site-a!", "--source"


def bad_dataset(folder: Path) -> tuple[list[str], str, str]:
    return [*register_args(_good(folder)), "--dataset", "d" * 129], "d" * 129, "--dataset"


def unknown_key(folder: Path) -> tuple[list[str], str, str]:
    return register_args(_good(folder), key="mallory"), "mallory", "key"


def verifier_key(folder: Path) -> tuple[list[str], str, str]:
    return register_args(_good(folder), key=VERIFIER), VERIFIER, "verifier"


CASES: dict[str, Case] = {
    f.__name__: f
    for f in (truncated_png, truncated_dicom, text_file, empty_file, png_bomb_over_pillow,
              png_bomb_under_pillow, png_over_max_pixels, dicom_over_max_pixels,
              dicom_declaring_huge_frames, folder_symlink_loop, file_symlink_loop, missing_path,
              bad_license, bad_consent, bad_source, bad_dataset, unknown_key, verifier_key)
}  # fmt: skip
FILE_CASES = [name for name in CASES if name not in
              ("bad_license", "bad_consent", "bad_source", "bad_dataset", "unknown_key",
               "verifier_key")]  # fmt: skip


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_one_line_exit_2_nothing_written(
    tmp_path: Path, reg_ledger: Path, cli: RunCli, case: str
) -> None:
    argv, named, word = CASES[case](tmp_path / "input")
    before, size = snapshot(reg_ledger), log_size(reg_ledger)
    result = cli(*argv, ledger=reg_ledger)
    assert result.rc == 2, (result.stdout, result.stderr)
    line = result.error_line()
    assert named in line, line
    assert word.lower() in line.lower(), line
    assert log_size(reg_ledger) == size
    assert snapshot(reg_ledger) == before
    if case in FILE_CASES:
        summary = result.json()
        assert summary["registered"] == summary["already_known"] == 0
        assert [r["path"] for r in summary["refused"]] == [named]


@pytest.mark.parametrize("case", ["truncated_png", "missing_path", "bad_consent"])
def test_bad_input_through_the_console_script(
    tmp_path: Path, reg_ledger: Path, run_cli: RunCli, case: str
) -> None:
    argv, named, word = CASES[case](tmp_path / "input")
    before = snapshot(reg_ledger)
    result = run_cli(*argv, ledger=reg_ledger)
    assert result.rc == 2
    line = result.error_line()
    assert named in line and word.lower() in line.lower(), line
    assert snapshot(reg_ledger) == before


def test_bad_input_in_text_mode_is_one_line(tmp_path: Path, reg_ledger: Path, cli: RunCli) -> None:
    argv, named, _ = truncated_png(tmp_path / "input")
    argv.remove("--json")
    result = cli(*argv, ledger=reg_ledger)
    assert result.rc == 2
    line = result.error_line()  # one line on stderr, not the refusal and then the failure
    assert named in line


def test_the_max_pixels_limit_is_inclusive(tmp_path: Path, reg_ledger: Path, cli: RunCli) -> None:
    path = _write(tmp_path / "mr.dcm", pydicom_file("MR_small.dcm").read_bytes())
    result = cli(*register_args(path, extra=("--max-pixels", "4096")), ledger=reg_ledger)
    assert result.rc == 0, result.stderr
    assert result.json()["registered"] == 1


def test_a_mixed_folder_registers_the_good_and_lists_the_bad(
    tmp_path: Path, reg_ledger: Path, cli: RunCli
) -> None:
    folder = tmp_path / "mixed"
    good = make_photos(folder / "photos")
    good.append(_write(folder / "mr.dcm", pydicom_file("MR_small.dcm").read_bytes()))
    bad = {}
    for make in (truncated_png, truncated_dicom, text_file, empty_file, png_bomb_over_pillow,
                 folder_symlink_loop):  # fmt: skip
        _, named, word = make(folder / make.__name__)
        bad[named] = word
    os.mkfifo(folder / "pipe.png")  # must not block the walk
    bad[str(folder / "pipe.png")] = "not a regular file"
    os.symlink("gone.png", folder / "dangling.png")
    bad[str(folder / "dangling.png")] = "no such file"
    size = log_size(reg_ledger)

    result = cli(*register_args(folder, workers=2), ledger=reg_ledger)
    assert result.rc == 0, result.stderr
    summary = result.json()
    assert (summary["registered"], summary["already_known"]) == (len(good), 0)
    refused = {r["path"]: r["reason"] for r in summary["refused"]}
    assert set(refused) == set(bad)
    for path, word in bad.items():
        assert word.lower() in refused[path].lower(), (path, refused[path])
    assert log_size(reg_ledger) == size + len(good)
    assert "Traceback" not in result.stderr

    text = cli(*register_args(folder, source="site-b", json=False), ledger=reg_ledger)
    assert text.rc == 0, text.stderr
    first, *rest = text.stdout.strip().splitlines()
    assert first == f"registered {len(good)}, already known 0, refused {len(bad)}"
    # The same files from another source are exact duplicates of site-a's entries.
    assert len(rest) == len(good) and all("exact duplicate of entry" in r for r in rest)
    lines = text.stderr.strip().splitlines()
    assert len(lines) == len(bad)
    for path in bad:
        assert any(line.startswith("refused: ") and path in line for line in lines), path


def test_an_unreadable_file(
    tmp_path: Path, reg_ledger: Path, cli: RunCli, file_modes_bind: Callable[..., Any]
) -> None:
    path = make_photos(tmp_path / "photos")[0]
    path.chmod(0)
    # As root (CI), in a child that file modes bind: the ledger stays usable, the file not.
    result = file_modes_bind(lambda: cli(*register_args(path), ledger=reg_ledger))
    assert result.rc == 2
    line = result.error_line()
    assert str(path) in line and "permission denied" in line
