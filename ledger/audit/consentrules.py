"""The consent rules every append obeys, whoever submits: the sequencer calls
``check_batch`` under its write lock, before the batch's projections are applied.

A consent.changed entry names registered images (earlier entries) or a subject that has an
earlier image and was not erased before it; a subject.erased entry names such a subject.
``verify`` replays the same rules (``ledger.consent.audit``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

from ledger.errors import PolicyError
from ledger.store import consent as db

CONSENT_KINDS = frozenset(("consent.changed", "subject.erased"))


def check_batch(conn: Connection, fresh: Sequence[tuple[int, dict[str, Any]]]) -> None:
    """PolicyError naming the first entry of ``fresh`` (index, entry) that breaks the rules."""
    if not any(entry["kind"] in CONSENT_KINDS for _, entry in fresh):
        return
    subjects: dict[str, int] = {}  # subject -> first image index, in this batch
    images: set[int] = set()
    erased: dict[str, int] = {}
    for index, entry in fresh:
        kind, body = entry["kind"], entry["body"]
        if kind == "image.registered":
            images.add(index)
            names = (body.get("image") or {}).get("pseudonyms") or {}
            if isinstance(names.get("PatientID"), str):
                subjects.setdefault(names["PatientID"], index)
        elif kind in CONSENT_KINDS:
            try:
                _check(conn, body, index=index, batch_subjects=subjects, batch_images=images,
                       batch_erased=erased)
            except PolicyError as exc:
                raise PolicyError(f"{kind} at entry {index}: {exc.message}") from None
            if kind == "subject.erased":
                erased[body["subject"]] = index


def _check(conn: Connection, body: dict[str, Any], *, index: int, batch_subjects: dict[str, int],
           batch_images: set[int], batch_erased: dict[str, int]) -> None:
    subject = body.get("subject")
    if subject is None:
        named = [int(i) for i in body.get("images") or []]
        stored = db.image_rows(conn, [i for i in named if i not in batch_images])
        missing = [i for i in named if i >= index or (i not in batch_images and i not in stored)]
        if missing:
            raise PolicyError(f"entry {missing[0]} is not a registered image")
        return
    if subject not in batch_subjects and not db.images_of_subject(conn, subject, upto=index - 1):
        raise PolicyError(f"unknown subject {subject}: no registered image names it")
    before = batch_erased.get(subject, db.erased_at(conn, [subject]).get(subject))
    if before is not None and before < index:
        raise PolicyError(f"subject erased at index {before}")
