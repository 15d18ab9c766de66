"""Every file shipped by pydicom, pydicom-data and deid-data: analysed, or refused with a reason.

The table below is the expected outcome of each file. A file the packages ship
that the table does not mention fails the coverage test, so nothing is skipped
silently when a package gains files.
"""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path
from typing import Any

import pytest

from ledger.errors import InputError, LedgerError, PolicyError
from ledger.imaging.analyse import analyse
from ledger.imaging.limits import DecodeLimits
from ledger.model.images import MAX_FRAMES_LISTED, ImageFacts

from .data import SECRET, corpus_files

ANALYSED = (
    # pydicom: every transfer syntax pydicom's pixel handlers cover, with pylibjpeg
    "pydicom/693_J2KI.dcm", "pydicom/CT_small.dcm", "pydicom/ExplVR_BigEnd.dcm",
    "pydicom/GDCMJ2K_TextGBR.dcm", "pydicom/J2K_pixelrep_mismatch.dcm", "pydicom/JPEG2000.dcm",
    "pydicom/JPEGLSNearLossless_08.dcm", "pydicom/JPEGLSNearLossless_16.dcm",
    "pydicom/JPGExtended.dcm", "pydicom/MR_small*.dcm", "pydicom/SC_jpeg_no_color_transform*.dcm",
    "pydicom/SC_rgb_*.dcm", "pydicom/SC_ybr_full_422_uncompressed.dcm", "pydicom/examples_*.dcm",
    "pydicom/image_dfl.dcm", "pydicom/liver_1frame.dcm", "pydicom/liver_expb_1frame.dcm",
    "pydicom/rtdose*.dcm",
    # pydicom's DICOMDIR test tree: 16 x 16 CR/CT/MR images (CT2 and CT5N: see REFUSED)
    "pydicom/dicomdirtests/77654033/CR?/*", "pydicom/dicomdirtests/98892001/CT2N/*",
    "pydicom/dicomdirtests/98892003/*/*",
    # pydicom-data: all but one
    "pydicom-data/693_J2KR.dcm", "pydicom-data/693_UNC?.dcm", "pydicom-data/JPEG-LL.dcm",
    "pydicom-data/JPEG2000_UNC.dcm", "pydicom-data/JPGLosslessP14SV1_1s_1f_8b.dcm",
    "pydicom-data/MR-SIEMENS-DICOM-WithOverlays.dcm", "pydicom-data/MR2_*.dcm",
    "pydicom-data/OBXXXX1A*.dcm", "pydicom-data/OT-PAL-8-face.dcm", "pydicom-data/RG?_*.dcm",
    "pydicom-data/SC_*.dcm", "pydicom-data/US1_*.dcm", "pydicom-data/bad_sequence.dcm",
    "pydicom-data/color-p?.dcm", "pydicom-data/color3d_jpeg_baseline.dcm",
    "pydicom-data/eCT_Supplemental.dcm", "pydicom-data/emri_small.dcm",
    "pydicom-data/emri_small_RLE.dcm", "pydicom-data/emri_small_big_endian.dcm",
    "pydicom-data/emri_small_jpeg_2k_lossless.dcm", "pydicom-data/emri_small_jpeg_ls_lossless.dcm",
    "pydicom-data/explicit_VR-UN.dcm", "pydicom-data/gdcm-US-ALOKA-16*.dcm",
    "pydicom-data/liver*.dcm", "pydicom-data/mlut_18.dcm", "pydicom-data/vlut_04.dcm",
    # deid-data: every DICOM file (identifiable: see test_privacy.py)
    "deid-data/*/*.dcm",
)  # fmt: skip

