"""The registered images' facts that reports show, each checked against its signed leaf.

``similar``, ``dups``, ``leakage``, ``overlap`` and ``composition`` print where images came
from (source, dataset, consent) as facts of the ledger. They read them from the
``images`` projection, which someone holding the database file can change. So every row
they are about to show is checked here first: its leaf's hash is recomputed and compared
with the stored one (the tree, checked by ``verify``, commits to that), and the row's
columns with what the leaf's entry projects. A difference is a VerificationError (exit 1)
naming table, entry and column; nothing tampered is shown as fact.

The same names as ``ledger.store.duplicates``, so callers only change their import.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict

from sqlalchemy import Connection

from ledger.errors import VerificationError
from ledger.log.hashing import leaf_hash
from ledger.projections import differing_columns
from ledger.store import duplicates
from ledger.store.duplicates import ImageInfo


def prove(conn: Connection, infos: Iterable[ImageInfo]) -> None:
    """Raise VerificationError unless every row matches its hashed, parsed leaf."""
    wanted = {info.idx: info for info in infos}
    leaves = duplicates.leaves_at(conn, wanted)
    for idx, info in sorted(wanted.items()):
        if idx not in leaves:
            raise VerificationError("the row has no entry behind it", subject="images",
                                    index=idx)
        leaf, stored_hash = leaves[idx]
        if leaf_hash(leaf) != stored_hash:
            raise VerificationError("the leaf does not have its stored hash; run medledger "
                                    "verify", index=idx)
        try:
            entry = json.loads(leaf)["envelope"]["entry"]
            differs = differing_columns(idx, entry, asdict(info))
        except (ValueError, KeyError, TypeError) as exc:
            raise VerificationError(f"malformed leaf ({exc}); run medledger verify",
                                    index=idx) from exc
        if differs:
            column = differs[0]
            raise VerificationError(
                f"entry {idx}, column {column}: stored {getattr(info, column, None)!r} differs "
                "from the signed entry; run medledger verify (or rebuild)", subject="images",
                index=idx)


def images(conn: Connection, idxs: Iterable[int]) -> dict[int, ImageInfo]:
    found = duplicates.images(conn, idxs)
    prove(conn, found.values())
    return found


def images_between(conn: Connection, start: int, end: int) -> list[ImageInfo]:
    found = duplicates.images_between(conn, start, end)
    prove(conn, found)
    return found


def images_with_pixels(conn: Connection, digests: Iterable[str]) -> dict[str, list[ImageInfo]]:
    found = duplicates.images_with_pixels(conn, digests)
    prove(conn, (info for infos in found.values() for info in infos))
    return found


def dataset_images(conn: Connection, name: str) -> list[ImageInfo]:
    found = duplicates.dataset_images(conn, name)
    prove(conn, found)
    return found
