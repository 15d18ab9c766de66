"""``frame_grids`` in image.registered (issue 21): what a valid list is, and that entries
without it (single-frame images, and every entry made before it) stay valid."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pydantic import ValidationError
from pydicom.data import get_testdata_file

from ledger.imaging.analyse import analyse
from ledger.imaging.limits import DecodeLimits
from ledger.model.images import ImageFacts

SECRET = b"k" * 32


def _facts(name: str) -> dict[str, Any]:
    path = get_testdata_file(name)
    assert isinstance(path, str), name
    return analyse(path, secret=SECRET, limits=DecodeLimits()).to_json()


@pytest.fixture(scope="module")
def multi() -> dict[str, Any]:
    return _facts("emri_small.dcm")  # 10 frames


def test_a_multi_frame_entry_lists_its_other_frames(multi: dict[str, Any]) -> None:
    ImageFacts.model_validate(multi)
    assert [g["frame"] for g in multi["frame_grids"]] == [0, 1, 2, 3, 4, 6, 7, 8, 9]


def test_entries_without_frame_grids_stay_valid(multi: dict[str, Any]) -> None:
    old = copy.deepcopy(multi)
    del old["frame_grids"]  # a multi-frame entry registered before issue 21
    ImageFacts.model_validate(old)
    single = _facts("CT_small.dcm")
    assert "frame_grids" not in single
    ImageFacts.model_validate(single)


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (lambda f: f["frame_grids"].insert(5, {**f["frame_grids"][0], "frame": 5}), "middle"),
        (lambda f: f["frame_grids"].append({**f["frame_grids"][0], "frame": 10}), "frame 10"),
        (lambda f: f["frame_grids"].reverse(), "frame order"),
        (lambda f: f.update(frame_grids=None), "never null"),
        (lambda f: f.pop("frame_tree"), "frame_tree"),
        (lambda f: f["frame_grids"][0]["descriptor"].update(grid_sha256="0" * 63), "pattern"),
    ],
)
def test_a_bad_list_is_refused(multi: dict[str, Any], change: Any, why: str) -> None:
    facts = copy.deepcopy(multi)
    change(facts)
    with pytest.raises(ValidationError, match=why):
        ImageFacts.model_validate(facts)
