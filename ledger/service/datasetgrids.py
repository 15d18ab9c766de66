"""Descriptor grids of registered images, each checked against its own signed leaf.

A grid is side data (a 32 x 32 picture kept by the repository); the image's signed
``image.registered`` leaf holds its index keys and the grid's SHA-256. A grid is used only
when the leaf hashes to the stored leaf hash, registers the pixels the caller expects, and
names that grid digest and those keys; an image whose grid is absent (purged) has none.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

from ledger.errors import VerificationError
from ledger.fingerprint.descriptor import Descriptor
from ledger.log.hashing import leaf_hash
from ledger.model.images import DUP_GRID
from ledger.service.ledger import Ledger
from ledger.similarity.catalog import descriptor_of
from ledger.store import reading
from ledger.store.duplicates import descriptor_parts, leaves_at


def checked_grids(ledger: Ledger, pixels: Mapping[int, str | None]) -> dict[int, Descriptor]:
    """entry index -> its descriptor, for the images of ``pixels`` (index -> the pixel digest
    its leaf must register, or None for any) whose grid this ledger holds."""
    with reading(ledger.store.engine) as conn:
        leaves = leaves_at(conn, list(pixels))
        parts = descriptor_parts(conn, list(pixels))
    out: dict[int, Descriptor] = {}
    for index, expected in pixels.items():
        if index not in leaves or index not in parts or parts[index][1] is None:
            continue
        leaf, stored = leaves[index]
        if leaf_hash(leaf) != stored:
            raise VerificationError("stored leaf does not hash to its leaf hash", index=index)
        entry = json.loads(leaf)["envelope"]["entry"]
        image = (entry.get("body") or {}).get("image") or {}
        if entry.get("kind") != "image.registered" or (
                expected is not None and image.get("pixel_sha256") != expected):
            continue  # another log's entry at this index: not this image
        reference = (image.get("fingerprints") or {}).get(DUP_GRID)
        keys, grid = parts[index]
        if reference is None or grid is None:
            continue
        descriptor = descriptor_of(keys, grid)
        if (hashlib.sha256(grid).hexdigest() != reference["grid_sha256"]
                or [f"{k:016x}" for k in descriptor.keys] != reference["keys"]):
            raise VerificationError("the stored descriptor grid is not the one its entry "
                                    "signs; run medledger verify", index=index)
        out[index] = descriptor
    return out


def same_log(ledger: Ledger, origin: str, verifier_key: str) -> bool:
    return ledger.origin == origin and ledger.verifier.vkey == verifier_key

