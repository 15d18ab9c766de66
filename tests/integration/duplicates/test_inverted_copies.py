"""Negatives: a MONOCHROME1 radiograph exported without its inversion is still its copy.

DICOM's MONOCHROME1 shows low values white; the canonical rendering inverts them, but a careless
export (the stored values scaled to 8 bits) does not, so the copy is the rendering's negative.
pydicom-data's RG1_J2KR.dcm is such a radiograph; CT_small.dcm is MONOCHROME2 and its export's
negative is made here. Other images and their negatives must not match.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import skimage.data
from PIL import Image
from pydicom.data import get_testdata_file

from ..registration.support import RunCli, make_ledger, register_args
from .exports import eight_bit

REGISTERED = ("RG1_J2KR.dcm", "CT_small.dcm", "MR_small.dcm")


def _file(name: str) -> Path:
    found = get_testdata_file(name)
    assert found is not None, name
    return Path(str(found))


@pytest.fixture
def ledger(tmp_path: Path, cli: RunCli) -> Path:
    folder = make_ledger(tmp_path / "ledger")
    result = cli(*register_args(*map(_file, REGISTERED), source="archive-a"), ledger=folder)
    assert result.rc == 0, result.stderr
    return folder


def _similar(cli: RunCli, ledger: Path, image: np.ndarray, path: Path) -> list[dict[str, object]]:
    Image.fromarray(image).save(path)
    result = cli("similar", path, "--json", ledger=ledger)
    assert result.rc == 0, result.stderr
    rows: list[dict[str, object]] = result.json()
    return rows


def test_an_uninverted_monochrome1_export_finds_its_original(
    cli: RunCli, ledger: Path, tmp_path: Path
) -> None:
    rows = _similar(cli, ledger, eight_bit(_file("RG1_J2KR.dcm")), tmp_path / "rg1.png")
    assert len(rows) == 1
    assert "inverted grey levels" in str(rows[0]["detail"])


def test_the_negative_of_an_export_finds_its_original(
    cli: RunCli, ledger: Path, tmp_path: Path
) -> None:
    negative = 255 - eight_bit(_file("CT_small.dcm"))
    rows = _similar(cli, ledger, negative, tmp_path / "ct-negative.png")
    assert len(rows) == 1
    assert "inverted grey levels" in str(rows[0]["detail"])
    plain = _similar(cli, ledger, 255 - negative, tmp_path / "ct.png")
    assert rows[0]["digest"] == plain[0]["digest"]
    assert "inverted" not in str(plain[0]["detail"])


@pytest.mark.parametrize("picture", ["camera", "moon", "coins", "page"])
def test_negatives_of_other_images_match_nothing(
    cli: RunCli, ledger: Path, tmp_path: Path, picture: str
) -> None:
    image = np.asarray(getattr(skimage.data, picture)(), dtype=np.uint8)
    assert _similar(cli, ledger, 255 - image, tmp_path / f"{picture}-negative.png") == []
