"""DICOM polyglots: an executable, archive, document or script in the 128-byte preamble."""

from __future__ import annotations

import struct
from pathlib import Path

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


def test_zero_and_other_preambles_pass(tmp_path: Path) -> None:
    zero = with_preamble(tmp_path, "MR_small.dcm", bytes(128))
    assert analyse(zero, secret=SECRET, limits=DecodeLimits()).preamble == "zero"
    vendor = tmp_path / "vendor"
    vendor.mkdir()
    other = with_preamble(vendor, "MR_small.dcm", b"\x00" * 16 + b"\x01")
    assert analyse(other, secret=SECRET, limits=DecodeLimits()).preamble == "other"


def test_big_endian_tiff_header_passes() -> None:
    assert check_preamble("x.dcm", b"MM\x00*" + bytes(124) + b"DICM") == "tiff"


def test_check_preamble_needs_the_dicm_prefix() -> None:
    with pytest.raises(InputError, match=r"^not a DICOM file with a preamble$"):
        check_preamble("x.dcm", bytes(128) + b"DICX")
    with pytest.raises(InputError):
        check_preamble("x.dcm", bytes(10))


def test_message_names_the_file() -> None:
    with pytest.raises(PolicyError) as caught:
        check_preamble("scans/a b.dcm", b"MZ" + bytes(126) + b"DICM")
    assert caught.value.diagnostics() == (
        "scans/a b.dcm: DICOM preamble carries a Windows executable (PE) header"
    )
