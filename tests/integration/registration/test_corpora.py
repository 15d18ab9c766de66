"""Every file shipped by pydicom, pydicom-data and deid-data: registered, or refused with a reason.

The three data folders are registered as they are installed, in one run of the
console script with two decoding processes. Every file the walk finds must
come out either in the log (by its SHA-256) or in the refusals, never both and
never neither, each refusal with a reason from the table below: one short
line, no exception class, no traceback. Files named DICOMDIR (media indexes)
and hidden files are skipped by the walk, by design, and appear in neither.
"""

from __future__ import annotations

import fnmatch
import hashlib
import re
from pathlib import Path

import pytest
from deid_data.data import get_dataset

from .data import DEID_FOLDERS, PYDICOM, PYDICOM_DATA
from .support import RunCli, image_entries, register_args

pytestmark = pytest.mark.slow

NO_PIXELS = "no pixel data"
NOT_IMAGE = "not a recognised image format"
# file (glob, relative to its corpus) -> what the refusal must say; any other file registers
REFUSED = {
    # objects without an image: plans, structure sets, reports, waveforms, header-only stubs
    "pydicom/ExplVR_*NoMeta.dcm": NO_PIXELS, "pydicom/UN_sequence.dcm": NO_PIXELS,
    "pydicom/empty_charset_LEI.dcm": NO_PIXELS, "pydicom/no_meta_group_length.dcm": NO_PIXELS,
    "pydicom/priv_SQ.dcm": NO_PIXELS, "pydicom/reportsi*.dcm": NO_PIXELS,
    "pydicom/rtplan*.dcm": NO_PIXELS, "pydicom/rtstruct.dcm": NO_PIXELS,
    "pydicom/test-SR.dcm": NO_PIXELS, "pydicom/waveform_ecg.dcm": NO_PIXELS,
    "pydicom/dicomdirtests/DICOMDIR-*": NO_PIXELS,
    "pydicom/dicomdirtests/TINY_ALPHA/PT000000/ST000000/SE000000/IM*": NO_PIXELS,
    # a preamble neither zeros nor a TIFF header (one 0x01 byte): CVE-2019-11687
    "pydicom/dicomdirtests/77654033/CT2/*": "not a TIFF header",
    "pydicom/dicomdirtests/98892001/CT5N/*": "not a TIFF header",
    # pixel data present but broken, or in a form no installed decoder reads
    "pydicom/MR_truncated.dcm": "truncated",
    "pydicom/JPEG-lossy.dcm": "could not be decoded",
    "pydicom/JPEG2000-embedded-sequence-delimiter.dcm": "JPEG 2000 codestream declares",
    "pydicom-data/emri_small_jpeg_2k_lossless_too_short.dcm": "malformed",
    "pydicom/badVR.dcm": "NumberOfFrames", "pydicom/meta_missing_tsyntax.dcm": "Rows",
    "pydicom/nested_priv_SQ.dcm": "Rows",
    # not images at all
    "pydicom/*.txt": NOT_IMAGE,  # fnmatch: "*" crosses folders, so also dicomdirtests/
    "pydicom/dicomdirtests/TINY_ALPHA/README": NOT_IMAGE, "pydicom/*.dump": NOT_IMAGE,
    "pydicom/*.json": NOT_IMAGE, "pydicom/*.icc": NOT_IMAGE, "pydicom/zipMR.gz": NOT_IMAGE,
    "pydicom/no_meta.dcm": NOT_IMAGE, "deid-data/README.md": NOT_IMAGE,
    "deid-data/*.py": NOT_IMAGE, "deid-data/__pycache__/*": NOT_IMAGE,
    "deid-data/ultrasounds/*.zip": NOT_IMAGE,
}  # fmt: skip


ROOTS = {
    "pydicom": PYDICOM,
    "pydicom-data": PYDICOM_DATA,
    "deid-data": Path(get_dataset(DEID_FOLDERS[0])).parent,  # the folder of its datasets
}


def corpus_files() -> dict[str, Path]:
    """"corpus/relative/path" -> file, for every file the walk should find."""
    found = {}
    for corpus, root in ROOTS.items():
        for path in sorted(root.rglob("*")):
            if path.is_file() and path.name != "DICOMDIR" and not path.name.startswith("."):
                found[f"{corpus}/{path.relative_to(root).as_posix()}"] = path
    return found


def expected_refusal(key: str) -> str | None:
    rules = [reason for pattern, reason in REFUSED.items() if fnmatch.fnmatchcase(key, pattern)]
    assert len(rules) <= 1, f"{key} matches several rules"
    return rules[0] if rules else None


def test_every_corpus_file_registers_or_is_refused_with_its_reason(
    reg_ledger: Path, run_cli: RunCli, cli: RunCli
) -> None:
    files = corpus_files()
    result = run_cli(*register_args(*ROOTS.values(), workers=2), ledger=reg_ledger)
    assert result.rc == 0, result.stderr
    assert "Traceback" not in result.stderr
    summary = result.json()
    refused = {r["path"]: r["reason"] for r in summary["refused"]}
    registered = {e["image"]["file_sha256"] for e in image_entries(cli, reg_ledger)}

    by_path = {str(path): key for key, path in files.items()}
    assert set(refused) <= set(by_path), set(refused) - set(by_path)
    problems = []
    for key, path in files.items():
        want = expected_refusal(key)
        got = refused.get(str(path))
        in_log = hashlib.sha256(path.read_bytes()).hexdigest() in registered
        if want is None and (got is not None or not in_log):
            problems.append(f"{key}: should register, got {got!r}")
        elif want is not None and (got is None or want.lower() not in got.lower()):
            problems.append(f"{key}: should be refused ({want}), got {got!r}")
        if got is not None and in_log:
            problems.append(f"{key}: both refused and in the log")
    assert not problems, "\n".join(problems)

    for path, reason in refused.items():
        assert reason and "\n" not in reason and len(reason) < 200, (path, reason)
        assert not re.search(r"\b\w+(Error|Exception)\b", reason), (path, reason)
    assert summary["registered"] + summary["already_known"] + len(refused) == len(files)
    assert summary["registered"] == len(registered)
    assert cli("verify", ledger=reg_ledger).rc == 0
