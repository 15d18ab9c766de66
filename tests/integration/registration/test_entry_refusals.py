"""A file whose entry would be refused at append is refused alone, not with its batch.

Entries are validated when their batch is appended, all or nothing. A file whose
analysis gives an entry the ledger would refuse (over the 64 KiB entry limit, or
against the image.registered model) is refused in the worker with one line naming
the field, never quoting a header value; the other files of its batch register, the
run exits 0 with the refusal listed (2 only when nothing could be registered), and
the log verifies.

The oversized entry is real input: a DICOM whose Image Type holds thousands of
values, each allowlisted and kept. No real input breaks the model any more, so that
case breaks one file's facts in-process (``--workers 1`` analyses in this process).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest

import ledger.registration.workers as workers
from ledger.imaging.analyse import Analysis
from ledger.imaging.decode import Decoded

from .data import make_pngs, multi_frame_dicom
from .support import RunCli, image_entries, log_size, register_args

MARKER = "HDRVALUE"  # in every value of the oversized attribute; must never be printed
GOOD = 12  # fewer than a batch (256): every file below is in one batch


def many_valued_dicom(path: Path, *, values: int = 3600) -> Path:
    """A one-frame DICOM with no patient attributes whose Image Type has ``values`` values
    of 16 characters: about 68 kB of allowlisted metadata, more than an entry can hold."""
    pixels = np.random.default_rng(7).integers(0, 256, size=(1, 8, 8), dtype=np.uint8)
    multi_frame_dicom(path, pixels)
    ds = pydicom.dcmread(path)
    # Letters, not digits: a run of digits in free text is withheld as a possible identifier.
    ds.ImageType = [MARKER + "".join(chr(65 + (i >> 4 * k) % 16) for k in range(8))
                    for i in range(values)]  # fmt: skip
    ds.save_as(path)
    return path


def assert_verifies(cli: RunCli, ledger: Path) -> None:
    result = cli("verify", "--json", ledger=ledger)
    assert result.rc == 0, (result.stdout, result.stderr)


def test_an_oversized_entry_is_refused_alone(tmp_path: Path, reg_ledger: Path, cli: RunCli) -> None:
    folder = tmp_path / "in"
    good = make_pngs(folder, GOOD)
    bad = many_valued_dicom(folder / "many.dcm")
    size = log_size(reg_ledger)

    result = cli(*register_args(folder, workers=2), ledger=reg_ledger)
    assert result.rc == 0, (result.stdout, result.stderr)
    summary = result.json()
    assert (summary["registered"], summary["already_known"]) == (GOOD, 0)
    assert [r["path"] for r in summary["refused"]] == [str(bad)]
    reason = summary["refused"][0]["reason"]
    assert reason.startswith("entry would be too large: "), reason
    assert "image.metadata.ImageType" in reason, reason
    assert MARKER not in result.stdout + result.stderr
    assert log_size(reg_ledger) == size + GOOD
    registered = {e["image"]["file_sha256"] for e in image_entries(cli, reg_ledger)}
    assert len(registered) == GOOD
    assert_verifies(cli, reg_ledger)

    # A rerun (text mode) knows the good files and refuses the same one, in one line.
    again = cli(*register_args(folder, workers=2, json=False), ledger=reg_ledger)
    assert again.rc == 0, again.stderr
    assert again.stdout.strip() == f"registered 0, already known {len(good)}, refused 1"
    lines = again.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"refused: {bad}: entry would be too large")
    assert MARKER not in again.stdout + again.stderr


def test_only_an_oversized_entry_is_exit_2_with_one_line(
    tmp_path: Path, reg_ledger: Path, cli: RunCli
) -> None:
    bad = many_valued_dicom(tmp_path / "many.dcm")
    size = log_size(reg_ledger)
    result = cli(*register_args(bad, json=False), ledger=reg_ledger)
    assert result.rc == 2, (result.stdout, result.stderr)
    line = result.error_line()
    assert str(bad) in line and "entry would be too large" in line, line
    assert MARKER not in line
    assert log_size(reg_ledger) == size


def test_facts_the_model_refuses_are_refused_alone(
    tmp_path: Path, reg_ledger: Path, cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "in"
    good = make_pngs(folder, GOOD)
    bad = folder / "img00005.png"
    real = workers.analyse_decoded

    def analyse(decoded: Decoded, **options: Any) -> Analysis:
        analysis = real(decoded, **options)
        if decoded.name == str(bad):  # a pixel form longer than the model's 64 characters
            return dataclasses.replace(analysis, pixel_form=f"<u1 {MARKER * 8}")
        return analysis

    monkeypatch.setattr(workers, "analyse_decoded", analyse)
    result = cli(*register_args(folder, workers=1), ledger=reg_ledger)
    assert result.rc == 0, (result.stdout, result.stderr)
    summary = result.json()
    assert (summary["registered"], summary["already_known"]) == (GOOD - 1, 0)
    assert summary["refused"] == [
        {"path": str(bad), "reason": "entry would be invalid: image.pixel_form: string_too_long"}
    ]
    assert MARKER not in result.stdout + result.stderr
    assert len(image_entries(cli, reg_ledger)) == len(good) - 1
    assert_verifies(cli, reg_ledger)
