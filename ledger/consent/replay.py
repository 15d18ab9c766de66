"""Effective consent of given images, replayed from signed entries (a bundle's or a ledger's).

The same rule as the audited consent projections (docs/consent.md): an image's consent is
the latest ``consent.changed`` naming the image or its subject, whichever is later
(``State.latest`` over both); a ``subject.erased`` entry ends it for every image of that
subject. Callers hand in entries whose leaves they have checked; nothing here reads a table.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ledger.consent.history import Event, State, targets_of
from ledger.model.consent import image_target

CONSENT_KINDS = ("consent.changed", "subject.erased")


@dataclass(frozen=True)
class Ended:
    """An image whose consent is withdrawn or whose subject is erased."""

    image: int
    status: str  # "withdrawn" or "erased"
    since: int  # the entry that decided it

    def to_json(self) -> dict[str, Any]:
        return {"entry": self.image, "status": self.status, "since": self.since}


def subject_of(entry: Mapping[str, Any]) -> str | None:
    """The subject pseudonym an image.registered entry names (None for a photo)."""
    names = ((entry.get("body") or {}).get("image") or {}).get("pseudonyms") or {}
    subject = names.get("PatientID")
    return subject if isinstance(subject, str) else None


def ended(entries: Iterable[tuple[int, Mapping[str, Any]]], subjects: Mapping[int, str | None]
          ) -> list[Ended]:  # fmt: skip
    """The images of ``subjects`` (image index -> subject or None) whose consent the consent
    entries among ``entries`` (index, entry) end, in image order."""
    found: dict[str, list[Event]] = {}
    erased: dict[str, int] = {}
    for index, entry in sorted(entries, key=lambda item: item[0]):
        kind, body = entry.get("kind"), entry.get("body") or {}
        if kind == "subject.erased":
            erased.setdefault(str(body.get("subject")), index)
        elif kind == "consent.changed":
            for target in targets_of(body):
                found.setdefault(target, []).append(Event(
                    index, str(entry.get("time")), str(entry.get("actor")), target,
                    str(body.get("status")), tuple(body.get("scope") or ()), body.get("reason")))
    out = []
    for image, subject in sorted(subjects.items()):
        if subject is not None and subject in erased:
            out.append(Ended(image, "erased", erased[subject]))
            continue
        mine = found.get(image_target(image), []) + (found.get(subject, []) if subject else [])
        state = State.latest(mine)
        if state.status == "withdrawn" and state.since is not None:
            out.append(Ended(image, "withdrawn", state.since))
    return out
