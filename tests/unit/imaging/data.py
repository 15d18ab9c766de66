"""Where the public DICOM test corpora live, found without any network access.

* pydicom's own files: ``pydicom/data/test_files`` (``pydicom.data.get_testdata_files``
  would also try to download pydicom-data's online-only files, so it is not used).
* pydicom-data: the ``pydicom.data.external_sources`` entry point ``data_store``.
* deid-data: ``deid_data/data`` (``deid_data.data.get_dataset`` names its folders).
"""

from __future__ import annotations

from pathlib import Path

import data_store  # type: ignore[import-untyped]
import deid_data
import pydicom

CORPORA = {
    "pydicom": Path(pydicom.__file__).parent / "data" / "test_files",
    "pydicom-data": Path(data_store.__file__).parent / "data",
    "deid-data": Path(deid_data.__file__).parent / "data",
}
SECRET = b"medledger-test-secret-0123456789"


def corpus_files() -> dict[str, Path]:
    """Every file each package ships in its data folder, keyed "corpus/relative/path"."""
    found = {}
    for corpus, root in CORPORA.items():
        for path in sorted(root.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                found[f"{corpus}/{path.relative_to(root).as_posix()}"] = path
    return found


def sample(name: str) -> Path:
    """A file by name from pydicom's or pydicom-data's folder."""
    for corpus in ("pydicom", "pydicom-data"):
        path = CORPORA[corpus] / name
        if path.is_file():
            return path
    raise FileNotFoundError(name)


def deid_files() -> list[Path]:
    return sorted(p for p in CORPORA["deid-data"].rglob("*.dcm"))
