"""What a projection makes of one entry: row changes, as plain values.

A projection is a pure function of (entry index, entry). The sequencer applies its
changes to the database in the entry's transaction; ``verify`` applies the same
changes to a scratch database and compares; ``rebuild`` applies them to empty
tables. One function, three uses, so no table can drift from the log unnoticed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple


class Insert(NamedTuple):
    """A new row of ``table`` (every column by name)."""

    table: str
    values: dict[str, Any]


class Update(NamedTuple):
    """Set ``values`` on the row of ``table`` whose primary key is ``key``."""

    table: str
    key: dict[str, Any]
    values: dict[str, Any]


Change = Insert | Update
Projection = Callable[[int, dict[str, Any]], list[Change]]
Projections = Mapping[str, Projection]  # entry kind -> its projection
