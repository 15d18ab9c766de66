"""HTML pages of similarity results: what dups, leakage and composition write with --html.

The pages are rendered by :mod:`ledger.reports` (pure HTML, no database); the pictures come
from the stored grids of registered images and from decoding files again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from ledger.errors import LedgerError
from ledger.imaging.decode import decode
from ledger.imaging.limits import DecodeLimits
from ledger.imaging.render import render
from ledger.reports import (
    CompositionShare,
    ReportImage,
    composition_report,
    dups_report,
    leakage_report,
    thumbnail_data_uri,
)
from ledger.similarity.groups import Groups, explain, short
from ledger.similarity.sets import ImageSet, Link, Member

if TYPE_CHECKING:  # datasketch: imported when a composition is computed, not at startup
    from ledger.similarity.composition import Composition, Matched

THUMB = 128  # px on a report thumbnail's long side
GRID_NOTE = "registered images show their stored 32 x 32 grid: the ledger keeps no picture"
GROUPING_NOTE = (
    "every two images of a group were verified as duplicates of each other (complete "
    "linkage): a group never joins images only through a third"
)


class Pictures:
    """Report thumbnails: a registered image's stored grid, a file's own rendering.

    A file is decoded again only when it appears in a report; one that no longer
    decodes shows the report's placeholder, with the reason among its captions.
    """

    def __init__(self, limits: DecodeLimits | None = None) -> None:
        self.limits = limits or DecodeLimits()
        self._made: dict[str, tuple[str | None, str | None]] = {}

    def of(self, member: Member) -> tuple[str | None, str | None]:
        """(data URI or None, why there is none)."""
        key = f"{member.idx}:{member.label}"
        if key not in self._made:
            self._made[key] = self._make(member)
        return self._made[key]

    def _make(self, member: Member) -> tuple[str | None, str | None]:
        if member.idx is not None:
            if member.descriptor is None:
                return None, "no picture stored"
            return thumbnail_data_uri(member.descriptor.array, size=THUMB), None
        try:
            # The whole canonical rendering, reduced by area averaging with its aspect
            # kept (render.thumbnail would squeeze it into a square).
            pixels = render(decode(Path(member.label), limits=self.limits))
            return thumbnail_data_uri(pixels, size=THUMB), None
        except LedgerError as exc:
            return None, f"no picture: {exc.diagnostics()}"


def captions(member: Member, why: str | None) -> tuple[str, ...]:
    lines: list[str] = []
    if member.info is not None:
        i = member.info
        lines += [f"entry {i.idx}", f"source: {i.source}"]
        if i.dataset:
            lines.append(f"dataset: {i.dataset}")
        lines += [f"registered {i.registered}", f"consent: {i.consent}"]
    if why:
        lines.append(why)
    return tuple(lines)


def report_image(pictures: Pictures, member: Member, *lines: str) -> ReportImage:
    thumb, missing = pictures.of(member)
    return ReportImage(member.label, thumb, captions(member, missing) + tuple(lines))


def dups_page(image_set: ImageSet, groups: Groups, *, generated: str, pictures: Pictures) -> str:
    m = image_set.members
    rows = []
    for group in groups:
        reached = group.reached_by()
        row = []
        for i in group.members:
            link = reached.get(i)
            lines: tuple[str, ...] = ("representative",) if i == group.representative else ()
            if link is not None:
                lines = (f"duplicate of {short(m[group.representative])}", explain(link))
            row.append(report_image(pictures, m[i], *lines))
        rows.append(row)
    notes = [*_notes(image_set), GROUPING_NOTE]
    notes += [GRID_NOTE] if image_set.registered else []
    return dups_report(
        f"Duplicates in {image_set.name}",
        rows,
        generated=generated,
        notes=notes,
        pairs=[[_pair_row(image_set, x) for x in g.links] for g in groups],
        between=[_pair_row(image_set, x) for x in groups.other],
    )


def _pair_row(image_set: ImageSet, link: Link) -> tuple[str, str, str]:
    m = image_set.members
    return (m[link.a].label, m[link.b].label, explain(link))


def leakage_page(
    train: ImageSet, test: ImageSet, pairs: Sequence[Link], *, generated: str, pictures: Pictures
) -> str:
    rows = [
        (
            report_image(pictures, train.members[x.a]),
            report_image(pictures, test.members[x.b]),
            explain(x),
        )
        for x in pairs
    ]
    notes = [f"train: {n}" for n in _notes(train)] + [f"test: {n}" for n in _notes(test)]
    if train.registered or test.registered:
        notes.append(GRID_NOTE)
    return leakage_report(
        f"Leakage from {train.name} into {test.name}", rows, generated=generated, notes=notes
    )


def _notes(image_set: ImageSet) -> list[str]:
    kind = "registered dataset" if image_set.registered else "files"
    notes = [f"{image_set.name} ({kind}): {len(image_set.members)} images compared"]
    if image_set.refused:
        notes.append(f"{len(image_set.refused)} files refused and not compared")
    return notes


def composition_page(result: Composition) -> str:
    """The self-contained HTML report of a composition."""
    shares = [
        CompositionShare(
            s.name,
            s.kind,
            s.share,
            s.images,
            tuple(_matched_row(m) for m in s.matched),
        )
        for s in result.shares
    ]
    notes = [
        "An image counts for a source or dataset when one of its images, registered before "
        "it and not part of this dataset, was verified as an exact or near duplicate of it "
        "directly (never through a third image)."
    ]
    return composition_report(
        f"Composition of {result.target.name}",
        shares,
        result.unseen_share,
        result.total,
        generated=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        notes=notes,
    )


def _matched_row(m: Matched) -> tuple[str, str, str]:
    return (m.image, f"entry {m.entry} ({m.digest})", f"{m.kind}: {m.detail}")
