"""One parse per leaf: the fast path hands the entries it parsed to ``project_rows``, which
must then project exactly what it projects from the leaves themselves."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ledger.audit.fastpath import summarize_signed
from ledger.audit.leaves import init_worker
from ledger.audit.projections import Plan, project_rows
from ledger.audit.replay import _check_and_project
from ledger.model.registry import DEFAULT_PROJECTIONS
from ledger.sourcelog import RULE_KINDS
from ledger.store.projected import columns_of
from ledger.store.tables import PROJECTION_TABLES

from .logmaker import LOG_ID, Log
from .test_audit_binding import with_images

PLAN = Plan(dict(DEFAULT_PROJECTIONS), {name: columns_of(name) for name in PROJECTION_TABLES},
            RULE_KINDS)


@pytest.fixture(scope="module")
def log() -> Log:
    return with_images([2, 2, 2, 2])  # keys at 0..5, then four image entries


def entry_of(leaf: bytes) -> Any:
    return json.loads(leaf)["envelope"]["entry"]


def test_the_fast_path_hands_back_every_entry_it_parsed(log: Log) -> None:
    rows = log.rows()[6:]
    entries: list[Any] = []
    assert summarize_signed(rows, log.public_keys, {}, log_id=LOG_ID, entries=entries)
    assert entries == [entry_of(leaf) for _, leaf, *_ in rows]


def test_rows_projected_from_the_handed_entries_are_the_leaves_rows(log: Log) -> None:
    rows = log.rows()[6:]
    entries = [entry_of(leaf) for _, leaf, *_ in rows]
    from_leaves = project_rows(rows, PLAN)
    assert isinstance(from_leaves, list)
    tables = [item[0] for item in from_leaves if isinstance(item[0], str)]
    assert tables.count("images") == 4  # one row per image entry (beside the kept entries)
    assert project_rows(rows, PLAN, entries=entries) == from_leaves


def test_entries_that_do_not_match_the_rows_one_for_one_are_refused(log: Log) -> None:
    rows = log.rows()[6:]
    with pytest.raises(ValueError, match="one parsed entry per row"):
        project_rows(rows, PLAN, entries=[entry_of(rows[0][1])])


def test_a_worker_projects_the_same_rows_with_and_without_the_fast_path(log: Log) -> None:
    """A chunk holding key entries is refused by the fast path (its entries list is then
    incomplete and unused): the rows come from the leaves, as for an intact chunk."""
    init_worker(log.public_keys, LOG_ID)
    rows = log.rows()
    intact, projected = _check_and_project(rows[6:], PLAN)
    leaf_by_leaf, whole = _check_and_project(rows, PLAN)
    assert not isinstance(intact, list)  # the fast path's summary
    assert isinstance(leaf_by_leaf, list)  # every leaf's facts
    assert isinstance(projected, list) and isinstance(whole, list)
    assert whole[-len(projected):] == projected
    assert projected == project_rows(rows[6:], PLAN)


def test_a_worker_that_cannot_read_the_file_sends_its_rows_back(log: Log, tmp_path: Any) -> None:
    """The range comparison in the worker needs the ledger's SQLite file; a file it cannot
    read leaves the chunk's rows to the main process (compared there, as before)."""
    from dataclasses import replace

    from ledger.audit.rangecheck import _READERS

    broken = tmp_path / "ledger.db"
    broken.write_bytes(b"not a database" * 100)
    plan = replace(PLAN, direct=frozenset({"images"}), database=str(broken))
    init_worker(log.public_keys, LOG_ID)
    rows = log.rows()[6:]
    try:
        _, projected = _check_and_project(rows, plan)
    finally:
        opened = _READERS.pop(str(broken), None)
        if opened is not None:
            opened.close()
    assert projected == project_rows(rows, PLAN)  # images rows included, none settled
