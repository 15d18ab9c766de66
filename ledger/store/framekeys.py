"""Reads of ``frame_keys`` (ledger/store/frametables.py): the per-frame near-duplicate keys
of multi-frame images and their grids, for the index and the verification stage."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection, select, tuple_

from ledger.store.duplicates import CHUNK, KEYS_PER_IMAGE
from ledger.store.frametables import FrameKeyRow
from ledger.store.tables import DescriptorGridRow

_FRAMES = FrameKeyRow.__table__  # type: ignore[attr-defined]
_GRIDS = DescriptorGridRow.__table__  # type: ignore[attr-defined]
I64 = npt.NDArray[np.int64]


def frame_keys_between(
    conn: Connection, start: int, end: int
) -> tuple[I64, I64, npt.NDArray[np.uint64]]:
    """Per-frame keys of the images with ``start <= idx < end``: ids (n,), frames (n,),
    keys (n, 6), in (idx, frame) order."""
    rows = conn.execute(
        select(_FRAMES.c.idx, _FRAMES.c.frame, _FRAMES.c.dup_keys)
        .where(_FRAMES.c.idx >= start, _FRAMES.c.idx < end)
        .order_by(_FRAMES.c.idx, _FRAMES.c.frame)
    ).all()
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    frames = np.fromiter((r[1] for r in rows), dtype=np.int64, count=len(rows))
    blob = b"".join(bytes(r[2]) for r in rows)
    keys = np.frombuffer(blob, dtype="<u8").astype(np.uint64).reshape(len(rows), KEYS_PER_IMAGE)
    return ids, frames, keys


def frame_parts(
    conn: Connection, wanted: Iterable[tuple[int, int]]
) -> dict[tuple[int, int], tuple[bytes, str, bytes | None]]:
    """(idx, frame) -> (its keys, the grid digest its row holds, the grid or None when it is
    not held here)."""
    pairs: Sequence[tuple[int, int]] = sorted(set(wanted))
    out: dict[tuple[int, int], tuple[bytes, str, bytes | None]] = {}
    for start in range(0, len(pairs), CHUNK):
        part = pairs[start : start + CHUNK]
        query = (
            select(_FRAMES.c.idx, _FRAMES.c.frame, _FRAMES.c.dup_keys, _FRAMES.c.grid_sha256,
                   _GRIDS.c.grid)
            .select_from(_FRAMES.outerjoin(_GRIDS, _FRAMES.c.grid_sha256 == _GRIDS.c.grid_sha256))
            .where(tuple_(_FRAMES.c.idx, _FRAMES.c.frame).in_(part))
        )  # fmt: skip
        for idx, frame, keys, digest, grid in conn.execute(query):
            out[(int(idx), int(frame))] = (
                bytes(keys), str(digest), None if grid is None else bytes(grid),
            )  # fmt: skip
    return out


def frames_of(
    conn: Connection, idxs: Iterable[int]
) -> dict[int, list[tuple[int, bytes, bytes | None]]]:
    """idx -> [(frame, keys, grid or None)] of the images among ``idxs`` with frame rows."""
    wanted = sorted(set(idxs))
    out: dict[int, list[tuple[int, bytes, bytes | None]]] = {}
    for start in range(0, len(wanted), CHUNK):
        part = wanted[start : start + CHUNK]
        query = (
            select(_FRAMES.c.idx, _FRAMES.c.frame, _FRAMES.c.dup_keys, _GRIDS.c.grid)
            .select_from(_FRAMES.outerjoin(_GRIDS, _FRAMES.c.grid_sha256 == _GRIDS.c.grid_sha256))
            .where(_FRAMES.c.idx.in_(part))
            .order_by(_FRAMES.c.idx, _FRAMES.c.frame)
        )
        for idx, frame, keys, grid in conn.execute(query):
            out.setdefault(int(idx), []).append(
                (int(frame), bytes(keys), None if grid is None else bytes(grid))
            )
    return out