NO_PIXELS = (InputError, "DICOM object has no pixel data")
NOT_IMAGE = (InputError, "not a recognised image format")
REFUSED: dict[str, tuple[type[LedgerError], str]] = {
    # Objects without an image: plans, structure sets, reports, waveforms, directories
    "pydicom/ExplVR_BigEndNoMeta.dcm": (InputError, "no pixel data (RT Ion Plan Storage)"),
    "pydicom/ExplVR_LitEndNoMeta.dcm": (InputError, "no pixel data (RT Ion Plan Storage)"),
    "pydicom/UN_sequence.dcm": (InputError, "no pixel data (CT Image Storage)"),
    "pydicom/empty_charset_LEI.dcm": NO_PIXELS,
    "pydicom/no_meta_group_length.dcm": (InputError, "no pixel data (RT Image Storage)"),
    "pydicom/priv_SQ.dcm": (InputError, "no pixel data (MR Image Storage)"),
    "pydicom/reportsi.dcm": (InputError, "no pixel data (Basic Text SR Storage)"),
    "pydicom/reportsi_with_empty_number_tags.dcm": (InputError, "no pixel data (Basic Text SR"),
    "pydicom/rtplan.dcm": (InputError, "no pixel data (RT Plan Storage)"),
    "pydicom/rtplan_truncated.dcm": (InputError, "no pixel data (RT Plan Storage)"),
    "pydicom/rtstruct.dcm": (InputError, "no pixel data (RT Structure Set Storage)"),
    "pydicom/test-SR.dcm": (InputError, "no pixel data (Comprehensive SR Storage)"),
    "pydicom/waveform_ecg.dcm": (InputError, "no pixel data (12-lead ECG Waveform Storage)"),
    "pydicom/dicomdirtests/DICOMDIR*": (InputError, "(Media Storage Directory Storage)"),
    "pydicom/dicomdirtests/TINY_ALPHA/DICOMDIR": (InputError, "(Media Storage Directory"),
    # header-only CT stubs made for the DICOMDIR tests
    "pydicom/dicomdirtests/TINY_ALPHA/PT000000/ST000000/SE000000/IM*": (
        InputError, "no pixel data (CT Image Storage)",
    ),
    # A preamble that is neither zeros nor a TIFF header (one 0x01 byte at offset 17):
    # refused like any unrecognised preamble (CVE-2019-11687); --zero-preamble registers them
    "pydicom/dicomdirtests/77654033/CT2/*": (PolicyError, "not a TIFF header (CVE-2019-11687)"),
    "pydicom/dicomdirtests/98892001/CT5N/*": (PolicyError, "not a TIFF header (CVE-2019-11687)"),
    # Pixel data present but broken
    "pydicom/MR_truncated.dcm": (InputError, "truncated: pixel data is shorter"),
    "pydicom/JPEG-lossy.dcm": (InputError, "JPEG Extended (Process 2 and 4) pixel data could not"),
    # its SIZ marker is corrupt: refused before the decoder sees it
    "pydicom/JPEG2000-embedded-sequence-delimiter.dcm": (
        InputError, "JPEG 2000 codestream declares 3722445056x1024, the header says 256x1024",
    ),
    "pydicom-data/emri_small_jpeg_2k_lossless_too_short.dcm": (
        InputError, "malformed or truncated DICOM",
    ),
    "pydicom/badVR.dcm": (InputError, "malformed image pixel attribute NumberOfFrames"),
    "pydicom/meta_missing_tsyntax.dcm": (InputError, "missing image pixel attribute Rows"),
    "pydicom/nested_priv_SQ.dcm": (InputError, "missing image pixel attribute Rows"),
    # Not images at all (text, JSON, ICC profile, gzip, ZIP archives of cine loops, Python),
    # and a data set whose first byte is a stray space, which no sniffing should accept
    "pydicom/README.txt": NOT_IMAGE, "pydicom/crayons.icc": NOT_IMAGE,
    "pydicom/dicomdirtests/README.txt": NOT_IMAGE,
    "pydicom/dicomdirtests/TINY_ALPHA/README": NOT_IMAGE,
    "pydicom/rtplan.dump": NOT_IMAGE, "pydicom/rtstruct.dump": NOT_IMAGE,
    "pydicom/test1.json": NOT_IMAGE, "pydicom/test_PN.json": NOT_IMAGE,
    "pydicom/zipMR.gz": NOT_IMAGE, "pydicom/no_meta.dcm": NOT_IMAGE,
    "deid-data/README.md": NOT_IMAGE, "deid-data/__init__.py": NOT_IMAGE,
    "deid-data/ultrasounds/GREYSCALE_CINE.zip": NOT_IMAGE,
    "deid-data/ultrasounds/RGB_CINE.zip": NOT_IMAGE,
}  # fmt: skip

FILES = corpus_files()


def _rule(key: str) -> list[str]:
    return [p for p in (*ANALYSED, *REFUSED) if fnmatch.fnmatchcase(key, p)]


def test_the_table_names_every_file_exactly_once() -> None:
    assert len(FILES) > 250
    unmatched = [key for key in FILES if not _rule(key)]
    ambiguous = {key: _rule(key) for key in FILES if len(_rule(key)) > 1}
    stale = [p for p in (*ANALYSED, *REFUSED) if not fnmatch.filter(FILES, p)]
    assert (unmatched, ambiguous, stale) == ([], {}, [])


def test_outcome_counts() -> None:
    refused = [key for key in FILES if _rule(key)[0] in REFUSED]
    assert (len(FILES) - len(refused), len(refused)) == (160, 101)


@pytest.mark.parametrize("key", sorted(FILES))
def test_file_is_analysed_or_refused_with_its_reason(key: str) -> None:
    path = FILES[key]
    rule = _rule(key)[0]
    if rule in REFUSED:
        error, reason = REFUSED[rule]
        with pytest.raises(LedgerError) as caught:
            analyse(path, secret=SECRET, limits=DecodeLimits())
        assert type(caught.value) is error
        assert caught.value.diagnostics().startswith(f"{path}: ")
        assert reason in caught.value.message
        assert "\n" not in caught.value.diagnostics()
        return
    result = analyse(path, secret=SECRET, limits=DecodeLimits())
    document = result.to_json()
    json.dumps(document, allow_nan=False)
    assert _floats(document) == []
    assert len(result.pixel_sha256) == 64
    assert result.fingerprints.phash.hex == result.fingerprints.dihedral[0]
    frames = int(result.pixel_form.split()[1].split("x")[0])
    assert len(result.frame_sha256) == (frames if 1 < frames <= MAX_FRAMES_LISTED else 0)
    assert (document.get("frame_tree") or {}).get("count") == (frames if frames > 1 else None)
    ImageFacts.model_validate(document)  # what registration signs is a valid entry body


def test_policy_error_is_not_raised_by_default_for_identifiable_files() -> None:
    # Identifiable input is only refused when de-identified input is required.
    path = FILES["deid-data/humans/ctbrain1.dcm"]
    assert analyse(path, secret=SECRET, limits=DecodeLimits()).deid.identifying_present
    with pytest.raises(PolicyError):
        analyse(path, secret=SECRET, limits=DecodeLimits(), require_deidentified=True)


def _floats(value: Any, where: str = "$") -> list[str]:
    if isinstance(value, float):
        return [where]
    if isinstance(value, dict):
        return [f for k, v in value.items() for f in _floats(v, f"{where}.{k}")]
    if isinstance(value, list):
        return [f for i, v in enumerate(value) for f in _floats(v, f"{where}[{i}]")]
    return []


def test_paths_are_real_files() -> None:
    assert all(isinstance(p, Path) and p.is_file() for p in FILES.values())
