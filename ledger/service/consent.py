"""The consent use cases: set, show, impact, erase; subjects named without raw identifiers.

A subject is named by the pseudonym registration wrote (``pseudonyms.PatientID``), by a
registered image of theirs (entry index or file), or by a Patient ID read from a file or
stdin (never argv) that is turned into the subject's lookup tag here and forgotten.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from ledger.consent.history import Event, State, check_subjects, events, subject_images
from ledger.consent.scope import scope_codes
from ledger.errors import InputError, PolicyError, show_path
from ledger.imaging.pseudonym import pseudonym, subject_tag
from ledger.lineage import graph
from ledger.model.consent import REASONS, STATUSES, SUBJECT_PATTERN, image_target
from ledger.model.registry import kind_spec
from ledger.sequencer import Appended
from ledger.service.ledger import Ledger
from ledger.store import consent as db
from ledger.store import reading

Descendants = Callable[[Any, list[int]], list[int]]


@dataclass(frozen=True)
class Target:
    """What a command is about: a subject, or one image (and its subject, if any)."""

    subject: str | None
    image: int | None = None

    def describe(self) -> str:
        return f"image {self.image}" if self.image is not None else f"subject {self.subject}"


def read_patient_id(path: Path | None, *, stdin: Callable[[], str]) -> str:
    """A Patient ID from a file, or stdin for ``-``; the value is never echoed."""
    try:
        text = stdin() if path is None or str(path) == "-" else path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        where = show_path(path or "-")
        raise InputError(f"{where}: cannot read the Patient ID ({type(exc).__name__})") from None
    value = text.strip("\r\n")
    if not value or "\n" in value:
        raise InputError(f"{show_path(path or '-')}: expected one Patient ID on one line")
    return value


def subject_of_patient_id(ledger: Ledger, patient_id: str, *, issuer: str = "") -> str:
    """The subject pseudonym of a Patient ID (per-subject key, else a v1 pseudonym)."""
    secret = ledger.dir.secret()
    tag = subject_tag(secret, "patient-id", f"{issuer}\x00{patient_id}")
    with reading(ledger.store.engine) as conn:
        found = db.keys_by_tag(conn, [tag])
        if tag in found:
            return found[tag][0]
        legacy = pseudonym(secret, "patient-id", f"{issuer}\x00{patient_id}")
        if db.subject_known(conn, legacy):
            return legacy
    raise InputError("no registered subject has this Patient ID (or the subject was erased)")


def resolve_target(ledger: Ledger, ref: str) -> Target:
    """SUBJECT pseudonym, IMAGE entry index, or an image file that is registered."""
    with reading(ledger.store.engine) as conn:
        if re.fullmatch(SUBJECT_PATTERN, ref):
            if not db.subject_known(conn, ref):
                raise InputError(f"unknown subject {ref}: no registered image names it")
            return Target(ref)
        if ref.isdigit():
            index = int(ref)
        else:
            path = Path(ref)
            if not path.is_file():
                raise InputError(f"{show_path(ref)}: not a subject pseudonym, an entry index or "
                                 "a registered image file")
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            rows = ledger.store.images_by_digest(conn, digest)
            if not rows:
                raise InputError(f"{show_path(ref)}: not registered in this ledger")
            index = rows[0].idx
        row = db.image_rows(conn, [index]).get(index)
        if row is None:
            raise InputError(f"entry {index} is not a registered image")
        return Target(row["subject"], index)


# --- set -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ConsentSet:
    index: int
    target: str
    status: str
    scope: list[str]

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "target": self.target, "status": self.status,
                "scope": self.scope}  # fmt: skip


def set_consent(
    ledger: Ledger,
    *,
    subject: str | None,
    images: Sequence[str],
    status: str,
    scope: Sequence[str] = (),
    reason: str | None = None,
    key: str,
) -> ConsentSet:
    """Append a signed consent.changed entry; refused (exit 2) for a key without the role,
    an unknown subject, an erased one, or an index that is not a registered image."""
    if status not in STATUSES:
        raise InputError(f"--status {status!r} is not one of: " + ", ".join(STATUSES))
    if reason is not None and reason not in REASONS:
        raise InputError(f"--reason {reason!r} is not one of: " + ", ".join(REASONS))
    if (subject is None) == (not images):
        raise InputError("name the subject (--subject) or images, not both and not neither")
    _check_role(ledger, key, "consent.changed")
    body: dict[str, Any] = {"status": status, "scope": scope_codes(scope)}
    if reason is not None:
        body["reason"] = reason
    if subject is not None:
        body["subject"] = resolve_target(ledger, subject).subject or _no_subject(subject)
    else:
        body["images"] = sorted({_image_index(ledger, ref) for ref in images})
    signer = ledger.signing_key(key)
    envelope = ledger.sign("consent.changed", body, key=signer)
    with reading(ledger.store.engine) as conn:
        check_consent_targets(conn, body)  # a clear line before the lock...
    results = ledger.submit([envelope])  # ...and the sequencer again, under its lock
    target = body.get("subject") or ",".join(map(image_target, body["images"]))
    return ConsentSet(results[0].index, target, status, body["scope"])


def _no_subject(ref: str) -> str:
    raise InputError(f"{ref}: this image has no subject (not a DICOM file with a patient)")


def _image_index(ledger: Ledger, ref: str) -> int:
    target = resolve_target(ledger, ref)
    if target.image is None:
        raise InputError(f"{ref}: name images by entry index or file; subjects with --subject")
    return target.image


def check_consent_targets(conn: Connection, body: dict[str, Any]) -> None:
    """PolicyError unless the entry's targets are registered images or a live subject."""
    subject = body.get("subject")
    if subject is not None:
        if not db.subject_known(conn, subject):
            raise PolicyError(f"unknown subject {subject}: no registered image names it")
        erased = db.erased_at(conn, [subject])
        if subject in erased:
            raise PolicyError(f"subject erased at index {erased[subject]}")
        return
    found = db.image_rows(conn, body["images"])
    missing = [i for i in body["images"] if i not in found]
    if missing:
        raise PolicyError(f"entry {missing[0]} is not a registered image")


