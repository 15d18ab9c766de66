"""The projection audit's comparison, on hand-made tables (no ledger): what it names."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest

from ledger.audit.projections import Failure, ProjectionAudit, TableShape, project_rows
from ledger.errors import VerificationError
from ledger.model.projection import Change, Insert, Update

SHAPES = [
    TableShape("people", ("pid", "name", "blob", "gone"), ("pid",)),
    TableShape("pairs", ("a", "b", "note"), ("a", "b")),
]
LOG: list[tuple[int, Change]] = [
    (0, Insert("people", {"pid": 0, "name": "x", "blob": b"\x00\x01", "gone": None})),
    (1, Insert("people", {"pid": 1, "name": "y", "blob": None, "gone": None})),
    (2, Insert("pairs", {"a": 1, "b": 0, "note": "n"})),
    (3, Update("people", {"pid": 0}, {"gone": 3})),
]
STORED = {
    "people": [(0, "x", b"\x00\x01", 3), (1, "y", None, None)],
    "pairs": [(1, 0, "n")],
}


def audit(stored: dict[str, list[tuple[Any, ...]]], log: Iterable[tuple[int, Change]] = LOG
          ) -> None:
    with ProjectionAudit(SHAPES, {}) as projector:
        projector.add(list(log))
        projector.compare(lambda name: stored[name])


def named(stored: dict[str, list[tuple[Any, ...]]]) -> tuple[str, int | None]:
    with pytest.raises(VerificationError) as caught:
        audit(stored)
    return caught.value.diagnostics(), caught.value.index


def test_equal_tables_pass() -> None:
    audit(STORED)


def test_a_changed_column_is_named_with_both_values() -> None:
    stored = {**STORED, "people": [(0, "x", b"\x00\x01", 3), (1, "evil", None, None)]}
    assert named(stored) == ("people: entry 1, column name: stored 'evil', the log says 'y'", 1)


def test_an_update_is_named_by_the_entry_that_made_it() -> None:
    stored = {**STORED, "people": [(0, "x", b"\x00\x01", None), (1, "y", None, None)]}
    assert named(stored) == ("people: entry 3, column gone: stored None, the log says 3", 3)


def test_types_count_an_integer_is_not_its_text() -> None:
    stored = {**STORED, "pairs": [(1, 0, "n")], "people": [(0, "x", b"\x00\x01", "3"),
                                                            (1, "y", None, None)]}
    assert named(stored)[0] == "people: entry 3, column gone: stored '3', the log says 3"


def test_bytes_are_shown_as_hex() -> None:
    stored = {**STORED, "people": [(0, "x", b"\xff", 3), (1, "y", None, None)]}
    # row 0 was last changed by entry 3 (its update): that entry names it
    assert named(stored)[0] == "people: entry 3, column blob: stored 'ff', the log says '0001'"


def test_missing_and_extra_rows_and_a_count_of_all() -> None:
    stored = {"people": [(0, "x", b"\x00\x01", 3)], "pairs": [(1, 0, "n"), (2, 2, "forged")]}
    text, index = named(stored)
    assert (text, index) == ("people: entry 1: the row pid=1 the log implies is missing "
                             "(2 differences in all)", 1)
    extra_only = {**STORED, "pairs": [(1, 0, "n"), (2, 2, "forged")]}
    assert named(extra_only) == ("pairs: stored row a=2, b=2 has no entry behind it", None)


def test_a_log_contradicting_itself_is_named_after_the_replay() -> None:
    twice = [*LOG, (4, Insert("pairs", {"a": 1, "b": 0, "note": "again"}))]
    with ProjectionAudit(SHAPES, {}) as projector:
        projector.add(twice)  # no error yet: the replay may still find an earlier one
        with pytest.raises(VerificationError) as caught:
            projector.compare(lambda name: STORED[name])
    assert caught.value.index == 4
    assert "projects a row that an earlier entry already made" in caught.value.diagnostics()


def test_an_update_of_no_row_and_a_failing_projection() -> None:
    with ProjectionAudit(SHAPES, {}) as projector:
        projector.add([(5, Update("people", {"pid": 9}, {"gone": 5}))])
        with pytest.raises(VerificationError, match="entry 5 updates a row no entry made"):
            projector.compare(lambda name: STORED[name])
    with ProjectionAudit(SHAPES, {}) as projector:
        projector.add(Failure(7, "its projection fails (KeyError: 'x')"))
        projector.add(list(LOG))  # ignored after the first problem
        with pytest.raises(VerificationError) as caught:
            projector.compare(lambda name: STORED[name])
    assert caught.value.index == 7


def test_project_rows_reads_the_leaf_and_skips_other_kinds() -> None:
    leaf = b'{"envelope":{"entry":{"body":{"n":"z"},"kind":"k"}},"prev":"00"}'

    def projection(index: int, entry: dict[str, Any]) -> list[Change]:
        return [Insert("people", {"pid": index, "name": entry["body"]["n"]})]

    rows = [(4, leaf, b"", "k", "a"), (5, leaf, b"", "other", "a")]
    assert project_rows(rows, {"k": projection}) == [
        (4, Insert("people", {"pid": 4, "name": "z"}))]
    broken = [(6, b"{", b"", "k", "a")]
    failure = project_rows(broken, {"k": projection})
    assert isinstance(failure, Failure) and failure.entry == 6
