"""DICOM polyglots (CVE-2019-11687): an executable or archive in the 128-byte preamble.

Each file here is a real pydicom test image whose preamble now starts with the
header of another format, so that the same bytes are a valid DICOM image and,
for the PE case, a file Windows would load. The TIFF header that DICOM allows
there (CT_small.dcm has one) must still register.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ..builders import snapshot
from .data import PREAMBLES, copy_into, pydicom_file, with_preamble
from .support import RunCli, image_entries, log_size, register_args


def test_the_pe_polyglot_is_a_dicom_and_an_executable(tmp_path: Path) -> None:
    import pydicom

    path = with_preamble(pydicom_file("MR_small.dcm"), tmp_path / "pe.dcm", PREAMBLES["pe"][0])
    data = path.read_bytes()
    assert data[:2] == b"MZ" and data[0x40:0x44] == b"PE\x00\x00"
    assert pydicom.dcmread(path).Rows == 64  # still a DICOM image


def test_a_pe_polyglot_is_refused(tmp_path: Path, reg_ledger: Path, run_cli: RunCli) -> None:
    path = with_preamble(pydicom_file("MR_small.dcm"), tmp_path / "scan.dcm", PREAMBLES["pe"][0])
    before = snapshot(reg_ledger)
    result = run_cli(*register_args(path, json=False), ledger=reg_ledger)
    assert result.rc == 2
    line = result.error_line()
    assert str(path) in line
    assert "preamble" in line and "PE" in line, line
    assert snapshot(reg_ledger) == before


def test_polyglots_refused_and_tiff_preamble_registered(
    tmp_path: Path, reg_ledger: Path, cli: RunCli
) -> None:
    folder = tmp_path / "mixed"
    base = pydicom_file("MR_small.dcm")
    hostile = {
        name: with_preamble(base, folder / f"{name}.dcm", head)
        for name, (head, _) in PREAMBLES.items()
    }
    [ct_small] = copy_into(folder, [pydicom_file("CT_small.dcm")])
    assert ct_small.read_bytes()[:4] in (b"II*\x00", b"MM\x00*")
    size = log_size(reg_ledger)

    result = cli(*register_args(folder), ledger=reg_ledger)
    assert result.rc == 0, result.stderr
    summary = result.json()
    assert summary["registered"] == 1
    refused = {Path(r["path"]).stem: r["reason"] for r in summary["refused"]}
    assert set(refused) == set(hostile)
    for name, reason in refused.items():
        assert "preamble" in reason, reason
        assert PREAMBLES[name][1].lower() in reason.lower(), (name, reason)
    assert log_size(reg_ledger) == size + 1
    [entry] = image_entries(cli, reg_ledger)
    assert entry["image"]["preamble"] == "tiff"


@pytest.mark.parametrize("offset", [0, 60])
def test_a_pdf_marker_anywhere_in_the_preamble(
    tmp_path: Path, reg_ledger: Path, cli: RunCli, offset: int
) -> None:
    head = bytes(offset) + b"%PDF-1.4\n"
    path = with_preamble(pydicom_file("MR_small.dcm"), tmp_path / "doc.dcm", head)
    result = cli(*register_args(path), ledger=reg_ledger)
    assert result.rc == 2
    assert "PDF" in result.error_line()