def _check_role(ledger: Ledger, key: str, kind: str) -> None:
    info = ledger.key_info(key)
    allowed = kind_spec(kind, ledger.kinds).roles
    if info.role not in allowed:
        raise PolicyError(f"key {key} has role {info.role}; {kind} needs one of "
                          + ", ".join(sorted(allowed)))


# --- show ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ConsentShown:
    target: Target
    at: int | str | None
    history: list[Event]
    state: State  # the subject's (subject target) or the image's effective state
    images: list[dict[str, Any]]  # subject target: each image's effective state
    erased_at: int | None

    def to_json(self) -> dict[str, Any]:
        return {"subject": self.target.subject, "image": self.target.image,
                "at": self.at, "erased_at": self.erased_at,
                "state": self.state.to_json(),
                "history": [e.to_json() for e in self.history],
                "images": self.images}  # fmt: skip


def _upto(at: str | None) -> tuple[int | str | None, Callable[[Event], bool]]:
    if at is None:
        return None, lambda _e: True
    if at.isdigit():
        index = int(at)
        return index, lambda e: e.index <= index
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?Z?)?", at):
        raise InputError(f"--at {at!r}: give an entry index or a UTC time like "
                         "2026-01-31T12:00:00Z")
    return at, lambda e: e.time[: len(at.rstrip("Z"))] <= at.rstrip("Z")


def show_consent(ledger: Ledger, ref: str, *, at: str | None = None) -> ConsentShown:
    """History and state of a subject or an image, at the log's tail or at ``at``."""
    target = resolve_target(ledger, ref)
    when, keep = _upto(at)
    with reading(ledger.store.engine) as conn:
        if target.image is not None:
            check_subjects(conn, {target.image: target.subject})
            wanted = [image_target(target.image)] + ([target.subject] if target.subject else [])
            history = [e for e in events(conn, wanted) if keep(e)]
            state, images = State.latest(history), []
        else:
            subject = target.subject or ""
            indexes = [i for i in subject_images(conn, subject)
                       if not isinstance(when, int) or i <= when]
            all_events = [e for e in events(conn, [subject, *map(image_target, indexes)])
                          if keep(e)]
            history = [e for e in all_events if e.target == subject]
            state = State.latest(history)
            images = [_image_state(i, all_events, subject) for i in indexes]
        erased = db.erased_at(conn, [target.subject] if target.subject else [])
    erased_at = erased.get(target.subject or "")
    if isinstance(when, int) and erased_at is not None and erased_at > when:
        erased_at = None
    return ConsentShown(target, when, history, state, images, erased_at)


