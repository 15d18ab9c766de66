"""The preprocessing vocabulary: typed parameters, refusals by name, codes and actions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydicom.sr._concepts_dict import concepts

from ledger.errors import InputError
from ledger.lineage.vocabulary import (
    TERM_NAMES,
    parse_step,
    read_steps_file,
    step_json,
    validate_step,
    vocabulary_rows,
)
from ledger.model.vocabulary import DEID_OPTIONS

# Every term the issue names (flip/rotate is ``orient``, equalisation/CLAHE ``equalise``).
ISSUE_TERMS = {"resize", "crop", "pad", "orient", "resample", "window", "normalise",
               "equalise", "bit_depth", "convert", "compress", "deidentify", "deface",
               "augment", "register", "segment", "filter", "synthesise"}


def test_every_term_of_the_issue_is_in_the_vocabulary() -> None:
    assert ISSUE_TERMS <= set(TERM_NAMES)


def test_command_line_form_gives_typed_parameters() -> None:
    assert step_json(parse_step("resize:size=256x256,method=bicubic")) == {
        "term": "resize", "width": 256, "height": 256, "method": "bicubic"}
    assert step_json(parse_step("resample:spacing=0.5x0.5x1.25")) == {
        "term": "resample", "spacing": ["0.5", "0.5", "1.25"]}
    assert step_json(parse_step("normalise:method=zscore,parameters.mean=-12.5")) == {
        "term": "normalise", "method": "zscore", "parameters": {"mean": "-12.5"}}
    assert step_json(parse_step("convert:from=dicom,to=png,lossless=true")) == {
        "term": "convert", "from": "dicom", "to": "png", "lossless": True}
    assert step_json(parse_step("deidentify:options=113101x113108")) == {
        "term": "deidentify", "profile": "113100", "options": ["113101", "113108"]}


@pytest.mark.parametrize(("text", "reason"), [
    ("blur:sigma=1", "unknown term 'blur'"),
    ("resize:size=8x8,colour=red", "unknown parameter 'colour'"),
    ("window:center=1e3,width=400", "center"),  # decimals are plain strings, no exponents
    ("compress:codec=jpeg", "quality or ratio"),
    ("compress:codec=jpeg,quality=101", "quality"),
    ("orient:dihedral=8", "dihedral"),
    ("segment:method=algorithm", "names an algorithm"),
    ("deidentify:options=113108x113101", "sorted"),
    ("deidentify:options=113099", "options"),
    ("resize:size", "not key=value"),
    ("crop:x=1,x=2,y=0,width=1,height=1", "given twice"),
])
def test_refusals_name_the_term_or_parameter(text: str, reason: str) -> None:
    with pytest.raises(InputError, match=reason):
        parse_step(text)


def test_entries_hold_no_floats() -> None:
    with pytest.raises(InputError, match="center"):
        validate_step({"term": "window", "center": 40.0, "width": "400"}, where="x")


def test_steps_file(tmp_path: Path) -> None:
    path = tmp_path / "steps.json"
    path.write_text(json.dumps([{"term": "window", "center": "40", "width": "400"},
                                {"term": "bit_depth", "bits": 8}]))
    assert [s.term for s in read_steps_file(path)] == ["window", "bit_depth"]  # type: ignore[attr-defined]
    path.write_text(json.dumps([{"term": "bit_depth", "bits": "8"}]))
    with pytest.raises(InputError, match=r"steps.json: step 1: bits"):
        read_steps_file(path)
    path.write_text("{}")
    with pytest.raises(InputError, match="a JSON list of steps"):
        read_steps_file(path)


def test_dicom_codes_are_those_of_ps3_16() -> None:
    """Every code and meaning against pydicom's tables generated from PS3.16 (CID 7203 for
    image derivation, CID 7050 for de-identification)."""
    dcm = {code: (meaning, cids) for table in concepts["DCM"].values()
           for code, (meaning, cids) in table.items()}
    rows = vocabulary_rows()
    assert rows and all(r["c2pa"].startswith("c2pa.") for r in rows)
    for row in rows:
        if row["dicom"] is None:
            continue
        code, meaning = row["dicom"]
        assert dcm[code][0] == meaning, row
        assert set(dcm[code][1]) & {7203, 7050}, row
    for code, meaning in DEID_OPTIONS.items():
        assert dcm[code] == (meaning, [7050])
    codes = parse_step("deidentify:options=113101").dicom_codes()
    assert codes == [("113100", "Basic Application Confidentiality Profile"),
                     ("113101", "Clean Pixel Data Option")]
    assert parse_step("smooth:method=gaussian").dicom_codes()[0][0] in dcm
    assert parse_step("register:algorithm=elastix,transform=deformable").dicom_codes() == [
        ("125027", dcm["125027"][0])]
