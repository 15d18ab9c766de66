"""A stored member list's root straight from its rows, for commands that read 100,000 of them.

The same leaf bytes as ``ledger.model.datasets.member_leaf`` (RFC 8785 of the record, keys in
order, ``path`` left out when there is none), built from the row tuple without a record dict
and a key sort per member; a unit test holds the two equal.
"""

from __future__ import annotations

from collections.abc import Sequence
from hashlib import sha256
from typing import Any

import orjson

from ledger.log.hashing import LEAF_PREFIX
from ledger.log.tree import root_of_leaf_hashes


def root_of_rows(rows: Sequence[Sequence[Any]]) -> tuple[list[int], str]:
    """(entry indexes, hex RFC 9162 root) of member rows (entry, file_sha256, file_size,
    pixel_sha256, pixel_form, encoding, path) sorted by entry; ValueError if they are not
    sorted without repeats or an entry is not an integer (a forged row)."""
    entries: list[int] = []
    hashes: list[bytes] = []
    last = -1
    for entry, file_sha256, file_size, pixel_sha256, pixel_form, encoding, path in rows:
        if not isinstance(entry, int) or entry <= last:
            raise ValueError("member records must be sorted by entry index, without repeats")
        last = entry
        record: dict[str, Any] = {"encoding": encoding, "entry": entry,
                                  "file_sha256": file_sha256, "file_size": file_size}
        if path is not None:
            record["path"] = path
        record["pixel_form"] = pixel_form
        record["pixel_sha256"] = pixel_sha256
        entries.append(entry)
        hashes.append(sha256(LEAF_PREFIX + orjson.dumps(record)).digest())
    return entries, root_of_leaf_hashes(hashes).hex()