def _image_state(index: int, found: list[Event], subject: str) -> dict[str, Any]:
    mine = [e for e in found if e.target in (subject, image_target(index))]
    return {"image": index, **State.latest(mine).to_json()}


# --- impact --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Impact:
    target: Target
    images: list[int]
    derivatives: list[int]  # every image derived from them, through lineage
    datasets: list[str]

    def to_json(self) -> dict[str, Any]:
        return {"subject": self.target.subject, "image": self.target.image,
                "images": self.images, "derivatives": self.derivatives,
                "datasets": self.datasets}  # fmt: skip


def consent_impact(ledger: Ledger, ref: str, *, descendants: Descendants | None = None
                   ) -> Impact:  # fmt: skip
    """What a withdrawal touches: the images, their derivatives, the dataset labels."""
    target = resolve_target(ledger, ref)
    walk = descendants or graph.descendants
    with reading(ledger.store.engine) as conn:
        if target.image is not None:
            images = [target.image]
            check_subjects(conn, {target.image: target.subject})
        else:
            images = subject_images(conn, target.subject or "")
    derived = sorted(set(walk(ledger.store, images)) - set(images))
    with reading(ledger.store.engine) as conn:
        labels = db.dataset_labels(conn, [*images, *(derived or [])])
    return Impact(target, images, derived, labels)


# --- erase ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Erased:
    subject: str
    index: int
    keys_deleted: int
    demographics_deleted: int

    def to_json(self) -> dict[str, Any]:
        return {"subject": self.subject, "index": self.index,
                "keys_deleted": self.keys_deleted,
                "demographics_deleted": self.demographics_deleted}  # fmt: skip


def erase_subject(ledger: Ledger, ref: str, *, key: str, reason: str | None = None) -> Erased:
    """Append subject.erased and delete the subject's key and side data in its transaction."""
    if reason is not None and reason not in REASONS:
        raise InputError(f"--reason {reason!r} is not one of: " + ", ".join(REASONS))
    _check_role(ledger, key, "subject.erased")
    subject = resolve_target(ledger, ref).subject or _no_subject(ref)
    if not subject.startswith("skey-"):
        raise PolicyError("this subject was registered before per-subject keys: its "
                          "pseudonyms are keyed by the repository secret and cannot be "
                          "unlinked (see docs/threat-model.md, migration)")
    body: dict[str, Any] = {"subject": subject}
    if reason is not None:
        body["reason"] = reason
    envelope = ledger.sign("subject.erased", body, key=ledger.signing_key(key))
    deleted: list[tuple[int, int]] = []

    def within(conn: Connection, results: Sequence[Appended]) -> None:
        erased = db.erased_at(conn, [subject])  # this entry's own row is projected already
        if results[0].existing or erased.get(subject) != results[0].index:
            raise PolicyError(f"subject erased at index {erased.get(subject)}")
        deleted.append(db.delete_subject_side_rows(conn, subject))

    with reading(ledger.store.engine) as conn:
        erased = db.erased_at(conn, [subject])
    if subject in erased:
        raise PolicyError(f"subject erased at index {erased[subject]}")
    results = ledger.submit([envelope], within=within)
    db.settle_deletion(ledger.store.engine)
    keys, demographics = deleted[0] if deleted else (0, 0)
    return Erased(subject, results[0].index, keys, demographics)


def erasure_notes(ledger: Ledger, indexes: Sequence[int]) -> dict[int, int]:
    """image entry index -> the index of its subject's subject.erased entry, if erased."""
    with reading(ledger.store.engine) as conn:
        rows = db.image_rows(conn, indexes)
        erased = db.erased_at(conn, [r["subject"] for r in rows.values() if r["subject"]])
    return {i: erased[r["subject"]] for i, r in rows.items() if r["subject"] in erased}


__all__ = ["ConsentSet", "ConsentShown", "Erased", "Impact", "Target", "consent_impact",
           "erase_subject", "erasure_notes", "read_patient_id",
           "resolve_target", "set_consent", "show_consent", "subject_of_patient_id"]
