"""``register --zero-preamble DIR``: a copy of a DICOM file whose preamble is refused, with
the preamble zeroed, to be registered instead of the original.

Zeroing the 128 bytes disarms any polyglot (CVE-2019-11687) and changes nothing a DICOM
reader uses: the data set starts after ``DICM``. The copy is named by its SHA-256, so a
rerun finds the same copy and registers nothing twice.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from ledger.errors import InputError, PolicyError
from ledger.imaging.preamble import DICM_OFFSET, PREAMBLE_SIZE, check_preamble

_CHUNK = 1 << 20


def zeroed_copy(path: Path, directory: Path) -> Path | None:
    """The zeroed copy of ``path`` in ``directory`` if its preamble is refused, else None.

    Files that are not DICOM with a preamble, or whose preamble passes, are left alone."""
    try:
        with path.open("rb") as f:
            head = f.read(DICM_OFFSET + 4)
    except OSError:
        return None  # the analysis reports the unreadable file with its reason
    if len(head) < DICM_OFFSET + 4 or head[DICM_OFFSET:] != b"DICM":
        return None
    try:
        check_preamble(str(path), head)
        return None
    except PolicyError:
        pass
    directory.mkdir(parents=True, exist_ok=True)
    partial = directory / f".partial-{os.getpid()}-{path.name}"
    try:
        shutil.copyfile(path, partial)
        with partial.open("r+b") as f:
            f.write(bytes(PREAMBLE_SIZE))
        digest = _sha256(partial)
        target = directory / f"{digest}.dcm"
        os.replace(partial, target)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise InputError(f"cannot write a zeroed copy into {directory}: {exc.strerror}",
                         subject=str(path)) from exc
    return target


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
