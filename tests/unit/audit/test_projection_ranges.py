"""Tables keyed by entry index, compared chunk by chunk against the stored index range
(no scratch file), and the entries kept for the source and dataset rules."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.audit.projections import (
    Kept,
    Plan,
    ProjectionAudit,
    RowUpdate,
    TableShape,
    project_rows,
)
from ledger.errors import VerificationError
from ledger.model.projection import Change, Insert, Update
from ledger.sourcelog import audit_source_rules

SHAPES = [
    TableShape("shots", ("idx", "name"), ("idx",)),
    TableShape("people", ("pid", "name"), ("pid",)),
]
# Two chunks: entries 0..2 and 3..5; entries 1 and 4 make no shots row.
CHUNKS = [
    ((0, 2), [("shots", (0, "a", 0)), ("shots", (2, "c", 2))]),
    ((3, 5), [("shots", (3, "d", 3)), ("people", (7, "p", 4)), ("shots", (5, "f", 5))]),
]
STORED = {"shots": [(0, "a"), (2, "c"), (3, "d"), (5, "f")], "people": [(7, "p")]}


def audit(stored: dict[str, list[tuple[Any, ...]]],
          chunks: list[tuple[tuple[int, int], list[Any]]] = CHUNKS) -> None:
    def stored_range(name: str, low: int, high: int) -> list[tuple[Any, ...]]:
        return [row for row in stored[name] if low <= row[0] <= high]

    with ProjectionAudit(SHAPES, {}, stored_range=stored_range) as projector:
        for span, changes in chunks:
            projector.add(changes, span)
        projector.compare(lambda name: iter(stored[name]), sqlite_order=True)
        assert projector.rows == 5


def named(stored: dict[str, list[tuple[Any, ...]]]) -> tuple[str, int | None]:
    with pytest.raises(VerificationError) as caught:
        audit(stored)
    return caught.value.diagnostics(), caught.value.index


def test_equal_tables_pass() -> None:
    audit(STORED)


def test_a_changed_column_in_a_later_chunk_is_named() -> None:
    stored = {**STORED, "shots": [(0, "a"), (2, "c"), (3, "d"), (5, "evil")]}
    assert named(stored) == ("shots: entry 5, column name: stored 'evil', the log says 'f'", 5)


def test_a_missing_row_and_an_extra_row_inside_the_range_are_counted() -> None:
    stored = {**STORED, "shots": [(0, "a"), (1, "forged"), (3, "d"), (5, "f")]}
    text, index = named(stored)
    assert (text, index) == ("shots: entry 2: the row idx=2 the log implies is missing "
                             "(2 differences in all)", 2)


def test_stored_rows_outside_every_chunk_have_no_entry_behind_them() -> None:
    for forged in (9, -1):
        stored = {**STORED, "shots": sorted([*STORED["shots"], (forged, "x")])}
        assert named(stored) == (f"shots: stored row idx={forged} has no entry behind it", None)


def test_a_row_not_keyed_by_its_own_entry_or_updated_is_named() -> None:
    wrong = [((0, 2), [("shots", (1, "a", 0))])]
    with pytest.raises(VerificationError, match="writes shots row idx=1, not its own index"):
        audit(STORED, wrong)
    updated = [((0, 2), [("shots", (0, "a", 0))]),
               ((3, 5), [Update("shots", {"idx": 0}, {"name": "b"})])]
    from ledger.audit.projections import RowUpdate

    updates = [(span, [c if not isinstance(c, Update) else RowUpdate(4, c) for c in changes])
               for span, changes in updated]
    with pytest.raises(VerificationError, match="entry 4: its projection updates shots"):
        audit(STORED, updates)


def test_kept_kinds_come_back_slimmed_in_order() -> None:
    image = (b'{"envelope":{"entry":{"actor":"k1","body":{"dataset":"d@1","license":"x",'
             b'"source":"s"},"kind":"image.registered"},"sig":"AA"},"prev":"00"}')
    other = b'{"envelope":{"entry":{"actor":"k1","body":{"n":1},"kind":"note"},"sig":"AA"}}'

    def projection(index: int, entry: dict[str, Any]) -> list[Change]:
        return [Insert("shots", {"idx": index, "name": entry["body"]["source"]})]

    plan = Plan({"image.registered": projection}, {"shots": ("idx", "name")},
                frozenset({"image.registered", "note"}))
    rows = [(0, image, b"", "image.registered", "k1"), (1, other, b"", "note", "k1"),
            (2, b"{", b"", "note", "k1")]
    assert project_rows(rows, plan) == [
        Kept(0, "image.registered", {"actor": "k1", "kind": "image.registered",
                                     "body": {"source": "s", "dataset": "d@1"}}),
        ("shots", (0, "s", 0)),
        Kept(1, "note", {"actor": "k1", "body": {"n": 1}, "kind": "note"}),
        Kept(2, "note", None),  # the replay names such a leaf first
    ]


def test_rules_name_an_unparsed_leaf_and_an_unknown_signer() -> None:
    with pytest.raises(VerificationError, match="malformed leaf") as caught:
        audit_source_rules([(3, "image.registered", None)])
    assert caught.value.index == 3
    entry = {"actor": "ab" * 32, "kind": "image.registered", "body": {"source": "s"}}
    with pytest.raises(VerificationError, match="entry signed by unknown key abababab"):
        audit_source_rules([(4, "image.registered", entry)])
    assert audit_source_rules([]) == 0


# --- the same comparison done where the chunk was projected (``rangecheck.settle``) ----------


def settled_audit(stored: dict[str, list[tuple[Any, ...]]],
                  chunks: list[tuple[tuple[int, int], list[Any]]] = CHUNKS) -> None:
    """``audit``, but each chunk's shots rows compared by ``settle`` first, as a worker does."""
    from ledger.audit.rangecheck import settle

    def stored_range(name: str, low: int, high: int) -> list[tuple[Any, ...]]:
        return [row for row in stored[name] if low <= row[0] <= high]

    plan = Plan({}, {s.name: s.columns for s in SHAPES}, direct=frozenset({"shots"}))
    with ProjectionAudit(SHAPES, {}, stored_range=stored_range) as projector:
        for span, changes in chunks:
            projector.add(settle(changes, plan, span, stored_range), span)
        projector.compare(lambda name: iter(stored[name]), sqlite_order=True)
        assert projector.rows == 5


