"""The lock's fast member check: orjson's lines are the strict path's (and RFC 8785) for every
member-record shape, and the plain parse accepts nothing that MemberRecord refuses."""

from __future__ import annotations

import json
from typing import Any

import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from ledger.datasets.lock import _parse_fast, _parse_strict, open_lock, render
from ledger.datasets.lockmembers import member_lines, plain_records
from ledger.errors import VerificationError
from ledger.model.datasets import MemberRecord

KEYS = ["encoding", "entry", "file_sha256", "file_size", "path", "pixel_form", "pixel_sha256"]
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)  # any but surrogates
VALUES = st.one_of(TEXT, st.integers(0, 2**53 - 1))


def _strict_line(record: dict[str, Any]) -> bytes:
    """The strict path's rendering (ledger.datasets.lock._line)."""
    return json.dumps(record, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


@given(st.dictionaries(st.sampled_from(KEYS), VALUES))
def test_orjson_lines_are_the_strict_lines_and_rfc8785(record: dict[str, Any]) -> None:
    [line] = member_lines([record])
    assert line == _strict_line(record)
    assert line == rfc8785.dumps(record)


HEX = st.binary(min_size=32, max_size=32).map(bytes.hex)
RECORDS = st.fixed_dictionaries(
    {"encoding": st.sampled_from(["png", "1.2.840.10008.1.2.1"]), "entry": st.integers(0, 10**9),
     "file_sha256": HEX, "file_size": st.integers(0, 2**40), "pixel_form": st.just("|u1 8x8"),
     "pixel_sha256": HEX},
    optional={"path": st.text(st.characters(blacklist_categories=("Cs",)), min_size=1,
                              max_size=20)},
)  # fmt: skip
# a change to one key: another type, an edge value, or the key removed (None)
CHANGES = st.tuples(st.sampled_from([*KEYS, "extra"]), st.one_of(
    st.none(), st.booleans(), st.floats(allow_nan=False), st.integers(-3, 3),
    st.just(2**53), st.text(max_size=70), st.just("A" * 64), st.just("/abs"),
    st.just("a" * 1025), st.just("x" * 65),
))  # fmt: skip


@given(RECORDS, st.lists(CHANGES, max_size=2))
def test_plain_records_accepts_only_what_member_record_accepts(
    record: dict[str, Any], changes: list[tuple[str, Any]]
) -> None:
    for key, value in changes:
        if value is None:
            record.pop(key, None)
        else:
            record[key] = value
    accepted = plain_records([record])
    try:
        strict = MemberRecord.model_validate(record).record()
    except ValidationError:
        assert accepted is None
        return
    if accepted is not None:
        assert strict == record


def _record(**changes: Any) -> dict[str, Any]:
    out = {"encoding": "png", "entry": 3, "file_sha256": "a" * 64, "file_size": 10,
           "path": "dir/x.png", "pixel_form": "|u1 8x8", "pixel_sha256": "b" * 64}  # fmt: skip
    out.update(changes)
    return {k: v for k, v in out.items() if v is not ...}


@pytest.mark.parametrize("changes", [
    {"entry": True}, {"entry": -1}, {"entry": 2**53}, {"file_size": 1.0},
    {"path": None}, {"path": "/abs.png"}, {"path": "a\nb"}, {"path": "a\x7fb"}, {"path": ""},
    {"path": "p" * 1025}, {"file_sha256": "A" * 64}, {"pixel_sha256": "b" * 63},
    {"file_sha256": "é" * 64}, {"pixel_form": "x" * 65}, {"encoding": 1}, {"extra": 1},
    {"encoding": ...},
])  # fmt: skip
def test_anything_else_goes_to_the_strict_path(changes: dict[str, Any]) -> None:
    assert plain_records([_record(), _record(**changes)]) is None


def test_plain_records_keep_the_records_as_they_are() -> None:
    records = [_record(entry=1), _record(entry=2, path=...), _record(entry=5, path="é/ü.png")]
    assert plain_records(records) is records
    assert plain_records([]) == []
    assert plain_records({"entry": 1}) is None
    assert plain_records([[1]]) is None


def test_a_rendered_lock_takes_the_fast_path_with_the_strict_paths_result() -> None:
    records = [_record(entry=n, path=f"d/{n}.png") for n in range(3)] + [_record(entry=7,
               path=...)]  # fmt: skip
    data = render({"lock": "medledger.lock/v1", "log": {"origin": "o", "verifier_key": "k"},
                   "dataset": {"name": "chest", "version": 1},
                   "entry": {"index": 4, "leaf": {"envelope": {}, "prev": "x"}},
                   "proof": "p", "members": records})  # fmt: skip
    fast = _parse_fast(data)
    assert fast is not None
    assert fast == _parse_strict(data, lambda reason: VerificationError(reason))
    assert fast[2] == [_strict_line(r) for r in records]


@pytest.mark.parametrize(("edit", "message"), [
    (lambda t: t.replace('"file_size":10', '"file_size":-1', 1),
     "is damaged: members.0.file_size: Input should be greater than or equal to 0"),
    (lambda t: t.replace('"entry":0,', '"entry": 0,', 1), "is not in its canonical layout"),
    (lambda t: t.replace('"prev":"x"', '"prev":"\\ud800"', 1), "is not in its canonical layout"),
    # the strict parse takes a null path (then the root would differ); here the key is next
    (lambda t: t.replace('"path":"d/0.png",', '"path":null,', 1), "names a malformed log key"),
])  # fmt: skip
def test_a_lock_the_fast_path_refuses_gets_the_strict_paths_message(
    edit: Any, message: str
) -> None:
    records = [_record(entry=0, path="d/0.png")]
    data = render({"lock": "medledger.lock/v1", "log": {"origin": "o", "verifier_key": "k"},
                   "dataset": {"name": "chest", "version": 1},
                   "entry": {"index": 4, "leaf": {"envelope": {}, "prev": "x"}},
                   "proof": "p", "members": records})  # fmt: skip
    edited = edit(data.decode()).encode()
    assert edited != data
    assert _parse_fast(edited) is None
    with pytest.raises(VerificationError, match=message):
        open_lock(edited, where="the.lock")
