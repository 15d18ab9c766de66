"""The member list's root from stored rows equals the model's ``members_root`` over records."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.datasets.memberroot import root_of_rows
from ledger.model.datasets import members_root

_COLUMNS = ("entry", "file_sha256", "file_size", "pixel_sha256", "pixel_form", "encoding", "path")


def _rows(count: int) -> list[tuple[Any, ...]]:
    paths = [None, "a/b.png", 'q"uote\\back.dcm', "ünï/çødé.png", "tab\there"]
    return [(3 * n + 1, f"{n:064x}", 1000 + n, f"{n + 7:064x}", "|u1 1x8x8x1",
             "png" if n % 2 else "1.2.840.10008.1.2.1", paths[n % len(paths)])
            for n in range(count)]  # fmt: skip


@pytest.mark.parametrize("count", [1, 2, 5, 17])
def test_the_root_of_rows_equals_the_root_of_their_records(count: int) -> None:
    rows = _rows(count)
    records = [{k: v for k, v in zip(_COLUMNS, row, strict=True) if v is not None}
               for row in rows]  # fmt: skip
    entries, root = root_of_rows(rows)
    assert entries == [r[0] for r in rows]
    assert root == members_root(records)


def test_any_changed_column_changes_the_root() -> None:
    rows = _rows(6)
    _, root = root_of_rows(rows)
    for column in range(1, len(_COLUMNS)):
        changed = list(rows)
        row = list(changed[3])
        row[column] = 2000 if column == 2 else "other"
        changed[3] = tuple(row)
        assert root_of_rows(changed)[1] != root, _COLUMNS[column]


@pytest.mark.parametrize("entries", [[2, 1], [1, 1], ["1", 2]])
def test_unsorted_repeated_or_non_integer_entries_are_refused(entries: list[Any]) -> None:
    rows = [(e, *_rows(1)[0][1:]) for e in entries]
    with pytest.raises(ValueError, match="sorted"):
        root_of_rows(rows)