def both(stored: dict[str, list[tuple[Any, ...]]],
         chunks: list[tuple[tuple[int, int], list[Any]]] = CHUNKS) -> tuple[str, int | None]:
    found = []
    for run in (audit, settled_audit):
        with pytest.raises(VerificationError) as caught:
            run(stored, chunks)
        found.append((caught.value.diagnostics(), caught.value.index))
    assert found[0] == found[1]
    return found[0]


def test_settled_chunks_name_what_the_main_process_names() -> None:
    settled_audit(STORED)
    assert both({**STORED, "shots": [(0, "a"), (2, "c"), (3, "d"), (5, "evil")]}) == (
        "shots: entry 5, column name: stored 'evil', the log says 'f'", 5)
    assert both({**STORED, "shots": [(0, "a"), (1, "forged"), (3, "d"), (5, "f")]}) == (
        "shots: entry 2: the row idx=2 the log implies is missing (2 differences in all)", 2)
    assert both({**STORED, "shots": [*STORED["shots"], (9, "x")]}) == (
        "shots: stored row idx=9 has no entry behind it", None)


def test_a_settled_chunk_sends_back_counts_not_rows() -> None:
    from ledger.audit.projections import Settled
    from ledger.audit.rangecheck import settle

    plan = Plan({}, {s.name: s.columns for s in SHAPES}, direct=frozenset({"shots"}))
    span, changes = CHUNKS[1]
    kept = Kept(4, "note", None)
    out = settle([*changes, kept], plan, span, lambda name, low, high: [(3, "d"), (5, "f")])
    assert out == [("people", (7, "p", 4)), kept, Settled("shots", 2, ())]


def test_a_wrong_row_ends_a_settled_chunk_after_the_changes_before_it() -> None:
    """The main process applies the changes before it (an earlier error there still wins),
    then raises what it would have raised for the row itself."""
    from ledger.audit.projections import Failure
    from ledger.audit.rangecheck import settle

    plan = Plan({}, {s.name: s.columns for s in SHAPES}, direct=frozenset({"shots"}))
    changes = [("people", (7, "p", 3)), ("shots", (1, "d", 4)), ("shots", (5, "f", 5))]
    out = settle(changes, plan, (3, 5), lambda name, low, high: [])
    assert out == [("people", (7, "p", 3)),
                   Failure(4, "entry 4: its projection writes shots row idx=1, not its own "
                              "index", "shots")]
    assert both(STORED, [CHUNKS[0], ((3, 5), changes)])[1] == 4
    updated = [RowUpdate(4, Update("shots", {"idx": 0}, {"name": "b"}))]
    assert both(STORED, [CHUNKS[0], ((3, 5), updated)]) == (
        "shots: entry 4: its projection updates shots, whose rows no entry updates", 4)
