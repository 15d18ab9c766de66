"""Verify's check of the duplicate findings (``dup_edges``, ``dup_scans``).

Findings are not a function of the log alone (they come from the descriptor grids, a
side table the signed entries commit to by digest), so they cannot be rebuilt and
compared like a projection. Instead every stored row is re-proven from signed data:

* an exact edge needs equal pixel digests in the two signed entries;
* a near edge is verified again over the two grids, each first checked against the
  digest its signed entry commits to (a grid present with another digest is tamper;
  an absent grid was purged: reported, not tamper, and the edge is not re-verified);
* each image's ``group_idx`` must be what the edges imply (the earliest group among
  the images it duplicates, or its own index).

The ``images`` table is trusted here because the projection audit has just compared it
with the log. What this cannot prove: that a finding is absent which a scan would make
(a deleted near edge, a deleted scan row); ``medledger rebuild`` rescans for that.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from sqlalchemy import Connection

from ledger.errors import VerificationError
from ledger.fingerprint.descriptor import Descriptor
from ledger.similarity.catalog import descriptor_of
from ledger.similarity.findings import detail_frame
from ledger.similarity.verification import Thresholds, verify
from ledger.store.duplicates import Edge, all_edges, all_scans, committed_grids, images
from ledger.store.framekeys import frame_parts

_EDGES, _SCANS, _GRIDS = "dup_edges", "dup_scans", "descriptor_grids"


@dataclass
class FindingsReport:
    rows: int = 0  # edges and scan rows checked
    warnings: list[str] = field(default_factory=list)


def audit_findings(conn: Connection, *, thresholds: Thresholds) -> FindingsReport:
    """Raise VerificationError at the first finding signed data does not support."""
    report = FindingsReport()
    matches: dict[int, list[int]] = {}
    for edge in _checked_edges(conn, thresholds, report):
        matches.setdefault(edge.idx, []).append(edge.match_idx)
        report.rows += 1
    groups: dict[int, int] = {}  # only the images not in a group of their own
    scanned: set[int] = set()
    for idx, stored in all_scans(conn):
        implied = min([idx, *(groups.get(m, m) for m in matches.get(idx, ()))])
        if stored != implied:
            raise VerificationError(
                f"entry {idx}, column group_idx: stored {stored}, its edges imply {implied}",
                subject=_SCANS, index=idx)
        if implied != idx:
            groups[idx] = implied
        if idx in matches:
            scanned.add(idx)
        report.rows += 1
    for idx in sorted(set(matches) - scanned):
        raise VerificationError(f"entry {idx} has duplicate edges but no scan row",
                                subject=_EDGES, index=idx)
    return report


def _checked_edges(conn: Connection, thresholds: Thresholds,
                   report: FindingsReport) -> Iterator[Edge]:
    edges = list(all_edges(conn))
    info = images(conn, {i for e in edges for i in (e.idx, e.match_idx)})
    near = [e for e in edges if e.kind == "near"]
    grids = committed_grids(conn, [i for e in near for i in (e.idx, e.match_idx)])
    framed = frame_parts(conn, [(e.match_idx, f) for e in near
                                if (f := detail_frame(e.detail)) is not None])
    for edge in edges:
        where = f"entry {edge.idx}, edge to {edge.match_idx}"
        for end in (edge.idx, edge.match_idx):
            if end not in info:
                raise VerificationError(f"{where}: no image is registered at {end}",
                                        subject=_EDGES, index=edge.idx)
        if edge.match_idx >= edge.idx:
            raise VerificationError(f"{where}: an edge points to an earlier image",
                                    subject=_EDGES, index=edge.idx)
        same_pixels = info[edge.idx].pixel_sha256 == info[edge.match_idx].pixel_sha256
        if edge.kind == "exact":
            if not same_pixels:
                raise VerificationError(f"{where}: kind exact, but the signed pixel digests "
                                        "differ", subject=_EDGES, index=edge.idx)
        elif edge.kind == "near":
            _check_near(edge, where, _frame_grids(edge, grids, framed), thresholds, report)
        else:
            raise VerificationError(f"{where}: unknown kind {edge.kind!r}",
                                    subject=_EDGES, index=edge.idx)
        yield edge


def _frame_grids(edge: Edge, grids: dict[int, tuple[bytes, str, bytes | None]],
                 framed: dict[tuple[int, int], tuple[bytes, str, bytes | None]]
                 ) -> dict[int, tuple[bytes, str, bytes | None]]:
    """The two ends' grids, the earlier image's of the frame the edge names (issue 21)."""
    frame = detail_frame(edge.detail)
    if frame is None:
        return grids
    out = {edge.idx: grids[edge.idx]} if edge.idx in grids else {}
    if (edge.match_idx, frame) in framed:
        out[edge.match_idx] = framed[(edge.match_idx, frame)]
    return out


def _check_near(edge: Edge, where: str, grids: dict[int, tuple[bytes, str, bytes | None]],
                thresholds: Thresholds, report: FindingsReport) -> None:
    descriptors: list[Descriptor] = []
    for end in (edge.match_idx, edge.idx):
        if end not in grids:
            frame = detail_frame(edge.detail) if end == edge.match_idx else None
            what = "descriptor" if frame is None else f"descriptor of frame {frame}"
            raise VerificationError(f"{where}: kind near, but entry {end} signed no {what}",
                                    subject=_EDGES, index=edge.idx)
        keys, digest, grid = grids[end]
        if grid is None:
            report.warnings.append(f"{_EDGES}: {where}: the grid of entry {end} was purged; "
                                   "the near edge is not re-verified")
            return
        if hashlib.sha256(grid).hexdigest() != digest:
            raise VerificationError(f"the grid stored under {digest[:16]} (entry {end}) does "
                                    "not have that digest", subject=_GRIDS, index=end)
        descriptors.append(descriptor_of(keys, grid))
    stored, query = descriptors
    if verify(stored, query, thresholds=thresholds).matched:
        return
    if verify(stored, query, thresholds=thresholds, inverted=True).matched:
        return
    raise VerificationError(f"{where}: kind near, but the two images' grids do not verify "
                            "as near duplicates", subject=_EDGES, index=edge.idx)
