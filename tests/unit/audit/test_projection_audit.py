"""The projection audit's comparison, on hand-made tables (no ledger): what it names."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import pytest
import rfc8785

from ledger.audit.projections import (
    Failure,
    Plan,
    Projected,
    ProjectionAudit,
    RowUpdate,
    TableShape,
    project_rows,
)
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
COLUMNS = {shape.name: shape.columns for shape in SHAPES}


def projected(log: Iterable[tuple[int, Change]]) -> Projected:
    """What a worker sends for these changes: new rows as tuples, updates as they are."""
    out: Projected = []
    for idx, change in log:
        if isinstance(change, Insert):
            out.append((change.table, (*[change.values.get(c) for c in COLUMNS[change.table]],
                                       idx)))
        else:
            out.append(RowUpdate(idx, change))
    return out


STORED = {
    "people": [(0, "x", b"\x00\x01", 3), (1, "y", None, None)],
    "pairs": [(1, 0, "n")],
}


@pytest.fixture(params=[False, True], ids=["copy-and-join", "merge"])
def sqlite_order(request: pytest.FixtureRequest) -> bool:
    """Both ways of comparing: the stored rows copied and joined, or merged as they stream."""
    return bool(request.param)


def audit(stored: dict[str, list[tuple[Any, ...]]], *, sqlite_order: bool,
          log: Iterable[tuple[int, Change]] = LOG) -> None:
    with ProjectionAudit(SHAPES, {}) as projector:
        projector.add(projected(log))
        projector.compare(lambda name: iter(stored[name]), sqlite_order=sqlite_order)


def named(stored: dict[str, list[tuple[Any, ...]]], sqlite_order: bool
          ) -> tuple[str, int | None]:
    with pytest.raises(VerificationError) as caught:
        audit(stored, sqlite_order=sqlite_order)
    return caught.value.diagnostics(), caught.value.index


def test_equal_tables_pass(sqlite_order: bool) -> None:
    audit(STORED, sqlite_order=sqlite_order)


def test_mixed_key_types_fall_back_to_the_join() -> None:
    stored = {**STORED, "pairs": [(1, 0, "n"), ("x", 0, "forged")]}
    with pytest.raises(VerificationError, match="stored row a='x', b=0 has no entry"):
        audit(stored, sqlite_order=True)


def test_a_changed_column_is_named_with_both_values(sqlite_order: bool) -> None:
    stored = {**STORED, "people": [(0, "x", b"\x00\x01", 3), (1, "evil", None, None)]}
    got = named(stored, sqlite_order)
    assert got == ("people: entry 1, column name: stored 'evil', the log says 'y'", 1)


def test_an_update_is_named_by_the_entry_that_made_it(sqlite_order: bool) -> None:
    stored = {**STORED, "people": [(0, "x", b"\x00\x01", None), (1, "y", None, None)]}
    got = named(stored, sqlite_order)
    assert got == ("people: entry 3, column gone: stored None, the log says 3", 3)


def test_types_count_an_integer_is_not_its_text(sqlite_order: bool) -> None:
    stored = {**STORED, "pairs": [(1, 0, "n")], "people": [(0, "x", b"\x00\x01", "3"),
                                                            (1, "y", None, None)]}
    got = named(stored, sqlite_order)[0]
    assert got == "people: entry 3, column gone: stored '3', the log says 3"


def test_bytes_are_shown_as_hex(sqlite_order: bool) -> None:
    stored = {**STORED, "people": [(0, "x", b"\xff", 3), (1, "y", None, None)]}
    # row 0 was last changed by entry 3 (its update): that entry names it
    got = named(stored, sqlite_order)[0]
    assert got == "people: entry 3, column blob: stored 'ff', the log says '0001'"


def test_missing_and_extra_rows_and_a_count_of_all(sqlite_order: bool) -> None:
    stored = {"people": [(0, "x", b"\x00\x01", 3)], "pairs": [(1, 0, "n"), (2, 2, "forged")]}
    text, index = named(stored, sqlite_order)
    assert (text, index) == ("people: entry 1: the row pid=1 the log implies is missing "
                             "(2 differences in all)", 1)
    extra_only = {**STORED, "pairs": [(1, 0, "n"), (2, 2, "forged")]}
    got = named(extra_only, sqlite_order)
    assert got == ("pairs: stored row a=2, b=2 has no entry behind it", None)


def test_a_log_contradicting_itself_is_named_after_the_replay() -> None:
    twice = [*LOG, (4, Insert("pairs", {"a": 1, "b": 0, "note": "again"}))]
    with ProjectionAudit(SHAPES, {}) as projector:
        projector.add(projected(twice))  # no error yet: the replay may still find an earlier one
        with pytest.raises(VerificationError) as caught:
            projector.compare(lambda name: STORED[name])
    assert caught.value.index == 4
    assert "projects a row that an earlier entry already made" in caught.value.diagnostics()


def test_an_update_of_no_row_and_a_failing_projection() -> None:
    with ProjectionAudit(SHAPES, {}) as projector:
        projector.add(projected([(5, Update("people", {"pid": 9}, {"gone": 5}))]))
        with pytest.raises(VerificationError, match="entry 5 updates a row no entry made"):
            projector.compare(lambda name: STORED[name])
    with ProjectionAudit(SHAPES, {}) as projector:
        projector.add(Failure(7, "its projection fails (KeyError: 'x')"))
        projector.add(projected(LOG))  # ignored after the first problem
        with pytest.raises(VerificationError) as caught:
            projector.compare(lambda name: STORED[name])
    assert caught.value.index == 7


def test_project_rows_reads_the_leaf_and_skips_other_kinds() -> None:
    leaf = b'{"envelope":{"entry":{"body":{"n":"z"},"kind":"k"}},"prev":"00"}'

    def projection(index: int, entry: dict[str, Any]) -> list[Change]:
        return [Insert("people", {"pid": index, "name": entry["body"]["n"]})]

    plan = Plan({"k": projection}, COLUMNS)
    rows = [(4, leaf, b"", "k", "a"), (5, leaf, b"", "other", "a")]
    assert project_rows(rows, plan) == [("people", (4, "z", None, None, 4))]
    broken = [(6, b"{", b"", "k", "a")]
    failure = project_rows(broken, plan)
    assert isinstance(failure, Failure) and failure.entry == 6
    elsewhere = Plan({"k": lambda i, e: [Insert("secrets", {"x": 1})]}, COLUMNS)
    failure = project_rows(rows, elsewhere)
    assert isinstance(failure, Failure) and "writes secrets" in failure.text


def test_the_entry_is_cut_from_a_canonical_leaf_even_with_a_sig_key_inside() -> None:
    from ledger.audit.projections import _entry_of

    entry = {"body": {"a": 1, "sig": "inner"}, "kind": "k"}
    leaf = rfc8785.dumps({"envelope": {"entry": entry, "sig": "AAAA"}, "prev": "00" * 32})
    assert _entry_of(leaf, json.loads) == entry
    odd = json.dumps({"prev": "00", "envelope": {"sig": "AAAA", "entry": entry}}).encode()
    assert _entry_of(odd, json.loads) == entry  # not canonical: parsed whole
