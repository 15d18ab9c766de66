"""Edges that DICOM headers already state, recorded at registration with no extra input.

A registered DICOM file whose Source Image Sequence names (by pseudonym) the SOP Instance
UID of a registered image (registered before it, or in the same batch) gets an inferred
image.derived entry from that image's earliest registration, appended right after the
batch that registered it, with the file's Derivation Code Sequence codes. An edge the rules
refuse (a pair of headers naming each other: a cycle) is skipped, the others kept. The
pseudonym strings are compared as the entries hold them, never recomputed: however they
are keyed, equal UIDs of one subject give equal strings.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Sequence
from typing import Any

from ledger.errors import PolicyError
from ledger.model.derivations import CODE_PATTERN, MAX_CODES
from ledger.service.ledger import Ledger
from ledger.store import reading
from ledger.store.derivations import edge_between, images_by_sop_uid

_CODE = re.compile(CODE_PATTERN)


def infer_edges(ledger: Ledger, registered: Sequence[tuple[int, dict[str, Any]]], *,
                key: str) -> list[int]:
    """For each newly registered (entry index, image facts), the inferred edges to the
    images its Source Image Sequence names; returns the new entries' indexes."""
    wanted = {idx: [u for u in (facts.get("pseudonyms") or {}).get("SourceImageSequence") or []
                    if isinstance(u, str)] for idx, facts in registered}
    uids = sorted({u for found in wanted.values() for u in found})
    if not uids:
        return []
    bodies = []
    with reading(ledger.store.engine) as conn:
        parents = images_by_sop_uid(conn, uids)
        for idx, facts in registered:
            for uid in dict.fromkeys(wanted[idx]):
                # The source's earliest registration, before or after the child in its
                # batch: both precede the derived entry, which is all the rules ask.
                earlier = [p for p in parents.get(uid, []) if p != idx]
                if not earlier or edge_between(conn, earlier[0], idx) is not None:
                    continue
                leaf, _ = ledger.store.leaf(conn, earlier[0])
                image = json.loads(leaf)["envelope"]["entry"]["body"]["image"]
                codes = (facts.get("metadata") or {}).get("DerivationCodeSequence") or []
                bodies.append({
                    "parent": {"index": earlier[0], "file_sha256": image["file_sha256"],
                               "pixel_sha256": image["pixel_sha256"]},
                    "child": {"index": idx, "file_sha256": facts["file_sha256"],
                              "pixel_sha256": facts["pixel_sha256"]},
                    "steps": [],
                    "inferred": True,
                    "codes": sorted({c for c in codes
                                     if isinstance(c, str) and _CODE.fullmatch(c)})[:MAX_CODES],
                })
    if not bodies:
        return []
    signing = ledger.signing_key(key)
    envelopes = [ledger.sign("image.derived", body, key=signing) for body in bodies]
    try:
        return [r.index for r in ledger.submit(envelopes) if not r.existing]
    except PolicyError:  # a header that closes a cycle: keep the others, skip that one
        made = []
        for envelope in envelopes:
            with contextlib.suppress(PolicyError):
                made += [r.index for r in ledger.submit([envelope]) if not r.existing]
        return made


__all__ = ["infer_edges"]
